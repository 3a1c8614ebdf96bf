// User function contracts (Flink's names): map, filter, flatMap, process, keyed process, rich lifecycle.
import type { StateAccess } from '../state/descriptors.ts';
import type { OutputTag } from './output-tag.ts';

/** Receives the records a function emits. */
export interface Collector<T> {
  collect(value: T): void;
}

/** What a function learns about where it runs, and its keyed state (keyed streams only). */
export interface RuntimeContext extends StateAccess {
  readonly jobName: string;
  readonly operatorName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
}

/** Optional lifecycle of any function object: `open` before the first record, `close` after the last. */
export interface RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

export type MapFunction<T, U> = ((value: T) => U) | (RichFunction & { map(value: T): U });
export type FilterFunction<T> = ((value: T) => boolean) | (RichFunction & { filter(value: T): boolean });
/** A plain function returns an Iterable; an object's `flatMap` emits through the collector. */
export type FlatMapFunction<T, U> =
  | ((value: T) => Iterable<U>)
  | (RichFunction & { flatMap(value: T, out: Collector<U>): void });
/**
 * The function of async I/O (`AsyncDataStream.orderedWait/unorderedWait`, `stream.asyncMap`): one
 * result per record, as a Promise. The object form may add `timeout(value)`, the result used when
 * the call does not settle within `timeoutMs` (Flink's `AsyncFunction.timeout`); without it a
 * timed-out record is a record failure (`EDDY_ASYNC_TIMEOUT`). The function must not change its
 * input: records in flight are part of the checkpoint.
 *
 * @example
 * ```ts
 * const lookup: AsyncFunction<string, User> = {
 *   asyncInvoke: (id) => db.get(id),
 *   timeout: (id) => ({ id, name: 'unknown' }),
 * };
 * ```
 */
export type AsyncFunction<T, U> =
  | ((value: T) => Promise<U>)
  | (RichFunction & { asyncInvoke(value: T): Promise<U>; timeout?(value: T): U | Promise<U> });
export type KeySelector<T, K> = (value: T) => K;

/** Time as a process function sees it, and (on keyed streams) timers for the current key. */
export interface TimerService {
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** Calls `onTimer` once the watermark reaches `timestamp` (one timer per key and timestamp). */
  registerEventTimeTimer(timestamp: number): void;
  /** Calls `onTimer` once processing time reaches `timestamp`. */
  registerProcessingTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
}

/** Which clock a timer belongs to: the watermark (event time) or the job clock (processing time). */
export type TimeDomain = 'EVENT_TIME' | 'PROCESSING_TIME';

/** What `processElement` sees besides the value. */
export interface ProcessContext extends StateAccess {
  /** The record's event timestamp, or undefined when it has none. */
  timestamp(): number | undefined;
  output<X>(tag: OutputTag<X>, value: X): void;
  timerService(): TimerService;
}

/** What `processElement` of a KeyedProcessFunction sees: also the current key. */
export interface KeyedProcessContext<K> extends ProcessContext {
  getCurrentKey(): K;
}

/** What `onTimer` sees: the firing timer's domain; `timestamp()` is the timer's timestamp. */
export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  timeDomain(): TimeDomain;
}

/**
 * The most general one-input function: any number of outputs per record, side outputs, state on keyed streams.
 *
 * @example
 * ```ts
 * class Split extends ProcessFunction<string, string> {
 *   processElement(line: string, ctx: ProcessContext, out: Collector<string>) {
 *     for (const w of line.split(' ')) out.collect(w);
 *   }
 * }
 * ```
 */
export abstract class ProcessFunction<I, O> implements RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract processElement(value: I, ctx: ProcessContext, out: Collector<O>): void;
}

/**
 * A process function on a keyed stream: state is scoped to the current key.
 *
 * @example
 * ```ts
 * class Count extends KeyedProcessFunction<string, string, [string, number]> {
 *   private n!: ValueState<number>;
 *   open(ctx: RuntimeContext) { this.n = ctx.getState(new ValueStateDescriptor('n', 0)); }
 *   processElement(w: string, ctx: KeyedProcessContext<string>, out: Collector<[string, number]>) {
 *     this.n.update(this.n.value() + 1);
 *     out.collect([w, this.n.value()]);
 *   }
 * }
 * ```
 */
