// Keyed state in LevelDB for state larger than memory: synchronous reads through a write cache, batched async writes.
import { rm } from 'node:fs/promises';
import { Level } from 'level';
import { EddyError } from '../errors.ts';
import type {
  AggregatingStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  StateKind,
  StateOf,
  ValueStateDescriptor,
} from './descriptors.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from './heap-keyed-state-backend.ts';
import { keyGroupOfNormalized, normalizeKey, type NormalizedKey } from './key-group.ts';
import {
  KeyedStateChangesBuilder,
  type IncrementalKeyedState,
  type KeyGroupChanges,
  type KeyedStateChanges,
} from './keyed-state-changes.ts';
import { restoredStates } from './restored-state.ts';
import { decodeKey, encodeKey, KIND_PREFIX, packr } from './level-key-codec.ts';
import { LevelAggregatingState, LevelListState, LevelMapState, LevelReducingState, LevelValueState } from './level-state-handles.ts';

/*
 * Layout (one LevelDB per backend instance):
 *   data:  <key group, 2 bytes big-endian><state name utf-8>\0<encoded key>  ->  msgpack value
 *   kinds: 0xFF 0xFF 'k' <state name utf-8>                                  ->  kind (utf-8)
 * A key group is therefore one contiguous LevelDB range (ready for incremental snapshots by key
 * group); key groups are < 32768, so the 0xFFFF prefix never collides with data.
 * Encoded key: 's' + utf-8 for strings, 'n' + float64 big-endian for numbers, 'b' + decimal for bigints.
 *
 * Every state type keeps ONE LevelDB value per (state, key), MapState included: LevelDB iteration is
 * asynchronous only, while MapState.entries()/keys()/values() are synchronous, so a map split into
 * one entry per user key could not be iterated without awaiting. The cost: a MapState with a very
 * large map per key is read and rewritten whole. MapState values are stored as an entries array
 * (msgpackr would decode a Map as a plain object); Maps nested inside user values come back as
 * plain objects.
 *
 * Values in the write cache are live JS objects (encoded only when flushed): as with Flink's
 * RocksDB backend, an object read from state and mutated in place must be written back with
 * update()/put() to be durable once it has left the cache.
 *
 * Flushing: a full cache is sealed into a generation; one batch is in flight at a time (`writing`),
 * and cache seals made meanwhile merge into a single `queued` generation, so a read looks at no more
 * than three maps before `getSync`. The write loop advances only when the event loop turns: a task
 * that processes records in one long synchronous burst keeps its dirty entries in memory until it
 * yields. A failed batch is reported (EDDY_INTERNAL) by the next write, flush, snapshot or close.
 *
 * snapshotAsync() and keysAsync() scan the whole database (a state's keys are spread over the key
 * groups) and build the snapshot in memory, as the KeyedStateSnapshot format requires; incremental,
 * streamed snapshots by key-group range are the checkpoint work's business.
 *
 * Incremental snapshots: after trackChanges(), write() (the one path every handle, restore and
 * applyChanges write through) adds the key to its state's dirty set. takeChanges() reads the dirty
 * keys' current values through read() (cache, generations, getSync), so it is synchronous and
 * exact; takeFull() is snapshotAsync() regrouped by key group (see takeFull for why it is consistent).
 */

const TOMBSTONE: unique symbol = Symbol('deleted');
type Cached = unknown;
/** Dirty entries of one state: normalized key -> value, or TOMBSTONE for a deletion. */
type StateCache = Map<NormalizedKey, Cached>;
/** Dirty entries of every state, by state name. */
type Generation = { states: Map<string, StateCache>; size: number };
type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/**
 * A declared state, as the handles address it. `dirty` holds the keys written since the last take
 * while changes are tracked, and is undefined exactly when they are not.
 */
export interface LevelStateMeta {
  readonly name: string;
  readonly kind: StateKind;
  /** `<state name>\0`, the part of the LevelDB key between key group and encoded key. */
  readonly prefix: Buffer;
  handle: unknown;
  dirty: Set<NormalizedKey> | undefined;
}

/** A value detached one level from the live state (cached lists and maps are mutated in place). */
function detached(kind: StateKind, v: unknown): unknown {
  return kind === 'list' ? (v as unknown[]).slice() : kind === 'map' ? new Map(v as Map<unknown, unknown>) : v;
}

