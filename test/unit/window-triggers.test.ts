// Triggers, evictors, window functions, windowAll and configuration errors, through the harness.
import { describe, expect, it } from 'vitest';
import {
  CountEvictor,
  CountTrigger,
  EventTimeSessionWindows,
  EventTimeTrigger,
  GlobalWindows,
  OutputTag,
  ProcessAllWindowFunction,
  ProcessWindowFunction,
  PurgingTrigger,
  ReducingStateDescriptor,
  SlidingEventTimeWindows,
  StreamEnvironment,
  TimeEvictor,
  TimeWindow,
  Trigger,
  TriggerResult,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  type Collector,
  type DataStream,
  type GlobalWindow,
  type KeyedStream,
  type ProcessWindowContext,
  type TriggerContext,
} from '../../index.ts';
import type { OneInputTransformation } from '../../src/graph/transformation.ts';
import { OperatorHarness } from '../../src/testing/index.ts';
import { expectEddyError } from '../support/eddy-error.ts';
import { ev, openHarness, stateIsEmpty, windowOperator, type Ev } from '../support/window-harness.ts';

const sumV = (a: Ev, b: Ev): Ev => ({ k: a.k, v: a.v + b.v });
const listValues = (_k: string, _ctx: ProcessWindowContext<any>, es: readonly Ev[], out: Collector<string>) => out.collect(es.map((e) => e.v).join(','));

/** TSDoc example of Trigger: fires every second element of a window, and at the window's end. */
class EverySecond extends Trigger<unknown, TimeWindow> {
  private readonly count = new ReducingStateDescriptor<number>('n', (a, b) => a + b);
  onElement(_e: unknown, _ts: number, w: TimeWindow, ctx: TriggerContext): TriggerResult {
    ctx.registerEventTimeTimer(w.maxTimestamp());
    const n = ctx.getPartitionedState(this.count);
    n.add(1);
    return n.get()! % 2 === 0 ? TriggerResult.FIRE : TriggerResult.CONTINUE;
  }
  onEventTime(time: number, w: TimeWindow): TriggerResult {
    return time === w.maxTimestamp() ? TriggerResult.FIRE : TriggerResult.CONTINUE;
  }
  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  clear(w: TimeWindow, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(w.maxTimestamp());
    ctx.getPartitionedState(this.count).clear();
  }
}

describe('triggers', () => {
  it('CountTrigger fires every n elements of a GlobalWindow with everything so far; PurgingTrigger makes it what came since', async () => {
    const keep = await openHarness(windowOperator((k) => k.window(GlobalWindows.create()).trigger(CountTrigger.of(3)).reduce(sumV)));
    const purge = await openHarness(windowOperator((k) => k.window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(3))).reduce(sumV)));
    for (const h of [keep, purge]) for (let i = 1; i <= 7; i++) h.processElement(ev('a', i));
    expect(keep.getOutput().map((e) => e.v)).toEqual([6, 21]);
    expect(purge.getOutput().map((e) => e.v)).toEqual([6, 15]);
    // Global windows never end: no timestamps to give but the end of time.
    expect(keep.getRecordOutput()[0]!.timestamp).toBe(Infinity);
    await keep.endInput();
    expect(keep.getOutput()).toHaveLength(2);
  });

  it('PurgingTrigger(EventTimeTrigger) with allowed lateness: a late firing sees only the late element', async () => {
    const h = await openHarness(windowOperator((k) => k.window(TumblingEventTimeWindows.of(10)).trigger(PurgingTrigger.of(EventTimeTrigger.create())).allowedLateness(10).reduce(sumV)));
    h.processElement(ev('a', 1), 1);
    h.processElement(ev('a', 2), 2);
    h.processWatermark(9);
    h.processElement(ev('a', 5), 3);
    expect(h.getOutput().map((e) => e.v)).toEqual([3, 5]);
  });

  it('a custom trigger with per-window state and timers (TSDoc example)', async () => {
    const h = await openHarness(windowOperator((k) => k.window(TumblingEventTimeWindows.of(10)).trigger(new EverySecond()).process(listValues)));
    for (const [v, ts] of [
      [1, 0],
      [2, 1],
      [3, 12],
      [4, 2],
      [5, 3],
    ]) h.processElement(ev('a', v!), ts!);
    expect(h.getOutput()).toEqual(['1,2', '1,2,4,5']);
    h.processWatermark(Infinity);
    expect(h.getOutput()).toEqual(['1,2', '1,2,4,5', '1,2,4,5', '3']);
    expect(stateIsEmpty(h)).toBe(true);
  });

  it('CountTrigger on sessions: the counts of merged sessions add up (onMerge merges trigger state)', async () => {
    const h = await openHarness(windowOperator((k) => k.window(EventTimeSessionWindows.withGap(10)).trigger(CountTrigger.of(3)).process(listValues)));
    h.processElement(ev('a', 1), 0);
    h.processElement(ev('a', 2), 30);
    expect(h.getOutput()).toEqual([]);
    h.processElement(ev('a', 3), 15); // [15, 25) touches neither: a third session
    expect(h.getOutput()).toEqual([]);
    h.processElement(ev('a', 4), 8); // [8, 18) bridges [0, 10) and [15, 25): counts 1 + 1 + 1
    expect(h.getOutput()).toEqual(['1,3,4']);
  });
});

