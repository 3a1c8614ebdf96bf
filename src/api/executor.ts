// The seam between the API (src/) and the runtime (actors/): the runtime registers a PipelineExecutor here.
import { EddyError } from '../errors.ts';
import type { Transformation } from '../graph/transformation.ts';
import type { JobClient } from './job.ts';
import type { ResolvedConfig } from './config.ts';

/** Everything the runtime needs to run a job: plain data plus the user's functions inside transformations. */
export interface JobSubmission {
  jobName: string;
  config: ResolvedConfig;
  /** The sinks (roots) of the job's transformation tree. */
  roots: readonly Transformation[];
  /** Ids of collect sinks whose records the client wants back (executeAndCollect). */
  collect: readonly number[];
}

/** A submitted job: its client plus, for collect sinks, the records they produced. */
export interface SubmittedJob {
  client: JobClient;
  collected: Promise<Map<number, unknown[]>>;
}

/** Runs jobs. `src/` knows only this interface; `actors/` provides the implementation (Flink's PipelineExecutor). */
export interface PipelineExecutor {
  submit(job: JobSubmission): Promise<SubmittedJob>;
}

let executor: PipelineExecutor | undefined;

/**
 * A worker process loading a job's code installs an executor here: it captures the job's
 * submission (to rebuild the plan) instead of running it. A global symbol, so that a job that
 * loads its own copy of eddy is captured too.
 */
const CAPTURE = Symbol.for('eddy.submissionCapture');

/** Makes every submission in this process go to `e` (undefined: back to the registered executor). */
export function captureSubmissions(e: PipelineExecutor | undefined): void {
  (globalThis as Record<symbol, unknown>)[CAPTURE] = e;
}

/** Called once by the runtime entry point (the package's index). */
export function registerPipelineExecutor(e: PipelineExecutor): void {
  executor = e;
}

export function pipelineExecutor(): PipelineExecutor {
  const captured = (globalThis as Record<symbol, unknown>)[CAPTURE] as PipelineExecutor | undefined;
  if (captured !== undefined) return captured;
  if (executor === undefined)
    throw new EddyError('EDDY_INTERNAL', 'no runtime is registered: import StreamEnvironment from "eddy" (the package entry), not from src/api directly');
  return executor;
}
