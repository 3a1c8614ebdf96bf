// NATS subject names of a job: data in, credits back, control, collected results.
import { EddyError } from '../errors.ts';

/** Subject names are built from tokens: a job id must be one NATS token (no dots, spaces or wildcards). */
export function checkToken(s: string, what: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new EddyError('EDDY_INVALID_ARGUMENT', `${what} "${s}" must match [A-Za-z0-9_-]+ to be a NATS subject token; use only letters, digits, _ and -`);
  return s;
}

export const subjects = {
  /** Every input channel of one subtask. */
  input: (job: string, vertex: number, subtask: number) => `eddy.${job}.in.${vertex}.${subtask}`,
  /** Credits granted to one producing subtask. */
  credit: (job: string, vertex: number, subtask: number) => `eddy.${job}.credit.${vertex}.${subtask}`,
  /** Task -> job master: lifecycle reports. */
  status: (job: string) => `eddy.${job}.ctl.status`,
  /** Job master -> tasks: cancel. */
  cancel: (job: string) => `eddy.${job}.ctl.cancel`,
  /** Coordinator -> tasks: checkpoint trigger (sources), complete, abort. */
  toTasks: (job: string) => `eddy.${job}.ctl.task`,
  /** Tasks -> coordinator: acks, declines, source ended. */
  toCoordinator: (job: string) => `eddy.${job}.ctl.coord`,
  /** `eddy savepoint` -> job master: request/reply, answers `{ path }` or `{ error }`. */
  savepoint: (job: string) => `eddy.${job}.ctl.savepoint`,
  /** `eddy status` -> every job master on the server: request/reply, each answers with its JobSummary (JSON). */
  jobsInfo: 'eddy.jobs.info',
  /** `eddy cancel` -> job master: request/reply, answered with `{ status }` once the job ended. */
  cancelJob: (job: string) => `eddy.${job}.ctl.cancel-request`,
  /** Chaos tests -> job master: kill a task actor. */
  kill: (job: string) => `eddy.${job}.ctl.kill`,
  /** Queries of one actor operator subtask's keys (request/reply); the uid is hex-encoded into one token. */
  actorQuery: (job: string, uid: string, subtask: number) => `eddy.${job}.query.${Buffer.from(uid, 'utf8').toString('hex')}.${subtask}`,
  /** Workers -> everyone: `eddy worker` processes announce themselves (WorkerInfo, JSON) at a fixed interval. */
  workerHeartbeat: 'eddy.workers.heartbeat',
  /** `eddy workers` -> every worker: request/reply, each answers with its WorkerInfo. */
  workersInfo: 'eddy.workers.info',
  /** Job master -> one worker: deploy, start, cancel and kill tasks (request/reply). */
  workerControl: (workerId: string) => `eddy.worker.${workerId}.ctl`,
  /** Workers -> job master: a task's final report, whoever ended it. */
  taskReports: (job: string) => `eddy.${job}.ctl.reports`,
  /** Job master -> workers: the master (its run id is the payload) is alive; a worker stops that master's tasks when it falls silent. */
  masterHeartbeat: (job: string) => `eddy.${job}.ctl.master`,
  /** Results of `executeAndCollect`, per sink node. */
  collect: (job: string, node: number) => `eddy.${job}.collect.${node}`,
};