describe('evictors', () => {
  it('CountEvictor keeps the last n elements of a firing window (and in its state)', async () => {
    const h = await openHarness(windowOperator((k) => k.window(GlobalWindows.create()).trigger(CountTrigger.of(3)).evictor(CountEvictor.of(2)).process(listValues)));
    for (let i = 1; i <= 6; i++) h.processElement(ev('a', i));
    expect(h.getOutput()).toEqual(['2,3', '5,6']);
  });

  it('CountEvictor after the function: the function sees everything, the window keeps the last n', async () => {
    const h = await openHarness(windowOperator((k) => k.window(GlobalWindows.create()).trigger(CountTrigger.of(2)).evictor(CountEvictor.of(1, true)).process(listValues)));
    for (let i = 1; i <= 4; i++) h.processElement(ev('a', i));
    expect(h.getOutput()).toEqual(['1,2', '2,3,4']);
  });

  it('TimeEvictor with reduce: the window is reduced after eviction', async () => {
    const h = await openHarness(windowOperator((k) => k.window(TumblingEventTimeWindows.of(100)).evictor(TimeEvictor.of(5)).reduce(sumV)));
    for (const ts of [0, 3, 6, 9]) h.processElement(ev('a', ts), ts);
    h.processWatermark(99);
    expect(h.getOutput()).toEqual([{ k: 'a', v: 15 }]); // 6 + 9: 0 and 3 are <= 9 - 5
  });
});

