// Event time end to end over NATS: watermarks cross the network, timers fire, idle sources stop holding back.
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { describe, expect, inject, it } from 'vitest';
import {
  KeyedProcessFunction,
  StreamEnvironment,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type RuntimeContext,
} from '../../index.ts';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';

const nats = inject('natsUrl');

interface Ev {
  k: string;
  ts: number;
}

/** A busy record, stamped by its watermark generator: which instance saw it, and the last watermark that instance emitted before it. */
interface Stamped extends Ev {
  src?: number;
  wm?: number;
}

/** Waits until `cond()` holds; fails naming `what` after a generous deadline (it only bounds a hang, it proves nothing). */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * forMonotonousTimestamps (the watermark is the largest timestamp seen minus 1, emitted periodically),
 * instrumented: each record carries its generator instance and the last watermark that instance
 * emitted before it. A channel delivers watermarks and records in the order they were emitted, so an
 * operator that processes the record has already processed that watermark from that instance.
 */
function stampedMonotonous(): WatermarkStrategy<Stamped> {
  let instances = 0;
  return WatermarkStrategy.forGenerator<Stamped>(() => {
    const src = instances++;
    let max = Number.NEGATIVE_INFINITY;
    let emitted = Number.NEGATIVE_INFINITY;
    return {
      onEvent(e, ts) {
        e.src = src;
        e.wm = emitted;
        if (ts > max) max = ts;
      },
      onPeriodicEmit(out) {
        if (max - 1 > emitted) out.emitWatermark((emitted = max - 1));
      },
    };
  }).withTimestampAssigner((e) => e.ts);
}

/** Event time of the records that release a held-back watermark (a multiple of 10 like the generator's, and far beyond them). */
const RELEASE_TS = 1e12;
const PARALLELISM = 2;

interface Firing {
  ts: number;
  key: string;
  /** Whether this keyed subtask had processed a record of the silent source before the timer fired. */
  afterRelease: boolean;
}

/**
 * A busy generator (timestamps i * 10, keys k0..k2, watermarks stamped into its records) united with
 * a silent NATS source (parallelism 1, `idlenessMs` or never idle), keyed, into a function that
 * registers an event-time timer at each record's timestamp. What it observed is readable while it runs.
 */
async function timerJob(idlenessMs: number | undefined) {
  const env = StreamEnvironment.create({ nats, parallelism: PARALLELISM, autoWatermarkIntervalMs: 50 });
  const silentSubject = `event-time.silent.${idlenessMs ?? 'none'}.${randomBytes(4).toString('hex')}`;
  let quiet = WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts);
  if (idlenessMs !== undefined) quiet = quiet.withIdleness(idlenessMs);
  const silent = env.fromNats<Ev>({ subject: silentSubject }).setParallelism(1).assignTimestampsAndWatermarks(quiet).setParallelism(1);
  const busy = env
    .fromGenerator<Stamped>(Infinity, (i) => ({ k: `k${i % 3}`, ts: i * 10 }), { ratePerSecond: 400 })
    .assignTimestampsAndWatermarks(stampedMonotonous());
  // Shared by the per-subtask copies of the function (they run in this process): keyed subtask -> busy instance -> highest watermark seen.
  const busyWatermarks = new Map<number, Map<number, number>>();
  const released = new Set<number>();
  const firings: Firing[] = [];
  class EchoTimers extends KeyedProcessFunction<string, Stamped, number> {
    private subtask = -1;
    override open(ctx: RuntimeContext): void {
      this.subtask = ctx.subtaskIndex;
    }
    processElement(e: Stamped, ctx: KeyedProcessContext<string>): void {
      if (e.src === undefined) released.add(this.subtask);
      else {
        const seen = busyWatermarks.get(this.subtask) ?? new Map<number, number>();
        seen.set(e.src, Math.max(seen.get(e.src) ?? Number.NEGATIVE_INFINITY, e.wm!));
        busyWatermarks.set(this.subtask, seen);
      }
      ctx.timerService().registerEventTimeTimer(e.ts);
    }
    override onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<number>): void {
      firings.push({ ts, key: ctx.getCurrentKey(), afterRelease: released.has(this.subtask) });
      out.collect(ts);
    }
  }
  busy
    .union(silent)
    .keyBy((e) => e.k)
    .process(new EchoTimers())
    .sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
  const client = await env.executeAsync('event-time');
  return {
    client,
    firings,
    /** True once every keyed subtask that got busy records has seen a watermark >= `t` from every busy generator instance. */
    busyWatermarkReached: (t: number) =>
      busyWatermarks.size > 0 && [...busyWatermarks.values()].every((m) => m.size === PARALLELISM && [...m.values()].every((wm) => wm >= t)),
    /** Publishes a silent-source record for every busy key, so every keyed subtask with timers gets one before the silent watermark. */
    release: async () => {
      const nc = await connect(natsConnectionOptions(nats));
      for (const k of ['k0', 'k1', 'k2']) nc.publish(silentSubject, JSON.stringify({ k, ts: RELEASE_TS }));
      await nc.flush();
      await nc.close();
    },
  };
}

