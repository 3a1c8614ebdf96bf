// Test-only control hooks: a job listens for task kills only with `testHooks: true`, and even then only clients with the server's credential reach it.
import { connect, errors, type NatsConnection, type RequestError } from '@nats-io/transport-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { StreamEnvironment, generatorSource, isEddyError, type JobClient } from '../../index.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { subjects } from '../../src/transport/subjects.ts';
import { killTask } from '../../src/testing/chaos.ts';
import { tmpDirs, waitFor } from '../fixtures/fault-tolerance-support.ts';

const natsUrl = inject('natsUrl');
const dirs = tmpDirs('eddy-test-hooks-');
afterAll(() => dirs.cleanup());
const codec = new FrameCodec();

/** The task the tests kill: source, map and sink chain into one vertex, which runs with parallelism 1. */
const VERTEX = 'numbers -> bump -> Sink: discard';

/** Starts an unbounded, rate-limited job (source -> map -> discard) with checkpoints; cancel it when done. */
async function startJob(name: string, config: Parameters<typeof StreamEnvironment.create>[0]): Promise<JobClient> {
  const env = StreamEnvironment.create({ parallelism: 1, stateDir: await dirs.make(), checkpointing: 100, ...config });
  env
    .fromSource(generatorSource(Infinity, (i) => i, { ratePerSecond: 1000 }))
    .name('numbers')
    .map((i) => i + 1)
    .name('bump')
    .sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
  return env.executeAsync(name);
}

const outcome = <T>(p: Promise<T>): Promise<T | unknown> => p.then((v) => v, (e: unknown) => e);

describe('testHooks', () => {
  it('off (the default): nobody listens on the kill subject, while the savepoint subject is answered', async () => {
    const client = await startJob('hooks-off', { nats: natsUrl });
    const nc: NatsConnection = await connectNats(natsUrl);
    try {
      // The job master subscribed its control subjects together, before the job was deployed: it
      // answers a savepoint request on the same connection...
      const sp = await nc.request(subjects.savepoint(client.jobId), '{}', { timeout: 30_000 });
      expect(JSON.parse(sp.string())).toHaveProperty('path');
      // ...but the server knows no subscriber for kills: the request fails at once with "no responders".
      const kill = await outcome(nc.request(subjects.kill(client.jobId), codec.encodeValue([VERTEX, 0]), { timeout: 30_000 }));
      expect(kill).toBeInstanceOf(errors.RequestError);
      expect((kill as RequestError).isNoResponders()).toBe(true);
      // killTask says why.
      const viaHelper = await outcome(killTask(client, VERTEX, 0, nc));
      expect(isEddyError(viaHelper, 'EDDY_CONFIG')).toBe(true);
      expect((viaHelper as Error).message).toContain('testHooks: true');
    } finally {
      await nc.close();
    }
    const result = await client.cancel();
    expect(result.status).toBe('canceled');
    expect(result.restarts).toEqual([]);
  });

  it('on: killTask kills the task, which restarts with EDDY_TASK_DIED', async () => {
    const client = await startJob('hooks-on', { nats: natsUrl, testHooks: true });
    expect(await killTask(client, VERTEX, 0)).toBe(1);
    // A name that matches no task reaches none.
    expect(await killTask(client, 'no such vertex', 0)).toBe(0);
    await waitFor('the restart', () => client.status().restarts.length > 0, 30_000);
    expect(client.status().restarts[0]!.cause).toMatchObject({ code: 'EDDY_TASK_DIED', subtask: 0 });
    expect((await client.cancel()).status).toBe('canceled');
  });

  it('on, with the embedded server: a client without the credential is refused; the job\'s own URL kills', async () => {
    const client = await startJob('hooks-embedded', { testHooks: true });
    const own = natsConnectionOptions(client.natsUrl);
    expect(own.user).toBe('eddy');
    const outsider = await outcome(connect({ servers: own.servers, reconnect: false, timeout: 5_000 }));
    expect(outsider).toBeInstanceOf(errors.AuthorizationError);
    expect(await killTask(client, VERTEX, 0)).toBe(1);
    await waitFor('the restart', () => client.status().restarts.length > 0, 30_000);
    expect(client.status().restarts[0]!.cause.code).toBe('EDDY_TASK_DIED');
    expect((await client.cancel()).status).toBe('canceled');
  });

  it('must be a boolean', () => {
    expect(() => StreamEnvironment.create({ testHooks: 'yes' as unknown as boolean })).toThrow(/EDDY_CONFIG: testHooks must be true or false/);
  });
});
