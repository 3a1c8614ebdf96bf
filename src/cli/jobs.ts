// `eddy status [<job>]` and `eddy cancel <job>`: ask the job masters on a NATS server (request/reply on `eddy.jobs.info`), from any process connected to it.
import { resolve } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobSummary } from '../api/job.ts';
import { runningJobs } from '../api/job-registry.ts';
import { EddyError } from '../errors.ts';
import { connectNats } from '../transport/connect-nats.ts';
import { redactNatsUrl } from '../transport/nats-url.ts';
import { subjects } from '../transport/subjects.ts';
import type { Command } from './args.ts';
import type { CliIO } from './cli-io.ts';

export const STATUS_HELP = `Usage: eddy status [<job>] [--nats URL] [--state-dir DIR]

Lists the jobs running on a NATS server: id, name, state, parallelism, restarts and
checkpoints, as each job master answers on eddy.jobs.info. With a job name or id, shows
that job alone (exit 2 when no such job answers). Works from any process connected to
the server: with --nats or NATS_URL it asks that server; without, the servers of the
jobs registered under the state dir (the embedded ones, with their credentials).

Options:
  --nats URL            the NATS server to ask (default NATS_URL)
  --state-dir DIR       where running jobs are registered (default EDDY_STATE_DIR or .eddy)
  -h, --help            show this help
`;

export const LIST_HELP = `Usage: eddy list [--nats URL] [--state-dir DIR]

Lists the jobs running on a NATS server, one line each (what eddy status prints without
a job name). Works from any process connected to the server.

Options:
  --nats URL            the NATS server to ask (default NATS_URL)
  --state-dir DIR       where running jobs are registered (default EDDY_STATE_DIR or .eddy)
  -h, --help            show this help
`;

export const CANCEL_HELP = `Usage: eddy cancel <job> [--nats URL] [--state-dir DIR]

Cancels a running job (by name or id), waits until it ended and prints its final status.
The job's checkpoints are removed, as after any cancel (take a savepoint first to keep
its state: eddy savepoint <job>). Finds the job as eddy status does.

Options:
  --nats URL            the NATS server the job runs on (default NATS_URL)
  --state-dir DIR       where running jobs are registered (default EDDY_STATE_DIR or .eddy)
  -h, --help            show this help

Exit codes: 0 the job ended; 1 it did not answer; 2 bad usage or no such job.
`;

/** How long `eddy status` gathers answers: job masters answer at once; this bounds a slow server. */
const GATHER_MS = 1_000;
/** How long a named job may take to answer (the gathering stops as soon as it did). */
const FIND_MS = 5_000;

type JobCommand = Extract<Command, { kind: 'status' | 'cancel' | 'list' | 'workers' }>;

/** The NATS URLs to ask: the flag or NATS_URL, else every distinct server of the jobs registered under the state dir. */
export async function servers(cmd: JobCommand, io: CliIO): Promise<string[]> {
  const url = cmd.nats ?? (io.env['NATS_URL'] || undefined);
  if (url !== undefined) return [url];
  const stateDir = resolve(io.cwd, cmd.stateDir ?? (io.env['EDDY_STATE_DIR'] || '.eddy'));
  return [...new Set((await runningJobs(stateDir)).map((r) => r.natsUrl))];
}

const matches = (j: JobSummary, job: string): boolean => j.jobName === job || j.jobId === job;

/** The job masters' answers on `url`: all within GATHER_MS, or until the job `want` (name or id) answered. */
async function ask(url: string, want?: string): Promise<{ nc: NatsConnection; jobs: JobSummary[] }> {
  const nc = await connectNats(url, { timeoutMs: 5_000, name: 'eddy-status' });
  const jobs: JobSummary[] = [];
  try {
    const replies = await nc.requestMany(subjects.jobsInfo, '', { maxWait: want === undefined ? GATHER_MS : FIND_MS });
    for await (const m of replies) {
      const j = JSON.parse(new TextDecoder().decode(m.data)) as JobSummary;
      jobs.push(j);
      if (want !== undefined && matches(j, want)) break;
    }
  } catch {
    // No responders: no job runs on this server.
  }
  return { nc, jobs };
}

