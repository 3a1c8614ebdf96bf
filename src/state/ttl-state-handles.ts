// State handles with a time-to-live, shared by both backends: they wrap values with their last-access time and hide or remove expired ones.
import { EddyError } from '../errors.ts';
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
import { isExpired, type TtlSettings, type TtlValue } from './ttl-value.ts';

/*
 * Chosen by a backend's getState only for descriptors with an enabled TTL, so states without TTL
 * keep their plain handles and pay nothing. Semantics follow Flink's TTL state decorators:
 * - Expiry: a value last accessed at t is expired from t + ttl on (processing time, the backend's clock).
 * - Writes stamp the current time; with OnReadAndWrite, reads of a live value stamp it too (a write).
 * - A read that finds an expired value (element, entry) removes it from storage (a tracked write,
 *   so incremental checkpoints carry the removal). With NeverReturnExpired it is not returned; with
 *   ReturnExpiredIfNotCleanedUp it is returned by that read, never again. An expired value read and
 *   removed is not stamped.
 * - add() on Reducing/AggregatingState folds into the stored value only while it is visible
 *   (unexpired, or expired under ReturnExpiredIfNotCleanedUp), else starts afresh; the result is stamped.
 * - Every method first runs one step of incremental cleanup when that is on (Flink's access callback).
 */

/** Where a TTL handle keeps the current key's stored (wrapped) value: a heap table or LevelDB. */
export interface TtlStore {
  /** The current key's stored value, or undefined. */
  get(): any;
  /** Stores `v` for the current key (undefined removes it) and marks the key changed. */
  set(v: unknown): void;
}

const EMPTY: readonly never[] = Object.freeze([]);

abstract class TtlStateBase {
  constructor(
    protected readonly s: TtlStore,
    protected readonly t: TtlSettings,
  ) {}

  protected access(): void {
    const c = this.t.cleanup;
    if (c !== undefined) c.step();
  }

  /** The visible user value of a single-value state (see the rules above), stamping or removing as they say. */
  protected read<T>(): T | undefined {
    const e = this.s.get() as TtlValue<T> | undefined;
    if (e === undefined) return undefined;
    const now = this.t.clock.now();
    if (isExpired(e[1], this.t.ttlMs, now)) {
      this.s.set(undefined);
      return this.t.returnExpired ? e[0] : undefined;
    }
    if (this.t.updateOnRead && e[1] !== now) this.s.set([e[0], now]);
    return e[0];
  }

  /** The stored user value an add() folds into: visible, not stamped, not removed (the add overwrites it). */
  protected foldBase<T>(now: number): T | undefined {
    const e = this.s.get() as TtlValue<T> | undefined;
    return e === undefined || (!this.t.returnExpired && isExpired(e[1], this.t.ttlMs, now)) ? undefined : e[0];
  }

  clear(): void {
    this.access();
    this.s.set(undefined);
  }
}

export class TtlValueState<T> extends TtlStateBase implements ValueState<T> {
  constructor(s: TtlStore, t: TtlSettings, private readonly defaultValue: T) {
    super(s, t);
  }
  value(): T {
    this.access();
    const v = this.read<T>();
    if (v !== undefined) return v;
    const d = this.defaultValue;
    return d !== null && typeof d === 'object' ? structuredClone(d) : d;
  }
  update(value: T): void {
    this.access();
    this.s.set(value === undefined ? undefined : [value, this.t.clock.now()]);
  }
}

export class TtlReducingState<T> extends TtlStateBase implements ReducingState<T> {
  constructor(s: TtlStore, t: TtlSettings, private readonly reduce: (a: T, b: T) => T) {
    super(s, t);
  }
  get(): T | undefined {
    this.access();
    return this.read<T>();
  }
  add(value: T): void {
    this.access();
    const now = this.t.clock.now();
    const cur = this.foldBase<T>(now);
    this.s.set([cur === undefined ? value : this.reduce(cur, value), now]);
  }
}

