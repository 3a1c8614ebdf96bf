// connect(): co-map, co-flatMap, CoProcessFunction and KeyedCoProcessFunction through the two-input harness.
import { describe, expect, it } from 'vitest';
import { ManualClock, OperatorHarness, TwoInputOperatorHarness, type TwoInputOperatorHarnessOptions } from 'eddy/testing';
import {
  CoProcessFunction,
  KeyedCoProcessFunction,
  type CoFlatMapFunction,
  type CoMapFunction,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type ProcessContext,
  type RuntimeContext,
} from '../../src/functions/functions.ts';
import { OutputTag } from '../../src/functions/output-tag.ts';
import { CoFlatMapOperator, CoMapOperator } from '../../src/operators/co-map-operator.ts';
import { CoProcessOperator } from '../../src/operators/co-process-operator.ts';
import { MapOperator } from '../../src/operators/map-operator.ts';
import { ValueStateDescriptor, type ValueState } from '../../src/state/descriptors.ts';
import { keyGroupOf } from '../../src/state/key-group.ts';
import { expectEddyError } from '../support/eddy-error.ts';

/** Counts the records of each key over both inputs and emits the count after each one. */
class CountBoth extends KeyedCoProcessFunction<string, string, string, number> {
  private n!: ValueState<number>;
  override open(ctx: RuntimeContext): void {
    this.n = ctx.getState(new ValueStateDescriptor('n', 0));
  }
  processElement1(_s: string, _ctx: KeyedProcessContext<string>, out: Collector<number>): void {
    this.n.update(this.n.value() + 1);
    out.collect(this.n.value());
  }
  processElement2(_s: string, _ctx: KeyedProcessContext<string>, out: Collector<number>): void {
    this.n.update(this.n.value() + 1);
    out.collect(this.n.value());
  }
}

interface Order {
  id: string;
  amount: number;
}
interface Payment {
  orderId: string;
}

/** Emits an order once it is paid; an order unpaid 100 ms (event time) after it arrived times out. */
class PaidOrders extends KeyedCoProcessFunction<string, Order, Payment, string> {
  static readonly timedOut = new OutputTag<string>('timed-out');
  private order!: ValueState<Order | undefined>;
  private paid!: ValueState<boolean>;
  override open(ctx: RuntimeContext): void {
    this.order = ctx.getState(new ValueStateDescriptor<Order | undefined>('order'));
    this.paid = ctx.getState(new ValueStateDescriptor('paid', false));
  }
  processElement1(o: Order, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    if (this.paid.value()) return out.collect(`${o.id} paid ${o.amount}`);
    this.order.update(o);
    ctx.timerService().registerEventTimeTimer(ctx.timestamp()! + 100);
  }
  processElement2(_p: Payment, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const o = this.order.value();
    if (o === undefined) return this.paid.update(true);
    out.collect(`${o.id} paid ${o.amount}`);
    this.order.clear();
    ctx.timerService().deleteEventTimeTimer(ctx.timestamp()! + 100);
  }
  override onTimer(ts: number, ctx: OnTimerContext<string>): void {
    if (this.order.value() === undefined) return;
    ctx.output(PaidOrders.timedOut, `${ctx.getCurrentKey()}@${ts}`);
    this.order.clear();
  }
}

const orderKeys: TwoInputOperatorHarnessOptions<Order, Payment> = { keySelector1: (o) => o.id, keySelector2: (p) => p.orderId };
const paidOrders = () => new CoProcessOperator<Order, Payment, string>('Paid', new PaidOrders(), (o) => o.id, (p) => p.orderId);

