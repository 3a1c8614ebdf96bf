// What running a job gives back: the JobResult of a finished job and the JobClient handle of a running one.
import type { ErrorInfo } from '../errors.ts';
import type { ActorStateView } from '../operators/actor-operator.ts';

export type JobStatus = 'finished' | 'failed' | 'canceled';

/** The outcome of a job. `error` carries the failing operator's name and the cause when status is 'failed'. */
/** One supervised restart: which regions restarted, why, and from which checkpoint. */
export interface RestartInfo {
  /** Milliseconds since the job started. */
  atMs: number;
  /** Pipelined regions restarted (indexes; a region is a connected part of the job graph). */
  regions: number[];
  cause: ErrorInfo;
  /** The completed checkpoint the regions restored, or null (restarted from the job's starting state). */
  checkpointId: number | null;
}

/** Checkpoint statistics of a job. */
export interface CheckpointSummary {
  completed: number;
  aborted: number;
  lastCompletedId: number | null;
  /** The most recent checkpoints (up to 50), oldest first. */
  history: { id: number; kind: string; status: 'completed' | 'aborted'; durationMs: number; bytes: number; reason?: string }[];
}

/** A running job's status. */
/** One running job as `eddy status` lists it (what its job master answers on `eddy.jobs.info`). */
export interface JobSummary {
  jobId: string;
  jobName: string;
  /** The job master's state: running, restarting, ... */
  state: string;
  /** The process running the job master. */
  pid: number;
  uptimeMs: number;
  /** The largest operator parallelism. */
  parallelism: number;
  restarts: number;
  lastRestartCause?: string;
  checkpoints: { completed: number; aborted: number; lastCompletedId: number | null } | null;
}

export interface JobStatusInfo {
  state: string;
  restarts: RestartInfo[];
  checkpoints: CheckpointSummary | undefined;
}

export interface JobResult {
  jobId: string;
  jobName: string;
  status: JobStatus;
  durationMs: number;
  /** Counters: `recordsIn` per task summed, and operator counters as `<operator>.<name>`. */
  metrics: Record<string, number>;
  /** Records the operators' record-failure policies dead-lettered (per operator: `metrics['<operator>.deadLetters']`). */
  deadLetters: number;
  error?: ErrorInfo;
  /** Every supervised restart, with its cause (empty when none happened). */
  restarts: RestartInfo[];
  /** Present when the job took checkpoints. */
  checkpoints?: CheckpointSummary;
}

/** A running job: cancel it, or await its result. */
export interface JobClient {
  readonly jobId: string;
  readonly jobName: string;
  /**
   * The NATS server the job runs on (the embedded one by default): publish to its sources here. It
   * carries the server's credentials (the embedded server's per-run password), so it is a secret:
   * connect with `connect(natsConnectionOptions(natsUrl))` and print `redactNatsUrl(natsUrl)`.
   */
  readonly natsUrl: string;
  readonly result: Promise<JobResult>;
  /** Cancels the job and resolves with its result (status 'canceled' unless it had already ended). */
  cancel(): Promise<JobResult>;
  /** State, restarts and checkpoints so far. */
  status(): JobStatusInfo;
  /**
   * Takes a savepoint (full, portable) into `directory` (default `<stateDir>/savepoints/<job>-<n>`)
   * and resolves with its path. Needs checkpointing enabled.
   */
  savepoint(directory?: string): Promise<string>;
  /** Triggers a checkpoint now; resolves with its id once completed. */
  triggerCheckpoint(): Promise<number>;
  /**
   * The machine of `key` in the actor operator `operator` (its uid, or its name when unique):
   * state value, context and pending delayed events; undefined when the key has no machine.
   *
   * @example
   * ```ts
   * const card = await client.queryActor('fraud', 'card-7'); // { value: 'armed', context: { small: 1 }, timers: [...] }
   * ```
   */
  queryActor(operator: string, key: unknown): Promise<ActorStateView | undefined>;
}

/** The dead letters among a job's counters (`<operator>.deadLetters`), summed. */
export function countDeadLetters(metrics: Record<string, number>): number {
  let n = 0;
  for (const [k, v] of Object.entries(metrics)) if (k.endsWith('.deadLetters')) n += v;
  return n;
}
