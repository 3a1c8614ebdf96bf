// After a restore: each key's machine migrated onto a changed machine, processing-time deadlines moved by the restore policy, and the key's timers registered again.
import { EddyError } from '../errors.ts';
import { statesOfValue } from '../machines/machine-analysis.ts';
import type { ActorSnapshot } from '../machines/machine-runner.ts';
import type { MigratingActor } from '../machines/machine-version.ts';
import type { ValueState } from '../state/descriptors.ts';
import { denormalizeKey, type NormalizedKey } from '../state/key-group.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import { isBareEvent, type StoredTimer } from './actor-timers.ts';

/** A key's record as the actor operator stores it (see ActorRecord in actor-operator.ts). */
interface Stored extends ActorSnapshot {
  timers?: StoredTimer[] | undefined;
}

export interface ActorKeysRestore {
  operator: string;
  backend: KeyedStateBackend;
  /** The name of the records' state (to list its keys). */
  stateName: string;
  records: ValueState<Stored>;
  /** Maps a key's old snapshot and timers (undefined: drop the key). Undefined: no migration. */
  migrate: ((a: MigratingActor) => (ActorSnapshot & { timers?: StoredTimer[] }) | undefined) | undefined;
  /** The current machine's id and state node ids: a migrated snapshot must land in them. */
  machineId: string;
  currentStates: ReadonlySet<string>;
  /** A restored timer's new deadline. Undefined: deadlines stay. */
  rebase: ((t: StoredTimer) => number) | undefined;
  /** Registers the service timer that wakes the current key at `at`. */
  registerTimer(at: number): void;
}

/** Every key with a value in `state` (the LevelDB backend lists them asynchronously). */
async function keysOf(backend: KeyedStateBackend, state: string): Promise<NormalizedKey[]> {
  const b = backend as KeyedStateBackend & { keysAsync?: (s: string) => Promise<NormalizedKey[]> };
  return b.keysAsync !== undefined ? b.keysAsync(state) : [...backend.keys(state)];
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

/** A stored timer again in the compact form (no event when it is `{ type: id }`). */
function compact(t: StoredTimer): StoredTimer {
  return t.event === undefined || isBareEvent(t.event, t.id) ? { id: t.id, at: t.at, delay: t.delay } : t;
}

/**
 * Visits every restored key once, before the first record: runs the migration (a key it maps to
 * undefined is dropped), moves timers by `rebase`, and registers each remaining timer with the
 * timer service. Runs in `open`, after change tracking started, so the next checkpoint holds what
 * was rewritten.
 *
 * @throws EddyError `EDDY_STATE_MISMATCH` naming the key and state when a migrated snapshot is in a
 * state the machine does not have; `EDDY_USER_FUNCTION` when the migration throws.
 */
export async function restoreActorKeys(o: ActorKeysRestore): Promise<void> {
  const { backend } = o;
  const prev = backend.getCurrentKey();
  try {
    for (const key of await keysOf(backend, o.stateName)) {
      backend.setCurrentNormalizedKey(key);
      const old = o.records.value();
      if (old === undefined) continue;
      let value = old.value;
      let context = old.context;
      let timers = old.timers ?? [];
      let changed = false;
      if (o.migrate !== undefined) {
        let next: (ActorSnapshot & { timers?: StoredTimer[] }) | undefined;
        try {
          next = o.migrate({ value: old.value, context: old.context, timers: timers.map((t) => ({ id: t.id, at: t.at, delay: t.delay, event: t.event ?? { type: t.id } })) });
        } catch (e) {
          throw new EddyError('EDDY_USER_FUNCTION', `actor operator "${o.operator}": migrate threw for key ${JSON.stringify(denormalizeKey(key))}: ${(e as Error)?.message ?? String(e)}`, {
            operator: o.operator,
            cause: e,
          });
        }
        if (next === undefined) {
          o.records.clear();
          continue;
        }
        const missing = statesOfValue(o.machineId, next.value).find((s) => !o.currentStates.has(s));
        if (missing !== undefined)
          throw new EddyError(
            'EDDY_STATE_MISMATCH',
            `actor operator "${o.operator}": migrate mapped key ${JSON.stringify(denormalizeKey(key))} to state ${JSON.stringify(next.value)}, but "${missing}" does not exist in the machine; return a state value of the new machine (or undefined to drop the key)`,
            { operator: o.operator },
          );
        value = next.value;
        context = next.context;
        if (next.timers !== undefined) timers = next.timers.map((t) => compact(checkTimer(t, o.operator, key)));
        changed = true;
      }
      if (o.rebase !== undefined && timers.length > 0) {
        timers = timers.map((t) => ({ ...t, at: o.rebase!(t) }));
        changed = true;
      }
      for (const t of timers) o.registerTimer(t.at);
      if (changed) o.records.update(timers.length > 0 ? { value, context, timers } : { value, context });
    }
  } finally {
    backend.setCurrentNormalizedKey(prev);
  }
}
