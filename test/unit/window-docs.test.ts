// The TSDoc examples of the window API, run as written (around them: the data they need and what they give).
import { describe, expect, it } from 'vitest';
import {
  CountEvictor,
  CountTrigger,
  EventTimeSessionWindows,
  GlobalWindows,
  OutputTag,
  ProcessAllWindowFunction,
  ProcessWindowFunction,
  StreamEnvironment,
  TimeEvictor,
  TimeWindow,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  type Collector,
  type GlobalWindow,
  type ProcessWindowContext,
  type TaggedUnion,
} from '../../index.ts';
import type { OneInputTransformation } from '../../src/graph/transformation.ts';
import type { StreamOperator } from '../../src/operators/operator.ts';
import { MergingWindowSet } from '../../src/operators/window-merging-set.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import { OperatorHarness } from '../../src/testing/index.ts';

interface Reading {
  sensor: string;
  temperature: number;
}
interface Click {
  user: string;
  premium: boolean;
}

const operatorOf = <T, R>(stream: { transformation: unknown }): StreamOperator<T, R> => (stream.transformation as OneInputTransformation).factory();

describe('TSDoc examples of the window API', () => {
  it('WindowedStream: maxima per sensor and minute, late readings to a side output', async () => {
    const readings = StreamEnvironment.create().fromCollection<Reading>([]);
    // --- example
    const late = new OutputTag<Reading>('late');
    const maxima = readings
      .keyBy((r) => r.sensor)
      .window(TumblingEventTimeWindows.of(60_000))
      .allowedLateness(5_000)
      .sideOutputLateData(late)
      .reduce((a, b) => (b.temperature > a.temperature ? b : a));
    const tooLate = maxima.getSideOutput(late);
    // ---
    expect(tooLate.transformation.kind).toBe('side-output');
    const h = new OperatorHarness(operatorOf<Reading, Reading>(maxima), { keySelector: (r) => r.sensor });
    await h.open();
    h.processElement({ sensor: 's', temperature: 20 }, 1_000);
    h.processElement({ sensor: 's', temperature: 25 }, 2_000);
    h.processWatermark(65_000);
    h.processElement({ sensor: 's', temperature: 30 }, 3_000);
    expect(h.getSideOutput(late)).toEqual([{ sensor: 's', temperature: 30 }]);
    expect(h.getRecordOutput()).toEqual([{ value: { sensor: 's', temperature: 25 }, timestamp: 59_999 }]);
  });

  it('ProcessWindowFunction (CountPerWindow) and ProcessAllWindowFunction (Top3)', async () => {
    // --- examples
    class CountPerWindow extends ProcessWindowFunction<Click, string, string, TimeWindow> {
      process(user: string, ctx: ProcessWindowContext<TimeWindow>, clicks: readonly Click[], out: Collector<string>) {
        out.collect(`${user}: ${clicks.length} clicks in [${ctx.window().start}, ${ctx.window().end})`);
      }
    }
    class Top3 extends ProcessAllWindowFunction<number, number[], TimeWindow> {
      process(_ctx: ProcessWindowContext<TimeWindow>, xs: readonly number[], out: Collector<number[]>) {
        out.collect([...xs].sort((a, b) => b - a).slice(0, 3));
      }
    }
    // ---
    const env = StreamEnvironment.create();
    const perUser = env.fromCollection<Click>([]).keyBy((c) => c.user).window(TumblingEventTimeWindows.of(10)).process(new CountPerWindow());
    const a = new OperatorHarness(operatorOf<Click, string>(perUser), { keySelector: (c) => c.user });
    await a.open();
    a.processElement({ user: 'ann', premium: false }, 3);
    a.processElement({ user: 'ann', premium: false }, 4);
    await a.endInput();
    expect(a.getOutput()).toEqual(['ann: 2 clicks in [0, 10)']);
    const top = env.fromCollection<number>([]).windowAll(TumblingEventTimeWindows.of(10)).process(new Top3());
    const b = new OperatorHarness(operatorOf<number, number[]>(top), { keySelector: () => 0 });
    await b.open();
    for (const x of [4, 9, 1, 7, 3]) b.processElement(x, x);
    await b.endInput();
    expect(b.getOutput()).toEqual([[9, 7, 4]]);
  });

  it('evictors: the last five elements, and the last ten seconds, recomputed on every element', async () => {
    const keyed = StreamEnvironment.create()
      .fromCollection<number>([])
      .keyBy(() => 'k');
    const lastFive = (_k: string, _c: ProcessWindowContext<GlobalWindow>, xs: readonly number[], out: Collector<string>) => out.collect(xs.join(','));
    const lastTenSeconds = lastFive;
    // --- examples
    const a = keyed.window(GlobalWindows.create()).trigger(CountTrigger.of(1)).evictor(CountEvictor.of(5)).process(lastFive);
    const b = keyed.window(GlobalWindows.create()).trigger(CountTrigger.of(1)).evictor(TimeEvictor.of(10_000)).process(lastTenSeconds);
    // ---
    const ha = new OperatorHarness(operatorOf<number, string>(a), { keySelector: () => 'k' });
    const hb = new OperatorHarness(operatorOf<number, string>(b), { keySelector: () => 'k' });
    await ha.open();
    await hb.open();
    for (let i = 1; i <= 7; i++) {
      ha.processElement(i, i * 4_000);
      hb.processElement(i, i * 4_000);
    }
    expect(ha.getOutput().at(-1)).toBe('3,4,5,6,7');
    expect(hb.getOutput().at(-1)).toBe('5,6,7'); // 28 s - 10 s = 18 s: 16 s and older are out
  });

  it('session windows with a dynamic gap, through the operator', async () => {
    const clicks = StreamEnvironment.create().fromCollection<Click>([]);
    // --- example
    const sessions = clicks.keyBy((c) => c.user).window(EventTimeSessionWindows.withDynamicGap((c: Click) => (c.premium ? 60_000 : 10_000)));
    // ---
    const out = sessions.process((user: string, ctx: ProcessWindowContext<TimeWindow>, cs: readonly Click[], o: Collector<string>) => o.collect(`${user} ${ctx.window().start}-${ctx.window().end} ${cs.length}`));
    const h = new OperatorHarness(operatorOf<Click, string>(out), { keySelector: (c) => c.user });
    await h.open();
    h.processElement({ user: 'a', premium: true }, 0); // [0, 60 000)
    h.processElement({ user: 'a', premium: false }, 55_000); // [55 000, 65 000): merges
    h.processElement({ user: 'b', premium: false }, 0);
    h.processElement({ user: 'b', premium: false }, 15_000); // 5 s after b's session ended: a new one
    await h.endInput();
    expect(h.getOutput()).toEqual(['b 0-10000 1', 'b 15000-25000 1', 'a 0-65000 2']);
  });

  it('a window join with allowed lateness and a rich join function (JoinWithWindow example)', async () => {
    interface Order {
      id: number;
      ts: number;
    }
    interface Payment {
      orderId: number;
      ts: number;
    }
    const env = StreamEnvironment.create();
    const orders = env.fromCollection<Order>([]);
    const payments = env.fromCollection<Payment>([]);
    const opened: string[] = [];
    // --- example (with the join function as an object, which gets open/close)
    const joined = orders
      .join(payments)
      .where((o) => o.id)
      .equalTo((p) => p.orderId)
      .window(TumblingEventTimeWindows.of(60_000))
      .allowedLateness(10_000)
      .apply({ open: (ctx) => void opened.push(ctx.operatorName), join: (o: Order, p: Payment) => ({ id: o.id, paidAt: p.ts }) });
    // ---
    const tagged = (u: TaggedUnion<Order, Payment>) => (u[0] === 1 ? u[1].id : u[1].orderId);
    const h = new OperatorHarness(operatorOf<TaggedUnion<Order, Payment>, { id: number; paidAt: number }>(joined), { keySelector: tagged });
    await h.open();
    expect(opened).toEqual(['Window(TumblingEventTimeWindows(60000), EventTimeTrigger(), join)']);
    h.processElement([1, { id: 7, ts: 1_000 }], 1_000);
    h.processElement([2, { orderId: 7, ts: 2_000 }], 2_000);
    h.processElement([2, { orderId: 8, ts: 2_000 }], 2_000);
    h.processWatermark(65_000);
    h.processElement([2, { orderId: 7, ts: 3_000 }], 3_000); // late, within the allowed lateness: the window joins again
    expect(h.getRecordOutput()).toEqual([
      { value: { id: 7, paidAt: 2_000 }, timestamp: 59_999 },
      { value: { id: 7, paidAt: 2_000 }, timestamp: 59_999 },
      { value: { id: 7, paidAt: 3_000 }, timestamp: 59_999 },
    ]);
  });

  it('MergingWindowSet: windows merge into the state window of one of them', () => {
    const backend = new HeapKeyedStateBackend('test', 128);
    backend.setCurrentKey('k');
    const mergingState = backend.getState(new ValueStateDescriptor<[string | number, string | number][] | undefined>('set', undefined));
    const noMerge = () => {
      throw new Error('no merge expected');
    };
    const merges: unknown[] = [];
    const merge = (result: TimeWindow, merged: TimeWindow[], stateWindow: string | number, mergedStateWindows: (string | number)[]) =>
      merges.push([String(result), merged.map(String), stateWindow, mergedStateWindows]);
    // --- example
    const set = new MergingWindowSet(EventTimeSessionWindows.withGap(10), mergingState);
    set.addWindow(new TimeWindow(0, 10), noMerge); // [0, 10) -> state [0, 10)
    set.addWindow(new TimeWindow(5, 15), merge); // [0, 15) -> state [0, 10); merge([0, 15), [[0, 10)], "0:10", [])
    set.persist();
    // ---
    expect(merges).toEqual([['TimeWindow{start=0, end=15}', ['TimeWindow{start=0, end=10}'], '0:10', []]]);
    expect(mergingState.value()).toEqual([['0:15', '0:10']]);
    // A window inside an in-flight one changes nothing; one that bridges two merges both, keeping one state window.
    const again = new MergingWindowSet(EventTimeSessionWindows.withGap(10), mergingState);
    expect(String(again.addWindow(new TimeWindow(3, 8), noMerge))).toBe('TimeWindow{start=0, end=15}');
    again.addWindow(new TimeWindow(30, 40), noMerge);
    expect(String(again.addWindow(new TimeWindow(14, 31), merge))).toBe('TimeWindow{start=0, end=40}');
    expect(merges.at(-1)).toEqual(['TimeWindow{start=0, end=40}', ['TimeWindow{start=0, end=15}', 'TimeWindow{start=30, end=40}'], '0:10', ['30:40']]);
    expect(again.getStateWindow('0:40')).toBe('0:10');
    again.retireWindow('0:40');
    again.persist();
    expect(mergingState.value()).toBeUndefined();
  });
});
