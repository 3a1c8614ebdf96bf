// The life of one checkpoint at the coordinator as an xstate machine: the legal transitions, nothing per record.
import { setup } from 'xstate';

export type PendingCheckpointEvent =
  | { type: 'ACKED_ALL' }
  | { type: 'COMMITTED' }
  | { type: 'DECLINED' }
  | { type: 'TIMEOUT' }
  | { type: 'TASK_FAILED' }
  | { type: 'SUBSUMED' }
  | { type: 'COMMIT_FAILED' };

/**
 * `pending -> committing -> completed`; a decline, a timeout, a failed task or a newer completed
 * checkpoint (SUBSUMED) aborts a pending checkpoint, a failed metadata write aborts a committing
 * one: a committing checkpoint always finishes its commit. Completed and aborted are final: an
 * abort never touches a completed checkpoint, and a completed one is never aborted.
 *
 * @example
 * ```ts
 * const a = createActor(pendingCheckpointMachine).start();
 * a.send({ type: 'ACKED_ALL' }); a.send({ type: 'TIMEOUT' }); // ignored while committing
 * a.send({ type: 'COMMITTED' });
 * a.getSnapshot().value; // 'completed'
 * ```
 */
export const pendingCheckpointMachine = setup({ types: { events: {} as PendingCheckpointEvent } }).createMachine({
  id: 'pendingCheckpoint',
  initial: 'pending',
  states: {
    pending: { on: { ACKED_ALL: 'committing', DECLINED: 'aborted', TIMEOUT: 'aborted', TASK_FAILED: 'aborted', SUBSUMED: 'aborted' } },
    committing: { on: { COMMITTED: 'completed', COMMIT_FAILED: 'aborted' } },
    completed: { type: 'final' },
    aborted: { type: 'final' },
  },
});

export type PendingCheckpointState = 'pending' | 'committing' | 'completed' | 'aborted';