export abstract class KeyedProcessFunction<K, I, O> implements RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract processElement(value: I, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  /** A timer of `ctx.getCurrentKey()` fired; the key's state is in scope. */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/** The structural form a process function may also take (a plain object with `processElement`). */
export interface ProcessFunctionLike<I, O, C = ProcessContext> extends RichFunction {
  processElement(value: I, ctx: C, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<any>, out: Collector<O>): void;
}

// ---- Two-input functions (connect, interval join) ----

/**
 * A map over connected streams: `map1` for records of the first input, `map2` for the second.
 *
 * @example
 * ```ts
 * const both: CoMapFunction<number, string, string> = { map1: (n) => `n${n}`, map2: (s) => `s${s}` };
 * const out = await env.fromCollection([1]).connect(env.fromCollection(['a'])).map(both).executeAndCollect();
 * ```
 */
export interface CoMapFunction<IN1, IN2, OUT> extends RichFunction {
  map1(value: IN1): OUT;
  map2(value: IN2): OUT;
}

/**
 * A flatMap over connected streams: zero or more outputs per record of either input, through the collector.
 *
 * @example
 * ```ts
 * const split: CoFlatMapFunction<string, number, string> = {
 *   flatMap1: (line, out) => line.split(' ').forEach((w) => out.collect(w)),
 *   flatMap2: (n, out) => out.collect(String(n)),
 * };
 * ```
 */
export interface CoFlatMapFunction<IN1, IN2, OUT> extends RichFunction {
  flatMap1(value: IN1, out: Collector<OUT>): void;
  flatMap2(value: IN2, out: Collector<OUT>): void;
}

/** The structural form of a (keyed) co-process function. */
export interface CoProcessFunctionLike<I1, I2, O, C = ProcessContext> extends RichFunction {
  processElement1(value: I1, ctx: C, out: Collector<O>): void;
  processElement2(value: I2, ctx: C, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<any>, out: Collector<O>): void;
}

/**
 * A process function over two connected, non-keyed streams (Flink's CoProcessFunction): records of
 * the first input reach `processElement1`, of the second `processElement2`; both may emit, emit to
 * side outputs and read time. Timers need keyed streams (`connected.keyBy(k1, k2)`).
 *
 * @example
 * ```ts
 * class Tag extends CoProcessFunction<number, string, string> {
 *   processElement1(n: number, ctx: ProcessContext, out: Collector<string>) { out.collect(`number ${n} @${ctx.timestamp()}`); }
 *   processElement2(s: string, _ctx: ProcessContext, out: Collector<string>) { out.collect(`string ${s}`); }
 * }
 * ```
 */
export abstract class CoProcessFunction<IN1, IN2, OUT> implements RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract processElement1(value: IN1, ctx: ProcessContext, out: Collector<OUT>): void;
  abstract processElement2(value: IN2, ctx: ProcessContext, out: Collector<OUT>): void;
}

/**
 * A process function over two connected streams keyed into the same key space (Flink's
 * KeyedCoProcessFunction): keyed state and timers belong to the current key, whichever input the
 * record came from, so both inputs of a key share their state.
 *
 * @example
 * ```ts
 * class Match extends KeyedCoProcessFunction<string, Order, Payment, string> {
 *   private paid!: ValueState<boolean>;
 *   override open(ctx: RuntimeContext) { this.paid = ctx.getState(new ValueStateDescriptor('paid', false)); }
 *   processElement1(o: Order, ctx: KeyedProcessContext<string>, out: Collector<string>) {
 *     if (this.paid.value()) out.collect(`${ctx.getCurrentKey()} paid`);
 *   }
 *   processElement2(_p: Payment, _ctx: KeyedProcessContext<string>) { this.paid.update(true); }
 * }
 * orders.connect(payments).keyBy((o) => o.id, (p) => p.orderId).process(new Match());
 * ```
 */
export abstract class KeyedCoProcessFunction<K, IN1, IN2, OUT> implements RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract processElement1(value: IN1, ctx: KeyedProcessContext<K>, out: Collector<OUT>): void;
  abstract processElement2(value: IN2, ctx: KeyedProcessContext<K>, out: Collector<OUT>): void;
  /** A timer of `ctx.getCurrentKey()` fired; the key's state is in scope. */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<OUT>): void;
}

/** What a ProcessJoinFunction sees for each joined pair. */
export interface ProcessJoinContext {
  /** The left element's timestamp. */
  getLeftTimestamp(): number;
  /** The right element's timestamp. */
  getRightTimestamp(): number;
  /** The pair's timestamp: the larger of both (also the timestamp of what is emitted). */
  getTimestamp(): number;
  output<X>(tag: OutputTag<X>, value: X): void;
}

/** The structural form of a ProcessJoinFunction. */
export interface ProcessJoinFunctionLike<IN1, IN2, OUT> extends RichFunction {
  processElement(left: IN1, right: IN2, ctx: ProcessJoinContext, out: Collector<OUT>): void;
}

/**
 * Called once per joined pair of an interval join (Flink's ProcessJoinFunction).
 *
 * @example
 * ```ts
 * class Pair extends ProcessJoinFunction<Click, View, string> {
 *   processElement(c: Click, v: View, ctx: ProcessJoinContext, out: Collector<string>) {
 *     out.collect(`${c.user}: ${v.page} ${ctx.getRightTimestamp() - ctx.getLeftTimestamp()} ms later`);
 *   }
 * }
 * ```
 */
export abstract class ProcessJoinFunction<IN1, IN2, OUT> implements ProcessJoinFunctionLike<IN1, IN2, OUT> {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract processElement(left: IN1, right: IN2, ctx: ProcessJoinContext, out: Collector<OUT>): void;
}
