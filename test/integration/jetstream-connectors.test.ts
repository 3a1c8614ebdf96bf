// The JetStream source and sink on a real server: bounded jobs, replay from split state (also rescaled), two-phase commit with dedup, errors.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobFailedError, StreamEnvironment } from '../../index.ts';
import type { RuntimeContext } from '../../src/functions/functions.ts';
import { jetStreamSink } from '../../src/connectors/jetstream-sink.ts';
import { jetStreamSource, type JetStreamSourceOptions } from '../../src/connectors/jetstream-source.ts';
import type { SourceReader } from '../../src/connectors/source.ts';
import type { OperatorContext } from '../../src/operators/operator.ts';
import type { SinkContext } from '../../src/operators/sink-operator.ts';
import { systemClock } from '../../src/time/clock.ts';
import { NO_TIMESTAMP } from '../../src/time/watermark.ts';
import { expectEddyError } from '../support/eddy-error.ts';
import { operatorContext as baseOperatorContext } from '../support/operator-context.ts';

const natsUrl = inject('natsUrl');
let nc: NatsConnection;
let jsm: JetStreamManager;
let js: JetStreamClient;
const created: string[] = [];
let counter = 0;

beforeAll(async () => {
  nc = await connect(natsConnectionOptions(natsUrl));
  jsm = await jetstreamManager(nc);
  js = jetstream(nc);
});
afterEach(async () => {
  for (const name of created.splice(0)) await jsm.streams.delete(name).catch(() => undefined);
});
afterAll(async () => {
  await nc.close();
});

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A stream with a name and subject prefix of its own (deleted after the test); `tokens` become subjects `<prefix>.<token>`. */
async function createStream(tokens: string[]): Promise<{ stream: string; prefix: string; subjects: string[] }> {
  counter++;
  const stream = `EDDY_JSCONN_${process.pid}_${counter}`;
  const prefix = `jsconn.${process.pid}.${counter}`;
  const subjects = tokens.map((t) => `${prefix}.${t}`);
  await jsm.streams.add({ name: stream, subjects });
  created.push(stream);
  return { stream, prefix, subjects };
}

/** Publishes JSON records, pipelined; returns the stream sequences in order. */
async function publishJson(items: { subject: string; value: unknown }[]): Promise<number[]> {
  const acks = await Promise.all(items.map((it) => js.publish(it.subject, enc.encode(JSON.stringify(it.value)))));
  return acks.map((a) => a.seq);
}

/** `n` records `{ id }`, id 0..n-1 from `start`, spread round-robin over `subjects`. */
function records(subjects: string[], n: number, start = 0): { subject: string; value: { id: number } }[] {
  return Array.from({ length: n }, (_, k) => ({ subject: subjects[(start + k) % subjects.length]!, value: { id: start + k } }));
}

function operatorContext(subtaskIndex: number, parallelism: number, checkpointing = false): OperatorContext {
  return baseOperatorContext({ jobName: 'jetstream-test', jobId: `job${counter}`, operatorName: 'js-op', uid: 'js-op-uid', subtaskIndex, parallelism, clock: systemClock, nats: nc, checkpointing });
}

interface Collected<T> {
  values: T[];
  timestamps: number[];
  ended: boolean;
}

/** Polls until `want` records arrived (exactly: `max` never exceeds what is missing) or the reader ends. */
async function pollRecords<T>(reader: SourceReader<T>, want: number): Promise<Collected<T>> {
  const got: Collected<T> = { values: [], timestamps: [], ended: false };
  const out = {
    collect: (v: T, ts: number) => {
      got.values.push(v);
      got.timestamps.push(ts);
    },
  };
  while (got.values.length < want) {
    const r = reader.poll(out, Math.min(7, want - got.values.length));
    if (r === 'end') {
      got.ended = true;
      break;
    }
    // Only wait for more when more is wanted: the last poll may return 'wait' with everything collected.
    if (r === 'wait' && got.values.length < want) await reader.available();
  }
  return got;
}

/** Polls until the reader ends. */
async function pollToEnd<T>(reader: SourceReader<T>): Promise<T[]> {
  return (await pollRecords(reader, Infinity)).values;
}

/** `p`, or a failure naming `what` once `ms` passed (a generous deadline: it only bounds a hang). */
async function within<T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Nothing more arrives from the reader's splits: a marker `{ id: -1 - k }` published now on each of
 * `subjects` is the next message of that subject (a split reads its subject in stream order), so a
 * record still to come (a duplicate, a replay) would arrive before its subject's marker. Waits for
 * every marker and expects nothing else among what came.
 */
