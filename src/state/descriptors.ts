// State descriptors (Flink's names) and the state interfaces user functions read and write.
import { EddyError, previewValue } from '../errors.ts';
import { StateTtlConfig } from './state-ttl.ts';

/** Combines two values into one of the same type (ReducingState, `reduce`). */
export type ReduceFunction<T> = (a: T, b: T) => T;

/**
 * Incremental aggregation: `add` folds a value into an accumulator, `getResult` reads it out.
 *
 * @example
 * ```ts
 * const avg: AggregateFunction<number, [number, number], number> = {
 *   createAccumulator: () => [0, 0],
 *   add: (v, [s, n]) => [s + v, n + 1],
 *   getResult: ([s, n]) => s / n,
 *   merge: ([s1, n1], [s2, n2]) => [s1 + s2, n1 + n2],
 * };
 * ```
 */
export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  merge?(a: ACC, b: ACC): ACC;
}

/** One value per key. */
export interface ValueState<T> {
  value(): T;
  update(value: T): void;
  clear(): void;
}

/** A list per key. `get()` returns the stored array: treat it as read-only. */
export interface ListState<T> {
  get(): readonly T[];
  add(value: T): void;
  addAll(values: Iterable<T>): void;
  update(values: Iterable<T>): void;
  clear(): void;
}

/** A map per key. */
export interface MapState<K, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  remove(key: K): void;
  contains(key: K): boolean;
  entries(): IterableIterator<[K, V]>;
  keys(): IterableIterator<K>;
  values(): IterableIterator<V>;
  isEmpty(): boolean;
  clear(): void;
}

/** A value per key that every `add` folds in with a ReduceFunction. */
export interface ReducingState<T> {
  get(): T | undefined;
  add(value: T): void;
  clear(): void;
}

/** An accumulator per key that every `add` folds in with an AggregateFunction. */
export interface AggregatingState<IN, OUT> {
  get(): OUT | undefined;
  add(value: IN): void;
  clear(): void;
}

/** What kind of state a descriptor declares. */
export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';

abstract class StateDescriptorBase<S> {
  abstract readonly kind: StateKind;
  /** Phantom field that carries the state type through `getState`. */
  declare readonly __state?: S;
  /** The state's time-to-live, once `enableTimeToLive` was called. */
  private ttl: StateTtlConfig | undefined;
  constructor(readonly name: string) {
    if (typeof name !== 'string' || name.length === 0) throw new EddyError('EDDY_INVALID_ARGUMENT', `a state descriptor needs a non-empty string name, got ${previewValue(name)}; name it after what it holds, e.g. new ValueStateDescriptor('count', 0)`);
  }

  /**
   * Gives the state a time-to-live (Flink's `enableTimeToLive`): values, list elements and map
   * entries expire `ttl` ms of processing time after their last write (or access, with
   * `OnReadAndWrite`). Call before `getState`; a state written with TTL must keep it across restores
   * (and one without must stay without), else the restore fails with `EDDY_STATE_MISMATCH`.
   *
   * @example
   * ```ts
   * const seen = new MapStateDescriptor<string, number>('seen').enableTimeToLive(StateTtlConfig.newBuilder(3_600_000).build());
   * ```
   */
  enableTimeToLive(ttlConfig: StateTtlConfig): this {
    if (!(ttlConfig instanceof StateTtlConfig))
      throw new EddyError('EDDY_CONFIG', `state "${this.name}": enableTimeToLive needs a StateTtlConfig (StateTtlConfig.newBuilder(ms).build()), got ${String(ttlConfig)}`);
    this.ttl = ttlConfig;
    return this;
  }

  /** The TTL configuration, or `StateTtlConfig.DISABLED` when none was enabled. */
  getTtlConfig(): StateTtlConfig {
    return this.ttl ?? StateTtlConfig.DISABLED;
  }
}

/**
 * Declares a ValueState; `defaultValue` is what `value()` returns for a key with no value.
 *
 * @example
 * ```ts
 * const count = ctx.getState(new ValueStateDescriptor('count', 0));
 * count.update(count.value() + 1);
 * ```
 */
export class ValueStateDescriptor<T> extends StateDescriptorBase<ValueState<T>> {
  readonly kind = 'value' as const;
  constructor(name: string, readonly defaultValue?: T) {
    super(name);
  }
}

/** Declares a ListState. */
export class ListStateDescriptor<T> extends StateDescriptorBase<ListState<T>> {
  readonly kind = 'list' as const;
  declare readonly __element?: T;
}

/** Declares a MapState. */
export class MapStateDescriptor<K, V> extends StateDescriptorBase<MapState<K, V>> {
  readonly kind = 'map' as const;
  declare readonly __entry?: [K, V];
}

/** Declares a ReducingState with its ReduceFunction. */
export class ReducingStateDescriptor<T> extends StateDescriptorBase<ReducingState<T>> {
  readonly kind = 'reducing' as const;
  constructor(name: string, readonly reduceFunction: ReduceFunction<T>) {
    super(name);
    if (typeof reduceFunction !== 'function') throw new EddyError('EDDY_INVALID_ARGUMENT', `ReducingStateDescriptor "${name}" needs a reduce function (a, b) => combined as its second argument, got ${previewValue(reduceFunction)}`);
  }
}

/** Declares an AggregatingState with its AggregateFunction. */
export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptorBase<AggregatingState<IN, OUT>> {
  readonly kind = 'aggregating' as const;
  constructor(name: string, readonly aggregateFunction: AggregateFunction<IN, ACC, OUT>) {
    super(name);
    if (typeof aggregateFunction?.add !== 'function' || typeof aggregateFunction.createAccumulator !== 'function')
      throw new EddyError('EDDY_INVALID_ARGUMENT', `AggregatingStateDescriptor "${name}" needs an AggregateFunction (an object with createAccumulator, add, getResult and merge) as its second argument, got ${previewValue(aggregateFunction)}`);
  }
}

/** Any state descriptor. */
export type StateDescriptor =
  | ValueStateDescriptor<any>
  | ListStateDescriptor<any>
  | MapStateDescriptor<any, any>
  | ReducingStateDescriptor<any>
  | AggregatingStateDescriptor<any, any, any>;

/** The state interface a descriptor yields. */
export type StateOf<D> = D extends { __state?: infer S } ? S : never;

/** Where keyed state is read and written: the heap backend or (later) a LevelDB one. */
export interface StateAccess {
  getState<D extends StateDescriptor>(descriptor: D): StateOf<D>;
}
