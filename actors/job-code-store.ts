// The job code workers load: a bundle plus the settings the plan depends on, stored in a JetStream Object Store under its content hash.
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { defaultReplicas, readObjectStoreBlob } from '../src/checkpoint/jetstream-checkpoint-storage.ts';
import { EddyError } from '../src/errors.ts';
import { jsonCodec } from './worker-protocol.ts';

const BUCKET = 'eddy-jobs';

/**
 * What a worker needs to rebuild a job's plan: the bundled code, the job file's path where it was
 * submitted (what `isMainModule` compares with), the arguments the job saw, and the environment
 * variables `eddy run` set for it (defaults such as EDDY_PARALLELISM).
 */
export interface JobCode {
  hash: string;
  jobName: string;
  jobFile: string;
  argv: string[];
  env: Record<string, string>;
  code: string;
  eddyVersion: string;
}

/** The environment variables that shape a job's plan, as this process has them. */
export const PLAN_ENV = ['EDDY_PARALLELISM', 'EDDY_ALLOW_NON_RESTORED_STATE'] as const;

async function store(nc: NatsConnection, replicas: number): Promise<ObjectStore> {
  try {
    return await new Objm(nc).create(BUCKET, { replicas });
  } catch (e) {
    throw new EddyError('EDDY_CONFIG', `cannot open the job code store (object store ${BUCKET}): ${(e as Error).message}; workers need a NATS server with JetStream`, { cause: e });
  }
}

/** Stores `code` (once per hash: the same bundle submitted again is not stored twice). */
export async function putJobCode(nc: NatsConnection, code: JobCode, replicas = defaultReplicas(nc)): Promise<void> {
  const os = await store(nc, replicas);
  if ((await os.info(code.hash)) !== null) return;
  await os.putBlob({ name: code.hash, description: `eddy job "${code.jobName}"` }, jsonCodec.encode(code));
}

/** The job code stored under `hash`; EDDY_JOB_LOAD when there is none. */
export async function getJobCode(nc: NatsConnection, hash: string): Promise<JobCode> {
  const os = await store(nc, defaultReplicas(nc));
  // Not os.getBlob: see readObjectStoreBlob (a worker starting while one server of a cluster is down).
  const bytes = await readObjectStoreBlob(await jetstreamManager(nc), os, BUCKET, hash, `the job code store (object store ${BUCKET})`);
  if (bytes === null) throw new EddyError('EDDY_JOB_LOAD', `the job code ${hash.slice(0, 12)} is not in the object store ${BUCKET}: was it removed, or did the job master submit it to another NATS server?`);
  return jsonCodec.decode<JobCode>(bytes);
}
