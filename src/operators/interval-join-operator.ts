// keyBy().intervalJoin(keyBy()).between(lo, hi): Flink's IntervalJoinOperator (event time, keyed buffers, cleanup timers).
import type { Collector, ProcessJoinContext, ProcessJoinFunctionLike, TimeDomain } from '../functions/functions.ts';
import type { OutputTag } from '../functions/output-tag.ts';
import { EddyError } from '../errors.ts';
import { MapStateDescriptor, type MapState } from '../state/descriptors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';

/** The bounds and options of an interval join, as `between(...)` and its modifiers set them. */
export interface IntervalJoinSpec<IN1, IN2> {
  lowerBound: number;
  upperBound: number;
  lowerBoundInclusive: boolean;
  upperBoundInclusive: boolean;
  leftLateTag?: OutputTag<IN1> | undefined;
  rightLateTag?: OutputTag<IN2> | undefined;
}

/** Buffered elements of one key: timestamp -> the elements with that timestamp, in arrival order. */
type Buffer<T> = MapState<number, T[]>;

const LEFT_BUFFER = new MapStateDescriptor<number, unknown[]>('LEFT_BUFFER');
const RIGHT_BUFFER = new MapStateDescriptor<number, unknown[]>('RIGHT_BUFFER');

/**
 * Joins records of two keyed inputs with equal keys where `right.ts ∈ [left.ts + lower, left.ts + upper]`
 * (an exclusive bound moves by 1 ms: timestamps are integer milliseconds, as in Flink). Each record is
 * buffered in keyed MapState by timestamp and joined with the other side's buffer; the pair is
 * emitted with timestamp `max(left.ts, right.ts)`. A cleanup timer per buffered timestamp drops it
 * once the watermark makes it unjoinable. A record whose timestamp is below the current watermark is
 * late: it goes to the side's late-data tag, if set, or is dropped (counted as `lateRecordsDropped`).
 *
 * @example
 * ```ts
 * const op = new IntervalJoinOperator<string, string, string>(
 *   'Interval Join',
 *   { processElement: (l, r, _ctx, out) => out.collect(`${l}+${r}`) },
 *   { lowerBound: -5, upperBound: 5, lowerBoundInclusive: true, upperBoundInclusive: true },
 *   (l) => l[0],
 *   (r) => r[0],
 * );
 * const h = new TwoInputOperatorHarness(op, { keySelector1: (l: string) => l[0], keySelector2: (r: string) => r[0] });
 * await h.open();
 * h.processElement1('a1', 10);
 * h.processElement2('a2', 14);
 * h.processElement2('a3', 16);
 * expect(h.getRecordOutput()).toEqual([{ value: 'a1+a2', timestamp: 14 }]);
 * ```
 */
export class IntervalJoinOperator<IN1, IN2, OUT> extends AbstractStreamOperator<IN1, OUT> implements Collector<OUT>, ProcessJoinContext {
  /** Inclusive bounds after applying exclusivity (Flink moves an exclusive bound by one). */
  private readonly lower: number;
  private readonly upper: number;
  private readonly leftLateTag: OutputTag<IN1> | undefined;
  private readonly rightLateTag: OutputTag<IN2> | undefined;
  private left!: Buffer<IN1>;
  private right!: Buffer<IN2>;
  private leftTs = NO_TIMESTAMP;
  private rightTs = NO_TIMESTAMP;
  private resultTs = NO_TIMESTAMP;

  constructor(
    name: string,
    private readonly fn: ProcessJoinFunctionLike<IN1, IN2, OUT>,
    spec: IntervalJoinSpec<IN1, IN2>,
    private readonly keySelector1: (value: IN1) => unknown,
    private readonly keySelector2: (value: IN2) => unknown,
  ) {
    super(name);
    checkBounds(spec.lowerBound, spec.upperBound);
    this.lower = spec.lowerBoundInclusive ? spec.lowerBound : spec.lowerBound + 1;
    this.upper = spec.upperBoundInclusive ? spec.upperBound : spec.upperBound - 1;
    this.leftLateTag = spec.leftLateTag;
    this.rightLateTag = spec.rightLateTag;
  }

  override open(): Promise<void> {
    this.left = this.keyedStateFor(LEFT_BUFFER) as Buffer<IN1>;
    this.right = this.keyedStateFor(RIGHT_BUFFER) as Buffer<IN2>;
    return openFunction(this.fn, this.runtimeContext());
  }

