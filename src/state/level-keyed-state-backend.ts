// Keyed state in LevelDB for state larger than memory: synchronous reads through a write cache, batched async writes.
import { rm } from 'node:fs/promises';
import { Level } from 'level';
import { EddyError } from '../errors.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import type { StateDescriptor, StateKind, StateOf } from './descriptors.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from './keyed-state-backend.ts';
import { keyGroupOfNormalized, normalizeKey, type NormalizedKey } from './key-group.ts';
import type { IncrementalKeyedState, KeyGroupChanges, KeyedStateChanges } from './keyed-state-changes.ts';
import { restoredStates } from './restored-state.ts';
import { decodeKindRecord, decodeValue, encodeKey, encodeKindRecord, encodeValue, KIND_PREFIX } from './level-key-codec.ts';
import { scanLevelState } from './level-snapshot.ts';
import { detached, dirtyChanges, snapshotChanges } from './level-state-changes.ts';
import { createLevelHandle } from './level-state-handles.ts';
import { LevelTtlCleanup } from './level-ttl-cleanup.ts';
import { ttlMismatch } from './ttl-state-handles.ts';
import { ttlEnabled, type TtlCleanup } from './ttl-value.ts';
import { LevelWriteCache, TOMBSTONE, type BatchOp, type StateCache } from './level-write-cache.ts';
import type { LevelStateAccess, LevelStateMeta } from './level-state-meta.ts';

/*
 * Layout (one LevelDB per backend instance):
 *   data:  <key group, 2 bytes big-endian><state name utf-8>\0<encoded key>  ->  msgpack value
 *   kinds: 0xFF 0xFF 'k' <state name utf-8>                                  ->  kind (utf-8), `+ttl` for state with TTL
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
 * Flushing (see LevelWriteCache): a full cache is sealed into a generation, written by one background
 * batch at a time. A failed batch is reported (EDDY_INTERNAL) by the next write, flush, snapshot or close.
 *
 * snapshotAsync() and keysAsync() scan the whole database (a state's keys are spread over the key
 * groups) and build the snapshot in memory, as the KeyedStateSnapshot format requires; incremental,
 * streamed snapshots by key-group range are the checkpoint work's business.
 *
 * Incremental snapshots: see level-state-changes.ts. State TTL: values of a state with TTL are stored
 * with their last-access time (ttl-value.ts), read through the shared TTL handles, and cleaned up
 * incrementally by level-ttl-cleanup.ts.
 */

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
  /** Processing time for state TTL (the operator's clock); default the system clock. */
  clock?: Clock;
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
export class LevelKeyedStateBackend implements KeyedStateBackend, IncrementalKeyedState, LevelStateAccess {
  private currentKey: NormalizedKey = '';
  /** Key group and encoded form of the current key, computed on the first LevelDB read for it. */
  private currentGroup = -1;
  private currentEncoded: Buffer | undefined;
  private readonly kinds = new Map<string, LevelStateMeta>();
  /** Dirty entries not yet surely in LevelDB; reads look there before LevelDB. */
  private readonly writes: LevelWriteCache;
  private closed = false;
  private tracking = false;
  /** Incremental TTL cleanups, stopped before the database closes. */
  private readonly cleanups: TtlCleanup[] = [];
  /** Incremental TTL cleanups that run on every key selection (`runCleanupForEveryRecord`); undefined when none. */
  private onKeySelected: (() => void) | undefined;

  private constructor(
    private readonly db: Level<Buffer, Buffer>,
    private readonly operatorName: string,
    readonly maxParallelism: number,
    cacheSize: number,
    private readonly clock: Clock,
  ) {
    this.writes = new LevelWriteCache(db, cacheSize, (name, table, ops) => this.entryOps(name, table, ops));
  }

