// The LevelDB backend's write cache: dirty entries in memory, sealed into generations that background batches write in order.
import type { Level } from 'level';
import type { NormalizedKey } from './key-group.ts';
import { KIND_PREFIX } from './level-key-codec.ts';

/** A deletion held in the cache or a generation (undefined there means "no entry"). */
export const TOMBSTONE: unique symbol = Symbol('deleted');
/** Dirty entries of one state: normalized key -> value, or TOMBSTONE for a deletion. */
export type StateCache = Map<NormalizedKey, unknown>;
/** Dirty entries of every state, by state name. */
export type Generation = { states: Map<string, StateCache>; size: number };
export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/**
 * The dirty entries of a {@link LevelKeyedStateBackend} and the loop that writes them.
 *
 * Values are live JS objects, encoded only when their batch starts (by the backend's `entryOps`).
 * A full cache is sealed into a generation; one batch is in flight at a time (`writing`), and cache
 * seals made meanwhile merge into a single `queued` generation, so a read looks at no more than three
 * maps before `getSync`. The write loop advances only when the event loop turns: a task that
 * processes records in one long synchronous burst keeps its dirty entries in memory until it yields.
 * A failed batch is kept in `error`, for the backend to report (EDDY_INTERNAL) at its next write,
 * flush, snapshot or close.
 */
export class LevelWriteCache {
  private cache: Generation = { states: new Map(), size: 0 };
  /**
   * At most two sealed generations besides the cache: `writing` (its batch is in flight) and `queued`
   * (waiting for it; later seals merge into it). Reads look at cache, queued, writing, then LevelDB.
   */
  private writing: Generation | undefined;
  private queued: Generation | undefined;
  /** The loop that writes generations, while one runs. */
  private pumping: Promise<void> | undefined;
  /** State kind records (see encodeKindRecord) declared since the last batch, persisted with the next one. */
  private pendingKinds: [string, string][] = [];
  private flushError: unknown;

  constructor(
    private readonly db: Level<Buffer, Buffer>,
    /** Dirty entries kept before a seal starts a background batch. */
    private readonly cacheSize: number,
    /** Appends the batch operations that write `table`, the dirty entries of state `name` (the backend encodes them). */
    private readonly entryOps: (name: string, table: StateCache, ops: BatchOp[]) => void,
  ) {}

  /** The error of the first failed batch, if any. */
  get error(): unknown {
    return this.flushError;
  }

  /** The newest cached value of `k` in state `name`: a value, TOMBSTONE, or undefined when no generation holds it. */
  get(name: string, k: NormalizedKey): unknown {
    const c = this.cache.states.get(name)?.get(k);
    if (c !== undefined) return c;
    if (this.queued !== undefined) {
      const q = this.queued.states.get(name)?.get(k);
      if (q !== undefined) return q;
    }
    if (this.writing !== undefined) {
      const w = this.writing.states.get(name)?.get(k);
      if (w !== undefined) return w;
    }
    return undefined;
  }

  /** Caches `value` (undefined: a deletion) for `key` of state `name`; seals the cache once it holds more than `cacheSize` entries. */
  set(name: string, key: NormalizedKey, value: unknown): void {
    let table = this.cache.states.get(name);
    if (table === undefined) this.cache.states.set(name, (table = new Map()));
    const before = table.size;
    table.set(key, value === undefined ? TOMBSTONE : value);
    if (table.size !== before && ++this.cache.size > this.cacheSize) this.seal();
  }

  /** Records a newly declared state's kind record, persisted with the next batch so that a reopened database knows it. */
  addKind(name: string, record: string): void {
    this.pendingKinds.push([name, record]);
  }

  /** The generations not yet surely in LevelDB, oldest first (writing, queued, cache): a later one overrides an earlier. */
  generations(): Generation[] {
    const out: Generation[] = [];
    for (const gen of [this.writing, this.queued, this.cache]) if (gen !== undefined) out.push(gen);
    return out;
  }

  /** Seals the cache and waits until every generation is written (or a batch failed: see `error`). */
  async drain(): Promise<void> {
    this.seal();
    while (this.pumping !== undefined) await this.pumping;
  }

  /** Seals the cache (merging it into the queued generation, if any) and makes sure the write loop runs. */
  private seal(): void {
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
        for (const [name, table] of gen.states) this.entryOps(name, table, ops);
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
}
