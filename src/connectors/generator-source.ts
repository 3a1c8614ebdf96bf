// A parallel source of generated records, deterministic by index, bounded or not, optionally rate-limited, rescalable by splits.
import { EddyError, previewValue } from '../errors.ts';
import { promiseError, runCode, runPrelude, type FusedRun, type RecordFailed } from '../operators/chain-fusion.ts';
import type { OperatorContext } from '../operators/operator.ts';
import type { Clock } from '../time/clock.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import type { PollResult, Source, SourceOutput, SourceReader } from './source.ts';

export interface GeneratorOptions {
  /** Records per second over all subtasks together. */
  ratePerSecond?: number;
}

/**
 * A generator split: the indexes `next, next + step, next + 2 * step, ...` below `count` still to
 * emit. It is also the split's checkpoint state, as is (plain data).
 */
export interface GeneratorSplit {
  next: number;
  step: number;
}

/** True when `s` is a well-formed split: integers `next >= 0` and `step >= 1`. */
function isSplit(s: unknown): s is GeneratorSplit {
  if (s === null || typeof s !== 'object') return false;
  const { next, step } = s as Record<string, unknown>;
  return Number.isSafeInteger(next) && (next as number) >= 0 && Number.isSafeInteger(step) && (step as number) >= 1;
}

/**
 * On a fresh start subtask s of p owns the single split `{ next: s, step: p }`, so the union over
 * subtasks is exactly 0..count-1 whatever the parallelism. Splits never change their stride: after a
 * restore at another parallelism (splits dealt round-robin) the union of the restored splits is still
 * exactly the indexes not yet emitted, each once. A reader with several splits reads them in turn
 * (one slice of a poll each, so an unbounded split cannot starve the others); a reader whose
 * splits are all exhausted, or that got none, returns 'end' at once, bounded or not (an unbounded
 * job restored at a parallelism above its split count thus runs some source subtasks that end
 * immediately; their end-of-input does not end the others).
 */
class GeneratorReader<T> implements SourceReader<T> {
  /** Splits with indexes left; exhausted ones are dropped, so `snapshotState` never lists them. */
  private splits: GeneratorSplit[];
  /** The split the next poll reads first (round-robin among splits). */
  private cursor = 0;
  private readonly started: number;
  /** Records generated since `started` by this reader (all its splits): what the rate limit counts. */
  private emitted = 0;
  private readonly ratePerMs: number;
  private waitMs = 0;
  /** Set by `fuse`: generates and processes up to n records of a split, advances it, returns how many it generated. */
  private fusedLoop: ((split: GeneratorSplit, n: number) => number) | undefined;
  private onEmitted: (n: number) => void = () => undefined;
  /** The source's record-failure policy: a generator function that throws for index i fails the task or skips i. */
  private readonly failed: RecordFailed;

  constructor(
    private readonly count: number,
    private readonly fn: (i: number) => T,
    ctx: OperatorContext,
    private readonly clock: Clock,
    rate: number | undefined,
  ) {
    this.failed = ctx.recordFailed;
    this.splits = ctx.subtaskIndex < count ? [{ next: ctx.subtaskIndex, step: ctx.parallelism }] : [];
    this.started = clock.monotonic();
    // Each reader takes an equal share of the rate, however many splits it holds.
    this.ratePerMs = rate === undefined ? Infinity : rate / ctx.parallelism / 1000;
  }

