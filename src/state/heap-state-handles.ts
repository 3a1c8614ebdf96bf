// The heap backend's state handles and per-state slots: every write marks its key for incremental checkpoints.
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  StateKind,
  ValueState,
} from './descriptors.ts';
import type { NormalizedKey } from './key-group.ts';
import type { StateTtlConfig } from './state-ttl.ts';
import type { TtlStore } from './ttl-state-handles.ts';

/** The one thing handles need from their backend: the current key. */
export interface CurrentKey {
  getCurrentKey(): NormalizedKey;
}

export type Table = Map<NormalizedKey, any>;

/**
 * One state: its table, its handle once declared, and, while changes are tracked, the keys written
 * or removed since the last take. Invariant: `table` is never replaced (handles keep a reference),
 * and `dirty` is undefined exactly when the backend does not track changes.
 */
export interface Slot {
  readonly kind: StateKind;
  readonly table: Table;
  handle: unknown;
  dirty: Set<NormalizedKey> | undefined;
  /**
   * Every entry counts as changed: set once most of a large table is dirty, so that the next take
   * writes the whole table and writes stop paying a hash insert into a set as large as the table;
   * `dirty` then also collects keys that may have been removed (a present key in it means nothing).
   */
  all: boolean;
  /** The least dirty-set size at which `all` may be set. */
  readonly allAt: number;
  /**
   * Values are stored with their last-access time (see ttl-value.ts): fixed when the slot is made,
   * by the first declaration or the first restored snapshot, whichever comes first.
   */
  readonly ttl: boolean;
  /** The TTL configuration of the declaring descriptor (undefined until declared, or without TTL). */
  ttlConfig: StateTtlConfig | undefined;
}

/** Marks `key` of `slot` as changed; a no-op (one check, no allocation) while changes are not tracked. */
export function touch(slot: Slot, key: NormalizedKey): void {
  const d = slot.dirty;
  if (d === undefined) return;
  if (slot.all) {
    // Present keys are in the next take anyway; a removed one must become a del. (The entry was just written: a cache hit.)
    if (!slot.table.has(key)) d.add(key);
    return;
  }
  d.add(key);
  if (d.size >= slot.allAt && d.size * 4 >= slot.table.size * 3) slot.all = true;
}

/*
 * The handles: every method that changes the table calls touch(slot, key) for the key it changes,
 * reads never do. `table` is `slot.table`, kept as a field so that reads take no extra hop.
 */