export class TtlAggregatingState<IN, ACC, OUT> extends TtlStateBase implements AggregatingState<IN, OUT> {
  constructor(
    s: TtlStore,
    t: TtlSettings,
    private readonly fn: { createAccumulator(): ACC; add(v: IN, acc: ACC): ACC; getResult(acc: ACC): OUT },
  ) {
    super(s, t);
  }
  get(): OUT | undefined {
    this.access();
    const acc = this.read<ACC>();
    return acc === undefined ? undefined : this.fn.getResult(acc);
  }
  add(value: IN): void {
    this.access();
    const now = this.t.clock.now();
    const acc = this.foldBase<ACC>(now);
    this.s.set([this.fn.add(value, acc === undefined ? this.fn.createAccumulator() : acc), now]);
  }
}

/** Elements expire one by one. `get()` returns a new array of the visible elements. */
export class TtlListState<T> extends TtlStateBase implements ListState<T> {
  get(): readonly T[] {
    this.access();
    const list = this.s.get() as TtlValue<T>[] | undefined;
    if (list === undefined) return EMPTY;
    const { ttlMs, updateOnRead, returnExpired } = this.t;
    const now = this.t.clock.now();
    const out: T[] = [];
    let expired = 0;
    for (const e of list) {
      if (isExpired(e[1], ttlMs, now)) expired++;
      else out.push(e[0]);
    }
    if (expired === 0) {
      if (updateOnRead) this.s.set(list.map((e): TtlValue<T> => (e[1] === now ? e : [e[0], now])));
      return out;
    }
    // Some expired: store only the live ones; return the expired ones too (this once) when visible.
    const kept: TtlValue<T>[] = [];
    const shown: T[] = [];
    for (const e of list) {
      const dead = isExpired(e[1], ttlMs, now);
      if (!dead) kept.push(updateOnRead && e[1] !== now ? [e[0], now] : e);
      if (!dead || returnExpired) shown.push(e[0]);
    }
    this.s.set(kept.length === 0 ? undefined : kept);
    return shown;
  }
  add(value: T): void {
    this.access();
    const e: TtlValue<T> = [value, this.t.clock.now()];
    const list = this.s.get() as TtlValue<T>[] | undefined;
    if (list === undefined) this.s.set([e]);
    else {
      list.push(e);
      this.s.set(list);
    }
  }
  addAll(values: Iterable<T>): void {
    this.access();
    const now = this.t.clock.now();
    const add: TtlValue<T>[] = [];
    for (const v of values) add.push([v, now]);
    if (add.length === 0) return;
    const list = this.s.get() as TtlValue<T>[] | undefined;
    if (list === undefined) this.s.set(add);
    else {
      for (const e of add) list.push(e);
      this.s.set(list);
    }
  }
  update(values: Iterable<T>): void {
    this.access();
    const now = this.t.clock.now();
    const list: TtlValue<T>[] = [];
    for (const v of values) list.push([v, now]);
    this.s.set(list.length === 0 ? undefined : list);
  }
}

/**
 * Entries expire one by one. Iteration (`entries`/`keys`/`values`) and `isEmpty` look at the whole
 * map at the call: expired entries are removed then, and the iterators run over a copy of what was visible.
 */
