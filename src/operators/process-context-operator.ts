// The context every process-style operator hands its function: timestamp, key, side outputs, state, timers.
import type { Collector, OnTimerContext, RichFunction, TimeDomain, TimerService } from '../functions/functions.ts';
import type { OutputTag } from '../functions/output-tag.ts';
import { EddyError } from '../errors.ts';
import type { StateDescriptor, StateOf } from '../state/descriptors.ts';
import { denormalizeKey } from '../state/key-group.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';

/**
 * Base of ProcessOperator, CoProcessOperator and BroadcastProcessOperator: the operator itself is
 * the one context object (ProcessContext, OnTimerContext, TimerService, Collector) its function sees
 * for every record and timer, so no context is allocated per record.
 */
export abstract class ProcessContextOperator<IN, OUT>
  extends AbstractStreamOperator<IN, OUT>
  implements Collector<OUT>, OnTimerContext<unknown>, TimerService
{
  protected ts = NO_TIMESTAMP;
  protected key: unknown = undefined;
  protected domain: TimeDomain | undefined;

  constructor(
    name: string,
    /** The user function, opened and closed with the operator. */
    protected readonly userFunction: RichFunction,
  ) {
    super(name);
  }

  override open(): Promise<void> {
    return openFunction(this.userFunction, this.runtimeContext());
  }

  override async close(): Promise<void> {
    await super.close();
    await closeFunction(this.userFunction);
  }

  /** Sets the context for a record: its timestamp and, when `keySelector` is given, its key. */
  protected enterRecord<V>(value: V, timestamp: number, keySelector: ((value: V) => unknown) | undefined): void {
    this.ts = timestamp;
    this.domain = undefined;
    if (keySelector !== undefined) {
      this.key = keySelector(value);
      this.ctx.keyedState!.setCurrentKey(this.key);
    }
  }

  /**
   * Sets the context for a firing timer (the backend's current key is the timer's) and returns the
   * function's `onTimer`. Output of an event-time timer carries the timer's timestamp; of a
   * processing-time timer, none (Flink's rule).
   */
  protected enterTimer<F>(timestamp: number, domain: TimeDomain, onTimer: F | undefined): F {
    if (onTimer === undefined)
      throw new EddyError('EDDY_USER_FUNCTION', `operator "${this.name}" registered a timer but its function has no onTimer method`, { operator: this.name });
    this.ts = domain === 'EVENT_TIME' ? timestamp : NO_TIMESTAMP;
    this.domain = domain;
    this.key = denormalizeKey(this.ctx.keyedState!.getCurrentKey());
    return onTimer;
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