/** Timers fire in timestamp order per key, at times the records registered. */
function expectOrderedPerKey(firings: Firing[]): void {
  const byKey = new Map<string, number[]>();
  for (const f of firings) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f.ts]);
  for (const ts of byKey.values()) expect(ts).toEqual([...ts].sort((a, b) => a - b));
  for (const f of firings) expect(f.ts % 10).toBe(0);
}

describe('event time over NATS', () => {
  it('a silent source holds the watermark back; marked idle, it no longer does', async () => {
    const [held, idle] = await Promise.all([timerJob(undefined), timerJob(200)]);
    try {
      // Held: once the busy watermark (>= 1000) has reached every keyed subtask on every busy channel,
      // the timers at 0..1000 are due as far as the busy input goes; none has fired.
      await until(() => held.busyWatermarkReached(1000), 'the busy watermark 1000 at the held job\'s keyed subtasks');
      expect(held.firings).toEqual([]);
      // Released: a record of the silent source lets its watermark through, and the timers fire, only after it.
      await held.release();
      await until(() => held.firings.length > 50, 'more than 50 timers of the held job after the release');
      expect(held.firings.every((f) => f.afterRelease)).toBe(true);
      expect(held.firings.some((f) => f.ts <= 1000)).toBe(true);
      expectOrderedPerKey(held.firings);

      // Idle: the silent source, marked idle, never sends anything, and the timers fire anyway.
      await until(() => idle.firings.length > 50, 'more than 50 timers of the job with an idle source');
      expect(idle.firings.every((f) => !f.afterRelease)).toBe(true);
      expectOrderedPerKey(idle.firings);
    } finally {
      const results = await Promise.all([held.client.cancel(), idle.client.cancel()]);
      for (const r of results) expect(r.status).toBe('canceled');
    }
  });

  it('end of input fires every pending event-time timer, in order per key', async () => {
    const env = StreamEnvironment.create({ nats, parallelism: 3 });
    const events = Array.from({ length: 300 }, (_, i) => ({ k: `k${i % 7}`, ts: (i * 7919) % 1000 }));
    const out = await env
      .fromCollection(events)
      .assignTimestampsAndWatermarks(WatermarkStrategy.noWatermarks<Ev>().withTimestampAssigner((e) => e.ts))
      .keyBy((e) => e.k)
      .process<[string, number]>({
        processElement(e: Ev, ctx: KeyedProcessContext<string>) {
          ctx.timerService().registerEventTimeTimer(e.ts);
        },
        onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<[string, number]>) {
          out.collect([ctx.getCurrentKey(), ts]);
        },
      })
      .executeAndCollect();
    const byKey = new Map<string, number[]>();
    for (const [k, ts] of out) byKey.set(k, [...(byKey.get(k) ?? []), ts]);
    for (const [k, fired] of byKey) {
      const expected = [...new Set(events.filter((e) => e.k === k).map((e) => e.ts))].sort((a, b) => a - b);
      expect(fired).toEqual(expected);
    }
    expect(byKey.size).toBe(7);
  });
});
