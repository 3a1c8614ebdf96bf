// Keyed state on the heap: one table per state name, keyed by the normalized current key.
import { EddyError } from '../errors.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import type {
  AggregatingStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  StateKind,
  StateOf,
  ValueStateDescriptor,
} from './descriptors.ts';
import { normalizeKey, type NormalizedKey } from './key-group.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from './keyed-state-backend.ts';
import {
  KeyedStateChangesBuilder,
  type IncrementalKeyedState,
  type KeyGroupChanges,
  type KeyedStateChanges,
} from './keyed-state-changes.ts';
import { restoredStates } from './restored-state.ts';
import {
  HeapAggregatingState,
  HeapListState,
  HeapMapState,
  HeapReducingState,
  HeapTtlStore,
  HeapValueState,
  touch,
  type Slot,
} from './heap-state-handles.ts';
import { HeapTtlCleanup } from './heap-ttl-cleanup.ts';
import { createTtlHandle, ttlMismatch } from './ttl-state-handles.ts';
import { ttlEnabled, ttlSettings, withoutExpired } from './ttl-value.ts';

/** Options of {@link HeapKeyedStateBackend}. */
export interface HeapKeyedStateBackendOptions {
  /**
   * Once at least this many keys of a state (and 3/4 of its entries) changed since the last take,
   * the next take writes all of its entries and writes stop being recorded one by one (default 4096).
   */
  wholeTableDeltaMinKeys?: number;
  /** Processing time for state TTL (the operator's clock); default the system clock. */
  clock?: Clock;
}

/** A table value detached one level from the live state (lists and maps are mutated in place). */
function detached(kind: StateKind, v: any): unknown {
  return kind === 'list' ? (v as unknown[]).slice() : kind === 'map' ? new Map(v as Map<unknown, unknown>) : v;
}

/**
 * The heap backend: state lives in JS Maps (the fast path); key groups are computed only at snapshot.
 * After `trackChanges()` every write also records its key in the state's dirty set, so that
 * `takeChanges()` costs what changed, not the state size.
 *
 * @example
 * ```ts
 * const backend = new HeapKeyedStateBackend('counter', 128);
 * const n = backend.getState(new ValueStateDescriptor('n', 0));
 * backend.setCurrentKey('a');
 * n.update(n.value() + 1);
 * ```
 */
export class HeapKeyedStateBackend implements KeyedStateBackend, IncrementalKeyedState {
  private currentKey: NormalizedKey = '';
  private readonly tables = new Map<string, Slot>();
  private tracking = false;
  private readonly allAt: number;
  private readonly clock: Clock;
  /** Incremental TTL cleanups that run on every key selection (`runCleanupForEveryRecord`); undefined when none. */
  private onKeySelected: (() => void) | undefined;

  constructor(
    private readonly operatorName: string,
    readonly maxParallelism: number,
    options: HeapKeyedStateBackendOptions = {},
  ) {
    this.allAt = options.wholeTableDeltaMinKeys ?? 4096;
    this.clock = options.clock ?? systemClock;
  }

  setCurrentKey(key: unknown): void {
    // Plain strings and numbers are their own normalized form: no call on the common path.
    this.currentKey =
      (typeof key === 'string' && key.charCodeAt(0) !== 0) || typeof key === 'number' ? key : normalizeKey(key, this.operatorName);
    if (this.onKeySelected !== undefined) this.onKeySelected();
  }

  getCurrentKey(): NormalizedKey {
    return this.currentKey;
  }

  setCurrentNormalizedKey(key: NormalizedKey): void {
    this.currentKey = key;
    if (this.onKeySelected !== undefined) this.onKeySelected();
  }