describe('TSDoc examples', () => {
  it('CoProcessOperator', async () => {
    const op = new CoProcessOperator<number, string, string>('Both', {
      processElement1: (n, _ctx, out) => out.collect(`n${n}`),
      processElement2: (s, _ctx, out) => out.collect(`s${s}`),
    });
    const h = new TwoInputOperatorHarness(op);
    await h.open();
    h.processElement1(1);
    h.processElement2('a');
    expect(h.getOutput()).toEqual(['n1', 'sa']);
  });

  it('CoMapOperator', async () => {
    const h = new TwoInputOperatorHarness(new CoMapOperator<number, string, string>('Co-Map', { map1: String, map2: (s) => s.toUpperCase() }));
    await h.open();
    h.processElement1(7, 100);
    h.processElement2('x', 200);
    expect(h.getRecordOutput()).toEqual([{ value: '7', timestamp: 100 }, { value: 'X', timestamp: 200 }]);
  });

  it('CoFlatMapOperator', async () => {
    const split = (s: string) => s.split(' ');
    const h = new TwoInputOperatorHarness(new CoFlatMapOperator<string, number, string>('Co-Flat Map', [split, (n) => [String(n)]]));
    await h.open();
    h.processElement1('a b');
    h.processElement2(3);
    expect(h.getOutput()).toEqual(['a', 'b', '3']);
  });

  it('TwoInputOperatorHarness', async () => {
    const op = new CoMapOperator<number, string, string>('Co-Map', { map1: (n) => `#${n}`, map2: (s) => s });
    const h = new TwoInputOperatorHarness(op);
    await h.open();
    h.processElement1(1, 10);
    h.processElement2('b', 20);
    h.processWatermark1(15);
    h.processWatermark2(12);
    expect(h.getRecordOutput()).toEqual([{ value: '#1', timestamp: 10 }, { value: 'b', timestamp: 20 }]);
    expect(h.getWatermarks()).toEqual([12]);
  });

  it('TwoInputOperatorHarnessOptions', async () => {
    const options: TwoInputOperatorHarnessOptions<{ id: string }, [string, number]> = {
      keySelector1: (o) => o.id,
      keySelector2: ([id]) => id,
      parallelism: 2,
      subtaskIndex: 0,
    };
    const h = new TwoInputOperatorHarness(new CoMapOperator<{ id: string }, [string, number], string>('M', { map1: (o) => o.id, map2: ([id]) => id }), options);
    await h.open();
    expect(h.keyGroups).toEqual({ start: 0, end: 63 });
  });

  it('TwoInputOperatorHarness.restore', async () => {
    const make = () => new CoProcessOperator<string, string, number>('Count', new CountBoth(), (s) => s, (s) => s);
    const keys = { keySelector1: (s: string) => s, keySelector2: (s: string) => s };
    const first = new TwoInputOperatorHarness(make(), keys);
    await first.open();
    first.processElement1('a');
    const second = await TwoInputOperatorHarness.restore(make(), first.snapshot(), keys);
    second.processElement2('a');
    expect(second.getOutput()).toEqual([2]);
  });

  it('TwoInputOperatorHarness.forCoProcessFunction', async () => {
    const h = TwoInputOperatorHarness.forCoProcessFunction<number, string, string>({
      processElement1: (n, _ctx, out) => out.collect(`n${n}`),
      processElement2: (s, ctx, out) => out.collect(`${s}@${ctx.timestamp()}`),
    });
    await h.open();
    h.processElement2('x', 5);
    expect(h.getOutput()).toEqual(['x@5']);
  });

  it('TwoInputOperatorHarness.forKeyedCoProcessFunction', async () => {
    const h = TwoInputOperatorHarness.forKeyedCoProcessFunction(new CountBoth(), (s: string) => s, (s: string) => s);
    await h.open();
    h.processElement1('a');
    h.processElement2('a');
    h.processElement2('b');
    expect(h.getOutput()).toEqual([1, 2, 1]);
  });

  it('CoProcessFunction (class form)', async () => {
    class Tag extends CoProcessFunction<number, string, string> {
      processElement1(n: number, ctx: ProcessContext, out: Collector<string>) {
        out.collect(`number ${n} @${ctx.timestamp()}`);
      }
      processElement2(s: string, _ctx: ProcessContext, out: Collector<string>) {
        out.collect(`string ${s}`);
      }
    }
    const h = TwoInputOperatorHarness.forCoProcessFunction(new Tag());
    await h.open();
    h.processElement1(1, 9);
    h.processElement2('z');
    expect(h.getOutput()).toEqual(['number 1 @9', 'string z']);
  });

  it('CoMapFunction and CoFlatMapFunction objects', async () => {
    const both: CoMapFunction<number, string, string> = { map1: (n) => `n${n}`, map2: (s) => `s${s}` };
    const split: CoFlatMapFunction<string, number, string> = {
      flatMap1: (line, out) => line.split(' ').forEach((w) => out.collect(w)),
      flatMap2: (n, out) => out.collect(String(n)),
    };
    const m = new TwoInputOperatorHarness(new CoMapOperator('M', both));
    const f = new TwoInputOperatorHarness(new CoFlatMapOperator('F', split));
    await m.open();
    await f.open();
    m.processElement1(1);
    m.processElement2('a');
    f.processElement1('x y', 3);
    f.processElement2(4);
    expect(m.getOutput()).toEqual(['n1', 'sa']);
    expect(f.getRecordOutput()).toEqual([
      { value: 'x', timestamp: 3 },
      { value: 'y', timestamp: 3 },
      { value: '4', timestamp: undefined },
    ]);
  });
});

