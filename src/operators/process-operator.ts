// process / keyed process: the general operator, with side outputs, keyed state, timers and the current key.
import type { Collector, OnTimerContext, ProcessFunctionLike, TimerService } from '../api/functions.ts';
import type { OutputTag } from '../api/output-tag.ts';
import { EddyError } from '../errors.ts';
import { denormalizeKey } from '../state/key-group.ts';
import type { StateDescriptor, StateOf } from '../state/descriptors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';
import type { TimeDomain } from './timer-service.ts';

/**
 * Runs a ProcessFunction or KeyedProcessFunction. On a keyed stream the key is computed from the
 * record by `keySelector` and set as the state backend's current key before the call; timers fire
 * `onTimer` with that key's state in scope. One context object serves every record and timer (no
 * per-record allocation).
 */
export class ProcessOperator<IN, OUT>
  extends AbstractStreamOperator<IN, OUT>
  implements Collector<OUT>, OnTimerContext<unknown>, TimerService
{
  private ts = NO_TIMESTAMP;
  private key: unknown = undefined;
  private domain: TimeDomain | undefined;

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
    this.domain = undefined;
    if (this.keySelector !== undefined) {
      this.key = this.keySelector(value);
      this.ctx.keyedState!.setCurrentKey(this.key);
    }
    this.fn.processElement(value, this, this);
  }
  protected override onTimer(timestamp: number, domain: TimeDomain): void {
    const onTimer = this.fn.onTimer;
    if (onTimer === undefined)
      throw new EddyError('EDDY_USER_FUNCTION', `operator "${this.name}" registered a timer but its function has no onTimer method`, { operator: this.name });
    // Output of an event-time timer carries the timer's timestamp; of a processing-time timer, none (Flink's rule).
    this.ts = domain === 'EVENT_TIME' ? timestamp : NO_TIMESTAMP;
    this.domain = domain;
    this.key = denormalizeKey(this.ctx.keyedState!.getCurrentKey());
    onTimer.call(this.fn, timestamp, this, this);
  }
  override async close(): Promise<void> {
    await super.close();
    await closeFunction(this.fn);
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
  timeDomain(): TimeDomain {
    return this.domain ?? 'EVENT_TIME';
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
  registerEventTimeTimer(timestamp: number): void {
    this.timers().registerEventTimeTimer(timestamp);
  }
  registerProcessingTimeTimer(timestamp: number): void {
    this.timers().registerProcessingTimeTimer(timestamp);
  }
  deleteEventTimeTimer(timestamp: number): void {
    this.timers().deleteEventTimeTimer(timestamp);
  }
  deleteProcessingTimeTimer(timestamp: number): void {
    this.timers().deleteProcessingTimeTimer(timestamp);
  }
}