export class TtlMapState<K, V> extends TtlStateBase implements MapState<K, V> {
  private map(): Map<K, TtlValue<V>> | undefined {
    return this.s.get();
  }
  /** The visible entry of `key`, after the read rules (stamp on read, remove when expired). */
  private entry(key: K): TtlValue<V> | undefined {
    const m = this.map();
    const e = m?.get(key);
    if (e === undefined) return undefined;
    const now = this.t.clock.now();
    if (isExpired(e[1], this.t.ttlMs, now)) {
      m!.delete(key);
      this.s.set(m!.size === 0 ? undefined : m);
      return this.t.returnExpired ? e : undefined;
    }
    if (this.t.updateOnRead && e[1] !== now) {
      m!.set(key, [e[0], now]);
      this.s.set(m);
    }
    return e;
  }
  /** The visible entries, removing expired ones (and stamping live ones when `stamp` and OnReadAndWrite). */
  private visible(stamp: boolean): [K, V][] {
    const m = this.map();
    if (m === undefined) return [];
    const { ttlMs, returnExpired } = this.t;
    const now = this.t.clock.now();
    const restamp = stamp && this.t.updateOnRead;
    const out: [K, V][] = [];
    let changed = false;
    for (const [k, e] of m) {
      if (isExpired(e[1], ttlMs, now)) {
        m.delete(k); // deleting the current entry while iterating a Map is safe
        changed = true;
        if (returnExpired) out.push([k, e[0]]);
        continue;
      }
      if (restamp && e[1] !== now) {
        m.set(k, [e[0], now]); // an existing key: the iteration order does not change
        changed = true;
      }
      out.push([k, e[0]]);
    }
    if (changed) this.s.set(m.size === 0 ? undefined : m);
    return out;
  }
  get(key: K): V | undefined {
    this.access();
    return this.entry(key)?.[0];
  }
  put(key: K, value: V): void {
    this.access();
    const m = this.map() ?? new Map<K, TtlValue<V>>();
    m.set(key, [value, this.t.clock.now()]);
    this.s.set(m);
  }
  putAll(entries: Iterable<readonly [K, V]>): void {
    this.access();
    const now = this.t.clock.now();
    const m = this.map() ?? new Map<K, TtlValue<V>>();
    for (const [k, v] of entries) m.set(k, [v, now]);
    // No entries for a key without a map: leave no empty map behind (an empty map is no value).
    this.s.set(m.size === 0 ? undefined : m);
  }
  remove(key: K): void {
    this.access();
    const m = this.map();
    if (m === undefined || !m.delete(key)) return;
    this.s.set(m.size === 0 ? undefined : m);
  }
  contains(key: K): boolean {
    this.access();
    return this.entry(key) !== undefined;
  }
  entries(): IterableIterator<[K, V]> {
    this.access();
    return this.visible(true)[Symbol.iterator]();
  }
  keys(): IterableIterator<K> {
    this.access();
    return this.visible(true)
      .map((e) => e[0])
      [Symbol.iterator]();
  }
  values(): IterableIterator<V> {
    this.access();
    return this.visible(true)
      .map((e) => e[1])
      [Symbol.iterator]();
  }
  /** True when no entry is visible; removes expired entries, does not renew timestamps (it reads no value). */
  isEmpty(): boolean {
    this.access();
    return this.visible(false).length === 0;
  }
}

/** The TTL handle for descriptor `d` over `store` (backends call this for descriptors with an enabled TTL). */
export function createTtlHandle(d: StateDescriptor, store: TtlStore, t: TtlSettings): unknown {
  switch (d.kind) {
    case 'value':
      return new TtlValueState(store, t, (d as ValueStateDescriptor<unknown>).defaultValue);
    case 'list':
      return new TtlListState(store, t);
    case 'map':
      return new TtlMapState(store, t);
    case 'reducing':
      return new TtlReducingState(store, t, (d as ReducingStateDescriptor<unknown>).reduceFunction);
    case 'aggregating':
      return new TtlAggregatingState(store, t, (d as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
  }
}

/** The error for a state whose stored form (with or without TTL timestamps) differs from its declaration or another snapshot. */
export function ttlMismatch(operatorName: string, stateName: string, hadTtl: boolean): EddyError {
  const [was, now] = hadTtl ? ['with', 'without'] : ['without', 'with'];
  return new EddyError(
    'EDDY_STATE_MISMATCH',
    `operator "${operatorName}": state "${stateName}" was written ${was} a time-to-live but is now declared or restored ${now} one; keep enableTimeToLive() as it was, or use a new state name`,
    { operator: operatorName },
  );
}
