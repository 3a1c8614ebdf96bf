// Broadcast state: operator state that every subtask holds identically, writable only from the broadcast side.
import { EddyError } from '../errors.ts';
import type { MapStateDescriptor } from './descriptors.ts';

/**
 * Broadcast state as the non-broadcast side sees it: readable, never writable (every subtask must
 * keep the same state, and only the broadcast input reaches every subtask alike).
 *
 * @example
 * ```ts
 * // in processElement(n, ctx, out) of a BroadcastProcessFunction:
 * const state: ReadOnlyBroadcastState<string, number> = ctx.getBroadcastState(limits);
 * if (n <= (state.get('max') ?? Infinity)) out.collect(n);
 * ```
 */
export interface ReadOnlyBroadcastState<K, V> {
  get(key: K): V | undefined;
  contains(key: K): boolean;
  entries(): IterableIterator<[K, V]>;
  keys(): IterableIterator<K>;
  values(): IterableIterator<V>;
  isEmpty(): boolean;
  readonly size: number;
}

/**
 * Broadcast state as `processBroadcastElement` sees it: read and write. Update it the same way on
 * every subtask (only from the broadcast element and the state itself) or the subtasks diverge.
 *
 * @example
 * ```ts
 * // in processBroadcastElement([k, v], ctx):
 * const state: BroadcastState<string, number> = ctx.getBroadcastState(limits);
 * state.put(k, v);
 * ```
 */
export interface BroadcastState<K, V> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  remove(key: K): void;
  clear(): void;
}

/** The broadcast states of one operator as plain data: `[name, entries]` per descriptor. */
export type BroadcastStateSnapshot = [string, [unknown, unknown][]][];

class HeapBroadcastState<K, V> implements BroadcastState<K, V> {
  constructor(readonly map: Map<K, V>) {}
  get(key: K): V | undefined {
    return this.map.get(key);
  }
  contains(key: K): boolean {
    return this.map.has(key);
  }
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }
  keys(): IterableIterator<K> {
    return this.map.keys();
  }
  values(): IterableIterator<V> {
    return this.map.values();
  }
  isEmpty(): boolean {
    return this.map.size === 0;
  }
  get size(): number {
    return this.map.size;
  }
  put(key: K, value: V): void {
    this.map.set(key, value);
  }
  putAll(entries: Iterable<readonly [K, V]>): void {
    for (const [k, v] of entries) this.map.set(k, v);
  }
  remove(key: K): void {
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
}

/** The same map, with every write rejected. */
class ReadOnlyView<K, V> extends HeapBroadcastState<K, V> {
  constructor(
    map: Map<K, V>,
    private readonly stateName: string,
    private readonly operatorName: string,
  ) {
    super(map);
  }
  private reject(method: string): never {
    throw new EddyError(
      'EDDY_USER_FUNCTION',
      `operator "${this.operatorName}": broadcast state "${this.stateName}" is read-only in processElement and onTimer (${method}() was called); update it in processBroadcastElement, which every subtask runs alike`,
      { operator: this.operatorName },
    );
  }
  override put(): void {
    this.reject('put');
  }
  override putAll(): void {
    this.reject('putAll');
  }
  override remove(): void {
    this.reject('remove');
  }
  override clear(): void {
    this.reject('clear');
  }
}

/**
 * The broadcast states of one operator instance, one per descriptor given to `broadcast(...)`, each
 * with a writable handle and a read-only view of the same map.
 *
 * @example
 * ```ts
 * const desc = new MapStateDescriptor<string, number>('rules');
 * const store = new BroadcastStateStore('Rules', [desc]);
 * store.writable(desc).put('a', 1);
 * expect(store.readOnly(desc).get('a')).toBe(1);
 * expect(() => (store.readOnly(desc) as BroadcastState<string, number>).put('a', 2)).toThrow(/read-only/);
 * ```
 */
export class BroadcastStateStore {
  private readonly states = new Map<string, { writable: HeapBroadcastState<any, any>; readOnly: ReadOnlyView<any, any> }>();

  constructor(
    private readonly operatorName: string,
    descriptors: readonly MapStateDescriptor<any, any>[],
  ) {
    for (const d of descriptors) {
      const map = new Map();
      this.states.set(d.name, { writable: new HeapBroadcastState(map), readOnly: new ReadOnlyView(map, d.name, operatorName) });
    }
  }

  writable<K, V>(d: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    return this.lookup(d).writable;
  }

  readOnly<K, V>(d: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V> {
    return this.lookup(d).readOnly;
  }

  /** Every state's entries (copied: later writes do not change the snapshot). */
  snapshot(): BroadcastStateSnapshot {
    const out: BroadcastStateSnapshot = [];
    for (const [name, { writable }] of this.states) out.push([name, [...writable.map]]);
    return out;
  }

  /** Loads a snapshot; a state no descriptor declares any more is an error (it would be lost silently). */
  restore(snapshot: BroadcastStateSnapshot): void {
    for (const [name, entries] of snapshot) {
      const s = this.states.get(name);
      if (s === undefined)
        throw new EddyError(
          'EDDY_STATE_MISMATCH',
          `operator "${this.operatorName}": the snapshot holds broadcast state "${name}" but broadcast(...) no longer declares it; pass its MapStateDescriptor to broadcast(...)`,
          { operator: this.operatorName },
        );
      s.writable.map.clear();
      for (const [k, v] of entries) s.writable.map.set(k, v);
    }
  }

  private lookup(d: MapStateDescriptor<any, any>): { writable: HeapBroadcastState<any, any>; readOnly: ReadOnlyView<any, any> } {
    const s = d === null || typeof d !== 'object' ? undefined : this.states.get(d.name);
    if (s === undefined)
      throw new EddyError(
        'EDDY_CONFIG',
        `operator "${this.operatorName}": broadcast state "${(d as { name?: string } | null)?.name}" was not declared; pass its MapStateDescriptor to broadcast(...) (declared: ${[...this.states.keys()].map((n) => `"${n}"`).join(', ') || 'none'})`,
        { operator: this.operatorName },
      );
    return s;
  }
}
