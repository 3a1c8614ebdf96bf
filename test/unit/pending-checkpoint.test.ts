// The pending-checkpoint machine: pending -> committing -> completed, aborts only while legal, final states stay final.
import { getInitialSnapshot, getNextSnapshot } from 'xstate';
import { describe, expect, it } from 'vitest';
import { pendingCheckpointMachine, type PendingCheckpointEvent, type PendingCheckpointState } from '../../actors/pending-checkpoint.machine.ts';

function after(...events: PendingCheckpointEvent['type'][]): { value: PendingCheckpointState; done: boolean } {
  // Pure transitions (no live actor), so events after a final state are evaluated, not just warned about.
  let s = getInitialSnapshot(pendingCheckpointMachine);
  for (const type of events) s = getNextSnapshot(pendingCheckpointMachine, s, { type } as PendingCheckpointEvent);
  return { value: s.value as PendingCheckpointState, done: s.status === 'done' };
}

describe('pendingCheckpointMachine', () => {
  it('starts pending', () => {
    expect(after()).toEqual({ value: 'pending', done: false });
  });

  it('completes after every ack and the metadata commit', () => {
    expect(after('ACKED_ALL')).toEqual({ value: 'committing', done: false });
    expect(after('ACKED_ALL', 'COMMITTED')).toEqual({ value: 'completed', done: true });
  });

  it.each(['DECLINED', 'TIMEOUT', 'TASK_FAILED', 'SUBSUMED'] as const)('%s aborts a pending checkpoint', (e) => {
    expect(after(e)).toEqual({ value: 'aborted', done: true });
  });

  it.each(['DECLINED', 'TIMEOUT', 'TASK_FAILED', 'SUBSUMED'] as const)('%s is ignored while committing: the commit decides', (e) => {
    expect(after('ACKED_ALL', e)).toEqual({ value: 'committing', done: false });
    expect(after('ACKED_ALL', e, 'COMMITTED')).toEqual({ value: 'completed', done: true });
  });

  it('a failed metadata write aborts a committing checkpoint', () => {
    expect(after('ACKED_ALL', 'COMMIT_FAILED')).toEqual({ value: 'aborted', done: true });
  });

  it('COMMITTED and COMMIT_FAILED mean nothing before all acks', () => {
    expect(after('COMMITTED')).toEqual({ value: 'pending', done: false });
    expect(after('COMMIT_FAILED')).toEqual({ value: 'pending', done: false });
  });

  it('a completed checkpoint is never aborted, an aborted one never completes', () => {
    const events = ['ACKED_ALL', 'COMMITTED', 'DECLINED', 'TIMEOUT', 'TASK_FAILED', 'SUBSUMED', 'COMMIT_FAILED'] as const;
    expect(after('ACKED_ALL', 'COMMITTED', ...events)).toEqual({ value: 'completed', done: true });
    expect(after('TIMEOUT', ...events)).toEqual({ value: 'aborted', done: true });
    expect(after('ACKED_ALL', 'COMMIT_FAILED', ...events)).toEqual({ value: 'aborted', done: true });
  });
});
