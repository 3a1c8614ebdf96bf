// The keyed state backend contract (heap and LevelDB implement it) and the snapshot form every backend restores from.
import type { StateDescriptor, StateKind, StateOf } from './descriptors.ts';
import type { NormalizedKey } from './key-group.ts';

/** Plain data a keyed state backend snapshots to and restores from (msgpack-able). */
export interface KeyedStateSnapshot {
  version: 1;
  maxParallelism: number;
  /** `ttl`: the values are stored with their last-access time (a state with TTL; see ttl-value.ts). */
  states: { name: string; kind: StateKind; ttl?: true; entries: [NormalizedKey, unknown][] }[];
}

/** Keyed state for one operator instance: set the current key, then read and write its state. */
export interface KeyedStateBackend {
  /** Sets the key that every state handle reads and writes until the next call. */
  setCurrentKey(key: unknown): void;
  getCurrentKey(): NormalizedKey;
  /** Sets a key already in normalized form (from `getCurrentKey()` or `keys()`), without normalizing it again. */
  setCurrentNormalizedKey(key: NormalizedKey): void;
  getState<D extends StateDescriptor>(descriptor: D): StateOf<D>;
  /** Every key with a value in the named state. */
  keys(stateName: string): IterableIterator<NormalizedKey>;
  /**
   * The state as plain data. Values are shared with the live state (lists and maps are copied one
   * level): encode the snapshot before processing further records.
   */
  snapshot(): KeyedStateSnapshot;
  /** Loads the entries of `snapshots` whose key group lies in [range.start, range.end]. */
  restore(snapshots: readonly KeyedStateSnapshot[], range: { start: number; end: number }): void;
}