  getState<D extends StateDescriptor>(descriptor: D): StateOf<D> {
    const ttl = ttlEnabled(descriptor.getTtlConfig());
    const existing = this.tables.get(descriptor.name);
    if (existing !== undefined) {
      if (existing.kind !== descriptor.kind) throw this.kindMismatch(descriptor.name, existing.kind, descriptor.kind);
      if (existing.ttl !== ttl) throw ttlMismatch(this.operatorName, descriptor.name, existing.ttl);
      // A table restored from a snapshot gets its handle when the operator first declares it.
      existing.handle ??= this.createHandle(descriptor, existing);
      return existing.handle as StateOf<D>;
    }
    const slot = this.newSlot(descriptor.name, descriptor.kind, ttl);
    slot.handle = this.createHandle(descriptor, slot);
    return slot.handle as StateOf<D>;
  }

  keys(stateName: string): IterableIterator<NormalizedKey> {
    return (this.tables.get(stateName)?.table ?? new Map<NormalizedKey, unknown>()).keys();
  }

  /** A full snapshot: states with `cleanupFullSnapshot()` leave their expired entries out (live state keeps them). */
  snapshot(): KeyedStateSnapshot {
    const states: KeyedStateSnapshot['states'] = [];
    const now = this.clock.now();
    for (const [name, slot] of this.tables) {
      const { kind, table } = slot;
      const entries: [NormalizedKey, unknown][] = [];
      const ttlMs = fullSnapshotTtl(slot);
      if (ttlMs === undefined) for (const [k, v] of table) entries.push([k, detached(kind, v)]);
      else
        for (const [k, v] of table) {
          const kept = withoutExpired(kind, v, ttlMs, now);
          if (kept !== undefined) entries.push([k, kept === v ? detached(kind, v) : kept]);
        }
      states.push(slot.ttl ? { name, kind, ttl: true, entries } : { name, kind, entries });
    }
    return { version: 1, maxParallelism: this.maxParallelism, states };
  }

  restore(snapshots: readonly KeyedStateSnapshot[], range: { start: number; end: number }): void {
    for (const s of restoredStates(snapshots, range, this.maxParallelism, this.operatorName)) {
      const slot = this.slotFor(s.name, s.kind, s.ttl);
      for (const [k, v] of s.entries) {
        slot.table.set(k, v);
        touch(slot, k);
      }
    }
  }

  /** From now on, every write records its key (idempotent; tables declared later track too). */
  trackChanges(): void {
    this.tracking = true;
    for (const slot of this.tables.values()) slot.dirty ??= new Set();
  }

  /**
   * Per key group, the current value (`put`; lists and maps copied one level) or the absence
   * (`del`) of every key written since `trackChanges()` or the last take; resets the tracked keys.
   * When most of a large state changed (see `wholeTableDeltaMinKeys`), every entry of it is a put.
   * Empty when changes are not tracked. Other values are shared with the live state: encode the
   * result before the next record is processed.
   */
  takeChanges(): KeyedStateChanges {
    const out = new KeyedStateChangesBuilder(this.maxParallelism);
    for (const [name, slot] of this.tables) {
      const dirty = slot.dirty;
      if (dirty === undefined || (dirty.size === 0 && !slot.all)) continue;
      out.state(name, slot.kind, slot.ttl);
      const { kind, table } = slot;
      if (slot.all) {
        for (const [k, v] of table) out.put(k, detached(kind, v));
        for (const k of dirty) if (!table.has(k)) out.del(k);
        slot.all = false;
      } else
        for (const k of dirty) {
          const v = table.get(k);
          if (v === undefined) out.del(k);
          else out.put(k, detached(kind, v));
        }
      dirty.clear();
    }
    return out.changes;
  }

  /**
   * Every entry, as `put`s by key group (the start of a new chain); resets the tracked keys.
   * Synchronous. States with `cleanupFullSnapshot()` leave their expired entries out.
   */
  takeFull(): KeyedStateChanges {
    const out = new KeyedStateChangesBuilder(this.maxParallelism);
    const now = this.clock.now();
    for (const [name, slot] of this.tables) {
      slot.dirty?.clear();
      slot.all = false;
      if (slot.table.size === 0) continue;
      out.state(name, slot.kind, slot.ttl);
      const ttlMs = fullSnapshotTtl(slot);
      for (const [k, v] of slot.table) {
        const kept = ttlMs === undefined ? v : withoutExpired(slot.kind, v, ttlMs, now);
        if (kept !== undefined) out.put(k, kept === v ? detached(slot.kind, v) : kept);
      }
    }
    return out.changes;
  }

