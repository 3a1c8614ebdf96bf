// Keyed state on the heap: one table per state name, keyed by the normalized current key.
import { EddyError } from '../errors.ts';
import type {
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  MapState,
  ReducingState,
  ReducingStateDescriptor,
  StateDescriptor,
  StateKind,
  StateOf,
  ValueState,
  ValueStateDescriptor,
} from './descriptors.ts';
import { normalizeKey, type NormalizedKey } from './key-group.ts';
import { restoredStates } from './restored-state.ts';

/** Plain data a keyed state backend snapshots to and restores from (msgpack-able). */
export interface KeyedStateSnapshot {
  version: 1;
  maxParallelism: number;
  states: { name: string; kind: StateKind; entries: [NormalizedKey, unknown][] }[];
}

/** Keyed state for one operator instance: set the current key, then read and write its state. */
export interface KeyedStateBackend {
  /** Sets the key that every state handle reads and writes until the next call. */
  setCurrentKey(key: unknown): void;
  getCurrentKey(): NormalizedKey;
  /** Sets a key already in normalized form (from `getCurrentKey()` or `keys()`), without normalizing it again. */
  setCurrentNormalizedKey(key: NormalizedKey): void;
  getState<D extends StateDescriptor>(descriptor: D): StateOf<D>;
  /** Every key with a value in the named state. */
  keys(stateName: string): IterableIterator<NormalizedKey>;
  /**
   * The state as plain data. Values are shared with the live state (lists and maps are copied one
   * level): encode the snapshot before processing further records.
   */
  snapshot(): KeyedStateSnapshot;
  /** Loads the entries of `snapshots` whose key group lies in [range.start, range.end]. */
  restore(snapshots: readonly KeyedStateSnapshot[], range: { start: number; end: number }): void;
}

type Table = Map<NormalizedKey, any>;

/**
 * The heap backend: state lives in JS Maps (the fast path); key groups are computed only at snapshot.
 *
 * @example
 * ```ts
 * const backend = new HeapKeyedStateBackend('counter', 128);
 * const n = backend.getState(new ValueStateDescriptor('n', 0));
 * backend.setCurrentKey('a');
 * n.update(n.value() + 1);
 * ```
 */
export class HeapKeyedStateBackend implements KeyedStateBackend {
  private currentKey: NormalizedKey = '';
  private readonly tables = new Map<string, { kind: StateKind; table: Table; handle: unknown }>();

  constructor(
    private readonly operatorName: string,
    readonly maxParallelism: number,
  ) {}

  setCurrentKey(key: unknown): void {
    // Plain strings and numbers are their own normalized form: no call on the common path.
    this.currentKey =
      (typeof key === 'string' && key.charCodeAt(0) !== 0) || typeof key === 'number' ? key : normalizeKey(key, this.operatorName);
  }

  getCurrentKey(): NormalizedKey {
    return this.currentKey;
  }

  setCurrentNormalizedKey(key: NormalizedKey): void {
    this.currentKey = key;
  }

  getState<D extends StateDescriptor>(descriptor: D): StateOf<D> {
    const existing = this.tables.get(descriptor.name);
    if (existing !== undefined) {
      if (existing.kind !== descriptor.kind) throw this.kindMismatch(descriptor.name, existing.kind, descriptor.kind);
      // A table restored from a snapshot gets its handle when the operator first declares it.
      existing.handle ??= this.createHandle(descriptor, existing.table);
      return existing.handle as StateOf<D>;
    }
    const table: Table = new Map();
    const handle = this.createHandle(descriptor, table);
    this.tables.set(descriptor.name, { kind: descriptor.kind, table, handle });
    return handle as StateOf<D>;
  }

  keys(stateName: string): IterableIterator<NormalizedKey> {
    return (this.tables.get(stateName)?.table ?? new Map<NormalizedKey, unknown>()).keys();
  }

  snapshot(): KeyedStateSnapshot {
    const states: KeyedStateSnapshot['states'] = [];
    for (const [name, { kind, table }] of this.tables) {
      const entries: [NormalizedKey, unknown][] = [];
      for (const [k, v] of table) entries.push([k, kind === 'list' ? v.slice() : kind === 'map' ? new Map(v) : v]);
      states.push({ name, kind, entries });
    }
    return { version: 1, maxParallelism: this.maxParallelism, states };
  }

  restore(snapshots: readonly KeyedStateSnapshot[], range: { start: number; end: number }): void {
    for (const s of restoredStates(snapshots, range, this.maxParallelism, this.operatorName)) {
      let entry = this.tables.get(s.name);
      if (entry === undefined) {
        entry = { kind: s.kind, table: new Map(), handle: undefined };
        this.tables.set(s.name, entry);
      } else if (entry.kind !== s.kind) throw this.kindMismatch(s.name, entry.kind, s.kind);
      for (const [k, v] of s.entries) entry.table.set(k, v);
    }
  }

