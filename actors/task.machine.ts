// The task lifecycle as an xstate machine: the legal transitions of one subtask, nothing on the data path.
import { setup } from 'xstate';

/** Lifecycle events of a task. The data path never sends one per record. */
export type TaskEvent =
  | { type: 'RESTORE' }
  | { type: 'RUN' }
  | { type: 'ALIGN' }
  | { type: 'ALIGNED' }
  | { type: 'FINISH' }
  | { type: 'FINISHED' }
  | { type: 'FAIL' }
  | { type: 'CANCEL' };

/**
 * `created -> restoring -> running <-> aligning -> finishing -> finished | failed | canceled`.
 *
 * @example
 * ```ts
 * const a = createActor(taskMachine).start();
 * a.send({ type: 'RESTORE' }); a.send({ type: 'RUN' });
 * a.getSnapshot().value; // 'running'
 * ```
 */
export const taskMachine = setup({ types: { events: {} as TaskEvent } }).createMachine({
  id: 'task',
  initial: 'created',
  states: {
    created: { on: { RESTORE: 'restoring', FAIL: 'failed', CANCEL: 'canceled' } },
    restoring: { on: { RUN: 'running', FAIL: 'failed', CANCEL: 'canceled' } },
    running: { on: { ALIGN: 'aligning', FINISH: 'finishing', FAIL: 'failed', CANCEL: 'canceled' } },
    aligning: { on: { ALIGNED: 'running', FAIL: 'failed', CANCEL: 'canceled' } },
    finishing: { on: { FINISHED: 'finished', FAIL: 'failed', CANCEL: 'canceled' } },
    finished: { type: 'final' },
    failed: { type: 'final' },
    canceled: { type: 'final' },
  },
});

export type TaskState = 'created' | 'restoring' | 'running' | 'aligning' | 'finishing' | 'finished' | 'failed' | 'canceled';