async function expectNothingMore(reader: SourceReader<{ id: number }>, subjects: string[]): Promise<void> {
  await publishJson(subjects.map((subject, k) => ({ subject, value: { id: -1 - k } })));
  const got = await within(pollRecords(reader, subjects.length), `the ${subjects.length} markers`);
  expect(ids(got.values)).toEqual(range(-subjects.length, 0));
  // And nothing is buffered after them.
  const extra: unknown[] = [];
  expect(reader.poll({ collect: (v) => extra.push(v) }, 100)).not.toBe('more');
  expect(extra).toEqual([]);
}

async function reader<T>(opts: JetStreamSourceOptions, subtask = 0, parallelism = 1, restore?: unknown[]): Promise<SourceReader<T>> {
  const r = await jetStreamSource<T>(opts).createReader(operatorContext(subtask, parallelism));
  if (restore !== undefined) r.restoreState!(restore);
  return r;
}

async function streamMessages(stream: string): Promise<{ subject: string; msgId: string | undefined; data: string }[]> {
  const info = await jsm.streams.info(stream);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m !== null) out.push({ subject: m.subject, msgId: m.header?.get('Nats-Msg-Id') || undefined, data: dec.decode(m.data) });
  }
  return out;
}

const ids = (xs: { id: number }[]) => xs.map((x) => x.id).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('JetStream source in a job', () => {
  it.each([1, 2])('reads a stream fully in bounded mode with parallelism %i', async (parallelism) => {
    const { stream, subjects } = await createStream(['a', 'b', 'c']);
    await publishJson(records(subjects, 300));
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism });
    // A small buffer makes the readers stop and resume pulling many times.
    const out = await env
      .fromSource(jetStreamSource<{ id: number }>({ stream, bounded: true, maxBuffered: 16 }))
      .map((r) => r.id)
      .executeAndCollect(`js-bounded-p${parallelism}`);
    expect(out.sort((a, b) => a - b)).toEqual(range(0, 300));
  });

  it('with explicit subjects reads only those, and a message that does not decode fails the job with EDDY_DECODE', async () => {
    const { stream, subjects } = await createStream(['a', 'b', 'skip']);
    await publishJson(records(subjects.slice(0, 2), 20));
    await publishJson([{ subject: subjects[2]!, value: { id: 99 } }]);
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism: 2 });
    const out = await env.fromSource(jetStreamSource<{ id: number }>({ stream, subjects: subjects.slice(0, 2), bounded: true })).executeAndCollect('js-subjects');
    expect(ids(out)).toEqual(range(0, 20));

    const seq = (await js.publish(subjects[1]!, enc.encode('{"id": broken'))).seq;
    env
      .fromSource(jetStreamSource({ stream, bounded: true }))
      .filter(() => false)
      .print();
    const err = await env.execute('js-decode').catch((e) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    const info = (err as JobFailedError).result.error!;
    expect(info.code).toBe('EDDY_DECODE');
    expect(info.message).toContain(`sequence ${seq} of stream "${stream}"`);
    expect(info.message).toContain(subjects[1]!);
  });
});

