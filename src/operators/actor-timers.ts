// A key's delayed machine events as stored in keyed state: absolute deadlines, fired in deadline order (ties in schedule order).
import type { ActorEvent } from '../machines/machine-runner.ts';

/**
 * One delayed event of a key's machine (an `after` transition, a delayed raise or sendTo self).
 * `at` is absolute (event time or processing time, as the operator's domain says), so a restore
 * fires it exactly once, at the same deadline; `delay` is kept for the `restart` restore policy.
 */
export interface StoredTimer {
  id: string;
  at: number;
  delay: number;
  /** Absent when the event is `{ type: id }` (every `after` timer): checkpoints carry the id once. */
  event?: ActorEvent;
}

/** Whether `event` is exactly `{ type: id }` (then a stored timer leaves it out). */
export function isBareEvent(event: ActorEvent, id: string): boolean {
  if (event.type !== id) return false;
  for (const k in event) if (k !== 'type') return false;
  return true;
}

/**
 * The index of the due timer to fire first: the smallest `at` <= `upTo`, ties in list order (the
 * list is in schedule order: a rescheduled id moves to the end). -1 when none is due.
 */
export function nextDueTimer(timers: readonly StoredTimer[], upTo: number): number {
  let best = -1;
  for (let i = 0; i < timers.length; i++) {
    const t = timers[i]!;
    if (t.at <= upTo && (best < 0 || t.at < timers[best]!.at)) best = i;
  }
  return best;
}

/** Whether another timer of the list shares `at` (the timer service keeps one timer per key and timestamp). */
export function deadlineShared(timers: readonly StoredTimer[], at: number, except: number): boolean {
  for (let i = 0; i < timers.length; i++) if (i !== except && timers[i]!.at === at) return true;
  return false;
}

/** A copy of `timers` without entry `index` (stored lists are shared with snapshots: never edited in place). */
export function withoutTimer(timers: readonly StoredTimer[], index: number): StoredTimer[] {
  const out = timers.slice(0, index);
  for (let i = index + 1; i < timers.length; i++) out.push(timers[i]!);
  return out;
}
