// Window operators snapshotted mid-window and restored (also at another parallelism), and the pane path's cost per firing.
import { describe, expect, it } from 'vitest';
import {
  CountEvictor,
  CountTrigger,
  EventTimeSessionWindows,
  GlobalWindows,
  OutputTag,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  TumblingEventTimeWindows,
  type AggregateFunction,
  type Collector,
  type DataStream,
  type KeyedStream,
  type ProcessWindowContext,
} from '../../index.ts';
import type { StreamOperator } from '../../src/operators/operator.ts';
import { keyGroupOf } from '../../src/state/key-group.ts';
import { OperatorHarness } from '../../src/testing/index.ts';
import { byKey, Delegating, ev, openHarness, windowOperator, type Ev } from '../support/window-harness.ts';

const late = new OutputTag<Ev>('late');
const sumCount: AggregateFunction<Ev, [number, number], string> = {
  createAccumulator: () => [0, 0],
  add: (e, [s, n]) => [s + e.v, n + 1],
  getResult: ([s, n]) => `${s}/${n}`,
  merge: ([s1, n1], [s2, n2]) => [s1 + s2, n1 + n2],
};
const describeWindow = (k: string, ctx: ProcessWindowContext<any>, xs: readonly unknown[], out: Collector<string>) =>
  out.collect(`${k} ${String(ctx.window())} ${xs.map((x) => (typeof x === 'object' ? (x as Ev).v : x)).join(',')}`);

const configs: [string, (k: KeyedStream<Ev, string>) => DataStream<string>][] = [
  ['panes: sliding aggregate with lateness and late output', (k) => k.window(SlidingEventTimeWindows.of(30, 10)).allowedLateness(15).sideOutputLateData(late).aggregate(sumCount, describeWindow)],
  ['sessions: aggregate with lateness', (k) => k.window(EventTimeSessionWindows.withGap(7)).allowedLateness(10).sideOutputLateData(late).aggregate(sumCount, describeWindow)],
  ['general: sessions with process', (k) => k.window(EventTimeSessionWindows.withGap(7)).trigger(new Delegating(EventTimeSessionWindows.withGap(7).getDefaultTrigger())).process(describeWindow)],
  ['general: tumbling with an evictor', (k) => k.window(TumblingEventTimeWindows.of(20)).evictor(CountEvictor.of(3)).allowedLateness(5).process(describeWindow)],
  ['general: global windows with a count trigger', (k) => k.window(GlobalWindows.create()).trigger(CountTrigger.of(4)).process(describeWindow)],
];

/** A deterministic script: events of 5 keys, disordered by up to 25 ms, with a watermark every 7 events. */
function script(): ({ e: Ev; ts: number } | { wm: number })[] {
  const ops: ({ e: Ev; ts: number } | { wm: number })[] = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let max = -Infinity;
  for (let i = 0; i < 240; i++) {
    const ts = i * 3 - Math.floor(rand() * 25);
    max = Math.max(max, ts);
    ops.push({ e: ev(`k${Math.floor(rand() * 5)}`, i), ts });
    if (i % 7 === 6) ops.push({ wm: max - 10 });
  }
  return ops;
}