  /** Opens (or creates) the database at `options.path` and loads the declared state kinds. */
  static async open(options: LevelKeyedStateBackendOptions): Promise<LevelKeyedStateBackend> {
    if (options.wipe) await rm(options.path, { recursive: true, force: true });
    const db = new Level<Buffer, Buffer>(options.path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const b = new LevelKeyedStateBackend(db, options.operatorName, options.maxParallelism, options.cacheSize ?? 10_000, options.clock ?? systemClock);
    for await (const [k, v] of db.iterator({ gte: KIND_PREFIX, lt: Buffer.from([0xff, 0xff, 0x6c]) })) {
      const { kind, ttl } = decodeKindRecord(v.toString('utf8'));
      b.declare(k.toString('utf8', KIND_PREFIX.length), kind, ttl);
    }
    return b;
  }

  setCurrentKey(key: unknown): void {
    this.currentKey =
      (typeof key === 'string' && key.charCodeAt(0) !== 0) || typeof key === 'number' ? key : normalizeKey(key, this.operatorName);
    this.currentEncoded = undefined;
    if (this.onKeySelected !== undefined) this.onKeySelected();
  }

  getCurrentKey(): NormalizedKey {
    return this.currentKey;
  }

  setCurrentNormalizedKey(key: NormalizedKey): void {
    this.currentKey = key;
    this.currentEncoded = undefined;
    if (this.onKeySelected !== undefined) this.onKeySelected();
  }

  getState<D extends StateDescriptor>(descriptor: D): StateOf<D> {
    const config = descriptor.getTtlConfig();
    const entry = this.declare(descriptor.name, descriptor.kind, ttlEnabled(config));
    if (entry.handle === undefined) {
      let cleanup: LevelTtlCleanup | undefined;
      const inc = config.cleanupStrategies.incremental;
      if (entry.ttl) {
        entry.ttlConfig = config;
        if (inc !== undefined) {
          cleanup = new LevelTtlCleanup(this.db, entry, this.maxParallelism, config.ttlMs, inc.cleanupSize, this.clock, this);
          this.cleanups.push(cleanup);
          if (inc.runCleanupForEveryRecord) {
            const before = this.onKeySelected;
            this.onKeySelected = before === undefined ? () => cleanup!.step() : () => (before(), cleanup!.step());
          }
        }
      }
      entry.handle = createLevelHandle(this, entry, descriptor, this.clock, cleanup);
    }
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
    const snap = await this.scan([stateName], false);
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
   * Writes made after the call (while the promise is pending) are not in it. A full snapshot: states
   * with `cleanupFullSnapshot()` leave out what expired at the call (live state keeps it).
   */
  snapshotAsync(only?: readonly string[]): Promise<KeyedStateSnapshot> {
    return this.scan(only, true);
  }

  /** The entries of every state (or `only` those), as of the call; `dropExpired`: apply full-snapshot cleanup. */
  private scan(only: readonly string[] | undefined, dropExpired: boolean): Promise<KeyedStateSnapshot> {
    this.throwFlushError();
    return scanLevelState(this.db, this.kinds, this.writes.generations(), this.maxParallelism, only, dropExpired ? this.clock.now() : undefined);
  }

  restore(snapshots: readonly KeyedStateSnapshot[], range: { start: number; end: number }): void {
    for (const s of restoredStates(snapshots, range, this.maxParallelism, this.operatorName)) {
      const meta = this.declare(s.name, s.kind, s.ttl);
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
    return dirtyChanges(this.kinds, (meta, k) => this.read(meta, k), this.maxParallelism);
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
    return this.snapshotAsync().then((snap) => snapshotChanges(snap, this.maxParallelism));
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
      const meta = this.declare(s.name, s.kind, s.ttl === true);
      for (const [k, v] of s.put) this.write(meta, k, detached(s.kind, v));
      for (const k of s.del) this.write(meta, k, undefined);
    }
  }

  /** Writes every dirty entry to LevelDB; resolves when they are durable in the database. */
  async flush(): Promise<void> {
    await this.writes.drain();
    this.throwFlushError();
  }

  /** Stops TTL cleanup, flushes and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await Promise.all(this.cleanups.map((c) => c.stop()));
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
    const c = this.writes.get(meta.name, k);
    if (c !== undefined) return c === TOMBSTONE ? undefined : c;
    const raw = this.db.getSync(this.levelKey(meta.prefix, k));
    return raw === undefined ? undefined : decodeValue(meta.kind, raw);
  }

  /** The entries of state `name` not yet surely in LevelDB (newest wins; deletions left out), for TTL cleanup. */
  cachedEntries(name: string): Map<NormalizedKey, unknown> {
    const out = new Map<NormalizedKey, unknown>();
    for (const gen of this.writes.generations())
      for (const [k, v] of gen.states.get(name) ?? []) {
        if (v === TOMBSTONE) out.delete(k);
        else out.set(k, v);
      }
    return out;
  }

  /** Sets (or with `undefined`, deletes) the value of `key` in state `meta`, and marks it changed when tracking. */
  write(meta: LevelStateMeta, key: NormalizedKey, value: unknown): void {
    if (this.closed) throw new EddyError('EDDY_INTERNAL', `operator "${this.operatorName}": the LevelDB state backend is closed`);
    if (this.writes.error !== undefined) this.throwFlushError();
    this.writes.set(meta.name, key, value);
    const dirty = meta.dirty;
    if (dirty !== undefined) dirty.add(key);
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

  /** The batch operations writing the dirty entries `table` of state `name` (keys and values encoded now). */
  private entryOps(name: string, table: StateCache, ops: BatchOp[]): void {
    const meta = this.kinds.get(name)!;
    for (const [k, v] of table) {
      const key = this.levelKey(meta.prefix, k);
      ops.push(v === TOMBSTONE ? { type: 'del', key } : { type: 'put', key, value: encodeValue(meta.kind, v) });
    }
  }

  private throwFlushError(): void {
    if (this.writes.error !== undefined)
      throw new EddyError('EDDY_INTERNAL', `operator "${this.operatorName}": writing keyed state to LevelDB failed`, {
        cause: this.writes.error,
        operator: this.operatorName,
      });
  }

  private declare(name: string, kind: StateKind, ttl: boolean): LevelStateMeta {
    const existing = this.kinds.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind)
        throw new EddyError(
          'EDDY_STATE_MISMATCH',
          `operator "${this.operatorName}": state "${name}" is ${existing.kind} state but is now declared as ${kind} state; use a new state name for a different kind`,
          { operator: this.operatorName },
        );
      if (existing.ttl !== ttl) throw ttlMismatch(this.operatorName, name, existing.ttl);
      return existing;
    }
    if (name.includes('\u0000'))
      throw new EddyError('EDDY_INVALID_ARGUMENT', `operator "${this.operatorName}": state name ${JSON.stringify(name)} contains U+0000`, {
        operator: this.operatorName,
      });
    const entry: LevelStateMeta = {
      name,
      kind,
      handle: undefined,
      prefix: Buffer.from(name + '\u0000'),
      dirty: this.tracking ? new Set() : undefined,
      ttl,
      ttlConfig: undefined,
    };
    this.kinds.set(name, entry);
    // Persisted with the next batch, so that a reopened database knows the kind and TTL form.
    this.writes.addKind(name, encodeKindRecord(kind, ttl));
    return entry;
  }
}
