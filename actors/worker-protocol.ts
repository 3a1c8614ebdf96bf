// What workers and job masters say to each other (plain JSON): heartbeats, task control requests and their replies, task reports.
import type { WorkerInfo } from '../src/api/worker-runtime.ts';
import type { ErrorInfo } from '../src/errors.ts';
import type { TaskDescriptor } from './task-descriptor.ts';
import type { TaskStatusReport } from './task-protocol.ts';

export type { WorkerInfo };

/** Job master -> worker (request/reply on `workerControl`). */
export type WorkerRequest =
  | { op: 'deploy'; descriptor: TaskDescriptor; slot: number }
  | { op: 'start' | 'cancel' | 'kill'; key: string }
  /** The job master gave up on this worker (it was declared lost): every task of these attempts stops at once. */
  | { op: 'fence'; jobId: string };

/** Worker -> job master. `failure` on a deploy: the task could not be created or prepared (it also reports failed). */
export type WorkerReply = { ok: true; failure?: ErrorInfo } | { ok: false; error: ErrorInfo };

/** A task's final report as a worker relays it on `taskReports` (the task's own key and the worker that ran it). */
export interface WorkerTaskReport {
  key: string;
  workerId: string;
  report: TaskStatusReport;
}

/** The key of one task attempt: unique within a job (a region's attempt numbers never repeat). */
export function taskKey(d: Pick<TaskDescriptor, 'jobId' | 'attempt' | 'vertex' | 'subtask'>): string {
  return `${d.jobId}/${d.attempt}/${d.vertex}/${d.subtask}`;
}

export const jsonCodec = {
  encode: (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v)),
  decode: <T>(b: Uint8Array): T => JSON.parse(new TextDecoder().decode(b)) as T,
};
