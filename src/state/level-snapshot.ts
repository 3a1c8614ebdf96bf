// A LevelDB backend's whole state as one snapshot: LevelDB's entries overlaid with the write cache's, as of the call.
import type { Level } from 'level';
import type { KeyedStateSnapshot } from './keyed-state-backend.ts';
import type { NormalizedKey } from './key-group.ts';
import { DATA_END, decodeKey, decodeValue, encodeValue } from './level-key-codec.ts';
import type { LevelStateMeta } from './level-state-meta.ts';
import { TOMBSTONE, type Generation } from './level-write-cache.ts';
import { withoutExpired } from './ttl-value.ts';

/**
 * The entries of every declared state (or `only` those) of a LevelDB backend, decoded and detached
 * from live state, in the heap backend's format. Consistent as of the call: everything that depends
 * on the state happens before the first await (the generations not yet surely in LevelDB are encoded,
 * and the iterator pins an implicit LevelDB snapshot), so later writes and batches are invisible.
 * With `cleanupAt` (a full snapshot's processing time), states with `cleanupFullSnapshot()` leave out
 * what expired by then.
 *
 * @example
 * ```ts
 * const snap = await scanLevelState(db, kinds, writes.generations(), 128, undefined, clock.now());
 * ```
 */
export async function scanLevelState(
  db: Level<Buffer, Buffer>,
  kinds: ReadonlyMap<string, LevelStateMeta>,
  generations: readonly Generation[],
  maxParallelism: number,
  only: readonly string[] | undefined,
  cleanupAt: number | undefined,
): Promise<KeyedStateSnapshot> {
  // Overlay = every entry not yet surely in LevelDB (writing, queued, cache: newest wins), encoded now.
  const overlay = new Map<string, Map<NormalizedKey, Buffer | undefined>>();
  for (const gen of generations) {
    for (const [name, table] of gen.states) {
      const kind = kinds.get(name)!.kind;
      let o = overlay.get(name);
      if (o === undefined) overlay.set(name, (o = new Map()));
      for (const [k, v] of table) o.set(k, v === TOMBSTONE ? undefined : encodeValue(kind, v));
    }
  }
  // The iterator reads an implicit LevelDB snapshot taken now, synchronously: later batches are invisible.
  const it = db.iterator({ lt: DATA_END });
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
  for (const [name, meta] of kinds) {
    if (wanted !== undefined && !wanted.has(name)) continue;
    const { kind } = meta;
    const m = byName.get(name) ?? new Map<NormalizedKey, Buffer>();
    for (const [k, v] of overlay.get(name) ?? []) {
      if (v === undefined) m.delete(k);
      else m.set(k, v);
    }
    const c = meta.ttlConfig;
    const ttlMs = cleanupAt !== undefined && c !== undefined && c.cleanupStrategies.fullSnapshot ? c.ttlMs : undefined;
    const entries: [NormalizedKey, unknown][] = [];
    for (const [k, v] of m) {
      const value = decodeValue(kind, v);
      const kept = ttlMs === undefined ? value : withoutExpired(kind, value, ttlMs, cleanupAt!);
      if (kept !== undefined) entries.push([k, kept]);
    }
    states.push(meta.ttl ? { name, kind, ttl: true, entries } : { name, kind, entries });
  }
  return { version: 1, maxParallelism, states };
}
