// Windowed jobs over NATS: the same results at parallelism 1 and 4, late data deterministically, window joins vs a nested loop.
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import {
  EventTimeSessionWindows,
  OutputTag,
  SlidingEventTimeWindows,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type Collector,
  type DataStream,
  type ProcessWindowContext,
  type TimeWindow,
  type WindowAssigner,
} from '../../index.ts';

const nats = inject('natsUrl');
const env = (parallelism: number) => StreamEnvironment.create({ parallelism, nats, autoWatermarkIntervalMs: 20 });

interface Click {
  user: string;
  page: number;
  ts: number;
}

/** Clicks of 13 users; timestamps grow with the index, disordered by up to 40 ms. */
const click = (i: number): Click => ({ user: `u${(i * 7) % 13}`, page: i % 5, ts: i * 10 - ((i * 7919) % 41) });
const strategy = () => WatermarkStrategy.forBoundedOutOfOrderness<Click>(40).withTimestampAssigner((c) => c.ts);

/** Three windowed results of the same clicks, as sorted strings. */
async function windowedJob(parallelism: number, n: number): Promise<string[]> {
  const e = env(parallelism);
  const clicks = e.fromGenerator(n, click).assignTimestampsAndWatermarks(strategy());
  const keyed = clicks.keyBy((c) => c.user);
  const show = (k: string, w: TimeWindow, what: string) => `${k} [${w.start},${w.end}) ${what}`;
  const tumbling = keyed
    .window(TumblingEventTimeWindows.of(500))
    .aggregate(
      { createAccumulator: () => 0, add: (c: Click, n: number) => n + 1, getResult: (n: number) => n },
      (k: string, ctx: ProcessWindowContext<TimeWindow>, [n]: readonly number[], out: Collector<string>) => out.collect(show(k, ctx.window(), `count ${n}`)),
    );
  const sliding = keyed
    .window(SlidingEventTimeWindows.of(1000, 250))
    .reduce(
      (a, b) => ({ ...a, page: a.page + b.page }),
      (k: string, ctx: ProcessWindowContext<TimeWindow>, [c]: readonly Click[], out: Collector<string>) => out.collect(show(k, ctx.window(), `pages ${c!.page}`)),
    );
  const sessions = clicks
    // A user clicks every 130 ms, but not in one second out of three: sessions of about 2 s.
    .filter((c) => (Math.floor(c.ts / 1000) + Number(c.user.slice(1))) % 3 !== 0)
    .keyBy((c) => c.user)
    .window(EventTimeSessionWindows.withGap(180))
    .process((k: string, ctx: ProcessWindowContext<TimeWindow>, cs: readonly Click[], out: Collector<string>) => out.collect(show(k, ctx.window(), `clicks ${cs.length}`)));
  const all = await tumbling.union(sliding, sessions).executeAndCollect(`windows p${parallelism}`);
  return all.sort();
}

describe('windowed jobs over NATS', () => {
  it('give the same results at parallelism 1 and 4 (tumbling aggregate, sliding reduce, session process)', async () => {
    const [one, four] = await Promise.all([windowedJob(1, 3000), windowedJob(4, 3000)]);
    expect(one.length).toBeGreaterThan(500);
    expect(four).toEqual(one);
    // Spot checks against a plain count: every tumbling window of every user.
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const c = click(i);
      const key = `${c.user} [${Math.floor(c.ts / 500) * 500},${Math.floor(c.ts / 500) * 500 + 500}) count`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(one.filter((s) => s.includes(' count ')).sort()).toEqual([...counts].map(([k, n]) => `${k} ${n}`).sort());
  });

  it('late data: punctuated watermarks make lateness deterministic; late clicks reach the side output at any parallelism', async () => {
    const late = new OutputTag<Click>('late');
    // Watermark = the timestamp of each "tick" click: everything older that comes after it is late.
    const events: Click[] = [
      { user: 'a', page: 1, ts: 100 },
      { user: 'b', page: 1, ts: 150 },
      { user: 'tick', page: 0, ts: 1000 },
      { user: 'a', page: 2, ts: 200 }, // late: [0, 1000) fired at watermark 999
      { user: 'a', page: 3, ts: 1200 },
      { user: 'b', page: 4, ts: 1500 },
      { user: 'tick', page: 0, ts: 2500 },
      { user: 'b', page: 5, ts: 1999 }, // late
      { user: 'a', page: 6, ts: 2600 },
    ];
    const run = async (p: number) => {
      const e = env(p);
      const windows = e
        .fromCollection(events)
        .assignTimestampsAndWatermarks(
          WatermarkStrategy.forGenerator<Click>(() => ({ onEvent: (c, ts, out) => c.user === 'tick' && out.emitWatermark(ts), onPeriodicEmit: () => {} })).withTimestampAssigner((c) => c.ts),
        )
        .setParallelism(1) // one watermark sequence, in order with the records
        .keyBy((c) => c.user)
        .window(TumblingEventTimeWindows.of(1000))
        .sideOutputLateData(late)
        .reduce((x, y) => ({ ...x, page: x.page + y.page }));
      const lateOut = windows.getSideOutput(late).map((c) => `late ${c.user} ${c.ts}`);
      return (await windows.map((c) => `${c.user} ${c.page}`).union(lateOut).executeAndCollect(`late p${p}`)).sort();
    };
    const expected = ['a 1', 'a 3', 'a 6', 'b 1', 'b 4', 'late a 200', 'late b 1999', 'tick 0', 'tick 0'].sort();
    expect(await run(1)).toEqual(expected);
    expect(await run(4)).toEqual(expected);
  });
});

