// Chain fusion: a run of map/filter operators (ending in a sink or the rest of the chain) compiled into one function.
import type { OutputTag } from '../functions/output-tag.ts';
import { EddyError } from '../errors.ts';
import { asyncResultError } from './async-result.ts';
import type { Output, StreamOperator } from './operator.ts';

/** What a fusible operator contributes to generated code: a plain function, or a sink writer. */
export type Fusion =
  | { kind: 'map'; fn: (value: any) => unknown }
  | { kind: 'filter'; fn: (value: any) => boolean }
  /** Sets the record's timestamp: `fn(value, timestamp)` returns the new one. */
  | { kind: 'timestamp'; fn: (value: any, timestamp: number) => number }
  | { kind: 'sink'; writer: { invoke(value: unknown, timestamp: number): void } };

/** An operator that can be fused; `fusion()` is asked only after `open()`. */
export interface FusibleOperator {
  fusion(): Fusion | undefined;
}

/** One link of a run: the operator, and (for all but a sink) the output that follows it. */
export interface FusionLink {
  operator: StreamOperator<unknown, unknown> & Partial<FusibleOperator>;
  /** The next link when the operator's only output is a chained fusible operator. */
  next: FusionLink | undefined;
  /** The operator's own output, used after the run's last map/filter. */
  output: Output<unknown>;
  /** The operator's record-failure policy (`OperatorContext.recordFailed`): throws, or dead-letters the record and returns. */
  failed: RecordFailed;
}

/** Applies an operator's record-failure policy to `record`: throws to fail the task, or returns to skip the record. */
export type RecordFailed = (error: unknown, record: unknown) => void;

/**
 * The code of a fused run: statements over a value `v` and a mutable timestamp `ts` that call `f<i>`
 * (locals bound by {@link runPrelude} from the run's functions `f`, so user functions are called
 * without a receiver), and set `s` (the stage, for error attribution) and `x` (the stage's input, the
 * record a failure concerns); `SKIP` stands where a filtered record leaves the run (`return` in a
 * function, `continue` in a loop). A map or filter that returns a Promise throws `P(stage)`.
 */
export interface FusedRun {
  readonly fns: unknown[];
  readonly names: string[];
  /** Per stage: the operator's record-failure policy. */
  readonly failed: RecordFailed[];
  readonly lines: string[];
}

/** Side outputs leave through the emitting operator's own output, never through a link to the next chained operator (an invariant). */
export function sideOutputOnChainLink(tag: OutputTag<unknown>): EddyError {
  return new EddyError('EDDY_INTERNAL', `side output "${tag.id}" reached a chained operator directly`);
}

/** The longest fusible run from `first`, or undefined when its first operator is not fusible. */
export function fuseRun(first: FusionLink): FusedRun | undefined {
  const fns: unknown[] = [];
  const names: string[] = [];
  const failed: RecordFailed[] = [];
  const lines: string[] = [];
  let value = 'v';
  let link: FusionLink | undefined = first;
  let last: FusionLink = first;
  let terminal = false;
  while (link !== undefined) {
    const f = link.operator.fusion?.();
    if (f === undefined) break;
    const i = fns.length;
    names.push(link.operator.name);
    failed.push(link.failed);
    lines.push(`s = ${i}; x = ${value};`);
    last = link;
    if (f.kind === 'map') {
      fns.push(f.fn);
      lines.push(`const a${i} = f${i}(${value});`, `if (typeof a${i} === 'object' && a${i} instanceof Promise) throw P(${i}, a${i});`);
      value = `a${i}`;
    } else if (f.kind === 'filter') {
      fns.push(f.fn);
      // Booleans take the first test only; anything else is truthiness, unless it is a Promise.
      lines.push(`const b${i} = f${i}(${value});`, `if (b${i} !== true) { if (typeof b${i} === 'object' && b${i} instanceof Promise) throw P(${i}, b${i}); if (!b${i}) SKIP; }`);
    } else if (f.kind === 'timestamp') {
      fns.push(f.fn);
      lines.push(`ts = f${i}(${value}, ts);`);
    } else {
      fns.push(f.writer);
      lines.push(`f${i}.invoke(${value}, ts);`);
      terminal = true;
      break;
    }
    link = link.next;
  }
  if (fns.length === 0) return undefined;
  if (!terminal) {
    // After the last fused operator, its own output (fan-out, network, unfused operators) takes over.
    // Failures there were decided by the operators they concern: they pass through the last stage's policy untouched.
    fns.push(last.output);
    lines.push(`f${fns.length - 1}.collect(${value}, ts);`);
  }
  return { fns, names, failed, lines };
}

/** Binds the run's functions `f` to locals `f0..fn`: a plain function then sees no receiver, as when the user calls it. */
export function runPrelude(run: FusedRun): string {
  return run.fns.map((_, i) => `const f${i} = f[${i}];`).join(' ');
}

/** The statements of a run with SKIP replaced, indented for generated code. */
export function runCode(run: FusedRun, skip: 'return' | 'continue', indent: string): string {
  return run.lines.map((l) => indent + l.replace('SKIP', skip)).join('\n');
}

/** `P(stage)` of generated code: the error for a stage whose function returned a Promise. */
export function promiseError(run: FusedRun): (stage: number, promise: Promise<unknown>) => EddyError {
  return (stage, promise) => asyncResultError(run.names[stage]!, 'map/filter', promise);
}

/**
 * Generates `collect(v, ts)` for a run: each map/filter is called directly from code that belongs
 * to this chain alone, so V8 sees one call target per site and can inline the whole run (shared
 * operator classes make every chain's call sites megamorphic). A failure goes through the policy of
 * the operator of the current stage, as on the unfused chain: it throws, or the record is skipped.
 */
function compile(first: FusionLink): ((value: unknown, timestamp: number) => void) | undefined {
  const run = fuseRun(first);
  if (run === undefined) return undefined;
  const make = new Function(
    'f',
    'failed',
    'P',
    `'use strict';\n${runPrelude(run)}\nreturn function fusedCollect(v, ts) {\n  let s = 0, x = v;\n  try {\n${runCode(run, 'return', '    ')}\n  } catch (e) {\n    failed[s](e, x);\n  }\n};`,
  );
  return make(run.fns, run.failed, promiseError(run)) as (value: unknown, timestamp: number) => void;
}

/**
 * The Output that feeds a fusible operator: it compiles its run on the first record (operators are
 * open by then) and calls the generated function from then on. Watermarks take the ordinary path.
 */
export class FusedOutput implements Output<unknown> {
  private fused: ((value: unknown, timestamp: number) => void) | undefined;
  constructor(private readonly link: FusionLink) {}
  collect(value: unknown, timestamp: number): void {
    let f = this.fused;
    if (f === undefined) {
      const { operator: op, failed } = this.link;
      f = this.fused =
        compile(this.link) ??
        ((v, ts) => {
          try {
            op.processElement(v, ts);
          } catch (e) {
            failed(e, v);
          }
        });
      // Later records skip this method: the compiled function is called through the property.
      this.collect = f;
    }
    f(value, timestamp);
  }
  emitWatermark(watermark: number): void {
    this.link.operator.processWatermark(watermark);
  }
  emitWatermarkStatus(idle: boolean): void {
    this.link.operator.processWatermarkStatus(idle);
  }
  collectSide<X>(tag: OutputTag<X>): void {
    throw sideOutputOnChainLink(tag);
  }
}