/** Options of {@link LevelKeyedStateBackend.open}. */
export interface LevelKeyedStateBackendOptions {
  /** Directory of the LevelDB database (created when missing; its content is the backend's state). */
  path: string;
  /** Operator name, for error messages. */
  operatorName: string;
  /** The job's maxParallelism: the number of key groups. */
  maxParallelism: number;
  /** Dirty entries kept in memory before a background flush writes them in one batch (default 10 000). */
  cacheSize?: number;
  /** Delete whatever the directory held before opening (default false: reopen existing state). */
  wipe?: boolean;
}

/**
 * A keyed state backend on LevelDB, for state larger than memory. Reads are synchronous (the write
 * cache, then the generations being flushed, then `getSync`); writes go to the cache, which a
 * background `db.batch()` flushes when it holds more than `cacheSize` entries. No record ever awaits
 * LevelDB. Because LevelDB iteration is asynchronous, `keys()` and `snapshot()` throw
 * `EDDY_INTERNAL`: use {@link keysAsync} and {@link snapshotAsync}. Snapshots have the heap backend's
 * format, so they restore into either backend.
 *
 * @example
 * ```ts
 * const backend = await LevelKeyedStateBackend.open({ path: dir, operatorName: 'counter', maxParallelism: 128 });
 * const n = backend.getState(new ValueStateDescriptor('n', 0));
 * backend.setCurrentKey('a');
 * n.update(n.value() + 1);
 * const snap = await backend.snapshotAsync(); // portable: restores into a HeapKeyedStateBackend too
 * await backend.close();
 * ```
 */
export class LevelKeyedStateBackend implements KeyedStateBackend, IncrementalKeyedState {
  private currentKey: NormalizedKey = '';
  /** Key group and encoded form of the current key, computed on the first LevelDB read for it. */
  private currentGroup = -1;
  private currentEncoded: Buffer | undefined;
  private readonly kinds = new Map<string, LevelStateMeta>();
  private cache: Generation = { states: new Map(), size: 0 };
  /**
   * At most two sealed generations besides the cache: `writing` (its batch is in flight) and `queued`
   * (waiting for it; later seals merge into it). Reads look at cache, queued, writing, then LevelDB.
   */
  private writing: Generation | undefined;
  private queued: Generation | undefined;
  /** The loop that writes generations, while one runs. */
  private pumping: Promise<void> | undefined;
  /** State kinds declared since the last batch, persisted with the next one. */
  private pendingKinds: [string, StateKind][] = [];
  private flushError: unknown;
  private closed = false;
  private tracking = false;

  private constructor(
    private readonly db: Level<Buffer, Buffer>,
    private readonly operatorName: string,
    readonly maxParallelism: number,
    private readonly cacheSize: number,
  ) {}

