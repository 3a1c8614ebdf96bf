// The source contract: a reader per subtask that the task polls in bounded slices (no per-record await).
import type { RecordFailurePolicy } from '../functions/record-failure-policy.ts';
import type { FusedRun } from '../operators/chain-fusion.ts';
import type { OperatorContext } from '../operators/operator.ts';

/** What `poll` reports: more to read now, the end of (bounded) input, or nothing until `available()`. */
export type PollResult = 'more' | 'end' | 'wait';

/** Where a reader emits; `timestamp` is the record's event time when the source knows it. */
export interface SourceOutput<T> {
  collect(value: T, timestamp: number): void;
}

/**
 * Reads one split of a source. `poll` is synchronous and emits at most `max` records, so the task
 * can interleave reading with flow control and control messages.
 */
export interface SourceReader<T> {
  poll(out: SourceOutput<T>, max: number): PollResult;
  /** After 'wait': resolves when `poll` may have more. */
  available(): Promise<void>;
  /**
   * Optional: run the chain's fused code (see chain-fusion.ts) inside the reader's own loop, so the
   * whole source -> map/filter -> sink path is one function. `onEmitted(n)` reports records read.
   * A failure of stage `s` goes through `run.failed[s]`; one of the reader's own function through
   * its context's `recordFailed`. Returns false when the reader cannot; `poll` then emits through
   * `out` as usual.
   */
  fuse?(run: FusedRun, onEmitted: (n: number) => void): boolean;
  /**
   * The reader's position as a list of splits, plain data (e.g. `[{ split: 0, offset: 42 }]`).
   * It is operator list state: when the parallelism changes on restore the splits of all old
   * subtasks are dealt round-robin to the new ones, so a reader may get several splits or none.
   */
  snapshotState?(): unknown[];
  /** Called before the first `poll` with the splits assigned to this subtask (possibly empty). */
  restoreState?(splits: unknown[]): void;
  close?(): void | Promise<void>;
}

/**
 * A source: bounded or not, creating one reader per parallel subtask.
 *
 * @example
 * ```ts
 * const src = fromCollectionSource([1, 2, 3]);
 * src.bounded; // true
 * ```
 */
export interface Source<T> {
  readonly name: string;
  readonly bounded: boolean;
  /** The highest parallelism the source can use (e.g. 1 for a collection). */
  readonly maxParallelism?: number;
  /**
   * The source's own record-failure policy (e.g. a connector's dead-letter subject option); the
   * source node starts with it, `onRecordFailure` replaces it. Undefined: the job's.
   */
  readonly recordFailures?: RecordFailurePolicy;
  createReader(ctx: OperatorContext): SourceReader<T> | Promise<SourceReader<T>>;
}
