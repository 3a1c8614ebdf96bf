// Incremental keyed snapshots: what changed per key group since the last checkpoint, as plain data.
import type { StateKind } from './descriptors.ts';
import { keyGroupOfNormalized, type NormalizedKey } from './key-group.ts';

/** One state's part of a key group's changes: entries written and keys removed. */
export interface KeyGroupStateChanges {
  name: string;
  kind: StateKind;
  /** Values are stored with their last-access time (a state with TTL, see ttl-value.ts); absent when not. */
  ttl?: true;
  put: [NormalizedKey, unknown][];
  del: NormalizedKey[];
}

/**
 * One key group's part of a keyed snapshot: per state, the entries written (`put`) and the keys
 * whose value was removed (`del`). A full snapshot is the same shape with every entry in `put`
 * and `del` empty, so a restore replays a chain `full, delta, delta, ...` with one routine.
 */
export interface KeyGroupChanges {
  states: KeyGroupStateChanges[];
}

/** Key group -> its changes. Key groups without changes are absent. */
export type KeyedStateChanges = Map<number, KeyGroupChanges>;

/**
 * What a keyed state backend offers incremental checkpoints. The task calls `trackChanges()` once
 * (after restore), then at every barrier either `takeChanges()` or, to start a new chain,
 * `takeFull()`. Both reset the tracked set. Values in the result may be shared with live state:
 * the caller encodes them before the next record is processed.
 *
 * Only writes through the state handles (and restores) are tracked: an object read from state and
 * mutated in place must be written back (`update()`, `put()`, ...) to reach the next delta, as
 * with Flink's RocksDB backend.
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

/**
 * Builds a {@link KeyedStateChanges} one state at a time: call `state()`, then `put()` / `del()` for
 * that state's entries (each is filed under its key's group), then the next `state()`.
 * Within a key group, states appear in the order they were started; a state with no entry in a
 * group does not appear in that group.
 */
export class KeyedStateChangesBuilder {
  /** The result so far. */
  readonly changes: KeyedStateChanges = new Map();
  /** The current state's part of each key group, by key group (filled on first use). */
  private parts: (KeyGroupStateChanges | undefined)[] = [];
  private name = '';
  private kind: StateKind = 'value';
  private ttl = false;

  constructor(private readonly maxParallelism: number) {}

  /** Starts the entries of state `name` (`ttl`: stored with timestamps); entries of one state must be added together. */
  state(name: string, kind: StateKind, ttl = false): void {
    this.name = name;
    this.kind = kind;
    this.ttl = ttl;
    this.parts = new Array<KeyGroupStateChanges | undefined>(this.maxParallelism);
  }

  /** Records that `key` of the current state has `value`. */
  put(key: NormalizedKey, value: unknown): void {
    this.part(key).put.push([key, value]);
  }

  /** Records that `key` of the current state has no value. */
  del(key: NormalizedKey): void {
    this.part(key).del.push(key);
  }

  private part(key: NormalizedKey): KeyGroupStateChanges {
    const g = keyGroupOfNormalized(key, this.maxParallelism);
    let p = this.parts[g];
    if (p === undefined) {
      p = this.parts[g] = this.ttl ? { name: this.name, kind: this.kind, ttl: true, put: [], del: [] } : { name: this.name, kind: this.kind, put: [], del: [] };
      let group = this.changes.get(g);
      if (group === undefined) this.changes.set(g, (group = { states: [] }));
      group.states.push(p);
    }
    return p;
  }
}

/** The key groups of `changes` that lie in [range.start, range.end] (what one subtask restores). */
export function changesInRange(changes: KeyedStateChanges, range: { start: number; end: number }): KeyedStateChanges {
  const out: KeyedStateChanges = new Map();
  for (const [g, c] of changes) if (g >= range.start && g <= range.end) out.set(g, c);
  return out;
}
