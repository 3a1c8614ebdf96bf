// process / keyed process: the general operator, with side outputs, keyed state and the current key.
import type { Collector, KeyedProcessContext, ProcessFunctionLike, TimerService } from '../api/functions.ts';
import type { OutputTag } from '../api/output-tag.ts';
import type { StateDescriptor, StateOf } from '../state/descriptors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';

/**
 * Runs a ProcessFunction or KeyedProcessFunction. On a keyed stream the key is computed from the
 * record by `keySelector` and set as the state backend's current key before the call.
 * One context object serves every record (no per-record allocation).
 */
export class ProcessOperator<IN, OUT> extends AbstractStreamOperator<IN, OUT> implements Collector<OUT>, KeyedProcessContext<unknown>, TimerService {
  private ts = NO_TIMESTAMP;
  private key: unknown = undefined;

  constructor(
    name: string,
    private readonly fn: ProcessFunctionLike<IN, OUT, any>,
    private readonly keySelector?: (value: IN) => unknown,
  ) {
    super(name);
  }
  override open(): Promise<void> {
    return openFunction(this.fn, this.runtimeContext());
  }
  processElement(value: IN, timestamp: number): void {
    this.ts = timestamp;
    if (this.keySelector !== undefined) {
      this.key = this.keySelector(value);
      this.ctx.keyedState!.setCurrentKey(this.key);
    }
    this.fn.processElement(value, this, this);
  }
  override close(): Promise<void> {
    return closeFunction(this.fn);
  }

  collect(value: OUT): void {
    this.out.collect(value, this.ts);
  }
  timestamp(): number | undefined {
    return this.ts === NO_TIMESTAMP ? undefined : this.ts;
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.out.collectSide(tag, value, this.ts);
  }
  getCurrentKey(): unknown {
    return this.key;
  }
  getState<D extends StateDescriptor>(d: D): StateOf<D> {
    return this.keyedStateFor(d);
  }
  timerService(): TimerService {
    return this;
  }
  currentProcessingTime(): number {
    return this.ctx.clock.now();
  }
  currentWatermark(): number {
    return this.watermark;
  }
}
