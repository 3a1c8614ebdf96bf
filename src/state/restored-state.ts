// What a keyed state backend loads on restore: the entries of its key groups, checked and detached.
import { EddyError } from '../errors.ts';
import type { StateKind } from './descriptors.ts';
import type { KeyedStateSnapshot } from './keyed-state-backend.ts';
import { keyGroupOfNormalized, type NormalizedKey } from './key-group.ts';

/**
 * The states of `snapshots` with only the entries whose key group lies in `range`; lists and maps
 * are copied one level, so the restored state never shares them with a snapshot the caller keeps.
 * Every backend restores through this, so all of them read the same snapshot format the same way.
 *
 * @throws EddyError `EDDY_STATE_MISMATCH` when a snapshot was written with another maxParallelism.
 */
export function* restoredStates(
  snapshots: readonly KeyedStateSnapshot[],
  range: { start: number; end: number },
  maxParallelism: number,
  operatorName: string,
): Generator<{ name: string; kind: StateKind; ttl: boolean; entries: [NormalizedKey, unknown][] }> {
  for (const snap of snapshots) {
    if (snap.maxParallelism !== maxParallelism)
      throw new EddyError(
        'EDDY_STATE_MISMATCH',
        `operator "${operatorName}": state was written with maxParallelism ${snap.maxParallelism}, the job now has ${maxParallelism}; keep maxParallelism unchanged across restores`,
        { operator: operatorName },
      );
    for (const s of snap.states) {
      const entries: [NormalizedKey, unknown][] = [];
      for (const [k, v] of s.entries) {
        const g = keyGroupOfNormalized(k, maxParallelism);
        if (g < range.start || g > range.end) continue;
        entries.push([k, s.kind === 'list' ? (v as unknown[]).slice() : s.kind === 'map' ? new Map(v as Map<unknown, unknown>) : v]);
      }
      yield { name: s.name, kind: s.kind, ttl: s.ttl === true, entries };
    }
  }
}
