// A parallel source of generated records, deterministic by index, bounded or not, optionally rate-limited.
import { EddyError } from '../errors.ts';
import { runCode, type Attribute, type FusedRun } from '../operators/chain-fusion.ts';
import type { OperatorContext } from '../operators/operator.ts';
import type { Clock } from '../time/clock.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import type { PollResult, Source, SourceOutput, SourceReader } from './source.ts';

export interface GeneratorOptions {
  /** Records per second over all subtasks together. */
  ratePerSecond?: number;
}

/**
 * Subtask s of p emits indexes s, s + p, s + 2p, ... below `count`, so the union over subtasks is
 * exactly 0..count-1 whatever the parallelism.
 */
class GeneratorReader<T> implements SourceReader<T> {
  private next: number;
  private readonly step: number;
  private readonly started: number;
  private emitted = 0;
  private readonly ratePerMs: number;
  private waitMs = 0;
  /** Set by `fuse`: generates and processes up to n records, returns how many it generated. */
  private fusedLoop: ((n: number) => number) | undefined;
  private onEmitted: (n: number) => void = () => undefined;

  constructor(
    private readonly count: number,
    private readonly fn: (i: number) => T,
    ctx: OperatorContext,
    private readonly clock: Clock,
    rate: number | undefined,
  ) {
    this.next = ctx.subtaskIndex;
    this.step = ctx.parallelism;
    this.started = clock.monotonic();
    this.ratePerMs = rate === undefined ? Infinity : rate / ctx.parallelism / 1000;
  }

  poll(out: SourceOutput<T>, max: number): PollResult {
    let n = max;
    if (this.ratePerMs !== Infinity) {
      const allowed = Math.floor((this.clock.monotonic() - this.started) * this.ratePerMs) - this.emitted;
      if (allowed <= 0) {
        this.waitMs = Math.max(1, Math.ceil(1 / this.ratePerMs));
        return 'wait';
      }
      n = Math.min(n, allowed);
    }
    if (this.fusedLoop !== undefined) {
      const k = this.fusedLoop(n);
      this.emitted += k;
      this.onEmitted(k);
      return this.next >= this.count ? 'end' : 'more';
    }
    const { count, step, fn } = this;
    let i = this.next;
    for (let k = 0; k < n && i < count; k++, i += step) out.collect(fn(i), NO_TIMESTAMP);
    this.emitted += (i - this.next) / step;
    this.next = i;
    return i >= count ? 'end' : 'more';
  }

  fuse(run: FusedRun, attribute: Attribute, sourceName: string, onEmitted: (n: number) => void): boolean {
    // The generator's loop and the chain in one generated function: its call sites are this job's alone.
    const make = new Function(
      'f',
      'names',
      'attribute',
      'sourceName',
      `return function fusedLoop(n) {
  const count = this.count, step = this.step, g = this.fn;
  let i = this.next, k = 0, s = -1, ts;
  try {
    for (; k < n && i < count; k++, i += step) {
      s = -1;
      ts = ${NO_TIMESTAMP};
      const v = g(i);
${runCode(run, 'continue', '      ')}
    }
  } catch (e) {
    this.next = i + step;
    throw attribute(e, s < 0 ? sourceName : names[s]);
  }
  this.next = i;
  return k;
};`,
    );
    this.fusedLoop = make(run.fns, run.names, attribute, sourceName);
    this.onEmitted = onEmitted;
    return true;
  }
  available(): Promise<void> {
    return this.clock.sleep(this.waitMs);
  }
  snapshotState(): unknown[] {
    return [{ next: this.next, emitted: this.emitted }];
  }
  restoreState(splits: unknown[]): void {
    const s = splits[0] as { next: number; emitted: number };
    this.next = s.next;
    this.emitted = s.emitted;
  }
}

/**
 * Generates `fn(i)` for i in 0..count-1 (`count` may be Infinity for an unbounded stream).
 *
 * @example
 * ```ts
 * const squares = env.fromSource(generatorSource(1000, (i) => i * i));
 * ```
 */
export function generatorSource<T>(count: number, fn: (i: number) => T, options: GeneratorOptions = {}): Source<T> {
  if (typeof count !== 'number' || !(count === Infinity || (Number.isInteger(count) && count >= 0)))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `fromGenerator count must be a non-negative integer or Infinity, got ${String(count)}`);
  if (typeof fn !== 'function') throw new EddyError('EDDY_INVALID_ARGUMENT', 'fromGenerator needs a function (i) => record');
  const rate = options.ratePerSecond;
  if (rate !== undefined && !(typeof rate === 'number' && rate > 0 && Number.isFinite(rate)))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `fromGenerator ratePerSecond must be a positive number, got ${String(rate)}`);
  return {
    name: 'Generator Source',
    bounded: count !== Infinity,
    createReader: (ctx) => new GeneratorReader(count, fn, ctx, ctx.clock, rate),
  };
}
