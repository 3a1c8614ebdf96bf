// publishJson against the shared nats-server: rate limiting on a manual clock, JetStream ids deduplicated on a re-run, errors that say what to do.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publishJson } from '../../src/connectors/publisher.ts';
import { EddyError } from '../../src/errors.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { expectEddyError } from '../support/eddy-error.ts';

const natsUrl = inject('natsUrl');
let nc: NatsConnection;
const tag = `pub${process.pid}`;

beforeAll(async () => {
  nc = await connectNats(natsUrl);
});
afterAll(async () => {
  await nc.close();
});

/** Lets promise continuations and I/O callbacks run: the publisher reacts to a clock advance within a few turns. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Collects the JSON payloads on `subject` (on the same connection, so a flush of the publisher orders them before its reply). */
function collect(subject: string): unknown[] {
  const got: unknown[] = [];
  nc.subscribe(subject, { callback: (_e, m) => void got.push(m.json()) });
  return got;
}

describe('publishJson: rate', () => {
  it('sends record i at i / rate seconds on the clock, and catches up at most one second after a stall', async () => {
    const subject = `${tag}.rate`;
    const got = collect(subject);
    await nc.flush();
    const clock = new ManualClock(1_000);
    let count = 0;
    const records = Array.from({ length: 30 }, (_, i) => ({ i }));
    const done = publishJson(nc, subject, records, { ratePerSecond: 10, clock, onPublished: (n) => (count = n) });

    // Nothing but the clock releases a record: many turns without an advance publish nothing more.
    await turns();
    expect(count).toBe(1);
    for (let k = 1; k <= 4; k++) {
      clock.advance(99);
      await turns();
      expect(count).toBe(k);
      clock.advance(1);
      await turns();
      expect(count).toBe(k + 1);
    }
    // Records 0..4 are out, record 5 was due at +500 ms. A 5 s stall: record 5, then one second's
    // worth of catch-up (records 6..15, and 16 due exactly now), not the 49 records the schedule owes.
    clock.advance(5_000);
    await turns();
    expect(count).toBe(17);
    clock.advance(99);
    await turns();
    expect(count).toBe(17);
    clock.advance(1);
    await turns();
    expect(count).toBe(18);

    for (let t = 0; t < 20 && count < 30; t++) {
      clock.advance(100);
      await turns();
    }
    const result = await done;
    expect(result).toEqual({ published: 30, duplicates: 0, stream: undefined });
    await nc.flush();
    expect(got).toEqual(records);
  });

  it('without a rate, publishes everything at once (no clock involved) and flushes', async () => {
    const subject = `${tag}.fast`;
    const got = collect(subject);
    await nc.flush();
    // The clock never moves: a publisher that waited on it would never finish.
    const result = await publishJson(nc, subject, Array.from({ length: 2_500 }, (_, i) => i), { clock: new ManualClock(0) });
    expect(result.published).toBe(2_500);
    await nc.flush();
    expect(got).toEqual(Array.from({ length: 2_500 }, (_, i) => i));
  });
});

describe('publishJson: JetStream', () => {
  const stream = `PUB_${process.pid}`;
  const subject = `${tag}.js.orders`;
  beforeAll(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${tag}.js.>`] });
  });
  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
  });

  it('ids from idOf: a second run of the same records stores nothing; the stream holds each record once', async () => {
    const orders = Array.from({ length: 300 }, (_, i) => ({ id: `o${i}`, amount: i }));
    const opts = { stream: true, idOf: (o: { id: string }) => o.id, maxInFlight: 16 };
    const first = await publishJson(natsUrl, subject, orders, opts);
    expect(first).toEqual({ published: 300, duplicates: 0, stream });
    const again = await publishJson(natsUrl, subject, orders, opts);
    expect(again).toEqual({ published: 300, duplicates: 300, stream });
    // Two more records, with the old ones again: only the new ones are stored.
    const more = await publishJson(nc, subject, [...orders, { id: 'o300', amount: 1 }, { id: 'o301', amount: 2 }], { ...opts, stream });
    expect(more).toEqual({ published: 302, duplicates: 300, stream });
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    expect(info.state.messages).toBe(302);
  });

  it('no stream captures the subject, or another stream than the one named: EDDY_CONFIG before anything is sent', async () => {
    const none = await expectEddyError(() => publishJson(nc, `${tag}.nostream`, [1], { stream: true }), 'EDDY_CONFIG');
    expect(none.message).toContain(`no JetStream stream captures subject "${tag}.nostream"`);
    const other = await expectEddyError(() => publishJson(nc, subject, [1], { stream: 'ELSEWHERE' }), 'EDDY_CONFIG');
    expect(other.message).toContain(`captured by stream "${stream}", not "ELSEWHERE"`);
  });

  it('an id that is not a non-empty string fails naming the record', async () => {
    const e = await expectEddyError(
      () => publishJson(nc, subject, [{ n: 1 }, { n: 2 }], { stream: true, idOf: (r) => (r.n === 2 ? '' : 'x'), describe: (r) => `order ${r.n}` }),
      'EDDY_INVALID_ARGUMENT',
    );
    expect(e.message).toContain('for order 2');
  });
});

describe('publishJson: arguments and failing input', () => {
  it('rejects bad arguments with EDDY_INVALID_ARGUMENT', async () => {
    await expectEddyError(() => publishJson(nc, 'a.*', [1]), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => publishJson(nc, 'a.b', [1], { ratePerSecond: 0 }), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => publishJson(nc, 'a.b', [1], { maxInFlight: 0 }), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => publishJson(nc, 'a.b', [1], { stream: 'no.dots' }), 'EDDY_INVALID_ARGUMENT');
  });

  it('an input that throws: what came before it is delivered, then its error surfaces', async () => {
    const subject = `${tag}.failing`;
    const got = collect(subject);
    await nc.flush();
    async function* input() {
      yield 1;
      yield 2;
      throw new EddyError('EDDY_DECODE', 'line 3 is not JSON');
    }
    await expectEddyError(() => publishJson(nc, subject, input()), 'EDDY_DECODE');
    await nc.flush();
    expect(got).toEqual([1, 2]);
  });
});
