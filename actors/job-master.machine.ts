// The job lifecycle as an xstate machine: deploy, run, and end finished, failed or canceled.
import { setup } from 'xstate';

export type JobMasterEvent =
  | { type: 'DEPLOY' }
  | { type: 'DEPLOYED' }
  | { type: 'ALL_FINISHED' }
  | { type: 'TASK_FAILED' }
  | { type: 'CANCEL' }
  | { type: 'TASKS_STOPPED' }
  | { type: 'RESTART' }
  | { type: 'RESTARTED' };

/**
 * `created -> deploying -> running -> finished`; a supervised restart goes `running -> restarting
 * -> running`; a failure the supervisor escalates goes `failing -> failed`, a cancel
 * `canceling -> canceled`. The first escalated failure wins: later reports do not change the outcome.
 *
 * @example
 * ```ts
 * const a = createActor(jobMasterMachine).start();
 * a.send({ type: 'DEPLOY' }); a.send({ type: 'DEPLOYED' }); a.send({ type: 'ALL_FINISHED' });
 * a.getSnapshot().value; // 'finished'
 * ```
 */
export const jobMasterMachine = setup({ types: { events: {} as JobMasterEvent } }).createMachine({
  id: 'jobMaster',
  initial: 'created',
  states: {
    created: { on: { DEPLOY: 'deploying', CANCEL: 'canceled', TASK_FAILED: 'failed' } },
    deploying: { on: { DEPLOYED: 'running', TASK_FAILED: 'failing', CANCEL: 'canceling' } },
    running: { on: { ALL_FINISHED: 'finished', TASK_FAILED: 'failing', CANCEL: 'canceling', RESTART: 'restarting' } },
    restarting: { on: { RESTARTED: 'running', RESTART: 'restarting', TASK_FAILED: 'failing', CANCEL: 'canceling' } },
    failing: { on: { TASKS_STOPPED: 'failed' } },
    canceling: { on: { TASKS_STOPPED: 'canceled', TASK_FAILED: 'failing' } },
    finished: { type: 'final' },
    failed: { type: 'final' },
    canceled: { type: 'final' },
  },
});

export type JobMasterState = 'created' | 'deploying' | 'running' | 'restarting' | 'failing' | 'canceling' | 'finished' | 'failed' | 'canceled';
