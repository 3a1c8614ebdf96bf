// Combines the snapshots of several operator subtasks into one (OperatorHarness.mergeSnapshots), to test scaling in.
import { isDeepStrictEqual } from 'node:util';
import { EddyError } from '../errors.ts';
import type { OperatorSnapshot } from '../operators/operator.ts';

/**
 * The snapshots of several subtasks as one: keyed state merged per state name, timers concatenated,
 * operator (non-keyed) state kept when at most one snapshot carries it or all carry the same, the
 * state schema when all agree, and the newest `takenAt`.
 *
 * @throws EddyError `EDDY_STATE_MISMATCH` when the snapshots disagree on maxParallelism, on a state's kind or TTL form, or on operator state.
 */
export function mergeSnapshots(snapshots: readonly OperatorSnapshot[]): OperatorSnapshot {
  const merged: OperatorSnapshot = {};
  let withOperatorState = 0;
  for (const s of snapshots) {
    if (s.operator !== undefined) {
      // Identical operator state (e.g. broadcast state, the same on every subtask) merges to one copy.
      if (++withOperatorState > 1 && !isDeepStrictEqual(merged.operator, s.operator))
        throw new EddyError('EDDY_STATE_MISMATCH', 'OperatorHarness.mergeSnapshots: snapshots hold different operator (non-keyed) state; it cannot be merged');
      merged.operator = s.operator;
    }
    if (s.schema !== undefined) {
      if (merged.schema !== undefined && !isDeepStrictEqual(merged.schema, s.schema))
        throw new EddyError('EDDY_STATE_MISMATCH', 'OperatorHarness.mergeSnapshots: snapshots were written with different state schemas (e.g. two machine versions)');
      merged.schema = s.schema;
    }
    // One restore time for all: the newest snapshot's (as a checkpoint's one completion time).
    if (s.takenAt !== undefined) merged.takenAt = Math.max(merged.takenAt ?? s.takenAt, s.takenAt);
    if (s.timers !== undefined) {
      merged.timers ??= { event: [], processing: [] };
      merged.timers.event.push(...s.timers.event);
      merged.timers.processing.push(...s.timers.processing);
    }
    const k = s.keyed;
    if (k === undefined) continue;
    if (merged.keyed === undefined) {
      merged.keyed = { version: k.version, maxParallelism: k.maxParallelism, states: [] };
    } else if (merged.keyed.maxParallelism !== k.maxParallelism) {
      throw new EddyError(
        'EDDY_STATE_MISMATCH',
        `OperatorHarness.mergeSnapshots: snapshots were written with maxParallelism ${merged.keyed.maxParallelism} and ${k.maxParallelism}`,
      );
    }
    for (const st of k.states) {
      const into = merged.keyed.states.find((x) => x.name === st.name);
      if (into === undefined) merged.keyed.states.push({ ...st, entries: st.entries.slice() });
      else if (into.kind !== st.kind)
        throw new EddyError('EDDY_STATE_MISMATCH', `OperatorHarness.mergeSnapshots: state "${st.name}" is ${into.kind} state in one snapshot and ${st.kind} state in another`);
      else if (into.ttl !== st.ttl)
        throw new EddyError('EDDY_STATE_MISMATCH', `OperatorHarness.mergeSnapshots: state "${st.name}" has a time-to-live in one snapshot and none in another`);
      else into.entries.push(...st.entries);
    }
  }
  return merged;
}
