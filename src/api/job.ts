// What running a job gives back: the JobResult of a finished job and the JobClient handle of a running one.
import type { ErrorInfo } from '../errors.ts';

export type JobStatus = 'finished' | 'failed' | 'canceled';

/** The outcome of a job. `error` carries the failing operator's name and the cause when status is 'failed'. */
export interface JobResult {
  jobId: string;
  jobName: string;
  status: JobStatus;
  durationMs: number;
  /** Counters: `recordsIn` per task summed, and operator counters as `<operator>.<name>`. */
  metrics: Record<string, number>;
  error?: ErrorInfo;
}

/** A running job: cancel it, or await its result. */
export interface JobClient {
  readonly jobId: string;
  readonly jobName: string;
  /** The NATS server the job runs on (the embedded one by default): publish to its sources here. */
  readonly natsUrl: string;
  readonly result: Promise<JobResult>;
  /** Cancels the job and resolves with its result (status 'canceled' unless it had already ended). */
  cancel(): Promise<JobResult>;
}
