// Window-scoped keyed state: per-key tables of namespace -> value, state handles bound to a window, window timers.
import type { WindowId } from '../functions/windowing/assigners.ts';
import { EddyError } from '../errors.ts';
import {
  ValueStateDescriptor,
  type AggregateFunction,
  type AggregatingState,
  type ListState,
  type MapState,
  type ReducingState,
  type StateAccess,
  type StateDescriptor,
  type StateOf,
  type ValueState,
} from '../state/descriptors.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import type { TimeDomain } from '../functions/functions.ts';
import type { InternalTimerService } from './timer-service.ts';

/**
 * One keyed state whose value per key is a `Map<namespace, V>`: Flink's namespaced state (the
 * namespace is a window, or a timestamp for timers). Snapshots, restores and rescaling come with the
 * keyed backend; a key whose map empties is removed.
 */
export class NamespacedTable<V> {
  private readonly state: ValueState<Map<WindowId, V> | undefined>;
  constructor(backend: KeyedStateBackend, name: string) {
    this.state = backend.getState(new ValueStateDescriptor<Map<WindowId, V> | undefined>(name, undefined));
  }
  /** The current key's map (undefined when it has none). */
  map(): Map<WindowId, V> | undefined {
    return this.state.value();
  }
  get(ns: WindowId): V | undefined {
    return this.state.value()?.get(ns);
  }
  set(ns: WindowId, value: V): void {
    const m = this.state.value();
    if (m === undefined) this.state.update(new Map([[ns, value]]));
    else this.state.update(m.set(ns, value));
  }
  delete(ns: WindowId): void {
    const m = this.state.value();
    if (m === undefined || !m.delete(ns)) return;
    if (m.size === 0) this.state.clear();
    else this.state.update(m);
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * `getState(descriptor)` for one window at a time (a trigger's `getPartitionedState`, a window
 * function's `windowState()`): the handles act on the current key and on `ns`, which the operator sets.
 */
export class NamespacedStateStore implements StateAccess {
  /** The window the handles act on. */
  ns: WindowId = 0;
  private readonly handles = new Map<string, { kind: string; handle: unknown; table: NamespacedTable<any>; descriptor: StateDescriptor }>();

  constructor(
    private readonly backend: KeyedStateBackend,
    private readonly prefix: string,
    private readonly operatorName: string,
  ) {}

  getState<D extends StateDescriptor>(d: D): StateOf<D> {
    const hit = this.handles.get(d.name);
    if (hit !== undefined) {
      if (hit.kind !== d.kind)
        throw new EddyError('EDDY_STATE_MISMATCH', `operator "${this.operatorName}": window state "${d.name}" is ${hit.kind} state but is now declared as ${d.kind} state`, {
          operator: this.operatorName,
        });
      return hit.handle as StateOf<D>;
    }
    const table = new NamespacedTable<any>(this.backend, this.prefix + d.name);
    const handle = this.createHandle(d, table);
    this.handles.set(d.name, { kind: d.kind, handle, table, descriptor: d });
    return handle as StateOf<D>;
  }

  /** Merges the state `d` of the `sources` windows into `target` (reducing, aggregating and list state). */
  merge(d: StateDescriptor, target: WindowId, sources: readonly WindowId[]): void {
    this.getState(d);
    const { table } = this.handles.get(d.name)!;
    let combine: (a: any, b: any) => any;
    if (d.kind === 'reducing') combine = d.reduceFunction;
    else if (d.kind === 'list') combine = (a: unknown[], b: unknown[]) => a.concat(b);
    else if (d.kind === 'aggregating' && typeof d.aggregateFunction.merge === 'function') {
      const agg = d.aggregateFunction as Required<AggregateFunction<unknown, unknown, unknown>>;
      combine = (a, b) => agg.merge(a, b);
    } else throw new EddyError('EDDY_CONFIG', `operator "${this.operatorName}": window state "${d.name}" (${d.kind}) cannot be merged; use reducing, list, or aggregating state whose function has merge()`);
    for (const s of sources) {
      if (s === target) continue;
      const v = table.get(s);
      if (v === undefined) continue;
      table.delete(s);
      const cur = table.get(target);
      table.set(target, cur === undefined ? v : combine(cur, v));
    }
  }

  private createHandle(d: StateDescriptor, table: NamespacedTable<any>): unknown {
    const store = this;
    switch (d.kind) {
      case 'value': {
        const dflt = d.defaultValue;
        return {
          value: () => {
            const v = table.get(store.ns);
            if (v !== undefined) return v;
            return dflt !== null && typeof dflt === 'object' ? structuredClone(dflt) : dflt;
          },
          update: (v: unknown) => (v === undefined ? table.delete(store.ns) : table.set(store.ns, v)),
          clear: () => table.delete(store.ns),
        } satisfies ValueState<unknown>;
      }
      case 'list': {
        const add = (v: unknown): void => {
          const l = table.get(store.ns) as unknown[] | undefined;
          if (l === undefined) table.set(store.ns, [v]);
          else {
            l.push(v);
            table.set(store.ns, l); // written back: incremental checkpoints see only writes
          }
        };
        return {
          get: () => (table.get(store.ns) as unknown[] | undefined) ?? EMPTY,
          add,
          addAll: (vs: Iterable<unknown>) => {
            for (const v of vs) add(v);
          },
          update: (vs: Iterable<unknown>) => {
            const l = [...vs];
            if (l.length === 0) table.delete(store.ns);
            else table.set(store.ns, l);
          },
          clear: () => table.delete(store.ns),
        } satisfies ListState<unknown>;
      }
      case 'reducing': {
        const reduce = d.reduceFunction;
        return {
          get: () => table.get(store.ns),
          add: (v: unknown) => {
            const cur = table.get(store.ns);
            table.set(store.ns, cur === undefined ? v : reduce(cur, v));
          },
          clear: () => table.delete(store.ns),
        } satisfies ReducingState<unknown>;
      }
      case 'aggregating': {
        const agg = d.aggregateFunction;
        return {
          get: () => {
            const acc = table.get(store.ns);
            return acc === undefined ? undefined : agg.getResult(acc);
          },
          add: (v: unknown) => {
            const acc = table.get(store.ns);
            table.set(store.ns, agg.add(v, acc === undefined ? agg.createAccumulator() : acc));
          },
          clear: () => table.delete(store.ns),
        } satisfies AggregatingState<unknown, unknown>;
      }
      case 'map': {
        const map = (): Map<unknown, unknown> | undefined => table.get(store.ns);
        const forWrite = (): Map<unknown, unknown> => {
          let m = map();
          if (m === undefined) table.set(store.ns, (m = new Map()));
          return m;
        };
        return {
          get: (k: unknown) => map()?.get(k),
          put: (k: unknown, v: unknown) => void table.set(store.ns, forWrite().set(k, v)),
          putAll: (es: Iterable<readonly [unknown, unknown]>) => {
            const m = forWrite();
            for (const [k, v] of es) m.set(k, v);
            table.set(store.ns, m);
          },
          remove: (k: unknown) => {
            const m = map();
            if (m === undefined || !m.delete(k)) return;
            if (m.size === 0) table.delete(store.ns);
            else table.set(store.ns, m);
          },
          contains: (k: unknown) => map()?.has(k) ?? false,
          entries: () => (map() ?? new Map()).entries(),
          keys: () => (map() ?? new Map()).keys(),
          values: () => (map() ?? new Map()).values(),
          isEmpty: () => (map()?.size ?? 0) === 0,
          clear: () => table.delete(store.ns),
        } satisfies MapState<unknown, unknown>;
      }
    }
  }
}

/**
 * Timers per (key, window, timestamp), as Flink's window operator keeps them, on top of the keyed
 * (key, timestamp) timer service: a timestamp's windows live in keyed state, so they are snapshotted
 * with it, and the underlying timer exists while at least one window wants that timestamp.
 */
export class WindowTimers {
  private readonly event: NamespacedTable<WindowId[]>;
  private readonly processing: NamespacedTable<WindowId[]>;
  constructor(
    backend: KeyedStateBackend,
    private readonly service: () => InternalTimerService,
  ) {
    this.event = new NamespacedTable(backend, '_window-timers-event');
    this.processing = new NamespacedTable(backend, '_window-timers-processing');
  }

  register(domain: TimeDomain, window: WindowId, ts: number): void {
    const table = domain === 'EVENT_TIME' ? this.event : this.processing;
    const windows = table.get(ts);
    if (windows === undefined) {
      table.set(ts, [window]);
      if (domain === 'EVENT_TIME') this.service().registerEventTimeTimer(ts);
      else this.service().registerProcessingTimeTimer(ts);
    } else if (!windows.includes(window)) {
      windows.push(window);
      table.set(ts, windows); // written back: incremental checkpoints see only writes
    }
  }

  delete(domain: TimeDomain, window: WindowId, ts: number): void {
    const table = domain === 'EVENT_TIME' ? this.event : this.processing;
    const windows = table.get(ts);
    const i = windows === undefined ? -1 : windows.indexOf(window);
    if (i < 0) return;
    windows!.splice(i, 1);
    if (windows!.length > 0) return table.set(ts, windows!);
    table.delete(ts);
    if (domain === 'EVENT_TIME') this.service().deleteEventTimeTimer(ts);
    else this.service().deleteProcessingTimeTimer(ts);
  }

  /** The windows whose timer at `ts` fired (and forgets them). */
  take(domain: TimeDomain, ts: number): WindowId[] | undefined {
    const table = domain === 'EVENT_TIME' ? this.event : this.processing;
    const windows = table.get(ts);
    if (windows !== undefined) table.delete(ts);
    return windows;
  }

  /** True when the current key has no window timers. */
  isEmpty(): boolean {
    return this.event.map() === undefined && this.processing.map() === undefined;
  }
}
