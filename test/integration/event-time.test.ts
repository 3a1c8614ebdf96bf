// Event time end to end over NATS: watermarks cross the network, timers fire, idle sources stop holding back.
import { describe, expect, inject, it } from 'vitest';
import { KeyedProcessFunction, StreamEnvironment, WatermarkStrategy, type Collector, type KeyedProcessContext, type OnTimerContext } from '../../index.ts';

const nats = inject('natsUrl');

interface Ev {
  k: string;
  ts: number;
}

/** Registers an event-time timer at each record's timestamp and emits the timer's time when it fires. */
class EchoTimers extends KeyedProcessFunction<string, Ev, number> {
  processElement(e: Ev, ctx: KeyedProcessContext<string>): void {
    ctx.timerService().registerEventTimeTimer(e.ts);
  }
  override onTimer(ts: number, _ctx: OnTimerContext<string>, out: Collector<number>): void {
    out.collect(ts);
  }
}

async function firedWithin(ms: number, idlenessMs: number | undefined): Promise<number[]> {
  const env = StreamEnvironment.create({ nats, parallelism: 2, autoWatermarkIntervalMs: 50 });
  let quiet = WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts);
  if (idlenessMs !== undefined) quiet = quiet.withIdleness(idlenessMs);
  const silent = env.fromNats<Ev>({ subject: `event-time.silent.${idlenessMs ?? 'none'}` }).assignTimestampsAndWatermarks(quiet);
  const busy = env
    .fromGenerator(Infinity, (i) => ({ k: `k${i % 3}`, ts: i * 10 }), { ratePerSecond: 400 })
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts));
  const fired: number[] = [];
  busy
    .union(silent)
    .keyBy((e) => e.k)
    .process(new EchoTimers())
    .sinkTo({ name: 'fired', createWriter: () => ({ invoke: (ts: number) => void fired.push(ts) }) });
  const client = await env.executeAsync('event-time');
  await new Promise((r) => setTimeout(r, ms));
  const result = await client.cancel();
  expect(result.status).toBe('canceled');
  return fired;
}

describe('event time over NATS', () => {
  it('a silent source holds the watermark back; marked idle, it no longer does', async () => {
    const [held, idle] = await Promise.all([firedWithin(1500, undefined), firedWithin(1500, 200)]);
    expect(held).toEqual([]);
    expect(idle.length).toBeGreaterThan(50);
    // Timers fire in timestamp order per key; across keys every fired time is one the generator produced.
    for (const ts of idle) expect(ts % 10).toBe(0);
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