describe('window functions', () => {
  it('reduce / aggregate with a ProcessWindowFunction: the key, the window and the one pre-aggregated value', async () => {
    class Describe extends ProcessWindowFunction<number, string, string, TimeWindow> {
      process(key: string, ctx: ProcessWindowContext<TimeWindow>, values: readonly number[], out: Collector<string>): void {
        out.collect(`${key} [${ctx.window().start},${ctx.window().end}) wm=${ctx.currentWatermark()} ${JSON.stringify(values)}`);
      }
    }
    const count = { createAccumulator: () => 0, add: (_e: Ev, n: number) => n + 1, getResult: (n: number) => n, merge: (a: number, b: number) => a + b };
    for (const assigner of [TumblingEventTimeWindows.of(10), SlidingEventTimeWindows.of(20, 10), EventTimeSessionWindows.withGap(100)]) {
      const agg = await openHarness(windowOperator((k) => k.window(assigner).aggregate(count, new Describe())));
      const red = await openHarness(
        windowOperator((k) => k.window(assigner).reduce(sumV, (key: string, ctx: ProcessWindowContext<TimeWindow>, vs: readonly Ev[], out: Collector<string>) => out.collect(`${key} ${ctx.window().end} ${JSON.stringify(vs)}`))),
      );
      for (const h of [agg, red] as OperatorHarness<Ev, string>[]) {
        h.processElement(ev('a', 1), 2);
        h.processElement(ev('a', 2), 5);
        h.processWatermark(Infinity);
      }
      const end = assigner instanceof EventTimeSessionWindows ? 105 : 10;
      expect(agg.getOutput()[0]).toBe(`a [${end === 10 ? (assigner instanceof SlidingEventTimeWindows ? -10 : 0) : 2},${end}) wm=Infinity [2]`);
      expect(red.getOutput()[0]).toBe(`a ${end} [{"k":"a","v":3}]`);
    }
  });

  it('side outputs from a window function carry the window end; per-window state is cleared with the window, global state stays', async () => {
    const small = new OutputTag<number>('small');
    class Counting extends ProcessWindowFunction<Ev, string, string, TimeWindow> {
      process(key: string, ctx: ProcessWindowContext<TimeWindow>, es: readonly Ev[], out: Collector<string>): void {
        const firings = ctx.windowState().getState(new ValueStateDescriptor('firings', 0));
        const total = ctx.globalState().getState(new ValueStateDescriptor('total', 0));
        firings.update(firings.value() + 1);
        total.update(total.value() + es.length);
        if (es.length < 2) ctx.output(small, es.length);
        out.collect(`${key} ${ctx.window().start} firing ${firings.value()} total ${total.value()}`);
      }
      override clear(ctx: ProcessWindowContext<TimeWindow>): void {
        ctx.windowState().getState(new ValueStateDescriptor('firings', 0)).clear();
      }
    }
    const h = await openHarness(windowOperator((k) => k.window(TumblingEventTimeWindows.of(10)).allowedLateness(5).process(new Counting())));
    h.processElement(ev('a', 1), 1);
    h.processWatermark(9);
    h.processElement(ev('a', 2), 2); // a late firing: the same window's second
    h.processElement(ev('a', 3), 12);
    h.processWatermark(Infinity);
    expect(h.getOutput()).toEqual(['a 0 firing 1 total 1', 'a 0 firing 2 total 3', 'a 10 firing 1 total 4']);
    expect(h.getSideRecordOutput(small)).toEqual([
      { value: 1, timestamp: 9 },
      { value: 1, timestamp: 19 },
    ]);
    // Only the global state is left.
    expect(h.snapshot().keyed!.states.filter((s) => s.entries.length > 0).map((s) => s.name)).toEqual(['total']);
  });

  it('tuple keys reach the window function as tuples, also when a timer fires', async () => {
    const env = StreamEnvironment.create();
    const t = env
      .fromCollection<Ev>([])
      .keyBy((e): [string, number] => [e.k, e.v % 2])
      .window(EventTimeSessionWindows.withGap(5))
      .process((key: [string, number], _ctx: ProcessWindowContext<TimeWindow>, es: readonly Ev[], out: Collector<string>) => out.collect(`${JSON.stringify(key)}:${es.length}`)).transformation;
    const h = new OperatorHarness((t as OneInputTransformation).factory(), { keySelector: (e: Ev) => [e.k, e.v % 2] });
    await h.open();
    h.processElement(ev('a', 1), 1);
    h.processElement(ev('a', 3), 2);
    h.processElement(ev('\u0000b', 2), 3);
    h.processWatermark(Infinity);
    expect(h.getOutput().sort()).toEqual(['["\\u0000b",0]:1', '["a",1]:2']);
  });

  it('windowAll: a window over the whole stream, at parallelism 1 (ProcessAllWindowFunction)', async () => {
    class Top2 extends ProcessAllWindowFunction<Ev, number[], GlobalWindow> {
      process(_ctx: ProcessWindowContext<GlobalWindow>, es: readonly Ev[], out: Collector<number[]>): void {
        out.collect(es.map((e) => e.v).sort((a, b) => b - a).slice(0, 2));
      }
    }
    const env = StreamEnvironment.create({ parallelism: 4 });
    const out = env.fromCollection<Ev>([]).windowAll(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(3))).process(new Top2());
    const t = out.transformation as OneInputTransformation;
    expect(t.parallelism).toBe(1);
    const h = new OperatorHarness(t.factory(), { keySelector: () => 0 });
    await h.open();
    for (const v of [5, 1, 9, 2, 8, 7]) h.processElement(ev(String(v), v));
    expect(h.getOutput()).toEqual([
      [9, 5],
      [8, 7],
    ]);
  });
});