interface Order {
  id: number;
  user: number;
  ts: number;
}
interface Payment {
  user: number;
  amount: number;
  ts: number;
}

/** Window join results by a nested loop over both inputs: pairs of equal users in a common window. */
function nestedLoopJoin(orders: Order[], payments: Payment[], windowsOf: (ts: number) => string[]): string[] {
  const out: string[] = [];
  for (const o of orders)
    for (const p of payments) {
      if (o.user !== p.user) continue;
      for (const w of windowsOf(o.ts)) if (windowsOf(p.ts).includes(w)) out.push(`${o.id}:${p.amount}@${w}`);
    }
  return out.sort();
}

/** Session windows of the union of both sides per user: the session of (user, ts) as "start-end". */
function sessionsOf(orders: Order[], payments: Payment[], gap: number): (user: number, ts: number) => string {
  const byUser = new Map<number, number[]>();
  for (const x of [...orders, ...payments]) byUser.set(x.user, [...(byUser.get(x.user) ?? []), x.ts]);
  const sessions = new Map<number, [number, number][]>();
  for (const [user, times] of byUser) {
    const list: [number, number][] = [];
    for (const t of times.sort((a, b) => a - b)) {
      const last = list.at(-1);
      // [t, t + gap) merges with a session it touches.
      if (last !== undefined && t <= last[1]) last[1] = Math.max(last[1], t + gap);
      else list.push([t, t + gap]);
    }
    sessions.set(user, list);
  }
  return (user, ts) => {
    const [s, e] = sessions.get(user)!.find(([s, e]) => s <= ts && ts < e)!;
    return `${s}-${e}`;
  };
}

async function eddyJoin(orders: Order[], payments: Payment[], assigner: WindowAssigner<unknown, TimeWindow>, p: number): Promise<string[]> {
  const e = env(p);
  const ts = <T extends { ts: number }>(s: DataStream<T>) => s.assignTimestampsAndWatermarks(WatermarkStrategy.noWatermarks<T>().withTimestampAssigner((x) => x.ts));
  const joined = ts(e.fromCollection(orders))
    .join(ts(e.fromCollection(payments)))
    .where((o) => o.user)
    .equalTo((x) => x.user)
    .window(assigner)
    .apply((o, x) => ({ id: o.id, amount: x.amount, ts: Math.max(o.ts, x.ts) }));
  // The window a pair came from: its results carry the window's maxTimestamp.
  const out = await joined
    .process<string>({
      processElement(r, ctx, c) {
        c.collect(`${r.id}:${r.amount}@${ctx.timestamp()}`);
      },
    })
    .executeAndCollect(`join p${p}`);
  return out.sort();
}

describe('window join (fast-check, vs a nested loop)', () => {
  const input = fc.record({
    orders: fc.array(fc.record({ user: fc.integer({ min: 0, max: 4 }), ts: fc.integer({ min: 0, max: 400 }) }), { maxLength: 25 }),
    payments: fc.array(fc.record({ user: fc.integer({ min: 0, max: 4 }), ts: fc.integer({ min: 0, max: 400 }), amount: fc.integer({ min: 1, max: 99 }) }), { maxLength: 25 }),
  });

  it('tumbling, sliding and session window joins pair exactly the elements a nested loop pairs', async () => {
    let pairs = 0;
    await fc.assert(
      fc.asyncProperty(input, fc.constantFrom(1, 3), async ({ orders: os, payments }, p) => {
        const orders = os.map((o, id) => ({ ...o, id }));
        const tumbling = nestedLoopJoin(orders, payments, (ts) => [String(Math.floor(ts / 100) * 100 + 99)]);
        expect(await eddyJoin(orders, payments, TumblingEventTimeWindows.of(100), p)).toEqual(tumbling);
        pairs += tumbling.length;
        const sliding = nestedLoopJoin(orders, payments, (ts) => [Math.floor(ts / 50) * 50 + 99, Math.floor(ts / 50) * 50 + 49].map(String));
        expect(await eddyJoin(orders, payments, SlidingEventTimeWindows.of(100, 50), p)).toEqual(sliding);
        const session = sessionsOf(orders, payments, 30);
        const sessionPairs: string[] = [];
        for (const o of orders)
          for (const x of payments)
            if (o.user === x.user && session(o.user, o.ts) === session(x.user, x.ts)) sessionPairs.push(`${o.id}:${x.amount}@${Number(session(o.user, o.ts).split('-')[1]) - 1}`);
        expect(await eddyJoin(orders, payments, EventTimeSessionWindows.withGap(30), p)).toEqual(sessionPairs.sort());
      }),
      {
        numRuns: 6,
        // A fixed case with pairs in every window kind, so the check below never depends on chance.
        examples: [
          [
            {
              orders: [
                { user: 1, ts: 10 },
                { user: 2, ts: 120 },
              ],
              payments: [
                { user: 1, ts: 20, amount: 5 },
                { user: 2, ts: 130, amount: 7 },
              ],
            },
            3,
          ],
        ],
      },
    );
    expect(pairs).toBeGreaterThan(0);
  });
});
