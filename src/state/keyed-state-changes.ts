// Incremental keyed snapshots: what changed per key group since the last checkpoint, as plain data.
import type { StateKind } from './descriptors.ts';
import type { NormalizedKey } from './key-group.ts';

/**
 * One key group's part of a keyed snapshot: per state, the entries written (`put`) and the keys
 * whose value was removed (`del`). A full snapshot is the same shape with every entry in `put`
 * and `del` empty, so a restore replays a chain `full, delta, delta, ...` with one routine.
 */
export interface KeyGroupChanges {
  states: { name: string; kind: StateKind; put: [NormalizedKey, unknown][]; del: NormalizedKey[] }[];
}

/** Key group -> its changes. Key groups without changes are absent. */
export type KeyedStateChanges = Map<number, KeyGroupChanges>;

/**
 * What a keyed state backend offers incremental checkpoints. The task calls `trackChanges()` once
 * (after restore), then at every barrier either `takeChanges()` or, to start a new chain,
 * `takeFull()`. Both reset the tracked set. Values in the result may be shared with live state:
 * the caller encodes them before the next record is processed.
 */
export interface IncrementalKeyedState {
  /** From now on, remember which keys of which state are written or removed. */
  trackChanges(): void;
  /** The changes since `trackChanges()` or the last take, consistent as of this call (synchronous). */
  takeChanges(): KeyedStateChanges;
  /** All state, consistent as of this call (the promise may resolve later, the content may not change). */
  takeFull(): KeyedStateChanges | Promise<KeyedStateChanges>;
  /** Applies one key group's changes on restore (puts set, dels remove). Order matters: oldest chunk first. */
  applyChanges(changes: KeyGroupChanges): void | Promise<void>;
}