describe('CoProcessFunction (non-keyed)', () => {
  it('sees timestamps, emits side outputs and reads time', async () => {
    const odd = new OutputTag<number>('odd');
    const clock = new ManualClock(1_000);
    const h = TwoInputOperatorHarness.forCoProcessFunction<number, string, string>(
      {
        processElement1(n, ctx, out) {
          if (n % 2 === 1) ctx.output(odd, n);
          else out.collect(`even ${n} wm=${ctx.timerService().currentWatermark()}`);
        },
        processElement2(s, ctx, out) {
          out.collect(`${s} now=${ctx.timerService().currentProcessingTime()} ts=${ctx.timestamp()}`);
        },
      },
      { clock },
    );
    await h.open();
    h.processElement1(1, 5);
    h.processWatermark(7);
    h.processElement1(2, 8);
    h.processElement2('s');
    expect(h.getOutput()).toEqual(['even 2 wm=7', 's now=1000 ts=undefined']);
    expect(h.getSideRecordOutput(odd)).toEqual([{ value: 1, timestamp: 5 }]);
    expect(h.getWatermarks()).toEqual([7]);
  });

  it('timers on non-keyed inputs are a clear error', async () => {
    const h = TwoInputOperatorHarness.forCoProcessFunction<number, number, number>({
      processElement1: (n, ctx) => ctx.timerService().registerEventTimeTimer(n),
      processElement2: () => {},
    });
    await h.open();
    const e = await expectEddyError(() => h.processElement1(1, 1), 'EDDY_CONFIG');
    expect(e.message).toMatch(/keyed stream/);
    expect(e.operator).toBe('Co-Process');
  });

  it('errors of either input are attributed to the operator', async () => {
    const h = TwoInputOperatorHarness.forCoProcessFunction<number, number, number>({
      processElement1: () => {},
      processElement2: () => {
        throw new Error('boom');
      },
    });
    await h.open();
    const e = await expectEddyError(() => h.processElement2(1), 'EDDY_USER_FUNCTION');
    expect(e.message).toContain('boom');
  });
});

describe('KeyedCoProcessFunction', () => {
  it('state of a key is shared by both inputs, and keys are isolated', async () => {
    const h = TwoInputOperatorHarness.forKeyedCoProcessFunction(new CountBoth(), (s: string) => s, (s: string) => s);
    await h.open();
    h.processElements1(['a', 'b', 'a']);
    h.processElements2(['a', 'b', 'c']);
    expect(h.getOutput()).toEqual([1, 1, 2, 3, 2, 1]);
  });

  it('getCurrentKey is the key of the record, from either input', async () => {
    const keys: unknown[] = [];
    const h = TwoInputOperatorHarness.forKeyedCoProcessFunction<Order, Payment, string, never>(
      {
        processElement1: (_o, ctx) => void keys.push(ctx.getCurrentKey()),
        processElement2: (_p, ctx) => void keys.push(ctx.getCurrentKey()),
      },
      (o) => o.id,
      (p) => p.orderId,
    );
    await h.open();
    h.processElement1({ id: 'o1', amount: 1 });
    h.processElement2({ orderId: 'o2' });
    expect(keys).toEqual(['o1', 'o2']);
  });

  it('joins an order with its payment in either order; event-time timers time out the unpaid ones', async () => {
    const h = new TwoInputOperatorHarness(paidOrders(), orderKeys);
    await h.open();
    h.processElement1({ id: 'o1', amount: 10 }, 0);
    h.processElement2({ orderId: 'o2' }, 5);
    h.processElement1({ id: 'o2', amount: 20 }, 10);
    h.processElement1({ id: 'o3', amount: 30 }, 20);
    h.processElement2({ orderId: 'o1' }, 50);
    h.processWatermark(119);
    expect(h.getOutput()).toEqual(['o2 paid 20', 'o1 paid 10']);
    expect(h.getSideOutput(PaidOrders.timedOut)).toEqual([]);
    h.processWatermark(120);
    expect(h.getSideRecordOutput(PaidOrders.timedOut)).toEqual([{ value: 'o3@120', timestamp: 120 }]);
    // o1's timer was deleted when it was paid: nothing is left.
    expect(h.snapshot().timers).toBeUndefined();
  });

  it('processing-time timers fire on the clock with the key in scope', async () => {
    const clock = new ManualClock(0);
    const h = TwoInputOperatorHarness.forKeyedCoProcessFunction<string, number, string, string>(
      {
        processElement1: (_s, ctx) => ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + 10),
        processElement2: () => {},
        onTimer: (ts, ctx, out) => out.collect(`${String(ctx.getCurrentKey())} ${ctx.timeDomain()} ${ts} ${ctx.timestamp()}`),
      },
      (s) => s,
      (n) => String(n),
      { clock },
    );
    await h.open();
    h.processElement1('k');
    clock.advance(5);
    h.processElement1('j');
    expect(h.getOutput()).toEqual([]);
    h.advanceProcessingTime(5);
    expect(h.getOutput()).toEqual(['k PROCESSING_TIME 10 undefined']);
    h.advanceProcessingTime(5);
    expect(h.getOutput()).toEqual(['k PROCESSING_TIME 10 undefined', 'j PROCESSING_TIME 15 undefined']);
  });

  it('snapshot and restore keep state and timers, also at another parallelism', async () => {
    const h = new TwoInputOperatorHarness(paidOrders(), orderKeys);
    await h.open();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const [i, id] of ids.entries()) h.processElement1({ id, amount: i }, i);
    h.processElement2({ orderId: 'zz' }, 0);
    const snap = h.snapshot();
    expect(snap.timers?.event).toHaveLength(ids.length);

    // Scale out to 2 subtasks: each restores its own key groups and finishes them.
    const results: string[] = [];
    const timedOut: string[] = [];
    for (const subtaskIndex of [0, 1]) {
      const r = await TwoInputOperatorHarness.restore(paidOrders(), snap, { ...orderKeys, parallelism: 2, subtaskIndex });
      for (const id of [...ids, 'zz']) {
        const g = keyGroupOf(id, 128);
        if (g < r.keyGroups.start || g > r.keyGroups.end) continue;
        if (id === 'zz') r.processElement1({ id, amount: 99 }, 1);
        else if (id < 'd') r.processElement2({ orderId: id }, 50);
      }
      await r.endInput();
      results.push(...r.getOutput());
      timedOut.push(...r.getSideOutput(PaidOrders.timedOut));
    }
    expect(results.sort()).toEqual(['a paid 0', 'b paid 1', 'c paid 2', 'zz paid 99']);
    expect(timedOut.sort()).toEqual(['d@103', 'e@104', 'f@105']);
  });
});

