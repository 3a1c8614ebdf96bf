// WindowedStream (keyBy().window()) and AllWindowedStream (windowAll()): trigger/evictor/lateness, then reduce/aggregate/process.
import { EddyError } from '../errors.ts';
import type { OneInputTransformation } from '../graph/transformation.ts';
import { checkFieldAggregation, fieldAggregate, type FieldAggregation } from '../operators/field-aggregate.ts';
import type { StreamOperator } from '../operators/operator.ts';
import type { FieldRef } from '../operators/reduce-operator.ts';
import { PaneWindowOperator } from '../operators/window-pane-operator.ts';
import { SessionWindowOperator } from '../operators/window-session-operator.ts';
import { toWindowFunctionObject, type WindowFunctionObject, type WindowFunctionSpec } from '../operators/window-functions.ts';
import { WindowOperator } from '../operators/window-operator.ts';
import type { AggregateFunction, ReduceFunction } from '../state/descriptors.ts';
import { cloneFunction } from './clone-function.ts';
import { DataStream, type KeyedStream, type StreamContext } from './data-stream.ts';
import type { OutputTag } from '../functions/output-tag.ts';
import {
  DynamicEventTimeSessionWindows,
  EventTimeSessionWindows,
  MergingWindowAssigner,
  ProcessingTimeSessionWindows,
  WindowAssigner,
} from '../functions/windowing/assigners.ts';
import type { Evictor } from '../functions/windowing/evictors.ts';
import type { ProcessAllWindowFunctionLike, ProcessWindowFunctionLike } from '../functions/windowing/functions.ts';
import { EventTimeTrigger, ProcessingTimeTrigger, Trigger } from '../functions/windowing/triggers.ts';
import type { TimeWindow, Window } from '../functions/windowing/windows.ts';

function invalid(msg: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', msg);
}

function checkWindowFunction(fn: unknown, what: string): void {
  if (typeof fn === 'function') return;
  if (fn !== null && typeof fn === 'object' && typeof (fn as { process?: unknown }).process === 'function') return;
  throw invalid(`${what} needs a function (key, ctx, elements, out) => void or an object with a process() method`);
}

function checkAggregate(fn: unknown): void {
  const f = fn as Partial<AggregateFunction<unknown, unknown, unknown>> | null;
  if (f === null || typeof f !== 'object' || typeof f.createAccumulator !== 'function' || typeof f.add !== 'function' || typeof f.getResult !== 'function')
    throw invalid('aggregate needs an AggregateFunction { createAccumulator, add, getResult, merge? }');
}

/**
 * The windows of a keyed stream (`keyed.window(assigner)`), Flink's WindowedStream: optionally set a
 * trigger, an evictor, allowed lateness and a late-data side output, then evaluate each window with
 * `reduce`, `aggregate` (both incremental) or `process` (all elements). Results carry the window's
 * `maxTimestamp()`.
 *
 * Tumbling and sliding windows (size a multiple of the slide) with their default trigger and no evictor
 * are computed per slide and combined when they fire, so a record costs the same whatever size/slide
 * is: `reduce` and the AggregateFunction's `merge` must then be associative and commutative, and must
 * not modify their second argument (nor `reduce` its first).
 *
 * @example
 * ```ts
 * const late = new OutputTag<Reading>('late');
 * const maxima = readings
 *   .keyBy((r) => r.sensor)
 *   .window(TumblingEventTimeWindows.of(60_000))
 *   .allowedLateness(5_000)
 *   .sideOutputLateData(late)
 *   .reduce((a, b) => (b.temperature > a.temperature ? b : a));
 * const tooLate = maxima.getSideOutput(late);
 * ```
 */
export class WindowedStream<T, K, W extends Window = TimeWindow> {
  private triggerSet: Trigger<T, W> | undefined;
  private evictorSet: Evictor<T, W> | undefined;
  private lateness = 0;
  private lateTag: OutputTag<T> | undefined;

