// The sink contract and the operator that drives a sink at the end of a chain.
import type { RuntimeContext } from '../api/functions.ts';
import type { OperatorContext } from './operator.ts';
import { AbstractStreamOperator } from './abstract-operator.ts';
import type { Fusion, FusibleOperator } from './chain-fusion.ts';

/** A sink instance per subtask. `invoke` is synchronous (no per-record await); `finish` flushes at end of input. */
export interface SinkWriter<T> {
  invoke(value: T, timestamp: number): void;
  /** End of input: write out what is buffered. */
  finish?(): void | Promise<void>;
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
}

export class SinkOperator<T> extends AbstractStreamOperator<T, never> implements FusibleOperator {
  private writer!: SinkWriter<T>;
  constructor(
    name: string,
    private readonly sink: Sink<T>,
  ) {
    super(name);
  }
  override async open(): Promise<void> {
    this.writer = await this.sink.createWriter({ operator: this.ctx, runtime: this.runtimeContext() });
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
