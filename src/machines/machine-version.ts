// Versioned actor state: the machine schema a checkpoint records, and what a restore with another machine may do.
import { EddyError } from '../errors.ts';
import type { ActorEvent, ActorSnapshot } from './machine-contract.ts';

/**
 * What a checkpoint records about an actor operator's machine (plain data, in the checkpoint's
 * metadata and in harness snapshots): its id, a structural hash and every state node id.
 */
export interface MachineStateSchema {
  kind: 'machine';
  id: string;
  hash: string;
  states: string[];
  /** The operator has a migration function (decided by the new job, not stored by the old one). */
  migrates?: boolean;
}

/** The machine a snapshot was written with, as a migration function sees it. */
export interface MachineVersion {
  id: string;
  hash: string;
  states: readonly string[];
}

/** A pending delayed event of a key, as a migration sees it: `at` is absolute (the operator's time domain). */
export interface ActorTimerView {
  id: string;
  at: number;
  delay: number;
  event: ActorEvent;
}

/** One key's machine as a migration gets it: snapshot plus pending delayed events. */
export interface MigratingActor extends ActorSnapshot {
  timers: ActorTimerView[];
}

/**
 * Maps one key's persisted machine state, written by the machine `from`, onto the current machine.
 * Return the new `{ value, context }` (and `timers` to replace the pending delayed events), or
 * undefined to drop the key (its timers go with it). An `after` timer is named after the state
 * that scheduled it (`xstate.after.<delay>.<state id>`, also its event type): when a state with
 * `after` is renamed, rename its timers too, or they fire an event the new machine ignores.
 *
 * @example
 * ```ts
 * // v2 renamed 'armed' to 'watching'.
 * const rename = (id: string) => id.replace('fraud.armed', 'fraud.watching');
 * const migrate: MachineMigration = (a) =>
 *   a.value === 'armed' ? { value: 'watching', context: a.context, timers: a.timers.map((t) => ({ ...t, id: rename(t.id), event: { ...t.event, type: rename(t.event.type) } })) } : a;
 * ```
 */
export type MachineMigration = (actor: MigratingActor, from: MachineVersion) => (ActorSnapshot & { timers?: ActorTimerView[] }) | undefined;

/** How a restore treats the keys of a snapshot written by `old`. */
export type RestoreMode = 'same' | 'migrate' | 'compatible';

function isSchema(v: unknown): v is MachineStateSchema {
  const s = v as MachineStateSchema;
  return s !== null && typeof s === 'object' && s.kind === 'machine' && typeof s.hash === 'string' && Array.isArray(s.states);
}

/**
 * Decides how state written with machine `old` restores into an operator running `current`:
 * unchanged (`same`), through the operator's migration function (`migrate`), or as it is when
 * every state it can be in still exists (`compatible`: a changed guard, action or transition).
 *
 * @throws EddyError `EDDY_STATE_MISMATCH` naming the operator and the states that no longer exist
 * when the machine changed, no migration is given and states were removed or renamed.
 */
export function machineRestoreMode(old: unknown, current: MachineStateSchema, operator: string, where: string): RestoreMode {
  if (old === undefined) return 'same';
  if (!isSchema(old))
    throw new EddyError('EDDY_STATE_MISMATCH', `${where}: operator "${operator}" has state that was not written by an actor operator; give the actor its own uid(...)`, { operator });
  if (old.hash === current.hash) return 'same';
  if (current.migrates === true) return 'migrate';
  const now = new Set(current.states);
  const missing = old.states.filter((s) => !now.has(s));
  if (missing.length === 0) return 'compatible';
  throw new EddyError(
    'EDDY_STATE_MISMATCH',
    `${where}: the machine of actor operator "${operator}" changed (was "${old.id}" ${old.hash.slice(0, 12)}, now "${current.id}" ${current.hash.slice(0, 12)}) ` +
      `and its states ${missing.map((s) => `"${s}"`).join(', ')} no longer exist; keys in them could not be restored. ` +
      `Pass a migrate function in the actor options to map old snapshots onto the new machine, or keep those states`,
    { operator },
  );
}

/** The version a migration function is told about. */
export function machineVersionOf(schema: MachineStateSchema): MachineVersion {
  return { id: schema.id, hash: schema.hash, states: schema.states };
}

/** Whether every state id active in `value` exists in `states` (a migrated snapshot must land on the current machine). */
export function valueFits(activeStates: readonly string[], states: ReadonlySet<string>): string | undefined {
  for (const s of activeStates) if (!states.has(s)) return s;
  return undefined;
}
