// Placement of a job's slots on workers: a slot holds subtask s of every vertex (slot sharing), spread over the workers with the most free slots.
import { EddyError } from '../src/errors.ts';

/** A worker as placement sees it: its free slots for this job. */
export interface WorkerCapacity {
  id: string;
  free: number;
}

/**
 * Assigns every slot in `slots` that has no live worker in `current` to a worker, spreading them:
 * each goes to the worker with the most free slots left (ties: the first in `workers`), so the
 * subtasks of one job land on as many workers as there are. Slot s holds subtask s of every
 * vertex: the subtasks that exchange records on forward edges and own the same key groups stay
 * on one worker. Returns the new assignment (slots already placed on a live worker keep it).
 *
 * @throws EddyError `EDDY_NO_SLOTS` when the workers' free slots cannot hold the unplaced slots.
 *
 * @example
 * ```ts
 * placeSlots([0, 1, 2], [{ id: 'a', free: 2 }, { id: 'b', free: 2 }], new Map()); // 0->a, 1->b, 2->a
 * ```
 */
export function placeSlots(slots: readonly number[], workers: readonly WorkerCapacity[], current: ReadonlyMap<number, string>): Map<number, string> {
  const live = new Set(workers.map((w) => w.id));
  const free = new Map(workers.map((w) => [w.id, w.free]));
  const out = new Map<number, string>();
  const unplaced: number[] = [];
  for (const s of slots) {
    const w = current.get(s);
    if (w !== undefined && live.has(w)) out.set(s, w);
    else unplaced.push(s);
  }
  const available = [...free.values()].reduce((a, b) => a + Math.max(0, b), 0);
  if (unplaced.length > available)
    throw new EddyError(
      'EDDY_NO_SLOTS',
      `the job needs ${unplaced.length} more slot(s) but the ${workers.length} live worker(s) offer ${available} free: start more workers (eddy worker --slots N) or lower the parallelism`,
    );
  for (const s of unplaced) {
    let best: string | undefined;
    for (const w of workers) if ((free.get(w.id) ?? 0) > 0 && (best === undefined || free.get(w.id)! > free.get(best)!)) best = w.id;
    out.set(s, best!);
    free.set(best!, free.get(best!)! - 1);
  }
  return out;
}