  constructor(
    private readonly env: StreamContext,
    private readonly input: KeyedStream<T, K>,
    readonly assigner: WindowAssigner<T, W>,
  ) {
    if (!(assigner instanceof WindowAssigner)) throw invalid('window needs a WindowAssigner, e.g. TumblingEventTimeWindows.of(1000)');
  }

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<T, W>): this {
    if (!(trigger instanceof Trigger)) throw invalid('trigger needs a Trigger, e.g. CountTrigger.of(10)');
    if (this.assigner instanceof MergingWindowAssigner && !trigger.canMerge())
      throw new EddyError('EDDY_CONFIG', `${trigger.toString()} cannot be used with merging windows (${this.assigner.toString()}): it does not implement onMerge`);
    this.triggerSet = trigger;
    return this;
  }

  /** Removes elements before and/or after the window function runs (the window then keeps every element). */
  evictor(evictor: Evictor<T, W>): this {
    if (evictor === null || typeof evictor !== 'object' || typeof evictor.evictBefore !== 'function' || typeof evictor.evictAfter !== 'function')
      throw invalid('evictor needs an Evictor, e.g. CountEvictor.of(10)');
    this.evictorSet = evictor;
    return this;
  }

  /**
   * Keeps event-time windows for `ms` after they fired: an element arriving in that time fires the
   * window again with the updated result. Default 0.
   */
  allowedLateness(ms: number): this {
    if (typeof ms !== 'number' || !(ms >= 0) || (!Number.isInteger(ms) && ms !== Infinity)) throw invalid(`allowedLateness needs an integer number of ms >= 0, got ${String(ms)}`);
    this.lateness = ms;
    return this;
  }

  /** Late elements (every window of theirs is past the allowed lateness) go to `tag` instead of being dropped. */
  sideOutputLateData(tag: OutputTag<T>): this {
    if (tag === null || typeof tag !== 'object' || typeof tag.id !== 'string') throw invalid('sideOutputLateData needs an OutputTag');
    this.lateTag = tag;
    return this;
  }

  /** Reduces each window incrementally; with `windowFn`, that function sees the one reduced value. */
  reduce(fn: ReduceFunction<T>): DataStream<T>;
  reduce<R>(fn: ReduceFunction<T>, windowFn: ProcessWindowFunctionLike<T, R, K, W>): DataStream<R>;
  reduce<R>(fn: ReduceFunction<T>, windowFn?: ProcessWindowFunctionLike<T, R, K, W>): DataStream<R> {
    if (typeof fn !== 'function') throw invalid(`reduce needs a function (a, b) => c, got ${typeof fn}`);
    if (windowFn !== undefined) checkWindowFunction(windowFn, 'reduce');
    return this.applyInternal<R>('reduce', () => ({ kind: 'reduce', reduce: fn, windowFn: windowFn === undefined ? undefined : toWindowFunctionObject(cloneFunction(windowFn)) }));
  }

  /**
   * Aggregates each window incrementally; with `windowFn`, that function sees the window, the key and
   * the one aggregated result. Session windows need the AggregateFunction's `merge`.
   */
  aggregate<ACC, V>(fn: AggregateFunction<T, ACC, V>): DataStream<V>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, windowFn: ProcessWindowFunctionLike<V, R, K, W>): DataStream<R>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, windowFn?: ProcessWindowFunctionLike<V, R, K, W>): DataStream<R> {
    checkAggregate(fn);
    if (windowFn !== undefined) checkWindowFunction(windowFn, 'aggregate');
    if (this.assigner instanceof MergingWindowAssigner && typeof fn.merge !== 'function')
      throw new EddyError('EDDY_CONFIG', `session windows (${this.assigner.toString()}) merge their contents: the AggregateFunction needs a merge(a, b) method`);
    return this.applyInternal<R>('aggregate', () => ({
      kind: 'aggregate',
      aggregate: cloneFunction(fn),
      windowFn: windowFn === undefined ? undefined : toWindowFunctionObject(cloneFunction(windowFn)),
    }));
  }

  /** Evaluates each window with all its elements. */
  process<R>(fn: ProcessWindowFunctionLike<T, R, K, W>): DataStream<R> {
    checkWindowFunction(fn, 'process');
    return this.applyInternal<R>('process', () => ({ kind: 'process', windowFn: toWindowFunctionObject(cloneFunction(fn)) }));
  }

  /**
   * The sum of `field` over each window (Flink's `sum`): the window's first element with `field`
   * replaced by the sum; without a field, the sum of a stream of numbers. Incremental: one
   * accumulator per window, no per-record allocation.
   *
   * @example
   * ```ts
   * const perMinute = orders.keyBy((o) => o.customer).window(TumblingEventTimeWindows.of(Time.minutes(1))).sum('amount');
   * ```
   */
  sum(field?: FieldRef): DataStream<T> {
    return this.aggregateField('sum', field);
  }

  /**
   * The minimum of `field` over each window (Flink's `min`): the window's *first* element with `field`
   * replaced by the minimum. The element that holds the minimum is `minBy`.
   *
   * @example
   * ```ts
   * readings.keyBy((r) => r.sensor).window(TumblingEventTimeWindows.of(60_000)).min('temperature');
   * ```
   */
  min(field?: FieldRef): DataStream<T> {
    return this.aggregateField('min', field);
  }

  /**
   * The maximum of `field` over each window (Flink's `max`): the window's *first* element with `field`
   * replaced by the maximum. The element that holds the maximum is `maxBy`.
   *
   * @example
   * ```ts
   * readings.keyBy((r) => r.sensor).window(TumblingEventTimeWindows.of(60_000)).max('temperature');
   * ```
   */
  max(field?: FieldRef): DataStream<T> {
    return this.aggregateField('max', field);
  }

  /**
   * The element of each window with the smallest `field` (Flink's `minBy`); among equal ones the
   * first to arrive, or the last with `first = false`.
   *
   * @example
   * ```ts
   * const cheapest = bids.keyBy((b) => b.auction).window(TumblingEventTimeWindows.of(10_000)).minBy('price');
   * ```
   */
  minBy(field?: FieldRef, first = true): DataStream<T> {
    return this.aggregateField('minBy', field, first);
  }

  /**
   * The element of each window with the largest `field` (Flink's `maxBy`); among equal ones the first
   * to arrive, or the last with `first = false`.
   *
   * @example
   * ```ts
   * const hottest = readings.keyBy((r) => r.sensor).countWindow(100).maxBy('temperature');
   * ```
   */
  maxBy(field?: FieldRef, first = true): DataStream<T> {
    return this.aggregateField('maxBy', field, first);
  }

  private aggregateField(kind: FieldAggregation, field: FieldRef, first = true): DataStream<T> {
    checkFieldAggregation(kind, field, first);
    const label = `${kind}(${field === undefined ? '' : String(field)})`;
    // With a field, the result depends on arrival order (the other fields of the window's first
    // element; which of equal minima minBy keeps). Panes of a sliding window combine slide by slide,
    // not in arrival order, so there the function gets no `merge` and runs on the general operator,
    // one accumulator per window as in Flink. Tumbling windows (one pane each), sessions and count
    // windows keep arrival order with `merge`, as do plain numbers (the result is order-free).
    const layout = this.assigner.slicedLayout();
    const panesReorder = field !== undefined && layout !== undefined && layout.size !== layout.slide;
    return this.applyInternal<T>(label, () => {
      const { merge, ...rest } = fieldAggregate<T>(kind, field, first);
      return { kind: 'aggregate', aggregate: panesReorder ? rest : { ...rest, merge }, windowFn: undefined };
    });
  }

  /**
   * Adds the window operator with the function `spec` makes (called once per operator instance).
   * @internal Used by AllWindowedStream and window joins.
   */
  applyInternal<R>(kind: string, spec: () => WindowFunctionSpec): DataStream<R> {
    const assigner = this.assigner;
    const trigger = this.triggerSet ?? assigner.getDefaultTrigger();
    const evictor = this.evictorSet;
    const keySelector = this.input.keySelector;
    const lateness = this.lateness;
    const lateTag = this.lateTag;
    const t: OneInputTransformation = {
      kind: 'one-input',
      id: this.env.nextId(),
      name: `Window(${assigner.toString()}, ${trigger.toString()}${evictor === undefined ? '' : `, ${String(evictor)}`}, ${kind})`,
      uid: undefined,
      parallelism: undefined,
      input: this.input.transformation,
      stateKeySelector: keySelector,
      // The name is read when the job is built, so `.name()` after `.reduce()` reaches the operator.
      factory: () =>
        createWindowOperator(t.name, {
          assigner,
          trigger: cloneFunction(trigger),
          defaultTrigger: this.triggerSet === undefined,
          evictor: evictor === undefined ? undefined : cloneFunction(evictor),
          allowedLateness: lateness,
          lateTag,
          keySelector,
          fn: spec(),
        }),
    };
    return new DataStream<R>(this.env, t);
  }
}