/** Runs the script; at `cut`, snapshots, and continues on `parts` new instances restored from it, routed by key group. */
async function run(make: () => StreamOperator<Ev, string>, cut: number | undefined, parts = 1): Promise<{ out: string[]; late: string[] }> {
  const ops = script();
  const out: string[] = [];
  const lateOut: string[] = [];
  const drain = (h: OperatorHarness<Ev, string>) => {
    out.push(...h.getRecordOutput().map((r) => `${r.value}@${r.timestamp}`));
    lateOut.push(...h.getSideOutput(late).map((e) => `${e.k}:${e.v}`));
    h.clearOutput();
  };
  let hs = [await openHarness(make)];
  let wm = -Infinity;
  for (let i = 0; i < ops.length; i++) {
    if (i === cut) {
      const snap = hs[0]!.snapshot();
      drain(hs[0]!);
      hs = [];
      for (let s = 0; s < parts; s++) {
        const h = await OperatorHarness.restore(make(), snap, { keySelector: byKey, parallelism: parts, subtaskIndex: s });
        h.processWatermark(wm);
        hs.push(h);
      }
    }
    const op = ops[i]!;
    if ('wm' in op) {
      wm = Math.max(wm, op.wm);
      for (const h of hs) h.processWatermark(wm);
    } else hs.find((h) => h.keyGroups.end >= keyGroupOf(op.e.k, h.maxParallelism) && h.keyGroups.start <= keyGroupOf(op.e.k, h.maxParallelism))!.processElement(op.e, op.ts);
  }
  for (const h of hs) {
    await h.endInput();
    drain(h);
  }
  return { out: out.sort(), late: lateOut.sort() };
}

describe.each(configs)('snapshot and restore mid-window (%s)', (_name, build) => {
  const make = windowOperator(build);
  it('restored, the operator goes on as if nothing happened', async () => {
    const straight = await run(make, undefined);
    expect(straight.out.length).toBeGreaterThan(10);
    for (const cut of [50, 137]) expect(await run(make, cut)).toEqual(straight);
  });
  it('restored at parallelism 3, the subtasks together give the same results', async () => {
    expect(await run(make, 101, 3)).toEqual(await run(make, undefined));
  });
});

describe('the pane path', () => {
  it('processing-time panes are snapshotted too: the restored instance fires by its own clock', async () => {
    const make = windowOperator((k) => k.window(SlidingProcessingTimeWindows.of(20, 10)).aggregate(sumCount, describeWindow));
    const h = await openHarness(make);
    h.setProcessingTime(5);
    h.processElement(ev('a', 1));
    h.setProcessingTime(12);
    h.processElement(ev('a', 2));
    const snap = h.snapshot();
    const r = await OperatorHarness.restore(make(), snap, { keySelector: byKey });
    r.setProcessingTime(12);
    r.setProcessingTime(100);
    expect(h.getOutput()).toEqual(['a TimeWindow{start=-10, end=10} 1/1']);
    expect(r.getOutput()).toEqual(['a TimeWindow{start=0, end=20} 3/2', 'a TimeWindow{start=10, end=30} 2/1']);
  });

  it('costs a few merges per firing whatever the number of panes per window (two-stack aggregation)', async () => {
    const perFiring: number[] = [];
    for (const [size, slide] of [
      [10_000, 2_000],
      [10_000, 100],
    ] as const) {
      let merges = 0;
      let adds = 0;
      const counting: AggregateFunction<Ev, number[], number> = {
        createAccumulator: () => [0],
        add: (e, acc) => {
          adds++;
          acc[0]! += e.v;
          return acc;
        },
        getResult: (acc) => acc[0]!,
        merge: (a, b) => {
          merges++;
          a[0]! += b[0]!;
          return a;
        },
      };
      const h = await openHarness(windowOperator((k) => k.window(SlidingEventTimeWindows.of(size, slide)).aggregate(counting)));
      // An element every 10 ms for 60 s, a watermark every second.
      for (let t = 0; t < 60_000; t += 10) {
        h.processElement(ev('k', 1), t);
        if (t % 1000 === 0) h.processWatermark(t - 1);
      }
      await h.endInput();
      expect(adds).toBe(6000);
      // Every full window of 10 s holds 1000 elements.
      expect(h.getOutput().filter((v) => v === 1000)).toHaveLength((60_000 - size) / slide + 1);
      perFiring.push(merges / h.getOutput().length);
    }
    // 5 and 100 panes per window: about the same number of merges per firing, far below the pane count.
    expect(perFiring[0]).toBeLessThan(6);
    expect(perFiring[1]).toBeLessThan(6);
  });
});