export class HeapValueState<T> implements ValueState<T> {
  private readonly table: Table;
  constructor(
    private readonly b: CurrentKey,
    private readonly slot: Slot,
    private readonly defaultValue: T,
  ) {
    this.table = slot.table;
  }
  value(): T {
    const v = this.table.get(this.b.getCurrentKey());
    if (v !== undefined) return v;
    // A mutable default is copied per read (as Flink does), so no key can change another key's default.
    const d = this.defaultValue;
    return d !== null && typeof d === 'object' ? structuredClone(d) : d;
  }
  update(value: T): void {
    const k = this.b.getCurrentKey();
    if (value === undefined) this.table.delete(k);
    else this.table.set(k, value);
    touch(this.slot, k);
  }
  clear(): void {
    const k = this.b.getCurrentKey();
    this.table.delete(k);
    touch(this.slot, k);
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

export class HeapListState<T> implements ListState<T> {
  private readonly table: Table;
  constructor(
    private readonly b: CurrentKey,
    private readonly slot: Slot,
  ) {
    this.table = slot.table;
  }
  get(): readonly T[] {
    return this.table.get(this.b.getCurrentKey()) ?? EMPTY;
  }
  add(value: T): void {
    const k = this.b.getCurrentKey();
    const list = this.table.get(k);
    if (list === undefined) this.table.set(k, [value]);
    else list.push(value);
    touch(this.slot, k);
  }
  addAll(values: Iterable<T>): void {
    for (const v of values) this.add(v);
  }
  update(values: Iterable<T>): void {
    const list = [...values];
    if (list.length === 0) this.clear();
    else {
      const k = this.b.getCurrentKey();
      this.table.set(k, list);
      touch(this.slot, k);
    }
  }
  clear(): void {
    const k = this.b.getCurrentKey();
    this.table.delete(k);
    touch(this.slot, k);
  }
}

export class HeapMapState<K, V> implements MapState<K, V> {
  private readonly table: Table;
  constructor(
    private readonly b: CurrentKey,
    private readonly slot: Slot,
  ) {
    this.table = slot.table;
  }
  private map(): Map<K, V> | undefined {
    return this.table.get(this.b.getCurrentKey());
  }
  /** The current key's map, created when missing, with the key marked as changed (the caller writes it). */
  private mapForWrite(): Map<K, V> {
    const k = this.b.getCurrentKey();
    let m = this.table.get(k);
    if (m === undefined) this.table.set(k, (m = new Map()));
    touch(this.slot, k);
    return m;
  }
  get(key: K): V | undefined {
    return this.map()?.get(key);
  }
  put(key: K, value: V): void {
    this.mapForWrite().set(key, value);
  }
  putAll(entries: Iterable<readonly [K, V]>): void {
    const m = this.mapForWrite();
    for (const [k, v] of entries) m.set(k, v);
    // No entries for a key without a map: leave no empty map behind (an empty map is no value).
    if (m.size === 0) this.clear();
  }
  remove(key: K): void {
    const m = this.map();
    if (m === undefined || !m.delete(key)) return;
    touch(this.slot, this.b.getCurrentKey());
    if (m.size === 0) this.clear();
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
  clear(): void {
    const k = this.b.getCurrentKey();
    this.table.delete(k);
    touch(this.slot, k);
  }
}

export class HeapReducingState<T> implements ReducingState<T> {
  private readonly table: Table;
  constructor(
    private readonly b: CurrentKey,
    private readonly slot: Slot,
    private readonly reduce: (a: T, b: T) => T,
  ) {
    this.table = slot.table;
  }
  get(): T | undefined {
    return this.table.get(this.b.getCurrentKey());
  }
  add(value: T): void {
    const k = this.b.getCurrentKey();
    const cur = this.table.get(k);
    this.table.set(k, cur === undefined ? value : this.reduce(cur, value));
    touch(this.slot, k);
  }
  clear(): void {
    const k = this.b.getCurrentKey();
    this.table.delete(k);
    touch(this.slot, k);
  }
}

export class HeapAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT> {
  private readonly table: Table;
  constructor(
    private readonly b: CurrentKey,
    private readonly slot: Slot,
    private readonly fn: { createAccumulator(): ACC; add(v: IN, acc: ACC): ACC; getResult(acc: ACC): OUT },
  ) {
    this.table = slot.table;
  }
  get(): OUT | undefined {
    const acc = this.table.get(this.b.getCurrentKey());
    return acc === undefined ? undefined : this.fn.getResult(acc);
  }
  add(value: IN): void {
    const k = this.b.getCurrentKey();
    const acc = this.table.get(k);
    this.table.set(k, this.fn.add(value, acc === undefined ? this.fn.createAccumulator() : acc));
    touch(this.slot, k);
  }
  clear(): void {
    const k = this.b.getCurrentKey();
    this.table.delete(k);
    touch(this.slot, k);
  }
}

/** The TTL handles' view of a heap slot: the current key's stored value, written with touch(). */
export class HeapTtlStore implements TtlStore {
  private readonly table: Table;
  constructor(
    private readonly b: CurrentKey,
    private readonly slot: Slot,
  ) {
    this.table = slot.table;
  }
  get(): any {
    return this.table.get(this.b.getCurrentKey());
  }
  set(v: unknown): void {
    const k = this.b.getCurrentKey();
    if (v === undefined) this.table.delete(k);
    else this.table.set(k, v);
    touch(this.slot, k);
  }
}
