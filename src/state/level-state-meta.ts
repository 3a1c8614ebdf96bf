// What the LevelDB backend's helpers (handles, snapshot scan, changes, TTL cleanup) share with it: a declared state's
// metadata and the backend's read/write surface, apart from the backend class so that they need not import it.
import type { NormalizedKey } from './key-group.ts';
import type { StateKind } from './descriptors.ts';
import type { StateTtlConfig } from './state-ttl.ts';

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
  /** Values are stored with their last-access time (see ttl-value.ts), fixed by the first declaration or restore. */
  readonly ttl: boolean;
  /** The TTL configuration of the declaring descriptor (undefined until declared, or without TTL). */
  ttlConfig: StateTtlConfig | undefined;
}

/** What a state handle needs from the LevelDB backend: the current key, synchronous reads and tracked writes. */
export interface LevelStateAccess {
  getCurrentKey(): NormalizedKey;
  /** The value of `k` (by default the current key) in state `meta`, or undefined. */
  read(meta: LevelStateMeta, k?: NormalizedKey): unknown;
  /** Sets (or with `undefined`, deletes) the value of `key` in state `meta`, and marks it changed when tracking. */
  write(meta: LevelStateMeta, key: NormalizedKey, value: unknown): void;
}
