// The job master lease on a real nats-server: one holder, takeover of an expired lease, fencing of the old holder, and the result a waiting standby sees.
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterLease, leasedStorage } from '../../actors/master-lease.ts';
import type { JobResult } from '../../src/api/job.ts';
import { MemoryCheckpointStorage } from '../../src/checkpoint/memory-checkpoint-storage.ts';
import { systemClock } from '../../src/time/clock.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { tempDirMaker } from '../support/example-test-support.ts';
import { RestartableNatsServer } from '../support/restartable-nats-server.ts';

const tempDir = tempDirMaker('eddy-lease-');
let server: RestartableNatsServer;
let nc: NatsConnection;
const EXPIRE = 400;

beforeAll(async () => {
  server = await RestartableNatsServer.start(join(tempDir(), 'nats'));
  nc = await connectNats(server.url);
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const result = (jobName: string): JobResult => ({ jobId: 'j1', jobName, status: 'finished', durationMs: 5, metrics: { recordsIn: 3 }, deadLetters: 0, restarts: [] });

describe('MasterLease', () => {
  it('a standby takes over an expired lease above the claimed attempts; the old holder is fenced on its next write', async () => {
    const active = await MasterLease.acquire(nc, systemClock, EXPIRE, { owner: 'run-a', jobId: 'job-1', jobName: 'lease-takeover' });
    await active.claimAttempt(4);
    const fenced: string[] = [];
    active.onFenced((c) => fenced.push(c.code));
    const waiting: number[] = [];
    const standby = MasterLease.standby(nc, systemClock, EXPIRE, { owner: 'run-b', jobId: 'unused', jobName: 'lease-takeover' }, (h) => waiting.push(h.pid));
    // Dies: stops renewing without a word.
    active.close();
    const outcome = await standby;
    expect(waiting).toEqual([process.pid]);
    expect('takeover' in outcome).toBe(true);
    const t = (outcome as { takeover: { lease: MasterLease; previous: { owner: string; maxAttempt: number; jobId: string } } }).takeover;
    expect(t.previous).toMatchObject({ owner: 'run-a', maxAttempt: 4, jobId: 'job-1' });
    expect(t.lease.holder).toMatchObject({ owner: 'run-b', jobId: 'job-1', state: 'active' });
    // The old holder wakes up: its claim and the commit of its coordinator's storage are refused.
    await expect(active.claimAttempt(5)).rejects.toMatchObject({ code: 'EDDY_MASTER_FENCED' });
    const storage = leasedStorage(new MemoryCheckpointStorage(), active);
    await expect(storage.commit({ id: 1 } as never)).rejects.toMatchObject({ code: 'EDDY_MASTER_FENCED' });
    expect(await storage.latest()).toBeUndefined();
    expect(fenced).toEqual(['EDDY_MASTER_FENCED']);
    // The new holder writes on.
    await t.lease.claimAttempt(5);
    expect(t.lease.holder.maxAttempt).toBe(5);
    t.lease.close();
  });

  it('a standby that watched the job end returns its result; one started with no master running gets the lease fresh', async () => {
    const active = await MasterLease.acquire(nc, systemClock, 60_000, { owner: 'run-c', jobId: 'job-2', jobName: 'lease-ended' });
    let waited!: () => void;
    const isWaiting = new Promise<void>((r) => (waited = r));
    const standby = MasterLease.standby(nc, systemClock, 60_000, { owner: 'run-d', jobId: 'x', jobName: 'lease-ended' }, () => waited());
    await isWaiting;
    await active.finish(result('lease-ended'));
    expect(await standby).toEqual({ ended: result('lease-ended') });
    const later = await MasterLease.standby(nc, systemClock, 60_000, { owner: 'run-e', jobId: 'job-3', jobName: 'lease-ended' }, () => undefined);
    expect('fresh' in later).toBe(true);
    const lease = (later as { fresh: MasterLease }).fresh;
    expect(lease.holder).toMatchObject({ owner: 'run-e', jobId: 'job-3', maxAttempt: -1, state: 'active' });
    await lease.check();
    lease.close();
  });

  it('a fresh run takes the lease from a live holder, which is fenced', async () => {
    const first = await MasterLease.acquire(nc, systemClock, 60_000, { owner: 'run-f', jobId: 'job-4', jobName: 'lease-fresh' });
    const second = await MasterLease.acquire(nc, systemClock, 60_000, { owner: 'run-g', jobId: 'job-5', jobName: 'lease-fresh' });
    await expect(first.check()).rejects.toMatchObject({ code: 'EDDY_MASTER_FENCED' });
    expect(first.fenced?.message).toContain(`pid ${process.pid}`);
    await second.check();
    first.close();
    second.close();
  });
});
