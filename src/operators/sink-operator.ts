// The sink contract and the operator that drives a sink at the end of a chain.
import type { RuntimeContext } from '../functions/functions.ts';
import type { OperatorContext, OperatorSnapshot } from './operator.ts';
import { AbstractStreamOperator } from './abstract-operator.ts';
import type { Fusion, FusibleOperator } from './chain-fusion.ts';

/**
 * A sink instance per subtask. `invoke` is synchronous (no per-record await); `finish` flushes at end of input.
 *
 * Exactly-once sinks implement two-phase commit (see two-phase-commit.ts): `snapshotState(n)`
 * closes the transaction of checkpoint n and returns every transaction not yet committed (they
 * become the operator's list state); `notifyCheckpointComplete(n)` commits transactions up to n.
 * On restore `SinkContext.restoredState` holds the restored transactions, which the writer commits
 * again: commits must be idempotent.
 */
export interface SinkWriter<T> {
  invoke(value: T, timestamp: number): void;
  /** End of input: write out what is buffered (with checkpointing: close the last transaction, the final checkpoint commits it). */
  finish?(): void | Promise<void>;
  snapshotState?(checkpointId: number): unknown[];
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  close?(): void | Promise<void>;
}

/**
 * A sink: creates one writer per subtask.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const sink: Sink<string> = { name: 'lines', createWriter: () => ({ invoke: (v) => lines.push(v) }) };
 * ```
 */
export interface Sink<T> {
  readonly name: string;
  createWriter(ctx: SinkContext): SinkWriter<T> | Promise<SinkWriter<T>>;
}

/** What a sink writer learns at creation: the operator context plus the user-facing runtime context. */
export interface SinkContext {
  readonly operator: OperatorContext;
  readonly runtime: RuntimeContext;
  /** The list state this subtask restored (pending transactions of a checkpoint), or undefined on a fresh start. */
  readonly restoredState: unknown[] | undefined;
}

export class SinkOperator<T> extends AbstractStreamOperator<T, never> implements FusibleOperator {
  private writer!: SinkWriter<T>;
  private restored: unknown[] | undefined;
  constructor(
    name: string,
    private readonly sink: Sink<T>,
  ) {
    super(name);
  }
  override initializeState(snapshot: OperatorSnapshot | undefined): void {
    super.initializeState(snapshot);
    this.restored = snapshot?.list;
  }
  override async open(): Promise<void> {
    this.writer = await this.sink.createWriter({ operator: this.ctx, runtime: this.runtimeContext(), restoredState: this.restored });
    this.restored = undefined;
  }
  override snapshotState(checkpointId?: number): OperatorSnapshot {
    const snapshot = super.snapshotState(checkpointId);
    if (checkpointId !== undefined && this.writer.snapshotState !== undefined) snapshot.list = this.writer.snapshotState(checkpointId);
    return snapshot;
  }
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await this.writer.notifyCheckpointComplete?.(checkpointId);
  }
  fusion(): Fusion {
    return { kind: 'sink', writer: this.writer as SinkWriter<unknown> };
  }
  processElement(value: T, timestamp: number): void {
    this.writer.invoke(value, timestamp);
  }
  override processWatermark(watermark: number): void {
    this.watermark = watermark;
  }
  override async endInput(): Promise<void> {
    await this.writer.finish?.();
  }
  override async close(): Promise<void> {
    await this.writer?.close?.();
  }
}
