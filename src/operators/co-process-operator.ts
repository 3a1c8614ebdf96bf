// connect().process(): a (Keyed)CoProcessFunction over two inputs, with side outputs, keyed state shared by both inputs, timers.
import { denormalizeKey } from '../state/key-group.ts';
import type { Collector, CoProcessFunctionLike, OnTimerContext, TimerService } from '../api/functions.ts';
import type { OutputTag } from '../api/output-tag.ts';
import { EddyError } from '../errors.ts';
import type { StateDescriptor, StateOf } from '../state/descriptors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';
import type { TimeDomain } from './timer-service.ts';

/**
 * Runs a CoProcessFunction (non-keyed) or KeyedCoProcessFunction (both key selectors given). On
 * keyed inputs each record's key, computed by its input's selector, becomes the state backend's
 * current key, so records of both inputs with equal keys share state and timers. One context object
 * (the operator) serves every record and timer.
 *
 * @example
 * ```ts
 * const op = new CoProcessOperator<number, string, string>('Both', {
 *   processElement1: (n, _ctx, out) => out.collect(`n${n}`),
 *   processElement2: (s, _ctx, out) => out.collect(`s${s}`),
 * });
 * const h = new TwoInputOperatorHarness(op);
 * await h.open();
 * h.processElement1(1);
 * h.processElement2('a');
 * expect(h.getOutput()).toEqual(['n1', 'sa']);
 * ```
 */
export class CoProcessOperator<IN1, IN2, OUT>
  extends AbstractStreamOperator<IN1, OUT>
  implements Collector<OUT>, OnTimerContext<unknown>, TimerService
{
  private ts = NO_TIMESTAMP;
  private key: unknown = undefined;
  private domain: TimeDomain | undefined;

  constructor(
    name: string,
    private readonly fn: CoProcessFunctionLike<IN1, IN2, OUT, any>,
    private readonly keySelector1?: (value: IN1) => unknown,
    private readonly keySelector2?: (value: IN2) => unknown,
  ) {
    super(name);
    if ((keySelector1 === undefined) !== (keySelector2 === undefined))
      throw new EddyError('EDDY_INTERNAL', `operator "${name}": a keyed co-process operator needs the key selectors of both inputs`);
  }
  override open(): Promise<void> {
    return openFunction(this.fn, this.runtimeContext());
  }
  processElement(value: IN1, timestamp: number): void {
    this.ts = timestamp;
    this.domain = undefined;
    if (this.keySelector1 !== undefined) {
      this.key = this.keySelector1(value);
      this.ctx.keyedState!.setCurrentKey(this.key);
    }
    this.fn.processElement1(value, this, this);
  }
  processElement2(value: IN2, timestamp: number): void {
    this.ts = timestamp;
    this.domain = undefined;
    if (this.keySelector2 !== undefined) {
      this.key = this.keySelector2(value);
      this.ctx.keyedState!.setCurrentKey(this.key);
    }
    this.fn.processElement2(value, this, this);
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
