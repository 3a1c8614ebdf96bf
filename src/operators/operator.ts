// The operator contract: what the runtime (or the test harness) calls, and what it hands operators.
import type { NatsConnection } from '@nats-io/transport-node';
import type { OutputTag } from '../functions/output-tag.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from '../state/keyed-state-backend.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerSnapshot } from './timer-service.ts';

/** Where an operator emits: records with their timestamp, watermarks, side outputs. */
export interface Output<T> {
  collect(value: T, timestamp: number): void;
  emitWatermark(watermark: number): void;
  /** The stream went idle (no records, its watermark must not hold others back) or active again. */
  emitWatermarkStatus(idle: boolean): void;
  collectSide<X>(tag: OutputTag<X>, value: X, timestamp: number): void;
}

/** Counters an operator may bump; the job result reports them per operator. */
export interface OperatorMetrics {
  inc(name: string, by?: number): void;
}

/** What the runtime hands an operator instance before `open`. */
export interface OperatorContext {
  readonly jobName: string;
  readonly jobId: string;
  readonly operatorName: string;
  readonly uid: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly clock: Clock;
  readonly metrics: OperatorMetrics;
  /** Present on keyed operators: state scoped to the current key. */
  readonly keyedState: KeyedStateBackend | undefined;
  /** The job's NATS connection; connectors use it. Undefined in the operator harness. */
  readonly nats: NatsConnection | undefined;
  /** How often watermark generators emit (ms of processing time). */
  readonly autoWatermarkIntervalMs: number;
  /** Fails the task from outside a record call (a processing-time timer, a periodic watermark). */
  failTask(error: unknown): void;
  /**
   * One record could not be processed by this operator (a user function or key selector threw, it
   * did not decode, an async call timed out). Under the job's or operator's record-failure policy
   * `fail` this throws the error attributed to the operator; under `deadLetter` it sends `record`
   * with the error to the dead-letter target, counts it and returns (the record is skipped).
   * Outside a record call (a timer, a promise callback) wrap it: a throw there must go to `failTask`.
   * `headers` are added to the dead letter (e.g. `Eddy-Subject`, where a source read the record).
   */
  recordFailed(error: unknown, record: unknown, headers?: Record<string, string>): void;
  /** True when the job takes checkpoints: sinks then hold output until the checkpoint that covers it completes. */
  readonly checkpointing: boolean;
  /**
   * Answers queries from outside the job addressed to this operator subtask (its uid and subtask
   * index), e.g. an actor operator's key lookups: `answer(request)` runs between records. Returns
   * what stops it; undefined where nothing can ask (the harness).
   */
  serveQueries?(answer: (request: unknown) => unknown): { stop(): void } | undefined;
}

/** An operator's state as plain data (msgpack-able). */
export interface OperatorSnapshot {
  keyed?: KeyedStateSnapshot;
  timers?: TimerSnapshot;
  /** Non-keyed state of one subtask; restored only when the parallelism is unchanged (or identical on every subtask). */
  operator?: unknown;
  /**
   * Non-keyed list state (Flink's operator ListState): on restore with another parallelism the
   * entries of all old subtasks are dealt round-robin to the new ones. Source splits and pending
   * sink transactions live here.
   */
  list?: unknown[];
  /**
   * What the operator's state was written with (e.g. an actor operator's machine schema): a restore
   * compares it with the current one. From storage it comes from the checkpoint's metadata.
   */
  schema?: unknown;
  /** Processing time when the snapshot was taken (from storage: the checkpoint's completion time). */
  takenAt?: number;
}

/**
 * One operator instance in a chain. Call order: `setup` -> `initializeState` -> `open` ->
 * (`processElement` | `processWatermark`)* -> `endInput` -> `close`. `snapshotState` may be
 * called between records. The data path is synchronous: no awaits per record.
 */
export interface StreamOperator<IN, OUT> {
  readonly name: string;
  setup(ctx: OperatorContext, output: Output<OUT>): void;
  initializeState(snapshot: OperatorSnapshot | undefined): void;
  open(): void | Promise<void>;
  processElement(value: IN, timestamp: number): void;
  /** Two-input operators only: a record of the second input. */
  processElement2?(value: unknown, timestamp: number): void;
  processWatermark(watermark: number): void;
  /** Upstream went idle or active again; operators forward it unless they generate watermarks themselves. */
  processWatermarkStatus(idle: boolean): void;
  /** All input has arrived (bounded input): flush what is buffered. */
  endInput(): void | Promise<void>;
  /** The operator's state at a checkpoint barrier (`checkpointId` is undefined outside checkpoints, e.g. in the harness). */
  snapshotState(checkpointId?: number): OperatorSnapshot;
  /** Checkpoint `checkpointId` completed everywhere: commit what it covers (two-phase sinks). */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  close(): void | Promise<void>;
}

/** Creates a fresh operator instance per subtask (user functions are copied per instance). */
export type OperatorFactory<IN = any, OUT = any> = () => StreamOperator<IN, OUT>;
