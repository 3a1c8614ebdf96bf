// After a restore: each key's machine snapshot migrated onto a changed machine, and processing-time timers moved by the restore policy.
import { EddyError } from '../errors.ts';
import { statesOfValue } from '../machines/machine-analysis.ts';
import type { ActorSnapshot } from '../machines/machine-runner.ts';
import type { MigratingActor } from '../machines/machine-version.ts';
import type { ValueState } from '../state/descriptors.ts';
import { denormalizeKey, type NormalizedKey } from '../state/key-group.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import type { StoredTimer } from './actor-timers.ts';

export interface ActorKeysRewrite {
  operator: string;
  backend: KeyedStateBackend;
  /** Names of the snapshot and timer states (to list their keys). */
  snapshotState: string;
  timerState: string;
  snapshots: ValueState<ActorSnapshot>;
  timers: ValueState<StoredTimer[]>;
  /** Maps a key's old snapshot and timers (undefined: drop the key). Undefined: no migration. */
  migrate: ((a: MigratingActor) => (ActorSnapshot & { timers?: StoredTimer[] }) | undefined) | undefined;
  /** The current machine's id and state node ids: a migrated snapshot must land in them. */
  machineId: string;
  currentStates: ReadonlySet<string>;
  /** A restored timer's new deadline. Undefined: deadlines stay. */
  rebase: ((t: StoredTimer) => number) | undefined;
  deleteTimer(at: number): void;
  registerTimer(at: number): void;
}

/** A timer a migration returned, checked: plain data the operator can store and fire. */
function checkTimer(t: StoredTimer, operator: string, key: NormalizedKey): StoredTimer {
  const e = t as Partial<StoredTimer> | null;
  if (e === null || typeof e !== 'object' || typeof e.id !== 'string' || !Number.isFinite(e.at) || !Number.isFinite(e.delay) || typeof e.event?.type !== 'string')
    throw new EddyError(
      'EDDY_STATE_MISMATCH',
      `actor operator "${operator}": migrate returned timer ${JSON.stringify(t)} for key ${JSON.stringify(denormalizeKey(key))}; a timer is { id, at, delay, event: { type } }`,
      { operator },
    );
  return { id: e.id, at: e.at!, delay: e.delay!, event: e.event! };
}

/** Every key with a value in `state` (the LevelDB backend lists them asynchronously). */
async function keysOf(backend: KeyedStateBackend, state: string): Promise<NormalizedKey[]> {
  const b = backend as KeyedStateBackend & { keysAsync?: (s: string) => Promise<NormalizedKey[]> };
  return b.keysAsync !== undefined ? b.keysAsync(state) : [...backend.keys(state)];
}

/**
 * Rewrites every restored key once, before the first record: runs the migration per key (a key it
 * maps to undefined is dropped with its timers) and moves timers by `rebase`. Runs in `open`, after
 * change tracking started, so the next checkpoint holds the rewritten state.
 *
 * @throws EddyError `EDDY_STATE_MISMATCH` naming the key and state when a migrated snapshot is in a
 * state the machine does not have; `EDDY_USER_FUNCTION` when the migration throws.
 */
export async function migrateActorKeys(o: ActorKeysRewrite): Promise<void> {
  const { backend } = o;
  const prev = backend.getCurrentKey();
  try {
    if (o.migrate !== undefined)
      for (const key of await keysOf(backend, o.snapshotState)) {
        backend.setCurrentNormalizedKey(key);
        const old = o.snapshots.value();
        if (old === undefined) continue;
        const oldTimers = o.timers.value() ?? [];
        let next: (ActorSnapshot & { timers?: StoredTimer[] }) | undefined;
        try {
          next = o.migrate({ value: old.value, context: old.context, timers: oldTimers.map((t) => ({ ...t })) });
        } catch (e) {
          throw new EddyError('EDDY_USER_FUNCTION', `actor operator "${o.operator}": migrate threw for key ${JSON.stringify(denormalizeKey(key))}: ${(e as Error)?.message ?? String(e)}`, {
            operator: o.operator,
            cause: e,
          });
        }
        if (next === undefined) {
          for (const t of oldTimers) o.deleteTimer(t.at);
          o.snapshots.clear();
          o.timers.clear();
          continue;
        }
        const missing = statesOfValue(o.machineId, next.value).find((s) => !o.currentStates.has(s));
        if (missing !== undefined)
          throw new EddyError(
            'EDDY_STATE_MISMATCH',
            `actor operator "${o.operator}": migrate mapped key ${JSON.stringify(denormalizeKey(key))} to state ${JSON.stringify(next.value)}, but "${missing}" does not exist in the machine; return a state value of the new machine (or undefined to drop the key)`,
            { operator: o.operator },
          );
        o.snapshots.update({ value: next.value, context: next.context });
        if (next.timers !== undefined) {
          const timers = next.timers.map((t) => checkTimer(t, o.operator, key));
          for (const t of oldTimers) o.deleteTimer(t.at);
          for (const t of timers) o.registerTimer(t.at);
          if (timers.length === 0) o.timers.clear();
          else o.timers.update(timers);
        }
      }
    if (o.rebase !== undefined)
      for (const key of await keysOf(backend, o.timerState)) {
        backend.setCurrentNormalizedKey(key);
        const list = o.timers.value();
        if (list === undefined || list.length === 0) continue;
        const moved = list.map((t) => ({ ...t, at: o.rebase!(t) }));
        for (const t of list) o.deleteTimer(t.at);
        for (const t of moved) o.registerTimer(t.at);
        o.timers.update(moved);
      }
  } finally {
    backend.setCurrentNormalizedKey(prev);
  }
}