  poll(out: SourceOutput<T>, max: number): PollResult {
    if (this.splits.length === 0) return 'end';
    let budget = max;
    if (this.ratePerMs !== Infinity) {
      const allowed = Math.floor((this.clock.monotonic() - this.started) * this.ratePerMs) - this.emitted;
      if (allowed <= 0) {
        this.waitMs = Math.max(1, Math.ceil(1 / this.ratePerMs));
        return 'wait';
      }
      budget = Math.min(budget, allowed);
    }
    const { splits, count } = this;
    const fused = this.fusedLoop;
    let total = 0;
    // Each split at most once per poll, starting where the last poll stopped.
    for (let visits = splits.length; visits > 0 && budget > 0 && splits.length > 0; visits--) {
      if (this.cursor >= splits.length) this.cursor = 0;
      const split = splits[this.cursor]!;
      let k: number;
      try {
        k = fused !== undefined ? fused.call(this, split, budget) : this.readSplit(split, out, budget);
      } finally {
        if (split.next >= count) splits.splice(this.cursor, 1);
      }
      if (split.next < count) this.cursor++;
      budget -= k;
      total += k;
    }
    this.emitted += total;
    if (fused !== undefined) this.onEmitted(total);
    return splits.length === 0 ? 'end' : 'more';
  }

  /** The unfused path: emits up to `n` records of `split` through `out`, advancing it. */
  private readSplit(split: GeneratorSplit, out: SourceOutput<T>, n: number): number {
    const { count, fn, failed } = this;
    const step = split.step;
    let i = split.next;
    let k = 0;
    try {
      for (; k < n && i < count; k++, i += step) {
        let v: T;
        try {
          v = fn(i);
        } catch (e) {
          failed(e, i);
          continue;
        }
        out.collect(v, NO_TIMESTAMP);
      }
    } catch (e) {
      // The failing index counts as read, as in the fused loop: the task fails with it.
      split.next = i + step;
      throw e;
    }
    split.next = i;
    return k;
  }

  fuse(run: FusedRun, onEmitted: (n: number) => void): boolean {
    // The generator's loop and the chain in one generated function: its call sites are this job's alone.
    // It runs per split; the loop itself keeps its locals in registers as before. A failure leaves the
    // inner loop, goes through its operator's policy (which throws to fail the task), and the loop
    // resumes after the failing index: the fast path has no try/catch per record.
    const make = new Function(
      'f',
      'failed',
      'sourceFailed',
      'P',
      `'use strict';
${runPrelude(run)}
return function fusedLoop(split, n) {
  const count = this.count, step = split.step, g = this.fn;
  let i = split.next, k = 0, s = -1, ts, x;
  for (;;) {
    try {
      for (; k < n && i < count; k++, i += step) {
        s = -1;
        ts = ${NO_TIMESTAMP};
        const v = g(i);
${runCode(run, 'continue', '        ')}
      }
      break;
    } catch (e) {
      split.next = i + step;
      if (s < 0) sourceFailed(e, i);
      else failed[s](e, x);
      k++;
      i += step;
    }
  }
  split.next = i;
  return k;
};`,
    );
    this.fusedLoop = make(run.fns, run.failed, this.failed, promiseError(run));
    this.onEmitted = onEmitted;
    return true;
  }
  available(): Promise<void> {
    return this.clock.sleep(this.waitMs);
  }
  snapshotState(): unknown[] {
    // Copies: the snapshot must not move on with the reader.
    return this.splits.map((s) => ({ next: s.next, step: s.step }));
  }
  restoreState(splits: unknown[]): void {
    if (!Array.isArray(splits))
      throw new EddyError('EDDY_STATE_MISMATCH', `Generator Source: restored state must be a list of splits, got ${previewValue(splits)}`);
    const restored: GeneratorSplit[] = [];
    splits.forEach((s, i) => {
      if (!isSplit(s))
        throw new EddyError(
          'EDDY_STATE_MISMATCH',
          `Generator Source: restored split #${i} is ${previewValue(s)}, not { next, step } with integers next >= 0 and step >= 1 (was the state written by another source?)`,
        );
      if (s.next < this.count) restored.push({ next: s.next, step: s.step });
    });
    this.splits = restored;
    this.cursor = 0;
    // The rate limit counts from this reader's start; what earlier runs emitted does not hold it back.
    this.emitted = 0;
  }
}


/**
 * Generates `fn(i)` for i in 0..count-1 (`count` may be Infinity for an unbounded stream). Its
 * checkpoint state is a list of splits `{ next, step }`, so a restore may change the parallelism.
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
