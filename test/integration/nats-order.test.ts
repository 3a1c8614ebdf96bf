// Per-subject order of the NATS sources at parallelism > 1 on a real server: core NATS (each subject one subtask), JetStream (one split per subject, also rescaled).
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { KeyedProcessFunction, StreamEnvironment, ValueStateDescriptor, type JobClient, type StreamEnvironmentConfig } from '../../index.ts';
import type { Collector, KeyedProcessContext, RuntimeContext } from '../../src/functions/functions.ts';
import { jetStreamSource } from '../../src/connectors/jetstream-source.ts';
import { subjectOwner, subscribeOwned } from '../../src/connectors/nats-subject-owner.ts';
import type { Sink } from '../../src/operators/sink-operator.ts';
import type { ValueState } from '../../src/state/descriptors.ts';
import { systemClock } from '../../src/time/clock.ts';
import { tmpDirs, waitFor } from '../fixtures/fault-tolerance-support.ts';

const natsUrl = inject('natsUrl');
const dirs = tmpDirs('eddy-order-test-');
let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect(natsConnectionOptions(natsUrl));
});
afterEach(() => dirs.cleanup());
afterAll(async () => {
  await nc.close();
});

const enc = new TextEncoder();

/** A reading as published: `seq` rises by one per sensor; a negative seq is a marker (-1: readiness probe, -2: end of a burst). */
interface Reading {
  sensor: string;
  seq: number;
}

/** Per reading, what the keyed operator saw: the previous seq of the same key (-1: none yet). */
interface Seen {
  sensor: string;
  seq: number;
  prev: number;
}

/**
 * Records, per key and in keyed state, the last seq that reached the keyed operator, and emits each
 * reading with it: in order, without loss or repeat, exactly when every `prev` is `seq - 1`.
 * A marker (negative seq) is answered as it is and leaves the state alone.
 */
class OrderCheck extends KeyedProcessFunction<string, Reading, Seen> {
  private last!: ValueState<number>;
  override open(ctx: RuntimeContext): void {
    this.last = ctx.getState(new ValueStateDescriptor('last', -1));
  }
  processElement(r: Reading, _ctx: KeyedProcessContext<string>, out: Collector<Seen>): void {
    if (r.seq < 0) return out.collect({ sensor: r.sensor, seq: r.seq, prev: -1 });
    out.collect({ sensor: r.sensor, seq: r.seq, prev: this.last.value() });
    this.last.update(r.seq);
  }
}

/** A sink into an array of this test process (the in-process executor runs the job here). */
function arraySink(into: Seen[]): Sink<Seen> {
  return { name: 'seen', createWriter: () => ({ invoke: (v) => void into.push(v) }) };
}

/** The readings each sensor saw, by sensor, markers left out. */
function bySensor(seen: readonly Seen[]): Map<string, Seen[]> {
  const out = new Map<string, Seen[]>();
  for (const s of seen) if (s.seq >= 0) (out.get(s.sensor) ?? out.set(s.sensor, []).get(s.sensor)!).push(s);
  return out;
}

/** Each sensor's readings, as the keyed operator saw them, must be `from..to-1` with `prev = seq - 1`: in order, none lost, none twice. */
function expectInOrder(seen: readonly Seen[], sensors: readonly string[], from: number, to: number): void {
  const got = bySensor(seen);
  const bad = sensors.filter((s) => {
    const xs = got.get(s) ?? [];
    return xs.length !== to - from || xs.some((x, i) => x.seq !== from + i || x.prev !== x.seq - 1);
  });
  // Name a few offenders with what they saw, rather than a bare count.
  expect(bad.slice(0, 3).map((s) => ({ sensor: s, seen: (got.get(s) ?? []).map((x) => `${x.prev}->${x.seq}`).join(' ').slice(0, 300) }))).toEqual([]);
}

/**
 * Publishes marker `marker` to every subject no answer to it came from yet, until each came: core
 * NATS drops what nobody listens to (or what a full buffer cannot take), so a marker is repeated.
 * Markers -1 tell that the job is subscribed; later ones that what was published before them is through.
 * Returns how many markers it published.
 */
async function awaitAnswers(subjects: readonly string[], sensors: readonly string[], seen: readonly Seen[], marker = -1): Promise<number> {
  const end = systemClock.monotonic() + 20_000;
  for (let published = 0; ; ) {
    const answered = new Set(seen.filter((s) => s.seq === marker).map((s) => s.sensor));
    const missing = sensors.flatMap((s, i) => (answered.has(s) ? [] : [i]));
    if (missing.length === 0) return published;
    if (systemClock.monotonic() > end) throw new Error(`no answer to marker ${marker} from ${missing.length} of ${sensors.length} subjects`);
    for (const i of missing) nc.publish(subjects[i]!, enc.encode(JSON.stringify({ sensor: sensors[i], seq: marker })));
    published += missing.length;
    await nc.flush();
    await systemClock.sleep(20);
  }
}

const SENSORS = 40;
const VALUES = 50;

