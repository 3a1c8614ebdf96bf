// Running jobs on this machine: `<stateDir>/running/<job>.json` tells `eddy savepoint` and `eddy publish --job` where a job's NATS and id are.
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EddyError } from '../errors.ts';

/** What a running job registers. */
export interface JobRegistration {
  jobId: string;
  jobName: string;
  /**
   * The NATS URL the job connected with, credentials included (the embedded server's per-run
   * password, or what the user put into the URL): a secret, which is why the file is private.
   */
  natsUrl: string;
  pid: number;
}

/** A job name as one file or directory name. */
export function jobDirName(jobName: string): string {
  return jobName.replace(/[^A-Za-z0-9_-]+/g, '_') || 'job';
}

const dirOf = (stateDir: string): string => join(stateDir, 'running');
const fileOf = (stateDir: string, jobName: string): string => join(dirOf(stateDir), `${jobDirName(jobName)}.json`);

/**
 * Records a running job. The registration holds the NATS credential, so the `running` directory is
 * made private (0700) and the file is created with mode 0600 under a temporary name, then renamed
 * into place: it is never readable by others, not even for a moment, and a reader never sees half of it.
 *
 * @example
 * ```ts
 * await registerJob('.eddy', { jobId, jobName: 'wordcount', natsUrl, pid: process.pid });
 * ```
 */
export async function registerJob(stateDir: string, r: JobRegistration): Promise<void> {
  const dir = dirOf(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode does not apply to a directory an older eddy created.
  await chmod(dir, 0o700);
  const tmp = `${fileOf(stateDir, r.jobName)}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, JSON.stringify(r), { mode: 0o600, flag: 'wx' });
  await rename(tmp, fileOf(stateDir, r.jobName));
}

/** Removes the registration of `jobName` if it still names job `jobId` (a newer run of the name keeps its own). */
export async function unregisterJob(stateDir: string, jobName: string, jobId: string): Promise<void> {
  const current = await findJob(stateDir, jobName).catch(() => undefined);
  if (current?.jobId === jobId) await rm(fileOf(stateDir, jobName), { force: true });
}

/**
 * The registration of running job `jobName` under `stateDir`.
 *
 * @example
 * ```ts
 * const job = await findJob('.eddy', 'wordcount'); // { jobId, natsUrl, ... }
 * ```
 */
export async function findJob(stateDir: string, jobName: string): Promise<JobRegistration> {
  let text: string;
  try {
    text = await readFile(fileOf(stateDir, jobName), 'utf8');
  } catch {
    throw new EddyError('EDDY_CONFIG', `no running job named "${jobName}" under ${stateDir} (looked for ${fileOf(stateDir, jobName)}); pass the job's name and the same --state-dir as the job`);
  }
  return JSON.parse(text) as JobRegistration;
}

/**
 * True when `pid` names a live process; EPERM means it exists but belongs to another user. A zombie
 * (dead, not yet reaped by its parent) still answers signal 0: on Linux its /proc state says so.
 */
function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * The registration of `jobName` under `stateDir`, provided its process is still alive: a process
 * killed with SIGKILL (or a machine that restarted) leaves its registration behind, and commands
 * must say so rather than wait on a server or a job that is gone.
 *
 * @throws EddyError `EDDY_CONFIG` when no job of that name is registered, or its process is gone.
 * @example
 * ```ts
 * const job = await findRunningJob('.eddy', 'wordcount'); // { jobId, natsUrl, pid, ... }
 * ```
 */
export async function findRunningJob(stateDir: string, jobName: string): Promise<JobRegistration> {
  const job = await findJob(stateDir, jobName);
  if (!processAlive(job.pid))
    throw new EddyError(
      'EDDY_CONFIG',
      `job "${jobName}" is not running (its process ${job.pid} is gone): ${fileOf(stateDir, jobName)} was left behind by a process that ` +
        'could not clean up (killed with SIGKILL, or the machine restarted). Remove that file; start the job again with eddy run (--resume continues from its last checkpoint).',
    );
  return job;
}

/** Every job registered under `stateDir` whose process is alive (what `eddy status` asks when no NATS URL is given). */
export async function runningJobs(stateDir: string): Promise<JobRegistration[]> {
  let names: string[];
  try {
    names = await readdir(dirOf(stateDir));
  } catch {
    return [];
  }
  const out: JobRegistration[] = [];
  for (const n of names.filter((f) => f.endsWith('.json'))) {
    try {
      const r = JSON.parse(await readFile(join(dirOf(stateDir), n), 'utf8')) as JobRegistration;
      if (processAlive(r.pid)) out.push(r);
    } catch {
      // A file being replaced, or not a registration: not a running job.
    }
  }
  return out;
}
