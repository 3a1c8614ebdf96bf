// Every error a user can cause, with its stable code, on a real nats-server.
import { createServer } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { EddyError, JobFailedError, StreamEnvironment } from '../../index.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { subjects } from '../../src/transport/subjects.ts';

const nats = inject('natsUrl');

/** Waits until `cond()` holds; fails naming `what` after a generous deadline (it only bounds a hang, it proves nothing). */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function failure(p: Promise<unknown>): Promise<EddyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EddyError);
    return e as EddyError;
  }
  throw new Error('expected the promise to reject');
}

describe('configuration', () => {
  it.each([
    [{ parallelism: 0 }, /parallelism must be an integer from 1/],
    [{ parallelism: 1.5 }, /parallelism must be an integer/],
    [{ parallelism: 4, maxParallelism: 2 }, /maxParallelism \(2\) must be at least parallelism \(4\)/],
    [{ nats: 'not a url' }, /nats must be a URL/],
    [{ paralelism: 2 }, /unknown config option "paralelism"/],
    [{ network: { batchSize: 0 } }, /network.batchSize/],
  ])('%j fails with EDDY_CONFIG', (config, message) => {
    let err: unknown;
    try {
      StreamEnvironment.create(config as never);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'EDDY_CONFIG' });
    expect((err as Error).message).toMatch(message);
  });

  it('an operator parallelism above maxParallelism fails with EDDY_CONFIG naming it', async () => {
    const env = StreamEnvironment.create({ nats, maxParallelism: 4 });
    env.fromCollection([1]).map((x) => x).name('wide').setParallelism(8).print();
    const e = await failure(env.execute());
    expect(e.code).toBe('EDDY_CONFIG');
    expect(e.message).toContain('"wide"');
  });

  it('a job without sinks fails with EDDY_CONFIG', async () => {
    const env = StreamEnvironment.create({ nats });
    env.fromCollection([1]).map((x) => x);
    expect((await failure(env.execute())).code).toBe('EDDY_CONFIG');
  });
});

describe('records and keys', () => {
  it('a record that cannot be serialized fails the job with EDDY_UNSERIALIZABLE_RECORD naming the operator', async () => {
    const env = StreamEnvironment.create({ nats, parallelism: 2 });
    const out = env
      .fromCollection([1, 2])
      .map((x) => ({ x, callback: () => x }))
      .name('make-callbacks')
      .rebalance()
      .map((r) => r.x)
      .executeAndCollect();
    const e = await failure(out);
    expect(e).toBeInstanceOf(JobFailedError);
    const cause = (e as JobFailedError).result.error!;
    expect(cause.code).toBe('EDDY_UNSERIALIZABLE_RECORD');
    expect(cause.operator).toBe('make-callbacks');
    expect(cause.message).toMatch(/callback/);
  });

  it.each([
    ['an object', (r: number) => ({ id: r })],
    ['null', () => null],
    ['a boolean', () => true],
    ['undefined', () => undefined],
  ])('a key that is %s fails with EDDY_UNHASHABLE_KEY', async (_what, keyFn) => {
    const env = StreamEnvironment.create({ nats });
    const e = await failure(env.fromCollection([1, 2, 3]).keyBy(keyFn as unknown as (r: number) => string).sum().executeAndCollect());
    const cause = (e as JobFailedError).result.error!;
    expect(cause.code).toBe('EDDY_UNHASHABLE_KEY');
    expect(cause.message).toMatch(/must be a string, number, bigint or an array/);
  });

  it('string, number, bigint and tuple keys are all accepted', async () => {
    const env = StreamEnvironment.create({ nats, parallelism: 2 });
    const out = await env
      .fromCollection([
        { k: ['a', 1n, 2] as const, v: 1 },
        { k: ['a', 1n, 2] as const, v: 2 },
        { k: ['a', 1n, 3] as const, v: 4 },
      ])
      .keyBy((r) => r.k)
      .sum('v')
      .executeAndCollect();
    expect(out.map((r) => r.v).sort()).toEqual([1, 3, 4]);
  });
});

