// Record-failure policies on a real nats-server: bad records are dead-lettered (with operator, code and message) and counted, or fail the job; async results from sync functions fail at once.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AsyncDataStream, JobFailedError, KeyedProcessFunction, jetStreamSource, type DataStream, StreamEnvironment, natsSink, type Collector, type KeyedProcessContext } from '../../index.ts';

const natsUrl = inject('natsUrl');
let nc: NatsConnection;
beforeAll(async () => {
  nc = await connectNats(natsUrl);
});
afterAll(async () => {
  await nc.close();
});

interface Letter {
  data: string;
  headers: Record<string, string>;
}

/** Subscribes now; `take(n)` resolves with the first n messages (fails the test after 20 s: a missing message is a bug, never a proof). */
function listen(subject: string): { take(n: number): Promise<Letter[]>; stop(): void } {
  const got: Letter[] = [];
  const waiters: (() => void)[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_e, m) => {
      const headers: Record<string, string> = {};
      for (const k of m.headers?.keys() ?? []) headers[k] = m.headers!.get(k);
      got.push({ data: new TextDecoder().decode(m.data), headers });
      for (const w of waiters.splice(0)) w();
    },
  });
  return {
    take: (n) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} messages on ${subject}`)), 20_000);
        const check = (): void => {
          if (got.length >= n) {
            clearTimeout(timer);
            resolve(got.slice(0, n));
          } else waiters.push(check);
        };
        check();
      }),
    stop: () => sub.unsubscribe(),
  };
}

interface Reading {
  sensor: string;
  temperature: number;
}

class Max extends KeyedProcessFunction<string, Reading, Reading> {
  processElement(r: Reading, _ctx: KeyedProcessContext<string>, out: Collector<Reading>): void {
    if (r.temperature > 50) out.collect(r);
  }
}

describe('record-failure policy', () => {
  it('an unbounded job dead-letters wrong-shaped records by default and keeps running (the README example)', async () => {
    const tag = `rf${process.pid}`;
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism: 2 });
    env
      .fromNats<Reading>({ subject: `${tag}.sensors.*`, format: 'json' })
      .keyBy((r) => r.sensor)
      .process(new Max())
      .name('max')
      .sinkTo(natsSink({ subject: (a) => `${tag}.alerts.${a.sensor}`, format: 'json' }));
    const dlq = listen(`eddy.dlq.${tag}-job`);
    const alerts = listen(`${tag}.alerts.*`);
    const client = await env.executeAsync(`${tag}-job`);
    await nc.flush();
    const pub = (subject: string, v: unknown): void => nc.publish(subject, new TextEncoder().encode(JSON.stringify(v)));
    pub(`${tag}.sensors.a`, { sensor: 'a', temperature: 60 });
    pub(`${tag}.sensors.a`, null); // the key selector throws (TypeError)
    pub(`${tag}.sensors.b`, { temperature: 70 }); // no key: EDDY_UNHASHABLE_KEY
    pub(`${tag}.sensors.b`, { sensor: 'b', temperature: 80 });
    const got = (await alerts.take(2)).map((m) => JSON.parse(m.data) as Reading).sort((x, y) => x.temperature - y.temperature);
    const letters = await dlq.take(2);
    const result = await client.cancel();
    alerts.stop();
    dlq.stop();
    expect(result.status).toBe('canceled');
    expect(got).toEqual([
      { sensor: 'a', temperature: 60 },
      { sensor: 'b', temperature: 80 },
    ]);
    const byData = new Map(letters.map((l) => [l.data, l.headers]));
    expect(byData.get('null')).toMatchObject({ 'Eddy-Operator': 'keyBy of "max"', 'Eddy-Error-Code': 'EDDY_USER_FUNCTION', 'Eddy-Job': `${tag}-job`, 'Eddy-Encoding': 'json' });
    expect(byData.get('{"temperature":70}')).toMatchObject({ 'Eddy-Operator': 'keyBy of "max"', 'Eddy-Error-Code': 'EDDY_UNHASHABLE_KEY' });
    expect(byData.get('null')!['Eddy-Error']).toMatch(/null/);
    expect(result.deadLetters).toBe(2);
    expect(result.metrics['keyBy of "max".deadLetters']).toBe(2);
  });

  it('a bounded job with recordFailures: deadLetter skips the records a fused map, an unfused process function and a sink subject throw on', async () => {
    const subject = `rf${process.pid}.dlq.bounded`;
    const outSubject = `rf${process.pid}.bounded.out`;
    const dlq = listen(subject);
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism: 2, recordFailures: { deadLetter: { subject } } });
    const collected = env
      .fromGenerator(1000, (i) => i)
      .map((i) => {
        if (i % 100 === 7) throw new Error(`bad ${i}`);
        return i;
      })
      .name('parse')
      .keyBy((i) => i % 10)
      .process<number>({
        processElement(i, _ctx, out) {
          if (i % 100 === 42) throw new RangeError(`too big ${i}`);
          out.collect(i);
        },
      })
      .name('check');
    collected.sinkTo(natsSink<number>({ subject: (i) => (i % 100 === 99 ? 'not a subject' : outSubject) })).name('out');
    const out = listen(outSubject);
    const result = await collected.executeAndCollect('rf-bounded');
    const letters = await dlq.take(30);
    dlq.stop();
    const expected = [...Array(1000).keys()].filter((i) => i % 100 !== 7 && i % 100 !== 42);
    expect(result.sort((a, b) => a - b)).toEqual(expected);
    expect((await out.take(expected.length - 10)).length).toBe(expected.length - 10);
    out.stop();
    const byOperator = (op: string) => letters.filter((l) => l.headers['Eddy-Operator'] === op).map((l) => Number(l.data)).sort((a, b) => a - b);
    expect(byOperator('parse')).toEqual([...Array(10).keys()].map((k) => k * 100 + 7));
    expect(byOperator('check')).toEqual([...Array(10).keys()].map((k) => k * 100 + 42));
    expect(byOperator('out')).toEqual([...Array(10).keys()].map((k) => k * 100 + 99));
    expect(letters.find((l) => l.headers['Eddy-Operator'] === 'check')!.headers['Eddy-Error']).toMatch(/too big/);
  });

  it('a bounded job fails on the first bad record by default, naming the operator', async () => {
    const env = StreamEnvironment.create({ nats: natsUrl });
    env
      .fromGenerator(100, (i) => i)
      .map((i) => {
        if (i === 50) throw new Error('boom');
        return i;
      })
      .name('boomer')
      .print();
    const err = await env.execute('rf-default-fail').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).result.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'boomer' });
  });

  it("an operator's 'fail' wins over the job's dead letters, also when an outer operator dead-letters", async () => {
    const env = StreamEnvironment.create({ nats: natsUrl, recordFailures: 'deadLetter' });
    env
      .fromGenerator(100, (i) => i)
      .flatMap((i) => [i])
      .name('outer')
      .map((i) => {
        if (i === 50) throw new Error('strict');
        return i;
      })
      .name('inner')
      .onRecordFailure('fail')
      .print();
    const err = await env.execute('rf-override').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).result.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'inner' });
  });

  it('dead letters can be stored in a JetStream stream, created when missing', async () => {
    const stream = `RF_DLQ_${process.pid}`;
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
    const env = StreamEnvironment.create({ nats: natsUrl });
    const got = await env
      .fromGenerator(200, (i) => ({ i }))
      .map((r) => {
        if (r.i % 20 === 0) throw new Error('no zeros');
        return r.i;
      })
      .onRecordFailure({ deadLetter: { stream } })
      .executeAndCollect('rf-stream');
    expect(got.length).toBe(190);
    const info = await jsm.streams.info(stream);
    expect(info.config.subjects).toEqual([`eddy.dlq.${stream}`]);
    expect(info.state.messages).toBe(10);
    const first = await jsm.streams.getMessage(stream, { seq: info.state.first_seq });
    expect(first!.header.get('Eddy-Error-Code')).toBe('EDDY_USER_FUNCTION');
    expect(JSON.parse(new TextDecoder().decode(first!.data))).toHaveProperty('i');
    await jsm.streams.delete(stream);
  });

  it('a poison JetStream message is dead-lettered and skipped: a restart after it does not replay it into a failure loop', async () => {
    const stream = `RF_POISON_${process.pid}`;
    const subject = `rf${process.pid}.poison`;
    const dlqSubject = `rf${process.pid}.poison.dlq.x`.replace('.poison.dlq', '_dlq');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
    await jsm.streams.add({ name: stream, subjects: [subject] });
    const js = jetstream(nc);
    const enc = new TextEncoder();
    for (let i = 0; i < 300; i++) await js.publish(subject, enc.encode(i === 100 ? '{"id": broken' : JSON.stringify({ id: i })));
    const dlq = listen(dlqSubject);
    let thrown = false;
    const env = StreamEnvironment.create({
      nats: natsUrl,
      checkpointing: { intervalMs: 50 },
      restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 3 },
      recordFailures: { deadLetter: { subject: dlqSubject } },
    });
    const out = await env
      .fromSource(jetStreamSource<{ id: number }>({ stream, bounded: true }))
      .map((r) => {
        // One failure after the poison message: the region restarts from a checkpoint and reads on.
        if (r.id === 250 && !thrown) {
          thrown = true;
          throw new Error('transient');
        }
        return r.id;
      })
      .onRecordFailure('fail')
      .executeAndCollect('rf-poison');
    expect(thrown).toBe(true);
    expect(out.sort((a, b) => a - b)).toEqual([...Array(300).keys()].filter((i) => i !== 100));
    const [letter] = await dlq.take(1);
    dlq.stop();
    expect(letter!.data).toBe('{"id": broken');
    expect(letter!.headers).toMatchObject({ 'Eddy-Error-Code': 'EDDY_DECODE', 'Eddy-Stream': stream, 'Eddy-Subject': subject, 'Eddy-Sequence': '101', 'Eddy-Encoding': 'raw' });
    await jsm.streams.delete(stream);
  });

  it('an async call that times out goes through the policy: dead-lettered with EDDY_ASYNC_TIMEOUT, the rest in order', async () => {
    const subject = `rf${process.pid}.async.dlq`;
    const dlq = listen(subject);
    const env = StreamEnvironment.create({ nats: natsUrl, recordFailures: { deadLetter: { subject } } });
    const lookups = env.fromGenerator(50, (i) => i);
    const out = await AsyncDataStream.orderedWait(
      lookups,
      // Record 13 never answers; the others answer on the next turn of the event loop.
      (i: number) => (i === 13 ? new Promise<number>(() => undefined) : new Promise<number>((resolve) => setImmediate(() => resolve(i * 10)))),
      { timeoutMs: 100, capacity: 8 },
    )
      .name('lookup')
      .executeAndCollect('rf-async-timeout');
    expect(out).toEqual([...Array(50).keys()].filter((i) => i !== 13).map((i) => i * 10));
    const [letter] = await dlq.take(1);
    dlq.stop();
    expect(letter!.data).toBe('13');
    expect(letter!.headers).toMatchObject({ 'Eddy-Operator': 'lookup', 'Eddy-Error-Code': 'EDDY_ASYNC_TIMEOUT' });
  });

  it('a bad policy is a configuration error', () => {
    expect(() => StreamEnvironment.create({ recordFailures: 'skip' as never })).toThrow(/EDDY_CONFIG.*unknown record-failure policy/);
    const env = StreamEnvironment.create({ nats: natsUrl });
    expect(() => env.fromGenerator(1, (i) => i).onRecordFailure({ deadLetter: { subject: 'a.*' } })).toThrow(/without wildcards/);
  });
});

describe('synchronous functions that return a Promise', () => {
  type Numbers = DataStream<number>;
  for (const [what, build] of [
    ['map', (s: Numbers) => s.map(async (i) => i * 2)],
    ['filter', (s: Numbers) => s.filter((async (i: number) => i > 1) as never)],
    ['flatMap', (s: Numbers) => s.flatMap((async (i: number) => [i]) as never)],
    ['keyed process', (s: Numbers) => s.keyBy((i) => i % 2).process<number>({ processElement: (async () => undefined) as never })],
  ] as const) {
    it(`${what}: fails at once with EDDY_ASYNC_FUNCTION pointing to AsyncDataStream, even under dead letters`, async () => {
      const env = StreamEnvironment.create({ nats: natsUrl, recordFailures: 'deadLetter' });
      const s = env.fromGenerator(10, (i) => i);
      build(s).name('asyncy').print();
      const err = await env.execute(`rf-async-${what.replace(' ', '-')}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobFailedError);
      const info = (err as JobFailedError).result.error!;
      expect(info).toMatchObject({ code: 'EDDY_ASYNC_FUNCTION', operator: 'asyncy' });
      expect(info.message).toMatch(/AsyncDataStream\.orderedWait/);
      expect((err as JobFailedError).result.deadLetters).toBe(0);
    });
  }

  it('a plain function given to map sees no receiver, fused or not', async () => {
    const env = StreamEnvironment.create({ nats: natsUrl });
    const seen = await env
      .fromGenerator(3, (i) => i)
      .map(function (this: unknown, i: number) {
        return `${i}:${this === undefined ? 'undefined' : Array.isArray(this) ? 'array' : typeof this}`;
      })
      .executeAndCollect('rf-this');
    expect(seen.sort()).toEqual(['0:undefined', '1:undefined', '2:undefined']);
  });
});
