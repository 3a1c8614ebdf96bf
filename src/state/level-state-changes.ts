// Incremental snapshots of the LevelDB backend: the dirty keys' changes, a full snapshot regrouped by key group.
import type { StateKind } from './descriptors.ts';
import type { KeyedStateSnapshot } from './keyed-state-backend.ts';
import type { NormalizedKey } from './key-group.ts';
import { KeyedStateChangesBuilder, type KeyedStateChanges } from './keyed-state-changes.ts';
import type { LevelStateMeta } from './level-state-meta.ts';

/*
 * After trackChanges(), the backend's write() (the one path every handle, restore and applyChanges
 * write through) adds the key to its state's dirty set. dirtyChanges() reads the dirty keys' current
 * values through the backend's read() (cache, generations, getSync), so takeChanges() is synchronous
 * and exact; takeFull() is snapshotAsync() regrouped by snapshotChanges() (see takeFull for why it is
 * consistent).
 */

/** A value detached one level from the live state (cached lists and maps are mutated in place). */
export function detached(kind: StateKind, v: unknown): unknown {
  return kind === 'list' ? (v as unknown[]).slice() : kind === 'map' ? new Map(v as Map<unknown, unknown>) : v;
}

/**
 * Per key group, the current value (`put`, detached one level) or the absence (`del`) of every
 * dirty key of `states`, as `read` returns it; clears the dirty sets. Untracked states are skipped.
 */
export function dirtyChanges(
  states: ReadonlyMap<string, LevelStateMeta>,
  read: (meta: LevelStateMeta, k: NormalizedKey) => unknown,
  maxParallelism: number,
): KeyedStateChanges {
  const out = new KeyedStateChangesBuilder(maxParallelism);
  for (const [name, meta] of states) {
    const dirty = meta.dirty;
    if (dirty === undefined || dirty.size === 0) continue;
    out.state(name, meta.kind, meta.ttl);
    for (const k of dirty) {
      const v = read(meta, k);
      if (v === undefined) out.del(k);
      else out.put(k, detached(meta.kind, v));
    }
    dirty.clear();
  }
  return out.changes;
}

/** Every entry of `snap` as a `put` filed under its key group (states without entries left out). */
export function snapshotChanges(snap: KeyedStateSnapshot, maxParallelism: number): KeyedStateChanges {
  const out = new KeyedStateChangesBuilder(maxParallelism);
  for (const s of snap.states) {
    if (s.entries.length === 0) continue;
    out.state(s.name, s.kind, s.ttl === true);
    for (const [k, v] of s.entries) out.put(k, v);
  }
  return out.changes;
}