interface WindowConfig<T, K, W extends Window> {
  assigner: WindowAssigner<T, W>;
  trigger: Trigger<T, W>;
  defaultTrigger: boolean;
  evictor: Evictor<T, W> | undefined;
  allowedLateness: number;
  lateTag: OutputTag<T> | undefined;
  keySelector: (value: T) => K;
  fn: WindowFunctionSpec;
}

/**
 * The pane operator for tumbling/sliding windows with their default trigger, no evictor and an
 * incremental function (combinable across panes); the session operator for the built-in session
 * assigners with their default trigger and no evictor; Flink's general WindowOperator otherwise.
 */
export function createWindowOperator<T, K, W extends Window>(name: string, c: WindowConfig<T, K, W>): StreamOperator<T, unknown> {
  const layout = c.assigner.slicedLayout();
  const eventTime = c.assigner.isEventTime();
  const defaultTrigger = c.defaultTrigger || c.trigger instanceof (eventTime ? EventTimeTrigger : ProcessingTimeTrigger);
  const fn = c.fn;
  const combinable =
    fn.kind === 'reduce' || (fn.kind === 'aggregate' && (typeof fn.aggregate.merge === 'function' || (layout !== undefined && layout.size === layout.slide)));
  if (layout !== undefined && defaultTrigger && c.evictor === undefined && fn.kind !== 'process' && combinable && fn.windowFn?.clear === undefined)
    return new PaneWindowOperator<T, unknown, K>(name, {
      layout,
      eventTime,
      allowedLateness: c.allowedLateness,
      lateTag: c.lateTag,
      keySelector: c.keySelector,
      reduce: fn.kind === 'reduce' ? fn.reduce : undefined,
      aggregate: fn.kind === 'aggregate' ? fn.aggregate : undefined,
      windowFn: fn.windowFn as WindowFunctionObject<any, any, K, TimeWindow> | undefined,
    });
  const sessions = c.assigner.constructor;
  if (
    (sessions === EventTimeSessionWindows || sessions === ProcessingTimeSessionWindows || sessions === DynamicEventTimeSessionWindows) &&
    defaultTrigger &&
    c.evictor === undefined &&
    fn.windowFn?.clear === undefined
  )
    return new SessionWindowOperator<T, unknown, K>(name, {
      assigner: c.assigner as unknown as WindowAssigner<T, TimeWindow>,
      gap: sessions === DynamicEventTimeSessionWindows ? undefined : (c.assigner as unknown as { gap: number }).gap,
      allowedLateness: c.allowedLateness,
      lateTag: c.lateTag,
      keySelector: c.keySelector,
      fn,
    });
  return new WindowOperator<T, unknown, K, W>(name, { ...c });
}