  private kindMismatch(name: string, had: StateKind, wanted: StateKind): EddyError {
    return new EddyError(
      'EDDY_STATE_MISMATCH',
      `operator "${this.operatorName}": state "${name}" is ${had} state but is now declared as ${wanted} state; use a new state name for a different kind`,
      { operator: this.operatorName },
    );
  }

  private createHandle(d: StateDescriptor, table: Table): unknown {
    // Handles close over the backend, not a key: they always act on the current key (Flink's contract).
    const b = this;
    switch (d.kind) {
      case 'value':
        return new HeapValueState(b, table, (d as ValueStateDescriptor<unknown>).defaultValue);
      case 'list':
        return new HeapListState(b, table);
      case 'map':
        return new HeapMapState(b, table);
      case 'reducing':
        return new HeapReducingState(b, table, (d as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'aggregating':
        return new HeapAggregatingState(b, table, (d as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
    }
  }
}

class HeapValueState<T> implements ValueState<T> {
  constructor(
    private readonly b: HeapKeyedStateBackend,
    private readonly table: Table,
    private readonly defaultValue: T,
  ) {}
  value(): T {
    const v = this.table.get(this.b.getCurrentKey());
    if (v !== undefined) return v;
    // A mutable default is copied per read (as Flink does), so no key can change another key's default.
    const d = this.defaultValue;
    return d !== null && typeof d === 'object' ? structuredClone(d) : d;
  }
  update(value: T): void {
    if (value === undefined) this.table.delete(this.b.getCurrentKey());
    else this.table.set(this.b.getCurrentKey(), value);
  }
  clear(): void {
    this.table.delete(this.b.getCurrentKey());
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

class HeapListState<T> implements ListState<T> {
  constructor(
    private readonly b: HeapKeyedStateBackend,
    private readonly table: Table,
  ) {}
  get(): readonly T[] {
    return this.table.get(this.b.getCurrentKey()) ?? EMPTY;
  }
  add(value: T): void {
    const k = this.b.getCurrentKey();
    const list = this.table.get(k);
    if (list === undefined) this.table.set(k, [value]);
    else list.push(value);
  }
  addAll(values: Iterable<T>): void {
    for (const v of values) this.add(v);
  }
  update(values: Iterable<T>): void {
    const list = [...values];
    if (list.length === 0) this.clear();
    else this.table.set(this.b.getCurrentKey(), list);
  }
  clear(): void {
    this.table.delete(this.b.getCurrentKey());
  }
}

class HeapMapState<K, V> implements MapState<K, V> {
  constructor(
    private readonly b: HeapKeyedStateBackend,
    private readonly table: Table,
  ) {}
  private map(): Map<K, V> | undefined {
    return this.table.get(this.b.getCurrentKey());
  }
  private mapForWrite(): Map<K, V> {
    const k = this.b.getCurrentKey();
    let m = this.table.get(k);
    if (m === undefined) this.table.set(k, (m = new Map()));
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
  }
  remove(key: K): void {
    const m = this.map();
    if (m === undefined) return;
    m.delete(key);
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
    this.table.delete(this.b.getCurrentKey());
  }
}

class HeapReducingState<T> implements ReducingState<T> {
  constructor(
    private readonly b: HeapKeyedStateBackend,
    private readonly table: Table,
    private readonly reduce: (a: T, b: T) => T,
  ) {}
  get(): T | undefined {
    return this.table.get(this.b.getCurrentKey());
  }
  add(value: T): void {
    const k = this.b.getCurrentKey();
    const cur = this.table.get(k);
    this.table.set(k, cur === undefined ? value : this.reduce(cur, value));
  }
  clear(): void {
    this.table.delete(this.b.getCurrentKey());
  }
}

class HeapAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT> {
  constructor(
    private readonly b: HeapKeyedStateBackend,
    private readonly table: Table,
    private readonly fn: { createAccumulator(): ACC; add(v: IN, acc: ACC): ACC; getResult(acc: ACC): OUT },
  ) {}
  get(): OUT | undefined {
    const acc = this.table.get(this.b.getCurrentKey());
    return acc === undefined ? undefined : this.fn.getResult(acc);
  }
  add(value: IN): void {
    const k = this.b.getCurrentKey();
    const acc = this.table.get(k);
    this.table.set(k, this.fn.add(value, acc === undefined ? this.fn.createAccumulator() : acc));
  }
  clear(): void {
    this.table.delete(this.b.getCurrentKey());
  }
}