describe('JetStream source reader: replay from split state', () => {
  it('continues exactly after the snapshot (no loss, no duplicate), with JetStream timestamps', async () => {
    const { stream, subjects } = await createStream(['x', 'y']);
    const before = systemClock.now();
    await publishJson(records(subjects, 40));
    const after = systemClock.now();

    const r1 = await reader<{ id: number }>({ stream, timestamp: 'jetstream', maxBuffered: 8 });
    const first = await pollRecords(r1, 15);
    const state = r1.snapshotState!();
    await r1.close!();
    expect(first.values).toHaveLength(15);
    for (const ts of first.timestamps) {
      expect(ts).toBeGreaterThanOrEqual(before - 1000);
      expect(ts).toBeLessThanOrEqual(after + 1000);
    }
    expect(state).toHaveLength(2);
    expect(state.map((s) => (s as { subject: string }).subject).sort()).toEqual([...subjects].sort());

    const r2 = await reader<{ id: number }>({ stream }, 0, 1, state);
    const rest = await pollRecords(r2, 25);
    expect(rest.timestamps.every((t) => t === NO_TIMESTAMP)).toBe(true);
    expect(ids([...first.values, ...rest.values])).toEqual(range(0, 40));
    await expectNothingMore(r2, subjects);
    // Unbounded: a message published now arrives too.
    await publishJson(records(subjects, 1, 40));
    expect((await pollRecords(r2, 1)).values).toEqual([{ id: 40 }]);
    await r2.close!();
  });

  it('splits of two old readers given to one new reader (rescale 2 -> 1) continue exactly', async () => {
    const { stream, subjects } = await createStream(['x', 'y']);
    await publishJson(records(subjects, 40));
    const old0 = await reader<{ id: number }>({ stream }, 0, 2);
    const old1 = await reader<{ id: number }>({ stream }, 1, 2);
    const got0 = await pollRecords(old0, 5);
    const got1 = await pollRecords(old1, 8);
    // Split k belongs to subtask k % parallelism: one subject each.
    expect(new Set(got0.values.map((v) => v.id % 2))).toEqual(new Set([0]));
    expect(new Set(got1.values.map((v) => v.id % 2))).toEqual(new Set([1]));
    const s0 = old0.snapshotState!();
    const s1 = old1.snapshotState!();
    await Promise.all([old0.close!(), old1.close!()]);
    expect(s0).toEqual([{ subject: subjects[0], seq: 9 }]);
    expect(s1).toEqual([{ subject: subjects[1], seq: 16 }]);

    const merged = await reader<{ id: number }>({ stream }, 0, 1, [...s0, ...s1]);
    const rest = await pollRecords(merged, 40 - 13);
    expect(ids([...got0.values, ...got1.values, ...rest.values])).toEqual(range(0, 40));
    await expectNothingMore(merged, subjects);
    await merged.close!();

    // And 1 -> 2: one reader's two splits dealt to two readers; a reader with no split idles.
    const whole = await reader<{ id: number }>({ stream });
    const part = await pollRecords(whole, 11);
    const [a, b] = whole.snapshotState!();
    await whole.close!();
    const n0 = await reader<{ id: number }>({ stream }, 0, 3, [a]);
    const n1 = await reader<{ id: number }>({ stream }, 1, 3, [b]);
    const n2 = await reader<{ id: number }>({ stream }, 2, 3, []);
    const [r0, r1] = await Promise.all([pollRecords(n0, 20 - part.values.filter((v) => v.id % 2 === 0).length), pollRecords(n1, 20 - part.values.filter((v) => v.id % 2 === 1).length)]);
    expect(ids([...part.values, ...r0.values, ...r1.values])).toEqual(range(0, 40));
    expect(n2.poll({ collect: () => undefined }, 10)).toBe('wait');
    await Promise.all([n0.close!(), n1.close!(), n2.close!()]);
  });

  it('bounded: the end sequence is in the state, so a restore reads to the same end; startSeq skips the head', async () => {
    const { stream, subjects } = await createStream(['x', 'y']);
    await publishJson(records(subjects, 20));
    const r1 = await reader<{ id: number }>({ stream, bounded: true });
    const first = await pollRecords(r1, 8);
    const state = r1.snapshotState!();
    await r1.close!();
    expect(state.every((s) => (s as { end: number }).end === 20)).toBe(true);

    await publishJson(records(subjects, 10, 20)); // after the first start: not part of the bounded read
    const r2 = await reader<{ id: number }>({ stream, bounded: true }, 0, 1, state);
    const rest = await pollToEnd(r2);
    expect(ids([...first.values, ...rest])).toEqual(range(0, 20));
    // Finished splits stand at their end sequence.
    expect(r2.snapshotState!()).toEqual(subjects.map((subject) => ({ subject, seq: 20, end: 20 })));
    await r2.close!();

    // A fresh bounded start sees the later messages; startSeq 26 starts at sequence 26 (id 25).
    const r3 = await reader<{ id: number }>({ stream, bounded: true, startSeq: 26 });
    expect(ids(await pollToEnd(r3))).toEqual(range(25, 30));
    await r3.close!();
  });

  it('bounded with a split that has no messages, or an empty stream, ends', async () => {
    const { stream, subjects } = await createStream(['x', 'empty']);
    const empty = await reader({ stream, bounded: true });
    expect(await pollToEnd(empty)).toEqual([]);
    await empty.close!();
    await publishJson(records([subjects[0]!], 5));
    const r = await reader<{ id: number }>({ stream, bounded: true });
    expect(ids(await pollToEnd(r))).toEqual(range(0, 5));
    await r.close!();
  });

  it('formats: msgpack, string and raw', async () => {
    const { stream, subjects } = await createStream(['s']);
    await js.publish(subjects[0]!, enc.encode('héllo'));
    const s = await reader<string>({ stream, format: 'string', bounded: true });
    expect(await pollToEnd(s)).toEqual(['héllo']);
    const raw = await reader<Uint8Array>({ stream, format: 'raw', bounded: true });
    expect((await pollToEnd(raw)).map((b) => dec.decode(b))).toEqual(['héllo']);
    await Promise.all([s.close!(), raw.close!()]);
  });
});

