// connect() over NATS: co-map, co-flatMap, co-process and a keyed connect job whose result is the same at parallelism 1 and 3.
import { describe, expect, inject, it } from 'vitest';
import {
  CoProcessFunction,
  KeyedCoProcessFunction,
  StreamEnvironment,
  ValueStateDescriptor,
  WatermarkStrategy,
  type CoFlatMapFunction,
  type CoMapFunction,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type ProcessContext,
  type RuntimeContext,
  type ValueState,
} from '../../index.ts';

const nats = inject('natsUrl');
const env = (parallelism: number) => StreamEnvironment.create({ parallelism, nats });

interface Order {
  id: string;
  amount: number;
  ts: number;
}
interface Payment {
  orderId: string;
  ts: number;
}

const PAY_WITHIN = 100;

/**
 * An order is paid when a payment with `ts <= order.ts + 100` exists (in event time, whatever the
 * arrival order); otherwise its timer at `order.ts + 100` reports it unpaid. Keyed state of both inputs.
 */
class PaidOrders extends KeyedCoProcessFunction<string, Order, Payment, string> {
  private order!: ValueState<Order | undefined>;
  private paidAt!: ValueState<number | undefined>;
  override open(ctx: RuntimeContext): void {
    this.order = ctx.getState(new ValueStateDescriptor<Order | undefined>('order'));
    this.paidAt = ctx.getState(new ValueStateDescriptor<number | undefined>('paidAt'));
  }
  processElement1(o: Order, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const p = this.paidAt.value();
    if (p !== undefined && p <= o.ts + PAY_WITHIN) return out.collect(`paid ${o.id} ${o.amount}`);
    this.order.update(o);
    ctx.timerService().registerEventTimeTimer(o.ts + PAY_WITHIN);
  }
  processElement2(p: Payment, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const o = this.order.value();
    if (o === undefined) return this.paidAt.update(p.ts);
    if (p.ts > o.ts + PAY_WITHIN) return;
    out.collect(`paid ${ctx.getCurrentKey()} ${o.amount}`);
    this.order.clear();
    ctx.timerService().deleteEventTimeTimer(o.ts + PAY_WITHIN);
  }
  override onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    const o = this.order.value();
    if (o === undefined) return;
    out.collect(`unpaid ${ctx.getCurrentKey()} ${o.amount} @${ts}`);
    this.order.clear();
  }
}

function testData(): { orders: Order[]; payments: Payment[] } {
  const orders: Order[] = [];
  const payments: Payment[] = [];
  for (let i = 0; i < 300; i++) {
    orders.push({ id: `o${i}`, amount: i, ts: i * 10 });
    // Every third order is never paid, every fifth is paid too late; some pay before they order.
    if (i % 3 === 0) continue;
    const delay = i % 5 === 0 ? PAY_WITHIN + 1 + (i % 7) : (i * 37) % (PAY_WITHIN + 1) - 40;
    payments.push({ orderId: `o${i}`, ts: Math.max(0, i * 10 + delay) });
  }
  payments.sort((a, b) => a.ts - b.ts);
  return { orders, payments };
}

function reference({ orders, payments }: ReturnType<typeof testData>): string[] {
  const paid = new Map(payments.map((p) => [p.orderId, p.ts]));
  return orders
    .map((o) => {
      const p = paid.get(o.id);
      return p !== undefined && p <= o.ts + PAY_WITHIN ? `paid ${o.id} ${o.amount}` : `unpaid ${o.id} ${o.amount} @${o.ts + PAY_WITHIN}`;
    })
    .sort();
}

async function paidOrdersJob(parallelism: number): Promise<string[]> {
  const { orders, payments } = testData();
  const e = env(parallelism);
  const os = e.fromCollection(orders).assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Order>().withTimestampAssigner((o) => o.ts));
  const ps = e.fromCollection(payments).assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Payment>().withTimestampAssigner((p) => p.ts));
  const out = await os
    .connect(ps)
    .keyBy((o) => o.id, (p) => p.orderId)
    .process(new PaidOrders())
    .executeAndCollect(`paid-orders-p${parallelism}`);
  return out.sort();
}

describe('keyed connect over NATS', () => {
  it('gives the same result at parallelism 1 and 3, equal to a plain reference', async () => {
    const [one, three] = await Promise.all([paidOrdersJob(1), paidOrdersJob(3)]);
    const expected = reference(testData());
    expect(expected.filter((s) => s.startsWith('paid')).length).toBeGreaterThan(100);
    expect(expected.filter((s) => s.startsWith('unpaid')).length).toBeGreaterThan(100);
    expect(one).toEqual(expected);
    expect(three).toEqual(expected);
  });

  it('two KeyedStreams connect keyed: state per key spans both inputs', async () => {
    const seen = new ValueStateDescriptor('seen', 0);
    const e = env(3);
    const a = e.fromCollection(['x', 'y', 'x']).keyBy((s) => s);
    const b = e.fromCollection([{ id: 'x' }, { id: 'z' }]).keyBy((o) => o.id);
    const out = await a
      .connect(b)
      .process<[string, number]>({
        processElement1(_s, ctx) {
          const n = ctx.getState(seen);
          n.update(n.value() + 1);
          ctx.timerService().registerEventTimeTimer(0);
        },
        processElement2(_o, ctx) {
          const n = ctx.getState(seen);
          n.update(n.value() + 10);
          ctx.timerService().registerEventTimeTimer(0);
        },
        // The timer fires at end of input (watermark +Infinity), with the key's final count.
        onTimer(_ts, ctx, out) {
          out.collect([ctx.getCurrentKey() as string, ctx.getState(seen).value()]);
        },
      })
      .executeAndCollect();
    expect(out.sort()).toEqual([
      ['x', 12],
      ['y', 1],
      ['z', 10],
    ]);
  });
});

