// Rebuilds a job's plan on a worker: runs the job's bundled code up to its execute() call, captures the submission, and plans it as the job master did.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { captureSubmissions, type JobSubmission, type SubmittedJob } from '../src/api/executor.ts';
import { registerJobLoader } from '../src/cli/load-job.ts';
import { EddyError } from '../src/errors.ts';
import { createStreamGraph } from '../src/graph/stream-graph.ts';
import { createExecutionPlan, type ExecutionPlan } from '../src/plan/execution-plan.ts';
import { planFingerprint } from '../src/plan/plan-fingerprint.ts';
import type { Clock } from '../src/time/clock.ts';
import type { JobCode } from './job-code-store.ts';

/** A job as a worker rebuilt it. */
export interface LoadedJob {
  plan: ExecutionPlan;
  planFingerprint: string;
  maxParallelism: number;
}

let loaderRegistered = false;
/** Loads run one at a time: each sets the process's environment and argv for the job's code. */
let queue: Promise<unknown> = Promise.resolve();

const never = new Promise<never>(() => undefined);

/**
 * Loads `code` (written to `dir`) and resolves with the plan of its job named `code.jobName`. The
 * job's top level runs as it does under `eddy run`, with the same arguments and plan settings;
 * its execute() call is captured, never run, and never settles (the job script waits forever,
 * harmlessly). Fails with EDDY_JOB_LOAD naming the cause when the code throws (a missing package,
 * say), or when it ends or `timeoutMs` passes without submitting the job.
 */
export function loadJobCode(code: JobCode, dir: string, clock: Clock, timeoutMs = 60_000): Promise<LoadedJob> {
  const run = queue.then(() => load(code, dir, clock, timeoutMs));
  queue = run.catch(() => undefined);
  return run;
}

async function load(code: JobCode, dir: string, clock: Clock, timeoutMs: number): Promise<LoadedJob> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${code.hash}.mjs`);
  await writeFile(file, code.code);
  if (!loaderRegistered) {
    loaderRegistered = true;
    // Packages the job imports resolve from the worker's directory, then from eddy's own.
    registerJobLoader('', [pathToFileURL(`${process.cwd()}/`).href, new URL('../', import.meta.url).href]);
  }
  const savedEnv = new Map<string, string | undefined>();
  const setEnv = (k: string, v: string | undefined): void => {
    if (!savedEnv.has(k)) savedEnv.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  };
  const savedArgv = process.argv.slice();
  let captured!: (s: JobSubmission) => void;
  const submission = new Promise<JobSubmission>((r) => (captured = r));
  captureSubmissions({
    submit(job: JobSubmission): Promise<SubmittedJob> {
      if (job.jobName === code.jobName) captured(job);
      return never;
    },
  });
  for (const k of ['EDDY_PARALLELISM', 'EDDY_ALLOW_NON_RESTORED_STATE', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT', 'EDDY_WORKERS']) setEnv(k, code.env[k]);
  setEnv('EDDY_JOB_FILE', code.jobFile);
  setEnv('EDDY_ON_WORKER', '1');
  process.argv.splice(1, process.argv.length - 1, code.jobFile, ...code.argv);
  let timer: { cancel(): void } | undefined;
  try {
    const imported = import(pathToFileURL(file).href).then(
      () => {
        throw new EddyError('EDDY_JOB_LOAD', `the code of job "${code.jobName}" (${code.jobFile}) ran to its end on this worker without executing a job of that name`);
      },
      (e: unknown) => {
        const missing = (e as NodeJS.ErrnoException)?.code === 'ERR_MODULE_NOT_FOUND' ? `; install the package where the worker runs (its working directory ${process.cwd()}) or next to eddy` : '';
        throw new EddyError('EDDY_JOB_LOAD', `the code of job "${code.jobName}" (${code.jobFile}) failed to load on this worker: ${(e as Error)?.message ?? String(e)}${missing}`, { cause: e });
      },
    );
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.schedule(timeoutMs, () =>
        reject(new EddyError('EDDY_JOB_LOAD', `the code of job "${code.jobName}" (${code.jobFile}) did not execute the job within ${timeoutMs} ms on this worker`)),
      );
    });
    const job = await Promise.race([submission, imported, timeout]);
    const graph = createStreamGraph(job.roots, { jobName: job.jobName, parallelism: job.config.parallelism, maxParallelism: job.config.maxParallelism });
    const plan = createExecutionPlan(graph);
    return { plan, planFingerprint: planFingerprint(plan), maxParallelism: graph.maxParallelism };
  } finally {
    timer?.cancel();
    captureSubmissions(undefined);
    for (const [k, v] of savedEnv) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    process.argv.splice(0, process.argv.length, ...savedArgv);
  }
}
