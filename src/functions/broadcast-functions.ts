// Functions of the broadcast state pattern (Flink's names): (Keyed)BroadcastProcessFunction and their contexts.
import type { MapStateDescriptor, StateAccess, StateDescriptor, StateOf } from '../state/descriptors.ts';
import type { BroadcastState, ReadOnlyBroadcastState } from '../state/broadcast-state.ts';
import type { Collector, RichFunction, RuntimeContext, TimeDomain, TimerService } from './functions.ts';
import type { OutputTag } from './output-tag.ts';

export type { BroadcastState, ReadOnlyBroadcastState } from '../state/broadcast-state.ts';

/** What both sides of a broadcast process function see. */
interface BaseBroadcastContext {
  /** The record's event timestamp, or undefined when it has none. */
  timestamp(): number | undefined;
  output<X>(tag: OutputTag<X>, value: X): void;
  currentProcessingTime(): number;
  currentWatermark(): number;
}

/** `processElement` of a BroadcastProcessFunction: broadcast state is read-only here. */
export interface BroadcastReadOnlyContext extends BaseBroadcastContext {
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V>;
}

/** `processBroadcastElement`: broadcast state is writable here. */
export interface BroadcastContext extends BaseBroadcastContext {
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V>;
}

/** `processElement` of a KeyedBroadcastProcessFunction: also the current key, its state and timers. */
export interface KeyedBroadcastReadOnlyContext<K> extends BroadcastReadOnlyContext, StateAccess {
  getCurrentKey(): K;
  timerService(): TimerService;
}

/** `onTimer` of a KeyedBroadcastProcessFunction: the firing timer's key and domain. */
export interface KeyedBroadcastOnTimerContext<K> extends KeyedBroadcastReadOnlyContext<K> {
  timeDomain(): TimeDomain;
}

/** `processBroadcastElement` of a KeyedBroadcastProcessFunction: also every key's state. */
export interface KeyedBroadcastContext<K> extends BroadcastContext {
  /**
   * Calls `fn(key, state)` for every key of this subtask that has a value in `descriptor`'s state,
   * with that key current (e.g. to clear or migrate state when a rule changes).
   */
  applyToKeyedState<D extends StateDescriptor>(descriptor: D, fn: (key: K, state: StateOf<D>) => void): void;
}

/** The structural form of a BroadcastProcessFunction. */
export interface BroadcastProcessFunctionLike<IN1, IN2, OUT> extends RichFunction {
  processElement(value: IN1, ctx: BroadcastReadOnlyContext, out: Collector<OUT>): void;
  processBroadcastElement(value: IN2, ctx: BroadcastContext, out: Collector<OUT>): void;
}

/** The structural form of a KeyedBroadcastProcessFunction. */
export interface KeyedBroadcastProcessFunctionLike<K, IN1, IN2, OUT> extends RichFunction {
  processElement(value: IN1, ctx: KeyedBroadcastReadOnlyContext<K>, out: Collector<OUT>): void;
  processBroadcastElement(value: IN2, ctx: KeyedBroadcastContext<K>, out: Collector<OUT>): void;
  onTimer?(timestamp: number, ctx: KeyedBroadcastOnTimerContext<K>, out: Collector<OUT>): void;
}

/**
 * Connects a non-keyed stream with a broadcast stream (`events.connect(rules.broadcast(desc))`):
 * `processBroadcastElement` sees every broadcast record on every subtask and may write the broadcast
 * state; `processElement` reads it.
 *
 * @example
 * ```ts
 * const limits = new MapStateDescriptor<string, number>('limits');
 * class Limit extends BroadcastProcessFunction<number, [string, number], number> {
 *   processElement(n: number, ctx: BroadcastReadOnlyContext, out: Collector<number>) {
 *     if (n <= (ctx.getBroadcastState(limits).get('max') ?? Infinity)) out.collect(n);
 *   }
 *   processBroadcastElement([k, v]: [string, number], ctx: BroadcastContext) {
 *     ctx.getBroadcastState(limits).put(k, v);
 *   }
 * }
 * numbers.connect(settings.broadcast(limits)).process(new Limit());
 * ```
 */
export abstract class BroadcastProcessFunction<IN1, IN2, OUT> implements BroadcastProcessFunctionLike<IN1, IN2, OUT> {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract processElement(value: IN1, ctx: BroadcastReadOnlyContext, out: Collector<OUT>): void;
  abstract processBroadcastElement(value: IN2, ctx: BroadcastContext, out: Collector<OUT>): void;
}

/**
 * Connects a keyed stream with a broadcast stream (`events.keyBy(k).connect(rules.broadcast(desc))`):
 * `processElement` runs per key with keyed state, timers and read-only broadcast state;
 * `processBroadcastElement` writes the broadcast state and may visit every key's state with
 * `ctx.applyToKeyedState`. Keyed state handles must not be used directly in
 * `processBroadcastElement` (no key is current there).
 *
 * @example
 * ```ts
 * const thresholds = new MapStateDescriptor<string, number>('thresholds');
 * class Alert extends KeyedBroadcastProcessFunction<string, Reading, [string, number], Reading> {
 *   processElement(r: Reading, ctx: KeyedBroadcastReadOnlyContext<string>, out: Collector<Reading>) {
 *     if (r.value > (ctx.getBroadcastState(thresholds).get(ctx.getCurrentKey()) ?? Infinity)) out.collect(r);
 *   }
 *   processBroadcastElement([sensor, t]: [string, number], ctx: KeyedBroadcastContext<string>) {
 *     ctx.getBroadcastState(thresholds).put(sensor, t);
 *   }
 * }
 * readings.keyBy((r) => r.sensor).connect(rules.broadcast(thresholds)).process(new Alert());
 * ```
 */
export abstract class KeyedBroadcastProcessFunction<K, IN1, IN2, OUT> implements KeyedBroadcastProcessFunctionLike<K, IN1, IN2, OUT> {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract processElement(value: IN1, ctx: KeyedBroadcastReadOnlyContext<K>, out: Collector<OUT>): void;
  abstract processBroadcastElement(value: IN2, ctx: KeyedBroadcastContext<K>, out: Collector<OUT>): void;
  /** A timer of `ctx.getCurrentKey()` fired; the key's state and read-only broadcast state are in scope. */
  onTimer?(timestamp: number, ctx: KeyedBroadcastOnTimerContext<K>, out: Collector<OUT>): void;
}