describe('JetStream sink writer', () => {
  function sinkContext(checkpointing: boolean, restoredState?: unknown[]): SinkContext {
    return { operator: operatorContext(0, 1, checkpointing), runtime: {} as RuntimeContext, restoredState };
  }

  it('with checkpointing publishes a checkpoint on completion, and a restored re-commit is deduplicated', async () => {
    const { stream, prefix } = await createStream(['>']);
    const sink = jetStreamSink<{ k: string; n: number }>({ subject: (v) => `${prefix}.${v.k}`, stream });
    const w = await sink.createWriter(sinkContext(true));
    for (let n = 0; n < 10; n++) w.invoke({ k: n % 2 ? 'odd' : 'even', n }, NO_TIMESTAMP);
    const state = w.snapshotState!(1);
    expect(state).toHaveLength(1);
    expect((await jsm.streams.info(stream)).state.messages).toBe(0);
    await w.notifyCheckpointComplete!(1);
    expect((await jsm.streams.info(stream)).state.messages).toBe(10);

    // A crash after the commit: the restored writer commits the same transaction again.
    const w2 = await sink.createWriter(sinkContext(true, state));
    await w2.close!();
    await w.close!();
    const msgs = await streamMessages(stream);
    expect(msgs).toHaveLength(10);
    expect(msgs.map((m) => JSON.parse(m.data).n)).toEqual(range(0, 10));
    const txnId = (state[0] as { id: string }).id;
    expect(txnId).toContain('0-1');
    expect(msgs.map((m) => m.msgId)).toEqual(range(0, 10).map((i) => `js-op-uid/${txnId}/${i}`));
    expect(msgs[1]!.subject).toBe(`${prefix}.odd`);
  });

  it('without checkpointing publishes in batches: everything is there after finish()', async () => {
    const { stream, subjects } = await createStream(['out']);
    const w = await jetStreamSink<string>({ subject: subjects[0]!, format: 'string' }).createWriter(sinkContext(false));
    // 2500 records: two batches of 1000 while invoking, the rest at finish; batches must not share message ids.
    for (let n = 0; n < 2500; n++) w.invoke(`r${n}`, NO_TIMESTAMP);
    await w.finish!();
    await w.close!();
    expect((await jsm.streams.info(stream)).state.messages).toBe(2500);
    const msgs = await streamMessages(stream);
    expect(msgs.map((m) => m.data)).toEqual(range(0, 2500).map((n) => `r${n}`));
  });

  it('in a job (no checkpointing yet): every record arrives', async () => {
    const { stream, subjects } = await createStream(['job']);
    const env = StreamEnvironment.create({ nats: natsUrl, parallelism: 2 });
    env.fromGenerator(500, (i) => ({ i })).sinkTo(jetStreamSink({ subject: subjects[0]!, format: 'msgpack', stream }));
    await env.execute('js-sink-job');
    expect((await jsm.streams.info(stream)).state.messages).toBe(500);
  });
});

describe('JetStream connector errors', () => {
  it('a missing stream is an EDDY_CONFIG error naming it and saying how to create it', async () => {
    const e1 = await expectEddyError(() => jetStreamSource({ stream: 'EDDY_NO_SUCH_STREAM' }).createReader(operatorContext(0, 1)), 'EDDY_CONFIG');
    expect(e1.message).toMatch(/stream "EDDY_NO_SUCH_STREAM" does not exist.*nats stream add EDDY_NO_SUCH_STREAM/);
    const e2 = await expectEddyError(
      () => jetStreamSink({ subject: 'x.y', stream: 'EDDY_NO_SUCH_STREAM' }).createWriter({ operator: operatorContext(0, 1), runtime: {} as RuntimeContext, restoredState: undefined }),
      'EDDY_CONFIG',
    );
    expect(e2.message).toContain('"EDDY_NO_SUCH_STREAM" does not exist');
  });

  it('an undecodable message fails poll with EDDY_DECODE naming source, stream, subject and sequence, every time', async () => {
    const { stream, subjects } = await createStream(['m']);
    await publishJson(records(subjects, 3));
    const bad = (await js.publish(subjects[0]!, enc.encode('{"id": 3,'))).seq;
    await publishJson(records(subjects, 1, 4));
    const r = await reader<{ id: number }>({ stream, bounded: true });
    const err = await expectEddyError(() => pollToEnd(r), 'EDDY_DECODE');
    expect(err.message).toContain(`JetStream Source ${stream}`);
    expect(err.message).toContain(`sequence ${bad} of stream "${stream}" (subject "${subjects[0]}")`);
    // It does not skip: the next poll fails on the same message.
    await expectEddyError(() => pollToEnd(r), 'EDDY_DECODE');
    await r.close!();
  });

  it('a publish no stream captures fails the commit with EDDY_CONFIG', async () => {
    const w = await jetStreamSink<number>({ subject: `jsconn.${process.pid}.nostream` }).createWriter({
      operator: operatorContext(0, 1, true),
      runtime: {} as RuntimeContext,
      restoredState: undefined,
    });
    w.invoke(1, NO_TIMESTAMP);
    w.snapshotState!(1);
    const e = await expectEddyError(() => w.notifyCheckpointComplete!(1), 'EDDY_CONFIG');
    expect(e.message).toContain(`no JetStream stream captures subject "jsconn.${process.pid}.nostream"`);
  });
});
