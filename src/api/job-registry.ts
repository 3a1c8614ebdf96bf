// Running jobs on this machine: `<stateDir>/running/<job>.json` tells `eddy savepoint` where a job's NATS and id are.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EddyError } from '../errors.ts';

/** What a running job registers. */
export interface JobRegistration {
  jobId: string;
  jobName: string;
  natsUrl: string;
  pid: number;
}

/** A job name as one file or directory name. */
export function jobDirName(jobName: string): string {
  return jobName.replace(/[^A-Za-z0-9_-]+/g, '_') || 'job';
}

const fileOf = (stateDir: string, jobName: string): string => join(stateDir, 'running', `${jobDirName(jobName)}.json`);

export async function registerJob(stateDir: string, r: JobRegistration): Promise<void> {
  await mkdir(join(stateDir, 'running'), { recursive: true });
  await writeFile(fileOf(stateDir, r.jobName), JSON.stringify(r));
}

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
