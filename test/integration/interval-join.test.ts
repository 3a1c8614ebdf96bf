// Interval join over NATS: out-of-order keyed streams joined by time, equal to a nested-loop reference at parallelism 1 and 3.
import { describe, expect, inject, it } from 'vitest';
import { ProcessJoinFunction, StreamEnvironment, WatermarkStrategy, type Collector, type ProcessJoinContext } from '../../index.ts';

const nats = inject('natsUrl');

interface Ev {
  k: string;
  id: string;
  ts: number;
}

const DISORDER = 20;
const [LOWER, UPPER] = [-7, 12];

function data(): { left: Ev[]; right: Ev[] } {
  const left: Ev[] = [];
  const right: Ev[] = [];
  // Timestamps out of order by up to DISORDER - 1 ms, within the watermark bound: nothing is late.
  for (let i = 0; i < 600; i++) left.push({ k: `k${i % 13}`, id: `L${i}`, ts: i * 4 + ((i * 7919) % DISORDER) });
  for (let i = 0; i < 450; i++) right.push({ k: `k${i % 11}`, id: `R${i}`, ts: i * 5 + ((i * 104729) % DISORDER) });
  return { left, right };
}

function reference({ left, right }: ReturnType<typeof data>, upperExclusive: boolean): string[] {
  const out: string[] = [];
  for (const l of left)
    for (const r of right)
      if (l.k === r.k && r.ts >= l.ts + LOWER && (upperExclusive ? r.ts < l.ts + UPPER : r.ts <= l.ts + UPPER))
        out.push(`${l.id}-${r.id}@${Math.max(l.ts, r.ts)}`);
  return out.sort();
}

class Pair extends ProcessJoinFunction<Ev, Ev, string> {
  processElement(l: Ev, r: Ev, ctx: ProcessJoinContext, out: Collector<string>): void {
    if (ctx.getLeftTimestamp() !== l.ts || ctx.getRightTimestamp() !== r.ts) throw new Error('context timestamps do not match the pair');
    out.collect(`${l.id}-${r.id}@${ctx.getTimestamp()}`);
  }
}

async function joinJob(parallelism: number, upperExclusive: boolean): Promise<string[]> {
  const { left, right } = data();
  const env = StreamEnvironment.create({ parallelism, nats, autoWatermarkIntervalMs: 20 });
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Ev>(DISORDER).withTimestampAssigner((e) => e.ts);
  const joined = env
    .fromCollection(left)
    .assignTimestampsAndWatermarks(strategy)
    .keyBy((e) => e.k)
    .intervalJoin(env.fromCollection(right).assignTimestampsAndWatermarks(strategy).keyBy((e) => e.k))
    .between(LOWER, UPPER);
  if (upperExclusive) joined.upperBoundExclusive();
  // The pair's timestamp travels with the record: read it back downstream.
  const out = await joined
    .process(new Pair())
    .process<string>({
      processElement(s, ctx, out) {
        if (!s.endsWith(`@${ctx.timestamp()}`)) throw new Error(`record ${s} carries timestamp ${ctx.timestamp()}`);
        out.collect(s);
      },
    })
    .executeAndCollect(`interval-join-p${parallelism}`);
  return out.sort();
}

describe('interval join over NATS', () => {
  it('equals a nested-loop reference at parallelism 1 and 3', async () => {
    const expected = reference(data(), false);
    expect(expected.length).toBeGreaterThan(100);
    const [one, three] = await Promise.all([joinJob(1, false), joinJob(3, false)]);
    expect(one).toEqual(expected);
    expect(three).toEqual(expected);
  });

  it('an exclusive upper bound leaves out the pairs exactly at it', async () => {
    const expected = reference(data(), true);
    expect(expected.length).toBeLessThan(reference(data(), false).length);
    expect(await joinJob(2, true)).toEqual(expected);
  });

  it('records without timestamps fail the job with a clear error', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const job = env
      .fromCollection([{ k: 'a' }])
      .keyBy((e) => e.k)
      .intervalJoin(env.fromCollection([{ k: 'a' }]).keyBy((e) => e.k))
      .between(0, 1)
      .process<never>({ processElement: () => {} })
      .executeAndCollect();
    await expect(job).rejects.toThrow(/no event timestamp/);
  });
});

describe('TSDoc examples', () => {
  it('KeyedStream.intervalJoin, IntervalJoin, IntervalJoined and ProcessJoinFunction', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const ts = WatermarkStrategy.forMonotonousTimestamps<{ id: string; k: string; ts: number }>().withTimestampAssigner((e) => e.ts);
    const left = env.fromCollection([{ id: 'l', k: 'a', ts: 100 }]).assignTimestampsAndWatermarks(ts);
    const right = env
      .fromCollection([
        { id: 'r1', k: 'a', ts: 105 },
        { id: 'r2', k: 'a', ts: 110 },
      ])
      .assignTimestampsAndWatermarks(ts);
    const pairs = await left
      .keyBy((e) => e.k)
      .intervalJoin(right.keyBy((e) => e.k))
      .between(0, 10)
      .upperBoundExclusive()
      .process<string>({ processElement: (l, r, ctx, out) => out.collect(`${l.id}-${r.id}@${ctx.getTimestamp()}`) })
      .executeAndCollect();
    expect(pairs).toEqual(['l-r1@105']);

    type Order = { id: string };
    type Shipment = { orderId: string };
    type Click = { user: string };
    type View = { user: string; page: string };
    const orders = env.fromCollection<Order>([]);
    const shipments = env.fromCollection<Shipment>([]);
    const byTime = orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.orderId)).between(0, 60_000);
    const clicks = env.fromCollection<Click>([]);
    const views = env.fromCollection<View>([]);
    const joined = clicks.keyBy((c) => c.user).intervalJoin(views.keyBy((v) => v.user)).between(-1_000, 1_000);
    class Pairs extends ProcessJoinFunction<Click, View, string> {
      processElement(c: Click, v: View, ctx: ProcessJoinContext, out: Collector<string>) {
        out.collect(`${c.user}: ${v.page} ${ctx.getRightTimestamp() - ctx.getLeftTimestamp()} ms later`);
      }
    }
    expect(byTime).toBeDefined();
    expect(joined.process(new Pairs())).toBeDefined();
  });
});