describe('configuration errors', () => {
  const keyed = () => StreamEnvironment.create().fromCollection<Ev>([]).keyBy((e) => e.k);

  it('merging windows need a trigger that can merge and an AggregateFunction with merge', async () => {
    const neverMerges = new (class extends Trigger<unknown, TimeWindow> {
      onElement = () => TriggerResult.CONTINUE;
      onEventTime = () => TriggerResult.CONTINUE;
      onProcessingTime = () => TriggerResult.CONTINUE;
      clear() {}
    })();
    await expectEddyError(() => keyed().window(EventTimeSessionWindows.withGap(5)).trigger(neverMerges), 'EDDY_CONFIG');
    const noMerge = { createAccumulator: () => 0, add: (_e: Ev, n: number) => n + 1, getResult: (n: number) => n };
    await expectEddyError(() => keyed().window(EventTimeSessionWindows.withGap(5)).aggregate(noMerge), 'EDDY_CONFIG');
  });

  it('bad arguments and missing timestamps', async () => {
    await expectEddyError(() => keyed().window(TumblingEventTimeWindows.of(5)).allowedLateness(-1), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => keyed().window(TumblingEventTimeWindows.of(5)).reduce(42 as never), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => keyed().window(TumblingEventTimeWindows.of(5)).process({} as never), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => keyed().window(TumblingEventTimeWindows.of(5)).aggregate({} as never), 'EDDY_INVALID_ARGUMENT');
    for (const build of [(k: ReturnType<typeof keyed>) => k.window(TumblingEventTimeWindows.of(5)).reduce(sumV), (k: ReturnType<typeof keyed>) => k.window(EventTimeSessionWindows.withGap(5)).process(listValues)]) {
      const h = await openHarness(windowOperator(build as never));
      const e = await expectEddyError(() => h.processElement(ev('a', 1)), 'EDDY_CONFIG');
      expect(e.message).toMatch(/assignTimestampsAndWatermarks/);
    }
  });

  it('per-window state is not available with merging windows', async () => {
    const h = await openHarness(
      windowOperator((k) =>
        k.window(EventTimeSessionWindows.withGap(5)).process((_k: string, ctx: ProcessWindowContext<TimeWindow>, _es: readonly Ev[], out: Collector<number>) => {
          ctx.windowState();
          out.collect(1);
        }),
      ),
    );
    h.processElement(ev('a', 1), 1);
    await expectEddyError(() => h.processWatermark(Infinity), 'EDDY_CONFIG');
  });
});

describe('which operator runs a window', () => {
  const op = (build: (k: KeyedStream<Ev, string>) => DataStream<any>) => windowOperator(build)().constructor.name;
  it('panes for tumbling/sliding + reduce/aggregate, sessions for session windows, the general operator otherwise', () => {
    const count = { createAccumulator: () => 0, add: (_e: Ev, n: number) => n + 1, getResult: (n: number) => n };
    expect(op((k) => k.window(SlidingEventTimeWindows.of(10, 2)).reduce(sumV))).toBe('PaneWindowOperator');
    expect(op((k) => k.window(TumblingEventTimeWindows.of(10)).aggregate(count))).toBe('PaneWindowOperator'); // one pane: no merge needed
    expect(op((k) => k.window(SlidingEventTimeWindows.of(10, 2)).aggregate(count))).toBe('WindowOperator'); // panes would need merge
    expect(op((k) => k.window(SlidingEventTimeWindows.of(10, 3)).reduce(sumV))).toBe('WindowOperator'); // size not a multiple of slide
    expect(op((k) => k.window(TumblingEventTimeWindows.of(10)).process(listValues))).toBe('WindowOperator');
    expect(op((k) => k.window(TumblingEventTimeWindows.of(10)).evictor(CountEvictor.of(1)).reduce(sumV))).toBe('WindowOperator');
    expect(op((k) => k.window(EventTimeSessionWindows.withGap(10)).process(listValues))).toBe('SessionWindowOperator');
    expect(op((k) => k.window(EventTimeSessionWindows.withGap(10)).trigger(CountTrigger.of(2)).process(listValues))).toBe('WindowOperator');
    expect(windowOperator((k) => k.window(TumblingEventTimeWindows.of(10)).reduce(sumV))().name).toBe('Window(TumblingEventTimeWindows(10), EventTimeTrigger(), reduce)');
  });
});