describe('core NATS source: per-subject order at parallelism > 1', () => {
  it.each([2, 3])('parallelism %i: every sensor subject reaches the keyed operator in publish order, nothing lost or repeated', async (parallelism) => {
    const prefix = `order.${process.pid}.p${parallelism}`;
    const sensors = Array.from({ length: SENSORS }, (_, i) => `s${i}`);
    const subjects = sensors.map((s) => `${prefix}.sensors.${s}`);
    // The premise of the test: every subtask owns some subject, so order across subtasks is exercised.
    expect(new Set(subjects.map((s) => subjectOwner(s, parallelism))).size).toBe(parallelism);
    const seen: Seen[] = [];
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism });
    env
      .fromNats<Reading>({ subject: `${prefix}.sensors.*` })
      .keyBy((r) => r.sensor)
      .process(new OrderCheck())
      .sinkTo(arraySink(seen));
    const client = await env.executeAsync(`nats-order-p${parallelism}`);
    await awaitAnswers(subjects, sensors, seen);
    // Interleaved: value v of every sensor, then value v + 1 of every sensor, ... from one connection.
    for (let v = 0; v < VALUES; v++) for (let i = 0; i < SENSORS; i++) nc.publish(subjects[i]!, enc.encode(JSON.stringify({ sensor: sensors[i], seq: v })));
    await nc.flush();
    await waitFor(`${SENSORS * VALUES} readings`, () => seen.filter((s) => s.seq >= 0).length >= SENSORS * VALUES, 30_000).catch(() => undefined);
    const result = await client.cancel();
    expect(result.status).toBe('canceled');
    expectInOrder(seen, sensors, 0, VALUES);
    expect(result.metrics[`NATS Source ${prefix}.sensors.*.droppedOverflow`] ?? 0).toBe(0);
  });

  it('a literal subject at parallelism 2 is read by one subtask: in order, once', async () => {
    const subject = `order.${process.pid}.literal`;
    const seen: Seen[] = [];
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism: 2 });
    env
      .fromNats<Reading>({ subject })
      .keyBy((r) => r.sensor)
      .process(new OrderCheck())
      .sinkTo(arraySink(seen));
    const client = await env.executeAsync('nats-order-literal');
    await awaitAnswers([subject], ['one'], seen);
    const n = 400;
    for (let v = 0; v < n; v++) nc.publish(subject, enc.encode(JSON.stringify({ sensor: 'one', seq: v })));
    await nc.flush();
    await waitFor(`${n} readings`, () => seen.filter((s) => s.seq >= 0).length >= n, 30_000).catch(() => undefined);
    const result = await client.cancel();
    expectInOrder(seen, ['one'], 0, n);
    expect(result.metrics[`NATS Source ${subject}.droppedOverflow`] ?? 0).toBe(0);
  });

  it('a full buffer at parallelism 2 drops and counts only its own subjects; what passes keeps its order', async () => {
    const prefix = `order.${process.pid}.overflow`;
    // Four sensors owned by each subtask: the names carry the pid, so pick them by owner rather than by luck.
    const sensors: string[] = [];
    const perOwner = [0, 0];
    for (let i = 0; sensors.length < 8; i++) {
      const owner = subjectOwner(`${prefix}.s${i}`, 2);
      if (perOwner[owner]! < 4) {
        perOwner[owner]!++;
        sensors.push(`s${i}`);
      }
    }
    const subjects = sensors.map((s) => `${prefix}.${s}`);
    expect(new Set(subjects.map((s) => subjectOwner(s, 2))).size).toBe(2);
    const seen: Seen[] = [];
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism: 2 });
    env
      // One buffered message per subtask: a burst that arrives in one socket read overflows it.
      .fromNats<Reading>({ subject: `${prefix}.*`, maxBuffered: 1 })
      .keyBy((r) => r.sensor)
      .process(new OrderCheck())
      .sinkTo(arraySink(seen));
    const client = await env.executeAsync('nats-order-overflow');
    let markers = await awaitAnswers(subjects, sensors, seen);
    const n = 500;
    for (let v = 0; v < n; v++) for (let i = 0; i < sensors.length; i++) nc.publish(subjects[i]!, enc.encode(JSON.stringify({ sensor: sensors[i], seq: v })));
    await nc.flush();
    // An end marker per subject, published after the burst, comes through after every message of it was taken or dropped.
    markers += await awaitAnswers(subjects, sensors, seen, -2);
    const result = await client.cancel();
    const dropped = result.metrics[`NATS Source ${prefix}.*.droppedOverflow`] ?? 0;
    const got = bySensor(seen);
    const missing = n * sensors.length - [...got.values()].reduce((sum, xs) => sum + xs.length, 0);
    // Markers may be dropped too (or lost before the job subscribed): at most those that got no answer.
    const unanswered = markers - seen.filter((s) => s.seq < 0).length;
    expect(missing).toBeGreaterThan(0);
    // Every missing reading was counted (nothing lost silently), and no drop was counted that lost
    // nothing (a subtask counting another's subject, or a message taken by two subtasks).
    expect(dropped).toBeGreaterThanOrEqual(missing);
    expect(dropped).toBeLessThanOrEqual(missing + unanswered);
    for (const [, xs] of got) expect(xs.every((x) => x.prev < x.seq)).toBe(true);
  });
});

