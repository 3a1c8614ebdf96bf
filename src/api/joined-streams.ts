// Window joins (Flink's JoinedStreams): a.join(b).where(k1).equalTo(k2).window(assigner).apply(fn).
import { EddyError } from '../errors.ts';
import type { WindowFunctionObject } from '../operators/window-functions.ts';
import { cloneFunction } from './clone-function.ts';
import type { DataStream } from './data-stream.ts';
import type { Collector, KeySelector, RuntimeContext } from '../functions/functions.ts';
import type { WindowAssigner } from '../functions/windowing/assigners.ts';
import type { Evictor } from '../functions/windowing/evictors.ts';
import type { JoinFunction, ProcessWindowContext } from '../functions/windowing/functions.ts';
import type { Trigger } from '../functions/windowing/triggers.ts';
import type { TimeWindow, Window } from '../functions/windowing/windows.ts';

/**
 * An element of a joined window: `[1, left]` or `[2, right]` (Flink's TaggedUnion).
 *
 * @example
 * ```ts
 * const left: TaggedUnion<Order, Payment> = [1, order];
 * ```
 */
export type TaggedUnion<L, R> = readonly [1, L] | readonly [2, R];

function invalid(msg: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', msg);
}

/**
 * The start of a window join, `left.join(right)`: pairs of elements with equal keys in the same window.
 * As in Flink, both inputs are tagged, unioned, keyed and windowed, and each window joins its left and
 * right elements pairwise (an inner join; a window with only one side emits nothing). Results carry the
 * window's `maxTimestamp()`.
 *
 * @example
 * ```ts
 * const joined = orders
 *   .join(payments)
 *   .where((o) => o.id)
 *   .equalTo((p) => p.orderId)
 *   .window(TumblingEventTimeWindows.of(60_000))
 *   .apply((o, p) => ({ id: o.id, amount: o.amount, paidAt: p.ts }));
 * ```
 */
export class JoinedStreams<L, R> {
  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
  ) {}
  /** The key of a left element. */
  where<K>(keySelector: KeySelector<L, K>): JoinWhere<L, R, K> {
    if (typeof keySelector !== 'function') throw invalid('join().where needs a function (left) => key');
    return new JoinWhere(this.left, this.right, keySelector);
  }
}

/**
 * `join(...).where(k1)`: next, the right side's key.
 *
 * @example
 * ```ts
 * orders.join(payments).where((o) => o.id).equalTo((p) => p.orderId);
 * ```
 */
export class JoinWhere<L, R, K> {
  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
    private readonly leftKey: KeySelector<L, K>,
  ) {}
  /** The key of a right element (it must equal the left key, type and value, for a pair to join). */
  equalTo(keySelector: KeySelector<R, K>): JoinEqualTo<L, R, K> {
    if (typeof keySelector !== 'function') throw invalid('join().where().equalTo needs a function (right) => key');
    return new JoinEqualTo(this.left, this.right, this.leftKey, keySelector);
  }
}

/**
 * `join(...).where(k1).equalTo(k2)`: next, the windows.
 *
 * @example
 * ```ts
 * orders.join(payments).where((o) => o.id).equalTo((p) => p.orderId).window(TumblingEventTimeWindows.of(60_000));
 * ```
 */
export class JoinEqualTo<L, R, K> {
  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
    private readonly leftKey: KeySelector<L, K>,
    private readonly rightKey: KeySelector<R, K>,
  ) {}
  window<W extends Window = TimeWindow>(assigner: WindowAssigner<TaggedUnion<L, R>, W>): JoinWithWindow<L, R, K, W> {
    return new JoinWithWindow(this.left, this.right, this.leftKey, this.rightKey, assigner);
  }
}

/**
 * A windowed join: optionally a trigger, evictor and allowed lateness, then `apply`.
 *
 * @example
 * ```ts
 * orders.join(payments).where((o) => o.id).equalTo((p) => p.orderId)
 *   .window(TumblingEventTimeWindows.of(60_000)).allowedLateness(10_000)
 *   .apply((o, p) => ({ id: o.id, paidAt: p.ts }));
 * ```
 */
export class JoinWithWindow<L, R, K, W extends Window> {
  private triggerSet: Trigger<TaggedUnion<L, R>, W> | undefined;
  private evictorSet: Evictor<TaggedUnion<L, R>, W> | undefined;
  private lateness = 0;

  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
    private readonly leftKey: KeySelector<L, K>,
    private readonly rightKey: KeySelector<R, K>,
    private readonly assigner: WindowAssigner<TaggedUnion<L, R>, W>,
  ) {}

  trigger(trigger: Trigger<TaggedUnion<L, R>, W>): this {
    this.triggerSet = trigger;
    return this;
  }
  evictor(evictor: Evictor<TaggedUnion<L, R>, W>): this {
    this.evictorSet = evictor;
    return this;
  }
  allowedLateness(ms: number): this {
    this.lateness = ms;
    return this;
  }

  /** Emits `fn(left, right)` for every left and right element pair of each window and key. */
  apply<OUT>(fn: JoinFunction<L, R, OUT>): DataStream<OUT> {
    const f = fn as unknown;
    if (typeof f !== 'function' && (f === null || typeof f !== 'object' || typeof (f as { join?: unknown }).join !== 'function'))
      throw invalid('join().apply needs a function (left, right) => result or an object with a join() method');
    const { leftKey, rightKey } = this;
    const tagged = this.left
      .map((v: L): TaggedUnion<L, R> => [1, v])
      .union(this.right.map((v: R): TaggedUnion<L, R> => [2, v]))
      .keyBy((u: TaggedUnion<L, R>) => (u[0] === 1 ? leftKey(u[1]) : rightKey(u[1])));
    const windowed = tagged.window(this.assigner).allowedLateness(this.lateness);
    if (this.triggerSet !== undefined) windowed.trigger(this.triggerSet);
    if (this.evictorSet !== undefined) windowed.evictor(this.evictorSet);
    return windowed.applyInternal<OUT>('join', () => ({ kind: 'process', windowFn: joinWindowFunction(cloneFunction(fn)) }));
  }
}

/** Flink's CoGroupWindowFunction + JoinCoGroupFunction: split a window by tag, emit the cartesian product. */
function joinWindowFunction<L, R, K, OUT, W extends Window>(fn: JoinFunction<L, R, OUT>): WindowFunctionObject<TaggedUnion<L, R>, OUT, K, W> {
  const join = typeof fn === 'function' ? fn : (l: L, r: R): OUT => fn.join(l, r);
  const rich = typeof fn === 'function' ? undefined : fn;
  return {
    open: (ctx: RuntimeContext) => rich?.open?.(ctx),
    close: () => rich?.close?.(),
    process(_key: K, _ctx: ProcessWindowContext<W>, elements: readonly TaggedUnion<L, R>[], out: Collector<OUT>): void {
      const lefts: L[] = [];
      const rights: R[] = [];
      for (const e of elements) {
        if (e[0] === 1) lefts.push(e[1]);
        else rights.push(e[1]);
      }
      for (const l of lefts) for (const r of rights) out.collect(join(l, r));
    },
  };
}
