// The core NATS source and sink on a real server: formats, computed subjects, dead letters and their count.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { Packr, unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobFailedError, StreamEnvironment, natsSink } from '../../index.ts';

const natsUrl = inject('natsUrl');
let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect(natsConnectionOptions(natsUrl));
});
afterAll(async () => {
  await nc.close();
});

/** Collects `n` messages from `subject`, or fails after 5 s. */
function receive(subject: string, n: number): Promise<{ subject: string; data: Uint8Array; headers?: Map<string, string> }[]> {
  const got: { subject: string; data: Uint8Array; headers?: Map<string, string> }[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} messages on ${subject}`)), 5000);
    const sub = nc.subscribe(subject, {
      callback: (_e, m) => {
        const h = m.headers ? new Map([...m.headers.keys()].map((k) => [k, m.headers!.get(k)])) : undefined;
        got.push({ subject: m.subject, data: m.data, ...(h ? { headers: h } : {}) });
        if (got.length === n) {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(got);
        }
      },
    });
  });
}

describe('NATS source and sink', () => {
  it('reads msgpack, writes JSON to a computed subject, and sends undecodable messages to the dead-letter subject', async () => {
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism: 2 });
    env
      .fromNats<{ id: number; name: string }>({ subject: 'conn-test.in.*', format: 'msgpack' })
      .map((r) => ({ ...r, name: r.name.toUpperCase() }))
      .sinkTo(natsSink({ subject: (r) => `conn-test.out.${r.id % 2 === 0 ? 'even' : 'odd'}`, format: 'json' }));
    const client = await env.executeAsync('nats-connectors');
    await nc.flush();
    const out = receive('conn-test.out.*', 10);
    const dlq = receive('eddy.dlq.nats-connectors', 2);
    const packr = new Packr();
    for (let i = 0; i < 10; i++) nc.publish(`conn-test.in.${i}`, packr.pack({ id: i, name: `n${i}` }));
    nc.publish('conn-test.in.bad', new Uint8Array([0xc1])); // 0xc1 is never valid msgpack
    nc.publish('conn-test.in.cut', new Uint8Array([0x92, 0x01])); // an array of 2 with one element
    const msgs = await out;
    const dead = await dlq;
    const result = await client.cancel();
    expect(result.status).toBe('canceled');
    const decoded = msgs.map((m) => ({ subject: m.subject, ...JSON.parse(new TextDecoder().decode(m.data)) }));
    expect(decoded.sort((a, b) => a.id - b.id)).toEqual(
      [...Array(10).keys()].map((i) => ({ subject: `conn-test.out.${i % 2 === 0 ? 'even' : 'odd'}`, id: i, name: `N${i}` })),
    );
    const bySubject = new Map(dead.map((d) => [d.headers?.get('Eddy-Subject'), d]));
    expect([...bySubject.get('conn-test.in.bad')!.data]).toEqual([0xc1]);
    expect([...bySubject.get('conn-test.in.cut')!.data]).toEqual([0x92, 0x01]);
    expect(bySubject.get('conn-test.in.cut')!.headers?.get('Eddy-Error')).toMatch(/end of MessagePack data/);
    expect(result.metrics['NATS Source conn-test.in.*.deadLetters']).toBe(2);
  });

  it('a dead-letter subject that the source would read back is rejected up front', () => {
    const env = StreamEnvironment.create({ nats: natsUrl });
    expect(() => env.fromNats({ subject: 'orders.>', deadLetterSubject: 'orders.dead' })).toThrow(/would read its own dead letters/);
  });

  it('a raw source hands the bytes through and a msgpack sink writes them back', async () => {
    const env = StreamEnvironment.create({ nats: natsUrl });
    env
      .fromNats<Uint8Array>({ subject: 'conn-raw.in', format: 'raw' })
      .map((b) => ({ len: b.length, first: b[0] }))
      .sinkTo(natsSink({ subject: 'conn-raw.out', format: 'msgpack' }));
    const client = await env.executeAsync('nats-raw');
    const out = receive('conn-raw.out', 2);
    nc.publish('conn-raw.in', new Uint8Array([7, 8, 9]));
    nc.publish('conn-raw.in', new Uint8Array([1]));
    const msgs = (await out).map((m) => unpack(m.data));
    await client.cancel();
    expect(msgs).toEqual([
      { len: 3, first: 7 },
      { len: 1, first: 1 },
    ]);
  });

  it('a computed subject that is not a valid subject fails the job with the sink named', async () => {
    const env = StreamEnvironment.create({ nats: natsUrl });
    env.fromCollection([1]).sinkTo(natsSink({ subject: () => 'has space' })).name('bad-subject');
    const err = await env.execute('bad-subject').catch((e) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).result.error).toMatchObject({ operator: 'bad-subject' });
  });
});