  processElement(value: IN1, timestamp: number): void {
    if (timestamp === NO_TIMESTAMP) throw this.noTimestamp('left');
    if (timestamp < this.watermark) return this.late(value, timestamp, this.leftLateTag);
    this.ctx.keyedState!.setCurrentKey(this.keySelector1(value));
    add(this.left, value, timestamp);
    const lo = timestamp + this.lower;
    const hi = timestamp + this.upper;
    this.leftTs = timestamp;
    // Every buffered timestamp of the key is checked (as Flink does); keys() yields no entry pairs.
    for (const ts of this.right.keys()) {
      if (ts < lo || ts > hi) continue;
      const bucket = this.right.get(ts)!;
      this.rightTs = ts;
      this.resultTs = timestamp > ts ? timestamp : ts;
      for (let i = 0; i < bucket.length; i++) this.fn.processElement(value, bucket[i]!, this, this);
    }
    this.timers().registerEventTimeTimer(this.upper > 0 ? hi : timestamp);
  }

  processElement2(value: IN2, timestamp: number): void {
    if (timestamp === NO_TIMESTAMP) throw this.noTimestamp('right');
    if (timestamp < this.watermark) return this.late(value, timestamp, this.rightLateTag);
    this.ctx.keyedState!.setCurrentKey(this.keySelector2(value));
    add(this.right, value, timestamp);
    // The left elements this one joins: left.ts ∈ [ts - upper, ts - lower].
    const lo = timestamp - this.upper;
    const hi = timestamp - this.lower;
    this.rightTs = timestamp;
    for (const ts of this.left.keys()) {
      if (ts < lo || ts > hi) continue;
      const bucket = this.left.get(ts)!;
      this.leftTs = ts;
      this.resultTs = timestamp > ts ? timestamp : ts;
      for (let i = 0; i < bucket.length; i++) this.fn.processElement(bucket[i]!, value, this, this);
    }
    this.timers().registerEventTimeTimer(-this.lower > 0 ? hi : timestamp);
  }

  /**
   * A cleanup timer at `t` fired. Timers carry no namespace here, so one timer stands for both sides:
   * it drops the left bucket and the right bucket whose cleanup time is `t` (Flink's two namespaces).
   */
  protected override onTimer(t: number, domain: TimeDomain): void {
    if (domain !== 'EVENT_TIME') return;
    this.left.remove(this.upper <= 0 ? t : t - this.upper);
    this.right.remove(this.lower <= 0 ? t + this.lower : t);
  }

  override async close(): Promise<void> {
    await super.close();
    await closeFunction(this.fn);
  }

  // ---- Collector and ProcessJoinContext (one object for every pair) ----
  collect(value: OUT): void {
    this.out.collect(value, this.resultTs);
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.out.collectSide(tag, value, this.resultTs);
  }
  getLeftTimestamp(): number {
    return this.leftTs;
  }
  getRightTimestamp(): number {
    return this.rightTs;
  }
  getTimestamp(): number {
    return this.resultTs;
  }

  private late<T>(value: T, timestamp: number, tag: OutputTag<T> | undefined): void {
    if (tag !== undefined) this.out.collectSide(tag, value, timestamp);
    else this.ctx.metrics.inc('lateRecordsDropped');
  }

  private noTimestamp(side: string): EddyError {
    return new EddyError(
      'EDDY_CONFIG',
      `interval join "${this.name}": a record of the ${side} input has no event timestamp; interval joins run in event time, so assign timestamps with assignTimestampsAndWatermarks(...) on both inputs`,
      { operator: this.name },
    );
  }
}

function add<T>(buffer: Buffer<T>, value: T, timestamp: number): void {
  const bucket = buffer.get(timestamp);
  if (bucket === undefined) buffer.put(timestamp, [value]);
  else bucket.push(value);
}

/** Validates `between(lower, upper)`: integer milliseconds with lower <= upper (Flink's precondition). */
export function checkBounds(lower: number, upper: number): void {
  if (!Number.isSafeInteger(lower) || !Number.isSafeInteger(upper))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `between(lower, upper) takes integer milliseconds, got ${String(lower)} and ${String(upper)}`);
  if (lower > upper) throw new EddyError('EDDY_INVALID_ARGUMENT', `between(lower, upper) needs lower <= upper, got ${lower} > ${upper}`);
}