describe('user code', () => {
  it('a function that throws fails the job with the operator name and the cause', async () => {
    const env = StreamEnvironment.create({ nats, parallelism: 2 });
    env
      .fromGenerator(1000, (i) => i)
      .keyBy((i) => i % 10)
      .map((i) => {
        if (i === 777) throw new RangeError('777 is not allowed');
        return i;
      })
      .name('picky')
      .sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
    const e = await failure(env.execute('throws'));
    expect(e.code).toBe('EDDY_JOB_FAILED');
    const r = (e as JobFailedError).result;
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'picky' });
    expect(r.error!.message).toContain('777 is not allowed');
    expect(e.message).toContain('picky');
  });

  it('a throwing open() fails the job naming the operator', async () => {
    const env = StreamEnvironment.create({ nats });
    const out = env
      .fromCollection([1])
      .map({
        open() {
          throw new Error('no database');
        },
        map: (x: number) => x,
      })
      .name('needs-db')
      .executeAndCollect();
    const e = (await failure(out)) as JobFailedError;
    expect(e.result.error).toMatchObject({ operator: 'needs-db' });
    expect(e.result.error!.message).toContain('no database');
  });
});

describe('NATS', () => {
  const saved = process.env['EDDY_NATS_SERVER_BIN'];
  afterEach(() => {
    if (saved === undefined) delete process.env['EDDY_NATS_SERVER_BIN'];
    else process.env['EDDY_NATS_SERVER_BIN'] = saved;
  });

  it('a missing nats-server binary fails at once with EDDY_NATS_SERVER_MISSING and how to fix it', async () => {
    process.env['EDDY_NATS_SERVER_BIN'] = '/nonexistent/nats-server';
    const env = StreamEnvironment.create({ stateDir: '/tmp/eddy-missing-test' });
    const t0 = performance.now();
    const e = await failure(env.fromCollection([1]).executeAndCollect());
    expect(e.code).toBe('EDDY_NATS_SERVER_MISSING');
    expect(e.message).toContain('apt-get install nats-server');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a NATS URL that does not answer fails with EDDY_NATS_UNREACHABLE', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const env = StreamEnvironment.create({ nats: `nats://127.0.0.1:${port}`, connectTimeoutMs: 500 });
      const e = await failure(env.fromCollection([1]).executeAndCollect());
      expect(e.code).toBe('EDDY_NATS_UNREACHABLE');
      expect(e.message).toContain(`127.0.0.1:${port}`);
    } finally {
      silent.close();
    }
  });

  it('a gap in a channel sequence fails the task with EDDY_SEQUENCE_GAP instead of losing records silently', async () => {
    const env = StreamEnvironment.create({ nats, parallelism: 1 });
    env
      .fromGenerator(Infinity, (i) => i, { ratePerSecond: 1000 })
      .keyBy((i) => i % 3)
      .sum()
      .sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
    const client = await env.executeAsync('gap');
    // Forge frame 1,000,000 of channel 0 of the keyed vertex (vertex 1, subtask 0).
    const nc = await connect(natsConnectionOptions(nats));
    // Data subjects are namespaced per attempt of the region: the first attempt is 0.
    nc.publish(subjects.input(`${client.jobId}-0`, 1, 0), new FrameCodec().encodeData(0, 1_000_000, [1], null, 'test'));
    await nc.flush();
    await nc.close();
    const result = await client.result;
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('EDDY_SEQUENCE_GAP');
    expect(result.error?.message).toMatch(/frame 1000000 but \d+ was next/);
  });
});

describe('faults', () => {
  it('a nats-server that goes away under a running job fails the job with EDDY_NATS_CONNECTION_LOST (no hang)', async () => {
    const { startEmbeddedNatsServer } = await import('../../src/transport/nats-server.ts');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const server = await startEmbeddedNatsServer({ storeDir: mkdtempSync(join(tmpdir(), 'eddy-lost-')) });
    try {
      const env = StreamEnvironment.create({ nats: server.url, parallelism: 2, connectionLossTimeoutMs: 1000 });
      let seen = 0;
      env
        .fromGenerator(Infinity, (i) => i, { ratePerSecond: 2000 })
        .keyBy((i) => i % 7)
        .sum()
        .sinkTo({ name: 'count', createWriter: () => ({ invoke: () => void seen++ }) });
      const client = await env.executeAsync('lost');
      // The server goes away under a job that runs: records flow through the keyed exchange (over NATS) into the sinks.
      await until(() => seen >= 200, 'the sinks to see 200 records');
      await server.stop();
      const t0 = performance.now();
      const result = await client.result;
      expect(result.status).toBe('failed');
      expect(result.error?.code).toBe('EDDY_NATS_CONNECTION_LOST');
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      await server.stop();
    }
  });
});