describe('connect over NATS', () => {
  it('co-map and co-flatMap see every record of both inputs', async () => {
    const inputs = () => {
      const e = env(2);
      return [e.fromCollection(['a b', 'c']), e.fromGenerator(100, (i) => i)] as const;
    };
    const [w1, n1] = inputs();
    const [w2, n2] = inputs();
    const [m, f] = await Promise.all([
      w1.connect(n1).map((s) => `s:${s}`, (n) => `n:${n}`).executeAndCollect(),
      w2.connect(n2).flatMap((s) => s.split(' '), (n) => (n % 10 === 0 ? [String(n)] : [])).executeAndCollect(),
    ]);
    expect(m.sort()).toEqual(['s:a b', 's:c', ...Array.from({ length: 100 }, (_, i) => `n:${i}`)].sort());
    expect(f.sort()).toEqual(['a', 'b', 'c', '0', '10', '20', '30', '40', '50', '60', '70', '80', '90'].sort());
  });

  it('a CoProcessFunction emits to side outputs; a KeyedCoProcessFunction on non-keyed inputs is rejected', async () => {
    const e = env(2);
    class Tag extends CoProcessFunction<number, string, string> {
      processElement1(n: number, ctx: ProcessContext, out: Collector<string>) {
        out.collect(`number ${n} @${ctx.timestamp()}`);
      }
      processElement2(s: string, _ctx: ProcessContext, out: Collector<string>) {
        out.collect(`string ${s}`);
      }
    }
    const out = await e
      .fromCollection([1, 2])
      .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((n) => n * 100))
      .connect(e.fromCollection(['a']))
      .process(new Tag())
      .executeAndCollect();
    expect(out.sort()).toEqual(['number 1 @100', 'number 2 @200', 'string a']);
    expect(() => e.fromCollection([1]).connect(e.fromCollection([2])).process(new PaidOrders() as never)).toThrow(/keyBy\(key1, key2\)/);
    expect(() => e.fromCollection([1]).connect(env(1).fromCollection([2]))).toThrow(/same StreamEnvironment/);
  });
});

describe('TSDoc examples', () => {
  it('DataStream.connect', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const both = await env.fromCollection([1, 2]).connect(env.fromCollection(['x'])).map(String, (s) => s).executeAndCollect();
    expect(both.sort()).toEqual(['1', '2', 'x']);
  });

  it('ConnectedStreams', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const labels = await env
      .fromCollection([1, 2])
      .connect(env.fromCollection(['a']))
      .map((n) => `number ${n}`, (s) => `letter ${s}`)
      .executeAndCollect();
    expect(labels.sort()).toEqual(['letter a', 'number 1', 'number 2']);
  });

  it('KeyedConnectedStreams', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const seen = new ValueStateDescriptor('seen', 0);
    const counts = await env
      .fromCollection(['a', 'b'])
      .connect(env.fromCollection([{ id: 'a' }]))
      .keyBy((s) => s, (o) => o.id)
      .process<[string, number]>({
        processElement1(_s, ctx, out) {
          const n = ctx.getState(seen);
          n.update(n.value() + 1);
          out.collect([ctx.getCurrentKey(), n.value()]);
        },
        processElement2(_o, ctx) {
          const n = ctx.getState(seen);
          n.update(n.value() + 10);
        },
      })
      .executeAndCollect();
    // 'a' counts 1 or 11 depending on which input arrives first; 'b' is 1.
    expect(counts.find(([k]) => k === 'b')).toEqual(['b', 1]);
    expect([1, 11]).toContain(counts.find(([k]) => k === 'a')![1]);
  });

  it('CoMapFunction, CoFlatMapFunction and KeyedCoProcessFunction', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const both: CoMapFunction<number, string, string> = { map1: (n) => `n${n}`, map2: (s) => `s${s}` };
    const out = await env.fromCollection([1]).connect(env.fromCollection(['a'])).map(both).executeAndCollect();
    expect(out.sort()).toEqual(['n1', 'sa']);
    const split: CoFlatMapFunction<string, number, string> = {
      flatMap1: (line, out) => line.split(' ').forEach((w) => out.collect(w)),
      flatMap2: (n, out) => out.collect(String(n)),
    };
    const words = await env.fromCollection(['x y']).connect(env.fromCollection([3])).flatMap(split).executeAndCollect();
    expect(words.sort()).toEqual(['3', 'x', 'y']);

    type Order = { id: string };
    type Payment = { orderId: string };
    class Match extends KeyedCoProcessFunction<string, Order, Payment, string> {
      private paid!: ValueState<boolean>;
      override open(ctx: RuntimeContext) {
        this.paid = ctx.getState(new ValueStateDescriptor('paid', false));
      }
      processElement1(_o: Order, ctx: KeyedProcessContext<string>, out: Collector<string>) {
        if (this.paid.value()) out.collect(`${ctx.getCurrentKey()} paid`);
      }
      processElement2(_p: Payment, _ctx: KeyedProcessContext<string>) {
        this.paid.update(true);
      }
    }
    const orders = env.fromCollection<Order>([]);
    const payments = env.fromCollection<Payment>([]);
    const matched = orders.connect(payments).keyBy((o) => o.id, (p) => p.orderId).process(new Match());
    expect(await matched.executeAndCollect()).toEqual([]);
  });
});
