// keyed.intervalJoin(otherKeyed).between(lo, hi).process(fn): Flink's interval join API.
import { EddyError } from '../errors.ts';
import { checkBounds, IntervalJoinOperator, type IntervalJoinSpec } from '../operators/interval-join-operator.ts';
import { cloneFunction } from './clone-function.ts';
import { hasMethods, twoInput } from './connected-streams.ts';
import type { DataStream, KeyedStream, StreamContext } from './data-stream.ts';
import type { ProcessJoinFunctionLike } from '../functions/functions.ts';
import type { OutputTag } from '../functions/output-tag.ts';

/**
 * Two keyed streams to join by time interval: pick the interval with `between(lowerMs, upperMs)`.
 *
 * @example
 * ```ts
 * const joined = clicks.keyBy((c) => c.user).intervalJoin(views.keyBy((v) => v.user)).between(-1_000, 1_000);
 * ```
 */
export class IntervalJoin<IN1, IN2, K> {
  constructor(
    private readonly env: StreamContext,
    readonly left: KeyedStream<IN1, K>,
    readonly right: KeyedStream<IN2, K>,
  ) {}

  /**
   * Joins each left record with the right records of the same key whose timestamp lies in
   * `[left.ts + lowerMs, left.ts + upperMs]` (both bounds inclusive unless made exclusive).
   * Integer milliseconds with `lowerMs <= upperMs`; negative bounds reach back in time.
   */
  between(lowerMs: number, upperMs: number): IntervalJoined<IN1, IN2, K> {
    checkBounds(lowerMs, upperMs);
    return new IntervalJoined(this.env, this.left, this.right, { lowerBound: lowerMs, upperBound: upperMs, lowerBoundInclusive: true, upperBoundInclusive: true });
  }
}

/**
 * An interval join with its bounds: adjust them, route late records, then `process` the pairs.
 * Interval joins run in event time: both inputs need timestamps (`assignTimestampsAndWatermarks`),
 * and a record whose timestamp is below the watermark on arrival is late (dropped, or sent to the
 * side output set with `sideOutputLeftLateData` / `sideOutputRightLateData`).
 *
 * @example
 * ```ts
 * const pairs = await left
 *   .keyBy((e) => e.k)
 *   .intervalJoin(right.keyBy((e) => e.k))
 *   .between(0, 10)
 *   .upperBoundExclusive()
 *   .process<string>({ processElement: (l, r, ctx, out) => out.collect(`${l.id}-${r.id}@${ctx.getTimestamp()}`) })
 *   .executeAndCollect();
 * ```
 */
export class IntervalJoined<IN1, IN2, K> {
  constructor(
    private readonly env: StreamContext,
    readonly left: KeyedStream<IN1, K>,
    readonly right: KeyedStream<IN2, K>,
    private readonly spec: IntervalJoinSpec<IN1, IN2>,
  ) {}

  /** Excludes the lower bound: `right.ts > left.ts + lowerMs`. */
  lowerBoundExclusive(): this {
    this.spec.lowerBoundInclusive = false;
    return this;
  }

  /** Excludes the upper bound: `right.ts < left.ts + upperMs`. */
  upperBoundExclusive(): this {
    this.spec.upperBoundInclusive = false;
    return this;
  }

  /** Sends late left records to `tag` instead of dropping them. */
  sideOutputLeftLateData(tag: OutputTag<IN1>): this {
    this.spec.leftLateTag = checkTag(tag);
    return this;
  }

  /** Sends late right records to `tag` instead of dropping them. */
  sideOutputRightLateData(tag: OutputTag<IN2>): this {
    this.spec.rightLateTag = checkTag(tag);
    return this;
  }

  /** Calls `fn.processElement(left, right, ctx, out)` once per joined pair; outputs carry `max(left.ts, right.ts)`. */
  process<OUT>(fn: ProcessJoinFunctionLike<IN1, IN2, OUT>): DataStream<OUT> {
    if (!hasMethods(fn, 'processElement'))
      throw new EddyError('EDDY_INVALID_ARGUMENT', 'intervalJoin(...).process needs a ProcessJoinFunction (an object with processElement(left, right, ctx, out))');
    const spec = { ...this.spec };
    const k1 = this.left.keySelector as (v: IN1) => unknown;
    const k2 = this.right.keySelector as (v: IN2) => unknown;
    const name = 'Interval Join';
    return twoInput(this.env, name, this.left, this.right, () => new IntervalJoinOperator<IN1, IN2, OUT>(name, cloneFunction(fn), spec, k1, k2), k1, k2);
  }
}

function checkTag<T>(tag: OutputTag<T>): OutputTag<T> {
  if (tag === null || typeof tag !== 'object' || typeof tag.id !== 'string') throw new EddyError('EDDY_INVALID_ARGUMENT', 'a late-data side output needs an OutputTag');
  return tag;
}