describe('subscribeOwned: one subscription per connection, each subject to its owner', () => {
  it('subtasks on one connection share a subscription (each message received once); subtasks on two connections split the subjects', async () => {
    const prefix = `owned.${process.pid}`;
    const subjects = Array.from({ length: 30 }, (_, i) => `${prefix}.x${i}`);
    const p = 3;
    const a = await connect(natsConnectionOptions(natsUrl));
    const b = await connect(natsConnectionOptions(natsUrl));
    try {
      const got: string[][] = [[], [], []];
      const handler = (k: number) => (m: Msg) => void got[k]!.push(`${m.subject} ${m.string()}`);
      // Subtasks 0 and 1 share connection a (one process), subtask 2 is on b (another worker).
      const ends = [subscribeOwned(a, 'job/src', `${prefix}.*`, 0, p, handler(0)), subscribeOwned(a, 'job/src', `${prefix}.*`, 1, p, handler(1)), subscribeOwned(b, 'job/src', `${prefix}.*`, 2, p, handler(2))];
      // A restarted subtask 1 takes over the slot; its predecessor's end is then a no-op.
      const stale = ends[1]!;
      ends[1] = subscribeOwned(a, 'job/src', `${prefix}.*`, 1, p, handler(1));
      stale();
      await Promise.all([a.flush(), b.flush()]);
      const inBefore = a.stats().inMsgs;
      const n = 10;
      for (let v = 0; v < n; v++) for (const s of subjects) nc.publish(s, enc.encode(String(v)));
      await nc.flush();
      await waitFor('every message', () => got.flat().length >= subjects.length * n);
      for (let k = 0; k < p; k++) {
        const mine = subjects.filter((s) => subjectOwner(s, p) === k);
        expect(got[k]).toEqual(Array.from({ length: n }, (_, v) => mine.map((s) => `${s} ${v}`)).flat());
      }
      // Connection a received every message once, although two subtasks read from it.
      await a.flush();
      expect(a.stats().inMsgs - inBefore).toBe(subjects.length * n);
      for (const end of ends) end();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('JetStream source: per-subject order at parallelism > 1, across a rescaling restore', () => {
  it('parallelism 2 -> savepoint -> parallelism 3: each sensor continues in order from its savepoint position', async () => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const stream = `EDDY_ORDER_${process.pid}`;
    const prefix = `jsorder.${process.pid}`;
    const groups = 6;
    // Six filter subjects (six splits), each holding several sensors' subjects.
    await jsm.streams.add({ name: stream, subjects: Array.from({ length: groups }, (_, g) => `${prefix}.g${g}.*`) });
    try {
      const sensors = Array.from({ length: 24 }, (_, i) => `s${i}`);
      const subjectOf = (i: number) => `${prefix}.g${i % groups}.${sensors[i]}`;
      const half = 20;
      const publish = async (from: number, to: number) => {
        const acks = [];
        for (let v = from; v < to; v++) for (let i = 0; i < sensors.length; i++) acks.push(js.publish(subjectOf(i), enc.encode(JSON.stringify({ sensor: sensors[i], seq: v }))));
        await Promise.all(acks);
      };
      const run = async (parallelism: number, extra: StreamEnvironmentConfig, seen: Seen[]): Promise<JobClient> => {
        const env = StreamEnvironment.create({ nats: natsUrl, parallelism, stateDir: await dirs.make(), checkpointing: { intervalMs: 50 }, ...extra });
        env
          .fromSource(jetStreamSource<Reading>({ stream, maxBuffered: 16 }))
          .uid('js-source')
          .keyBy((r) => r.sensor)
          .process(new OrderCheck())
          .uid('order-check')
          .sinkTo(arraySink(seen));
        return env.executeAsync(`js-order-p${parallelism}`);
      };
      const reached = (seen: readonly Seen[], seq: number) => () => {
        const last = new Set(seen.filter((s) => s.seq === seq).map((s) => s.sensor));
        return sensors.every((s) => last.has(s));
      };

      await publish(0, half);
      const first: Seen[] = [];
      const c1 = await run(2, {}, first);
      await waitFor('the first half', reached(first, half - 1), 30_000).catch(() => undefined);
      // Everything published so far went through: the savepoint holds each split right after it.
      const sp = await c1.savepoint(join(await dirs.make(), 'sp'));
      await c1.cancel();
      expectInOrder(first, sensors, 0, half);

      await publish(half, 2 * half);
      const second: Seen[] = [];
      const c2 = await run(3, { restore: { savepoint: sp } }, second);
      await waitFor('the second half', reached(second, 2 * half - 1), 30_000).catch(() => undefined);
      await c2.cancel();
      // Restored keyed state says where each sensor was: a split read twice, skipped or out of order breaks prev = seq - 1.
      expectInOrder(second, sensors, half, 2 * half);
    } finally {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
  });
});