function line(j: JobSummary): string {
  const cp = j.checkpoints === null ? 'off' : `${j.checkpoints.completed} (last ${j.checkpoints.lastCompletedId ?? '-'})`;
  return `${j.jobId.padEnd(14)} ${j.jobName.padEnd(24)} ${j.state.padEnd(11)} p=${String(j.parallelism).padEnd(3)} restarts ${String(j.restarts).padEnd(3)} checkpoints ${cp}  ${Math.round(j.uptimeMs / 1000)} s`;
}


/**
 * Runs `eddy status`: prints one line per running job (or the details of one). Resolves with the exit code.
 *
 * @example
 * ```ts
 * await statusCommand({ kind: 'status', job: undefined, nats: 'nats://127.0.0.1:4222', stateDir: undefined }, io);
 * ```
 */
export async function statusCommand(cmd: JobCommand, io: CliIO): Promise<number> {
  const found: JobSummary[] = [];
  for (const url of await servers(cmd, io)) {
    const { nc, jobs } = await ask(url, cmd.job);
    await nc.close();
    found.push(...jobs);
  }
  if (cmd.job === undefined) {
    if (found.length === 0) io.stdout('no running jobs\n');
    for (const j of found.sort((a, b) => a.jobName.localeCompare(b.jobName))) io.stdout(`${line(j)}\n`);
    return 0;
  }
  const j = found.find((x) => matches(x, cmd.job!));
  if (j === undefined) throw new EddyError('EDDY_CONFIG', `no running job "${cmd.job}" answers (${found.length} other job(s) do); check the name or id, and --nats / --state-dir`);
  io.stdout(`${JSON.stringify(j, null, 2)}\n`);
  return 0;
}

/** Runs `eddy cancel`: asks the job's master to cancel, waits for the job's end, prints its status. */
export async function cancelCommand(cmd: JobCommand, io: CliIO): Promise<number> {
  const urls = await servers(cmd, io);
  for (const url of urls) {
    const { nc, jobs } = await ask(url, cmd.job);
    try {
      const j = jobs.find((x) => matches(x, cmd.job!));
      if (j === undefined) continue;
      const reply = await nc.request(subjects.cancelJob(j.jobId), '', { timeout: 120_000 }).catch((e: unknown) => {
        throw new EddyError('EDDY_JOB_CANCELED', `job "${j.jobName}" (${j.jobId}) on ${redactNatsUrl(url)} did not confirm its end: ${(e as Error).message}`, { cause: e });
      });
      const { status } = JSON.parse(new TextDecoder().decode(reply.data)) as { status: string };
      io.stdout(`job "${j.jobName}" (${j.jobId}) ${status}\n`);
      return 0;
    } finally {
      await nc.close();
    }
  }
  throw new EddyError('EDDY_CONFIG', `no running job "${cmd.job}" answers on ${urls.length === 0 ? 'any server (none given, none registered)' : urls.map(redactNatsUrl).join(', ')}; check the name or id, and --nats / --state-dir`);
}

/**
 * The id of the running job `job` (name or id) on the NATS server at `url`, for commands that address
 * one job from any machine.
 *
 * @throws EddyError `EDDY_CONFIG` when no such job answers there.
 */
export async function findJobOnServer(url: string, job: string): Promise<string> {
  const { nc, jobs } = await ask(url, job);
  await nc.close();
  const j = jobs.find((x) => matches(x, job));
  if (j === undefined) throw new EddyError('EDDY_CONFIG', `no running job "${job}" answers on ${redactNatsUrl(url)}; check the name or id`);
  return j.jobId;
}
