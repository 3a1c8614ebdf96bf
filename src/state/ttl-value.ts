// How state with a time-to-live is stored: values paired with their last-access time, and what expiry removes from them.
import type { Clock } from '../time/clock.ts';
import type { StateKind } from './descriptors.ts';
import { StateVisibility, UpdateType, type StateTtlConfig } from './state-ttl.ts';

/*
 * Stored form of a state with TTL (Flink's TtlValue), per kind:
 *   value, reducing, aggregating:  [userValue, lastAccess]
 *   list:                          [userValue, lastAccess][]        (elements expire one by one)
 *   map:                           Map<userKey, [userValue, lastAccess]>  (entries expire one by one)
 * Invariant: a [value, lastAccess] pair is never mutated after it is made (a new pair replaces it),
 * so snapshots and takes that share pairs with live state (lists and maps are copied one level)
 * never see a later access. The stored form is what snapshots carry: timestamps survive a restore.
 */

/** A user value with the processing time of its last access (the time it counts from). */
export type TtlValue<T> = readonly [value: T, lastAccess: number];

/** True when a value last accessed at `lastAccess` has expired at `now` (Flink: `lastAccess + ttl <= now`). */
export function isExpired(lastAccess: number, ttlMs: number, now: number): boolean {
  return lastAccess + ttlMs <= now;
}

/**
 * `stored` without its expired parts: the same object when nothing expired, `undefined` when
 * everything did, else a new list or map with the live elements (the pairs themselves are shared).
 */
export function withoutExpired(kind: StateKind, stored: unknown, ttlMs: number, now: number): unknown {
  if (kind === 'list') {
    const list = stored as TtlValue<unknown>[];
    let live = 0;
    for (const e of list) if (!isExpired(e[1], ttlMs, now)) live++;
    if (live === list.length) return stored;
    return live === 0 ? undefined : list.filter((e) => !isExpired(e[1], ttlMs, now));
  }
  if (kind === 'map') {
    const map = stored as Map<unknown, TtlValue<unknown>>;
    let out: Map<unknown, TtlValue<unknown>> | undefined;
    for (const [k, e] of map) {
      if (!isExpired(e[1], ttlMs, now)) continue;
      out ??= new Map(map);
      out.delete(k);
    }
    return out === undefined ? stored : out.size === 0 ? undefined : out;
  }
  return isExpired((stored as TtlValue<unknown>)[1], ttlMs, now) ? undefined : stored;
}

/** The earliest last-access time in `stored` (when its first part expires, minus the TTL); Infinity for an empty value. */
export function earliestAccess(kind: StateKind, stored: unknown): number {
  if (kind === 'list') {
    let min = Number.POSITIVE_INFINITY;
    for (const e of stored as TtlValue<unknown>[]) if (e[1] < min) min = e[1];
    return min;
  }
  if (kind === 'map') {
    let min = Number.POSITIVE_INFINITY;
    for (const e of (stored as Map<unknown, TtlValue<unknown>>).values()) if (e[1] < min) min = e[1];
    return min;
  }
  return (stored as TtlValue<unknown>)[1];
}

/** Visits entries of a whole state and removes expired ones (incremental cleanup). */
export interface TtlCleanup {
  /** Visits the next entries (the configured cleanup size). Never changes the backend's current key. */
  step(): void;
  /** Stops background work (LevelDB prefetch); resolves when none is in flight. */
  stop(): Promise<void>;
}

/** What TTL state handles need at run time, derived once per declared state. */
export interface TtlSettings {
  readonly ttlMs: number;
  /** `UpdateType.OnReadAndWrite`: reads renew the timestamp. */
  readonly updateOnRead: boolean;
  /** `StateVisibility.ReturnExpiredIfNotCleanedUp`: a read that removes an expired value still returns it. */
  readonly returnExpired: boolean;
  readonly clock: Clock;
  /** Run on every access to the state, when incremental cleanup is on. */
  readonly cleanup: TtlCleanup | undefined;
}

/** The run-time settings of `config` (an enabled one) on `clock`. */
export function ttlSettings(config: StateTtlConfig, clock: Clock, cleanup: TtlCleanup | undefined): TtlSettings {
  return {
    ttlMs: config.ttlMs,
    updateOnRead: config.updateType === UpdateType.OnReadAndWrite,
    returnExpired: config.stateVisibility === StateVisibility.ReturnExpiredIfNotCleanedUp,
    clock,
    cleanup,
  };
}

/** True when `descriptor`-style TTL config `c` is present and enabled. */
export function ttlEnabled(c: StateTtlConfig | undefined): c is StateTtlConfig {
  return c !== undefined && c.isEnabled();
}