describe('TwoInputOperatorHarness', () => {
  it('forwards the minimum of both input watermarks, only when it advances', async () => {
    const h = new TwoInputOperatorHarness(new CoMapOperator<number, number, number>('M', { map1: (n) => n, map2: (n) => n }));
    await h.open();
    h.processWatermark1(10);
    expect(h.getWatermarks()).toEqual([]);
    h.processWatermark2(5);
    h.processWatermark2(20);
    h.processWatermark1(30);
    h.processWatermark2(25);
    h.processWatermark1(25);
    expect(h.getWatermarks()).toEqual([5, 10, 20, 25]);
  });

  it('checks that input 2 keys belong to the subtask, and the call order', async () => {
    const h = new TwoInputOperatorHarness(new CoProcessOperator<string, string, number>('Count', new CountBoth(), (s) => s, (s) => s), {
      keySelector1: (s: string) => s,
      keySelector2: (s: string) => s,
      parallelism: 2,
      subtaskIndex: 0,
    });
    await expectEddyError(() => h.processElement2('a'), 'EDDY_INVALID_ARGUMENT');
    await h.open();
    const foreign = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((k) => keyGroupOf(k, 128) > 63)!;
    const e = await expectEddyError(() => h.processElement2(foreign), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toMatch(/input 2.*subtask 1/);
    await h.endInput();
    await expectEddyError(() => h.processElement2('a'), 'EDDY_INVALID_ARGUMENT');
    await h.close();
    await expectEddyError(() => h.processElement2('a'), 'EDDY_INVALID_ARGUMENT');
  });

  it('rejects one-input operators and a second key selector without a first', async () => {
    await expectEddyError(() => new TwoInputOperatorHarness(new MapOperator<number, number>('M', (x) => x)), 'EDDY_CONFIG');
    await expectEddyError(
      () => new TwoInputOperatorHarness(new CoMapOperator<number, number, number>('M', { map1: (n) => n, map2: (n) => n }), { keySelector2: (n: number) => n }),
      'EDDY_CONFIG',
    );
  });

  it('is an OperatorHarness: endInput moves the watermark to +Infinity and fires pending timers', async () => {
    const h = new TwoInputOperatorHarness(paidOrders(), orderKeys);
    expect(h).toBeInstanceOf(OperatorHarness);
    await h.open();
    h.processElement1({ id: 'x', amount: 1 }, 7);
    await h.endInput();
    expect(h.getSideOutput(PaidOrders.timedOut)).toEqual(['x@107']);
    expect(h.getWatermarks()).toEqual([Infinity]);
  });
});
