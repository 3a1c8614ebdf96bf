// The state handles of the LevelDB keyed state backend: each reads and writes the backend's current key.
import type { Clock } from '../time/clock.ts';
import type {
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  MapState,
  ReducingState,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueState,
  ValueStateDescriptor,
} from './descriptors.ts';
import type { LevelStateAccess, LevelStateMeta } from './level-state-meta.ts';
import { createTtlHandle, type TtlStore } from './ttl-state-handles.ts';
import { ttlSettings, type TtlCleanup } from './ttl-value.ts';

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * What every handle shares. All writes go through set(), i.e. the backend's write(), which also
 * records the key for incremental snapshots: a handle must never change state another way.
 */
export abstract class LevelStateBase {
  constructor(
    protected readonly b: LevelStateAccess,
    protected readonly meta: LevelStateMeta,
  ) {}
  protected get raw(): any {
    return this.b.read(this.meta);
  }
  protected set(v: unknown): void {
    this.b.write(this.meta, this.b.getCurrentKey(), v);
  }
  clear(): void {
    this.set(undefined);
  }
}

export class LevelValueState<T> extends LevelStateBase implements ValueState<T> {
  constructor(b: LevelStateAccess, meta: LevelStateMeta, private readonly defaultValue: T) {
    super(b, meta);
  }
  value(): T {
    const v = this.raw;
    if (v !== undefined) return v;
    const d = this.defaultValue;
    return d !== null && typeof d === 'object' ? structuredClone(d) : d;
  }
  update(value: T): void {
    this.set(value);
  }
}

export class LevelListState<T> extends LevelStateBase implements ListState<T> {
  constructor(b: LevelStateAccess, meta: LevelStateMeta) {
    super(b, meta);
  }
  get(): readonly T[] {
    return this.raw ?? EMPTY;
  }
  add(value: T): void {
    const list: T[] | undefined = this.raw;
    if (list === undefined) this.set([value]);
    else {
      list.push(value);
      this.set(list);
    }
  }
  addAll(values: Iterable<T>): void {
    const add = [...values];
    if (add.length === 0) return;
    const list: T[] | undefined = this.raw;
    if (list === undefined) this.set(add);
    else {
      for (const v of add) list.push(v);
      this.set(list);
    }
  }
  update(values: Iterable<T>): void {
    const list = [...values];
    this.set(list.length === 0 ? undefined : list);
  }
}

export class LevelMapState<K, V> extends LevelStateBase implements MapState<K, V> {
  constructor(b: LevelStateAccess, meta: LevelStateMeta) {
    super(b, meta);
  }
  private map(): Map<K, V> | undefined {
    return this.raw;
  }
  get(key: K): V | undefined {
    return this.map()?.get(key);
  }
  put(key: K, value: V): void {
    const m = this.map() ?? new Map<K, V>();
    m.set(key, value);
    this.set(m);
  }
  putAll(entries: Iterable<readonly [K, V]>): void {
    const m = this.map() ?? new Map<K, V>();
    for (const [k, v] of entries) m.set(k, v);
    this.set(m.size === 0 ? undefined : m);
  }
  remove(key: K): void {
    const m = this.map();
    if (m === undefined || !m.delete(key)) return;
    this.set(m.size === 0 ? undefined : m);
  }
  contains(key: K): boolean {
    return this.map()?.has(key) ?? false;
  }
  entries(): IterableIterator<[K, V]> {
    return (this.map() ?? new Map<K, V>()).entries();
  }
  keys(): IterableIterator<K> {
    return (this.map() ?? new Map<K, V>()).keys();
  }
  values(): IterableIterator<V> {
    return (this.map() ?? new Map<K, V>()).values();
  }
  isEmpty(): boolean {
    return (this.map()?.size ?? 0) === 0;
  }
}

export class LevelReducingState<T> extends LevelStateBase implements ReducingState<T> {
  constructor(b: LevelStateAccess, meta: LevelStateMeta, private readonly reduce: (a: T, b: T) => T) {
    super(b, meta);
  }
  get(): T | undefined {
    return this.raw;
  }
  add(value: T): void {
    const cur: T | undefined = this.raw;
    this.set(cur === undefined ? value : this.reduce(cur, value));
  }
}

export class LevelAggregatingState<IN, ACC, OUT> extends LevelStateBase implements AggregatingState<IN, OUT> {
  constructor(
    b: LevelStateAccess,
    meta: LevelStateMeta,
    private readonly fn: { createAccumulator(): ACC; add(v: IN, acc: ACC): ACC; getResult(acc: ACC): OUT },
  ) {
    super(b, meta);
  }
  get(): OUT | undefined {
    const acc: ACC | undefined = this.raw;
    return acc === undefined ? undefined : this.fn.getResult(acc);
  }
  add(value: IN): void {
    const acc: ACC | undefined = this.raw;
    this.set(this.fn.add(value, acc === undefined ? this.fn.createAccumulator() : acc));
  }
}

/** The TTL handles' view of a LevelDB state: the current key's stored value, written through the backend's tracked write. */
class LevelTtlStore implements TtlStore {
  constructor(
    private readonly b: LevelStateAccess,
    private readonly meta: LevelStateMeta,
  ) {}
  get(): any {
    return this.b.read(this.meta);
  }
  set(v: unknown): void {
    this.b.write(this.meta, this.b.getCurrentKey(), v);
  }
}

/**
 * The handle of state `meta` declared by `d`: a TTL handle (with `cleanup`, if any, run on every
 * access) when `meta` stores timestamps, else the plain handle of its kind, which pays nothing for TTL.
 */
export function createLevelHandle(b: LevelStateAccess, meta: LevelStateMeta, d: StateDescriptor, clock: Clock, cleanup: TtlCleanup | undefined): unknown {
  if (meta.ttl) return createTtlHandle(d, new LevelTtlStore(b, meta), ttlSettings(d.getTtlConfig(), clock, cleanup));
  switch (d.kind) {
    case 'value':
      return new LevelValueState(b, meta, (d as ValueStateDescriptor<unknown>).defaultValue);
    case 'list':
      return new LevelListState(b, meta);
    case 'map':
      return new LevelMapState(b, meta);
    case 'reducing':
      return new LevelReducingState(b, meta, (d as ReducingStateDescriptor<unknown>).reduceFunction);
    case 'aggregating':
      return new LevelAggregatingState(b, meta, (d as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
  }
}