/** Every record has this key in `windowAll` (Flink keys the stream by a constant). */
const ALL = (): number => 0;

/**
 * Windows over a whole (non-keyed) stream, `stream.windowAll(assigner)`: Flink's AllWindowedStream,
 * a window operator keyed by a constant and run at parallelism 1.
 *
 * @example
 * ```ts
 * const perMinute = events.windowAll(TumblingEventTimeWindows.of(60_000)).aggregate(countAggregate);
 * ```
 */
export class AllWindowedStream<T, W extends Window = TimeWindow> {
  private readonly windowed: WindowedStream<T, number, W>;
  constructor(input: DataStream<T>, assigner: WindowAssigner<T, W>) {
    this.windowed = input.keyBy(ALL).window(assigner);
  }
  trigger(trigger: Trigger<T, W>): this {
    this.windowed.trigger(trigger);
    return this;
  }
  evictor(evictor: Evictor<T, W>): this {
    this.windowed.evictor(evictor);
    return this;
  }
  allowedLateness(ms: number): this {
    this.windowed.allowedLateness(ms);
    return this;
  }
  sideOutputLateData(tag: OutputTag<T>): this {
    this.windowed.sideOutputLateData(tag);
    return this;
  }
  reduce(fn: ReduceFunction<T>): DataStream<T>;
  reduce<R>(fn: ReduceFunction<T>, windowFn: ProcessAllWindowFunctionLike<T, R, W>): DataStream<R>;
  reduce<R>(fn: ReduceFunction<T>, windowFn?: ProcessAllWindowFunctionLike<T, R, W>): DataStream<R> {
    const out = windowFn === undefined ? this.windowed.reduce(fn) : this.windowed.reduce(fn, allToKeyed(windowFn));
    return (out as DataStream<R>).setParallelism(1);
  }
  aggregate<ACC, V>(fn: AggregateFunction<T, ACC, V>): DataStream<V>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, windowFn: ProcessAllWindowFunctionLike<V, R, W>): DataStream<R>;
  aggregate<ACC, V, R>(fn: AggregateFunction<T, ACC, V>, windowFn?: ProcessAllWindowFunctionLike<V, R, W>): DataStream<R> {
    const out = windowFn === undefined ? this.windowed.aggregate(fn) : this.windowed.aggregate(fn, allToKeyed(windowFn));
    return (out as DataStream<R>).setParallelism(1);
  }
  process<R>(fn: ProcessAllWindowFunctionLike<T, R, W>): DataStream<R> {
    return this.windowed.process(allToKeyed(fn)).setParallelism(1);
  }
  /** `WindowedStream.sum` over the whole stream. */
  sum(field?: FieldRef): DataStream<T> {
    return this.windowed.sum(field).setParallelism(1);
  }
  /** `WindowedStream.min` over the whole stream: the window's first element with the minimum of `field`. */
  min(field?: FieldRef): DataStream<T> {
    return this.windowed.min(field).setParallelism(1);
  }
  /** `WindowedStream.max` over the whole stream: the window's first element with the maximum of `field`. */
  max(field?: FieldRef): DataStream<T> {
    return this.windowed.max(field).setParallelism(1);
  }
  /** `WindowedStream.minBy` over the whole stream: the element with the smallest `field`. */
  minBy(field?: FieldRef, first = true): DataStream<T> {
    return this.windowed.minBy(field, first).setParallelism(1);
  }
  /** `WindowedStream.maxBy` over the whole stream: the element with the largest `field`. */
  maxBy(field?: FieldRef, first = true): DataStream<T> {
    return this.windowed.maxBy(field, first).setParallelism(1);
  }
}

/** A ProcessAllWindowFunction as a keyed one that ignores the (constant) key; copied per instance. */
function allToKeyed<IN, OUT, W extends Window>(fn: ProcessAllWindowFunctionLike<IN, OUT, W>): ProcessWindowFunctionLike<IN, OUT, number, W> {
  if (typeof fn !== 'function' && (fn === null || typeof fn !== 'object' || typeof fn.process !== 'function'))
    throw invalid('windowAll needs a function (ctx, elements, out) => void or an object with a process() method');
  if (typeof fn === 'function') return (_k, ctx, elements, out) => fn(ctx, elements, out);
  const f = fn;
  return {
    open: (ctx) => f.open?.(ctx),
    close: () => f.close?.(),
    process: (_k, ctx, elements, out) => f.process(ctx, elements, out),
    ...(typeof f.clear === 'function' ? { clear: (ctx) => f.clear!(ctx) } : {}),
  };
}