  /**
   * Replays one key group's changes: puts set (lists and maps copied one level, so the restored
   * state shares nothing with `changes`), dels remove. Creates undeclared states as restore() does.
   *
   * @throws EddyError `EDDY_STATE_MISMATCH` when a state is declared here with another kind.
   */
  applyChanges(changes: KeyGroupChanges): void {
    for (const s of changes.states) {
      const slot = this.slotFor(s.name, s.kind, s.ttl === true);
      for (const [k, v] of s.put) {
        slot.table.set(k, detached(s.kind, v));
        touch(slot, k);
      }
      for (const k of s.del) {
        slot.table.delete(k);
        touch(slot, k);
      }
    }
  }

  /** The slot of `name`, created when missing; throws `EDDY_STATE_MISMATCH` when it has another kind or TTL form. */
  private slotFor(name: string, kind: StateKind, ttl: boolean): Slot {
    const slot = this.tables.get(name);
    if (slot === undefined) return this.newSlot(name, kind, ttl);
    if (slot.kind !== kind) throw this.kindMismatch(name, slot.kind, kind);
    if (slot.ttl !== ttl) throw ttlMismatch(this.operatorName, name, slot.ttl);
    return slot;
  }

  private newSlot(name: string, kind: StateKind, ttl: boolean): Slot {
    const slot: Slot = {
      kind,
      table: new Map(),
      handle: undefined,
      dirty: this.tracking ? new Set() : undefined,
      all: false,
      allAt: this.allAt,
      ttl,
      ttlConfig: undefined,
    };
    this.tables.set(name, slot);
    return slot;
  }

  private kindMismatch(name: string, had: StateKind, wanted: StateKind): EddyError {
    return new EddyError(
      'EDDY_STATE_MISMATCH',
      `operator "${this.operatorName}": state "${name}" is ${had} state but is now declared as ${wanted} state; use a new state name for a different kind`,
      { operator: this.operatorName },
    );
  }

  private createHandle(d: StateDescriptor, slot: Slot): unknown {
    // Handles close over the backend, not a key: they always act on the current key (Flink's contract).
    const b = this;
    const config = d.getTtlConfig();
    if (ttlEnabled(config)) {
      // TTL lives in its own handle classes, so states without TTL keep the plain ones below.
      slot.ttlConfig = config;
      const inc = config.cleanupStrategies.incremental;
      const cleanup = inc === undefined ? undefined : new HeapTtlCleanup(slot, config.ttlMs, inc.cleanupSize, this.clock);
      if (cleanup !== undefined && inc!.runCleanupForEveryRecord) this.onKeySelected = chain(this.onKeySelected, () => cleanup.step());
      return createTtlHandle(d, new HeapTtlStore(b, slot), ttlSettings(config, this.clock, cleanup));
    }
    switch (d.kind) {
      case 'value':
        return new HeapValueState(b, slot, (d as ValueStateDescriptor<unknown>).defaultValue);
      case 'list':
        return new HeapListState(b, slot);
      case 'map':
        return new HeapMapState(b, slot);
      case 'reducing':
        return new HeapReducingState(b, slot, (d as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'aggregating':
        return new HeapAggregatingState(b, slot, (d as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
    }
  }
}


/** The TTL by which a full snapshot of `slot` drops expired entries, or undefined when it keeps them all. */
function fullSnapshotTtl(slot: Slot): number | undefined {
  const c = slot.ttlConfig;
  return c !== undefined && c.cleanupStrategies.fullSnapshot ? c.ttlMs : undefined;
}

/** `then` after `first` (either may be absent). */
function chain(first: (() => void) | undefined, then: () => void): () => void {
  return first === undefined ? then : () => (first(), then());
}