  /** Opens (or creates) the database at `options.path` and loads the declared state kinds. */
  static async open(options: LevelKeyedStateBackendOptions): Promise<LevelKeyedStateBackend> {
    if (options.wipe) await rm(options.path, { recursive: true, force: true });
    const db = new Level<Buffer, Buffer>(options.path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const b = new LevelKeyedStateBackend(db, options.operatorName, options.maxParallelism, options.cacheSize ?? 10_000);
    for await (const [k, v] of db.iterator({ gte: KIND_PREFIX, lt: Buffer.from([0xff, 0xff, 0x6c]) }))
      b.declare(k.toString('utf8', KIND_PREFIX.length), v.toString('utf8') as StateKind);
    return b;
  }

  setCurrentKey(key: unknown): void {
    this.currentKey =
      (typeof key === 'string' && key.charCodeAt(0) !== 0) || typeof key === 'number' ? key : normalizeKey(key, this.operatorName);
    this.currentEncoded = undefined;
  }

  getCurrentKey(): NormalizedKey {
    return this.currentKey;
  }

  setCurrentNormalizedKey(key: NormalizedKey): void {
    this.currentKey = key;
    this.currentEncoded = undefined;
  }

  getState<D extends StateDescriptor>(descriptor: D): StateOf<D> {
    const entry = this.declare(descriptor.name, descriptor.kind);
    entry.handle ??= this.createHandle(descriptor, entry);
    return entry.handle as StateOf<D>;
  }

  /** Not available: LevelDB iterates asynchronously. Use {@link keysAsync}. */
  keys(_stateName: string): IterableIterator<NormalizedKey> {
    throw new EddyError('EDDY_INTERNAL', `operator "${this.operatorName}": the LevelDB state backend iterates asynchronously; use keysAsync()`, {
      operator: this.operatorName,
    });
  }

  /** Every key with a value in the named state (as of the call), in LevelDB order; scans the whole database. */
  async keysAsync(stateName: string): Promise<NormalizedKey[]> {
    const snap = await this.snapshotAsync([stateName]);
    return snap.states.flatMap((s) => s.entries.map(([k]) => k));
  }

  /** Not available: LevelDB iterates asynchronously. Use {@link snapshotAsync}. */
  snapshot(): KeyedStateSnapshot {
    throw new EddyError('EDDY_INTERNAL', `operator "${this.operatorName}": the LevelDB state backend snapshots asynchronously; use snapshotAsync()`, {
      operator: this.operatorName,
    });
  }

  /**
   * The state as of the call, as plain data detached from the live state (heap backend format).
   * Writes made after the call (while the promise is pending) are not in it.
   */
  async snapshotAsync(only?: readonly string[]): Promise<KeyedStateSnapshot> {
    this.throwFlushError();
    // Overlay = every entry not yet surely in LevelDB (writing, queued, cache: newest wins), encoded now.
    const overlay = new Map<string, Map<NormalizedKey, Buffer | undefined>>();
    for (const gen of [this.writing, this.queued, this.cache]) {
      if (gen === undefined) continue;
      for (const [name, table] of gen.states) {
        const kind = this.kinds.get(name)!.kind;
        let o = overlay.get(name);
        if (o === undefined) overlay.set(name, (o = new Map()));
        for (const [k, v] of table) o.set(k, v === TOMBSTONE ? undefined : this.encode(kind, v));
      }
    }
    // The iterator reads an implicit LevelDB snapshot taken now, synchronously: later batches are invisible.
    const it = this.db.iterator({ lt: Buffer.from([0xff, 0xff]) });
    const byName = new Map<string, Map<NormalizedKey, Buffer>>();
    const wanted = only === undefined ? undefined : new Set(only);
    try {
      for await (const [k, v] of it) {
        const nul = k.indexOf(0, 2);
        const name = k.toString('utf8', 2, nul);
        if (wanted !== undefined && !wanted.has(name)) continue;
        let m = byName.get(name);
        if (m === undefined) byName.set(name, (m = new Map()));
        m.set(decodeKey(k, nul + 1), v);
      }
    } finally {
      await it.close();
    }
    const states: KeyedStateSnapshot['states'] = [];
    for (const [name, { kind }] of this.kinds) {
      if (wanted !== undefined && !wanted.has(name)) continue;
      const m = byName.get(name) ?? new Map<NormalizedKey, Buffer>();
      for (const [k, v] of overlay.get(name) ?? []) {
        if (v === undefined) m.delete(k);
        else m.set(k, v);
      }
      const entries: [NormalizedKey, unknown][] = [];
      for (const [k, v] of m) entries.push([k, this.decode(kind, v)]);
      states.push({ name, kind, entries });
    }
    return { version: 1, maxParallelism: this.maxParallelism, states };
  }

  restore(snapshots: readonly KeyedStateSnapshot[], range: { start: number; end: number }): void {
    for (const s of restoredStates(snapshots, range, this.maxParallelism, this.operatorName)) {
      const meta = this.declare(s.name, s.kind);
      for (const [k, v] of s.entries) this.write(meta, k, v);
    }
  }

  /** From now on, every write records its key (idempotent; states declared later track too). */
  trackChanges(): void {
    this.tracking = true;
    for (const meta of this.kinds.values()) meta.dirty ??= new Set();
  }

  /**
   * Per key group, the current value (`put`; lists and maps copied one level) or the absence
   * (`del`) of every key written since `trackChanges()` or the last take; resets the tracked keys.
   * Synchronous: values come from the write cache, the generations being flushed or `getSync`.
   * Other values may be shared with the live state: encode the result before the next record.
   */
  takeChanges(): KeyedStateChanges {
    this.throwFlushError();
    const out = new KeyedStateChangesBuilder(this.maxParallelism);
    for (const [name, meta] of this.kinds) {
      const dirty = meta.dirty;
      if (dirty === undefined || dirty.size === 0) continue;
      out.state(name, meta.kind);
      for (const k of dirty) {
        const v = this.read(meta, k);
        if (v === undefined) out.del(k);
        else out.put(k, detached(meta.kind, v));
      }
      dirty.clear();
    }
    return out.changes;
  }

  /**
   * Every entry as of the call, as `put`s by key group (the start of a new chain); resets the
   * tracked keys at the call. Writes made while the promise is pending are not in it (they are in
   * the next takeChanges()), and the values are decoded copies, detached from the live state.
   */
  takeFull(): Promise<KeyedStateChanges> {
    for (const meta of this.kinds.values()) meta.dirty?.clear();
    // Consistent as of this call because snapshotAsync() does everything that depends on the state
    // before its first await, i.e. before we return: it encodes every entry not yet surely in
    // LevelDB (cache and generations) and opens an iterator, which pins an implicit LevelDB snapshot
    // synchronously; later writes and batches are invisible to both. Regrouping its result costs a
    // second pass in memory, which a streamed scan by key-group range could avoid (not needed yet).
    return this.snapshotAsync().then((snap) => {
      const out = new KeyedStateChangesBuilder(this.maxParallelism);
      for (const s of snap.states) {
        if (s.entries.length === 0) continue;
        out.state(s.name, s.kind);
        for (const [k, v] of s.entries) out.put(k, v);
      }
      return out.changes;
    });
  }

  /**
   * Replays one key group's changes through the write cache: puts set (lists and maps copied one
   * level), dels remove. Declares unknown states as restore() does. Synchronous; the writes reach
   * LevelDB with the next flush.
   *
   * @throws EddyError `EDDY_STATE_MISMATCH` when a state is declared here with another kind.
   */
  applyChanges(changes: KeyGroupChanges): void {
    for (const s of changes.states) {
      const meta = this.declare(s.name, s.kind);
      for (const [k, v] of s.put) this.write(meta, k, detached(s.kind, v));
      for (const k of s.del) this.write(meta, k, undefined);
    }
  }

  /** Writes every dirty entry to LevelDB; resolves when they are durable in the database. */
  async flush(): Promise<void> {
    this.startFlush();
    while (this.pumping !== undefined) await this.pumping;
    this.throwFlushError();
  }

  /** Flushes and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.db.close();
    }
  }

  /** Closes the backend and deletes its database directory. */
  async destroy(): Promise<void> {
    try {
      await this.close();
    } finally {
      await rm(this.db.location, { recursive: true, force: true });
    }
  }

  // ---- internals used by the state handles ----

  /** The value of `key` (by default the current key) in state `meta`, or undefined. */
  read(meta: LevelStateMeta, k: NormalizedKey = this.currentKey): unknown {
    const name = meta.name;
    const c = this.cache.states.get(name)?.get(k);
    if (c !== undefined) return c === TOMBSTONE ? undefined : c;
    if (this.queued !== undefined) {
      const q = this.queued.states.get(name)?.get(k);
      if (q !== undefined) return q === TOMBSTONE ? undefined : q;
    }
    if (this.writing !== undefined) {
      const w = this.writing.states.get(name)?.get(k);
      if (w !== undefined) return w === TOMBSTONE ? undefined : w;
    }
    const raw = this.db.getSync(this.levelKey(meta.prefix, k));
    return raw === undefined ? undefined : this.decode(meta.kind, raw);
  }

  /** Sets (or with `undefined`, deletes) the value of `key` in state `meta`, and marks it changed when tracking. */
  write(meta: LevelStateMeta, key: NormalizedKey, value: unknown): void {
    if (this.closed) throw new EddyError('EDDY_INTERNAL', `operator "${this.operatorName}": the LevelDB state backend is closed`);
    if (this.flushError !== undefined) this.throwFlushError();
    const name = meta.name;
    let table = this.cache.states.get(name);
    if (table === undefined) this.cache.states.set(name, (table = new Map()));
    const before = table.size;
    table.set(key, value === undefined ? TOMBSTONE : value);
    const dirty = meta.dirty;
    if (dirty !== undefined) dirty.add(key);
    if (table.size !== before && ++this.cache.size > this.cacheSize) this.startFlush();
  }

  private levelKey(prefix: Buffer, key = this.currentKey): Buffer {
    let enc: Buffer, group: number;
    if (key === this.currentKey && this.currentEncoded !== undefined) {
      enc = this.currentEncoded;
      group = this.currentGroup;
    } else {
      enc = encodeKey(key);
      group = keyGroupOfNormalized(key, this.maxParallelism);
      if (key === this.currentKey) {
        this.currentEncoded = enc;
        this.currentGroup = group;
      }
    }
    const out = Buffer.allocUnsafe(2 + prefix.length + enc.length);
    out.writeUInt16BE(group, 0);
    prefix.copy(out, 2);
    enc.copy(out, 2 + prefix.length);
    return out;
  }

  private decode(kind: StateKind, raw: Buffer): unknown {
    const v = packr.unpack(raw);
    return kind === 'map' ? new Map(v as [unknown, unknown][]) : v;
  }

  private encode(kind: StateKind, v: unknown): Buffer {
    return packr.pack(kind === 'map' ? [...(v as Map<unknown, unknown>)] : v);
  }

  /** Seals the cache (merging it into the queued generation, if any) and makes sure the write loop runs. */
  private startFlush(): void {
    if (this.cache.size === 0 && this.pendingKinds.length === 0) return;
    const gen = this.cache;
    this.cache = { states: new Map(), size: 0 };
    if (this.queued === undefined) this.queued = gen;
    else
      for (const [name, table] of gen.states) {
        const into = this.queued.states.get(name);
        if (into === undefined) this.queued.states.set(name, table);
        else for (const [k, v] of table) into.set(k, v);
      }
    this.pumping ??= this.pump();
  }

  /** Writes queued generations one batch at a time (in order), until none is left. */
  private async pump(): Promise<void> {
    try {
      while (this.queued !== undefined || this.pendingKinds.length > 0) {
        const gen = (this.writing = this.queued ?? { states: new Map(), size: 0 });
        this.queued = undefined;
        // Encoded when the batch starts: a value mutated in place after update() is written as it is now.
        const ops: BatchOp[] = this.pendingKinds.map(([name, kind]) => ({
          type: 'put',
          key: Buffer.concat([KIND_PREFIX, Buffer.from(name)]),
          value: Buffer.from(kind),
        }));
        this.pendingKinds = [];
        for (const [name, table] of gen.states) {
          const meta = this.kinds.get(name)!;
          for (const [k, v] of table) {
            const key = this.levelKey(meta.prefix, k);
            ops.push(v === TOMBSTONE ? { type: 'del', key } : { type: 'put', key, value: this.encode(meta.kind, v) });
          }
        }
        try {
          await this.db.batch(ops);
        } catch (e) {
          this.flushError ??= e;
        }
        this.writing = undefined;
      }
    } finally {
      this.pumping = undefined;
    }
  }

  private throwFlushError(): void {
    if (this.flushError !== undefined)
      throw new EddyError('EDDY_INTERNAL', `operator "${this.operatorName}": writing keyed state to LevelDB failed`, {
        cause: this.flushError,
        operator: this.operatorName,
      });
  }

  private declare(name: string, kind: StateKind): LevelStateMeta {
    const existing = this.kinds.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind)
        throw new EddyError(
          'EDDY_STATE_MISMATCH',
          `operator "${this.operatorName}": state "${name}" is ${existing.kind} state but is now declared as ${kind} state; use a new state name for a different kind`,
          { operator: this.operatorName },
        );
      return existing;
    }
    if (name.includes('\u0000'))
      throw new EddyError('EDDY_INVALID_ARGUMENT', `operator "${this.operatorName}": state name ${JSON.stringify(name)} contains U+0000`, {
        operator: this.operatorName,
      });
    const entry: LevelStateMeta = { name, kind, handle: undefined, prefix: Buffer.from(name + '\u0000'), dirty: this.tracking ? new Set() : undefined };
    this.kinds.set(name, entry);
    // Persisted with the next batch, so that a reopened database knows the kind.
    this.pendingKinds.push([name, kind]);
    return entry;
  }

  private createHandle(d: StateDescriptor, meta: LevelStateMeta): unknown {
    switch (d.kind) {
      case 'value':
        return new LevelValueState(this, meta, (d as ValueStateDescriptor<unknown>).defaultValue);
      case 'list':
        return new LevelListState(this, meta);
      case 'map':
        return new LevelMapState(this, meta);
      case 'reducing':
        return new LevelReducingState(this, meta, (d as ReducingStateDescriptor<unknown>).reduceFunction);
      case 'aggregating':
        return new LevelAggregatingState(this, meta, (d as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregateFunction);
    }
  }
}
