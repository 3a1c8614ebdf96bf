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

export type { TimeDomain } from '../operators/timer-service.ts';

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
  timeDomain(): import('../operators/timer-service.ts').TimeDomain;
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
