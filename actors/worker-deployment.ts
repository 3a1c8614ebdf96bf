// Readies a job to run on worker processes: its code bundled into the job code store, local workers started when asked, the pool watched and the launcher running.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ResolvedConfig } from '../src/api/config.ts';
import { bundleJob } from '../src/cli/job-bundle.ts';
import { installation } from '../src/cli/installation.ts';
import { EddyError } from '../src/errors.ts';
import type { ExecutionPlan } from '../src/plan/execution-plan.ts';
import type { Clock } from '../src/time/clock.ts';
import { PLAN_ENV, putJobCode, type JobCode } from './job-code-store.ts';
import { RemoteTaskLauncher } from './remote-task-launcher.ts';
import { WorkerPool } from './worker-pool.ts';

/** How long a job waits for its workers to register. */
const WORKERS_WAIT_MS = 60_000;

export interface WorkerDeployment {
  launcher: RemoteTaskLauncher;
  jobCode: string;
  /** Stops the launcher and the pool, then the local workers this deployment started. */
  close(): Promise<void>;
}

/** The job file to bundle: the one `eddy run` runs, else the script node runs. */
function jobFile(jobName: string): string {
  const f = process.env['EDDY_JOB_FILE'] || process.argv[1];
  if (f === undefined || f === '')
    throw new EddyError('EDDY_CONFIG', `job "${jobName}" is to run on workers, which load its code from its file, but this process has no job file: start it with "eddy run <job file>"`);
  return resolve(f);
}

/** Starts `n` `eddy worker` processes attached to this one (they exit when it does). */
function startLocalWorkers(n: number, url: string, cfg: ResolvedConfig, slots: number, timeoutMs: number): ChildProcess[] {
  const bin = join(installation().root, 'bin', 'eddy.mjs');
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const args = [bin, 'worker', '--slots', String(slots), '--state-dir', join(resolve(cfg.stateDir), 'workers', String(i)), '--attached', '--heartbeat-timeout', String(timeoutMs)];
    // The URL (with the private server's credential) goes through the environment, not the command line.
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, NATS_URL: url } });
    child.on('error', () => undefined);
    children.push(child);
  }
  return children;
}

async function stopLocalWorkers(children: ChildProcess[], clock: Clock): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          c.once('exit', () => done());
          // Closing its stdin asks an attached worker to stop; one that does not is killed.
          c.stdin?.end();
          clock.schedule(5000, () => c.kill('SIGKILL'));
        }),
    ),
  );
}

/**
 * Prepares job `jobName` (planned as `plan`) to run on workers: bundles its code and stores it
 * with the plan settings of this process (parallelism default, job arguments), starts
 * `cfg.workers` local workers (a number) or uses the ones registered ('existing'), and waits
 * until there are enough of them.
 */
export async function deployOnWorkers(
  cfg: ResolvedConfig,
  jobName: string,
  jobId: string,
  runId: string,
  plan: ExecutionPlan,
  nc: NatsConnection,
  url: string,
): Promise<WorkerDeployment> {
  const file = jobFile(jobName);
  const bundle = await bundleJob(file);
  const env: Record<string, string> = {};
  for (const k of PLAN_ENV) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  const argv = process.argv.slice(2);
  const hash = createHash('sha256').update(bundle.hash).update(JSON.stringify([jobName, file, argv, env])).digest('hex');
  const code: JobCode = { hash, jobName, jobFile: file, argv, env, code: bundle.code, eddyVersion: installation().version };
  await putJobCode(nc, code);
  const slotsNeeded = Math.max(...plan.vertices.map((v) => v.parallelism));
  const pool = new WorkerPool(nc, cfg.clock, cfg.workerHeartbeatTimeoutMs);
  pool.start();
  let children: ChildProcess[] = [];
  try {
    if (typeof cfg.workers === 'number') {
      const slots = Math.max(availableParallelism(), Math.ceil(slotsNeeded / cfg.workers));
      children = startLocalWorkers(cfg.workers, url, cfg, slots, cfg.workerHeartbeatTimeoutMs);
    }
    if (cfg.workers === 'existing') await pool.discover();
    await pool.waitFor(typeof cfg.workers === 'number' ? cfg.workers : 1, WORKERS_WAIT_MS);
  } catch (e) {
    pool.close();
    await stopLocalWorkers(children, cfg.clock);
    throw e;
  }
  const launcher = new RemoteTaskLauncher(nc, cfg.clock, jobId, runId, pool, {
    nameOf: (v) => plan.vertices[v]!.name,
    parallelismOf: (v) => plan.vertices[v]!.parallelism,
  });
  launcher.start();
  return {
    launcher,
    jobCode: hash,
    close: async () => {
      launcher.close();
      pool.close();
      await stopLocalWorkers(children, cfg.clock);
    },
  };
}
