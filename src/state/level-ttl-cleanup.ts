// Incremental TTL cleanup on LevelDB: a background-prefetched round over one state's keys; each step checks a few and removes what expired.
import type { Level } from 'level';
import type { Clock } from '../time/clock.ts';
import type { NormalizedKey } from './key-group.ts';
import { DATA_END, decodeKey, decodeValue, groupStart } from './level-key-codec.ts';
import { earliestAccess, isExpired, withoutExpired, type TtlCleanup } from './ttl-value.ts';
import type { LevelStateMeta } from './level-state-meta.ts';

/** Entries read per `nextv`, and the most a prefetch collects from LevelDB before handing them to steps. */
const BATCH = 64;
const PREFETCH = 256;
/** Steps that skip starting a new round after a round found no entry (an empty state is not rescanned on every access). */
const IDLE_STEPS = 64;

/** What the cleanup needs from its backend: synchronous reads and tracked writes, and the write cache's entries. */
export interface LevelTtlHost {
  read(meta: LevelStateMeta, k: NormalizedKey): unknown;
  write(meta: LevelStateMeta, k: NormalizedKey, v: unknown): void;
  /** The entries of state `name` not yet surely in LevelDB (newest wins; deletions left out). */
  cachedEntries(name: string): Map<NormalizedKey, unknown>;
}

/**
 * Flink's incremental cleanup for the LevelDB backend. LevelDB iterates asynchronously only, while
 * a step runs inside a state access (synchronous, on the record path), so the walk is split:
 * a background prefetch reads the next keys of the state with the earliest last-access time of
 * each (a round starts with the write cache's entries, then scans LevelDB key group by key group,
 * seeking past other states), and each `step()` takes the next `cleanupSize` of them. Only a key
 * whose prefetched value had expired parts is read again (`getSync` or the cache, as every read)
 * and rewritten without them, through the backend's tracked `write`, so incremental checkpoints
 * carry the removal. This is sound because timestamps only grow: every write stamps the current
 * time, so a value that had nothing expired when prefetched has nothing expired now either,
 * unless time moved on, which the check at step time uses.
 *
 * Steps never await: while a prefetch is in flight they visit nothing. A failed scan (the database
 * closing) stops the cleanup; cleanup is best effort, as in Flink.
 *
 * @example
 * ```ts
 * const cleanup = new LevelTtlCleanup(db, meta, 128, 60_000, 5, clock, backend);
 * cleanup.step(); // visits up to 5 prefetched keys; starts the next prefetch when they ran out
 * await cleanup.stop(); // before closing the database
 * ```
 */
export class LevelTtlCleanup implements TtlCleanup {
  /** Prefetched keys with the earliest last-access time of their value at prefetch. */
  private buffer: [NormalizedKey, number][] = [];
  private pos = 0;
  private fetching: Promise<void> | undefined;
  /** The last LevelDB key the round has passed; undefined: the next prefetch starts a new round. */
  private resumeAfter: Buffer | undefined;
  private idle = 0;
  private stopped = false;

  constructor(
    private readonly db: Level<Buffer, Buffer>,
    private readonly meta: LevelStateMeta,
    private readonly maxParallelism: number,
    private readonly ttlMs: number,
    private readonly cleanupSize: number,
    private readonly clock: Clock,
    private readonly host: LevelTtlHost,
  ) {}

  step(): void {
    if (this.stopped) return;
    const { meta, ttlMs } = this;
    const now = this.clock.now();
    for (let i = 0; i < this.cleanupSize; i++) {
      if (this.pos >= this.buffer.length) {
        this.refill();
        return;
      }
      const [k, earliest] = this.buffer[this.pos++]!;
      if (!isExpired(earliest, ttlMs, now)) continue;
      const cur = this.host.read(meta, k);
      if (cur === undefined) continue;
      const kept = withoutExpired(meta.kind, cur, ttlMs, now);
      if (kept !== cur) this.host.write(meta, k, kept);
    }
  }

  /** Stops prefetching; resolves once no scan is in flight (call before the database closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.fetching;
  }

  /** Starts the next prefetch unless one runs, the cleanup stopped, or an empty round asks to wait. */
  private refill(): void {
    if (this.fetching !== undefined || this.stopped) return;
    if (this.idle > 0) {
      this.idle--;
      return;
    }
    this.fetching = this.fetch()
      .then(
        (found) => {
          this.buffer = found;
          this.pos = 0;
          if (found.length === 0) this.idle = IDLE_STEPS;
        },
        () => {
          this.stopped = true;
        },
      )
      .finally(() => {
        this.fetching = undefined;
      });
  }

  /** The next keys of the round (at most PREFETCH from LevelDB, plus the cache's at a round's start). */
  private async fetch(): Promise<[NormalizedKey, number][]> {
    const { kind, name, prefix } = this.meta;
    const out: [NormalizedKey, number][] = [];
    const start = this.resumeAfter;
    if (start === undefined)
      // Keys written since the last flush are not in LevelDB yet: a round visits them first.
      for (const [k, v] of this.host.cachedEntries(name)) out.push([k, earliestAccess(kind, v)]);
    const it = this.db.iterator(start === undefined ? { gte: groupStart(0, prefix), lt: DATA_END } : { gt: start, lt: DATA_END });
    const at = 2 + prefix.length;
    try {
      while (out.length < PREFETCH && !this.stopped) {
        const batch = await it.nextv(BATCH);
        if (batch.length === 0) {
          this.resumeAfter = undefined; // end of the round
          break;
        }
        for (const [k, v] of batch) {
          if (k.length >= at && k.compare(prefix, 0, prefix.length, 2, at) === 0) {
            out.push([decodeKey(k, at), earliestAccess(kind, decodeValue(kind, v))]);
            this.resumeAfter = k;
            continue;
          }
          // Another state's entry: seek to this state's range of the same key group, or of the next.
          const g = k.readUInt16BE(0);
          const here = groupStart(g, prefix);
          it.seek(Buffer.compare(k, here) < 0 ? here : g + 1 < this.maxParallelism ? groupStart(g + 1, prefix) : DATA_END);
          break;
        }
      }
    } finally {
      await it.close();
    }
    return out;
  }
}
