// Flink's everyday methods: env parallelism/checkpointing setters, fromElements/fromSequence, Time, windowed field aggregations, count windows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CheckpointingMode,
  Duration,
  EventTimeTrigger,
  GlobalWindows,
  SlidingEventTimeWindows,
  StreamEnvironment,
  Time,
  TumblingEventTimeWindows,
  type DataStream,
  type KeyedStream,
} from '../../index.ts';
import type { OneInputTransformation } from '../../src/graph/transformation.ts';
import type { StreamOperator } from '../../src/operators/operator.ts';
import { WindowOperator } from '../../src/operators/window-operator.ts';
import { PaneWindowOperator } from '../../src/operators/window-pane-operator.ts';
import { OperatorHarness } from '../../src/testing/index.ts';
import { expectEddyError } from '../support/eddy-error.ts';
import { countReference, flinkReduce, sliding, tumbling, windowReference as reference, type FieldKind as Kind, type Rec } from '../support/flink-aggregations.ts';
import { Delegating } from '../support/window-harness.ts';

const byKey = (r: Rec): string => r.k;

/** Fresh instances of the window operator `build` adds after keyBy(k). */
function operatorOf<R>(build: (keyed: KeyedStream<Rec, string>) => DataStream<R>): () => StreamOperator<Rec, R> {
  return () => {
    const env = StreamEnvironment.create();
    return (build(env.fromCollection<Rec>([]).keyBy(byKey)).transformation as OneInputTransformation).factory() as StreamOperator<Rec, R>;
  };
}

/** Elements with ties in `v`, few keys, timestamps out of order (no element is late: one watermark at the end). */
const elementsArb = fc.array(
  fc.record({ k: fc.constantFrom('a', 'b', 'c'), v: fc.integer({ min: 0, max: 4 }), ts: fc.integer({ min: 0, max: 60 }) }),
  { minLength: 1, maxLength: 40 },
);

describe('windowed sum/min/max/minBy/maxBy (Flink semantics, against its reduce functions)', () => {
  const kinds: { kind: Kind; first: boolean }[] = [
    { kind: 'sum', first: true },
    { kind: 'min', first: true },
    { kind: 'max', first: true },
    { kind: 'minBy', first: true },
    { kind: 'minBy', first: false },
    { kind: 'maxBy', first: true },
    { kind: 'maxBy', first: false },
  ];
  const apply = (w: ReturnType<KeyedStream<Rec, string>['window']>, kind: Kind, first: boolean): DataStream<Rec> =>
    kind === 'minBy' ? w.minBy('v', first) : kind === 'maxBy' ? w.maxBy('v', first) : w[kind]('v');
  const shapes = [
    { name: 'tumbling (pane operator)', windowsOf: tumbling(10), build: (k: KeyedStream<Rec, string>) => k.window(TumblingEventTimeWindows.of(10)), op: PaneWindowOperator },
    {
      name: 'tumbling with a custom trigger (general operator)',
      windowsOf: tumbling(10),
      build: (k: KeyedStream<Rec, string>) => k.window(TumblingEventTimeWindows.of(10)).trigger(new Delegating(EventTimeTrigger.create())),
      op: WindowOperator,
    },
    { name: 'sliding (one accumulator per window)', windowsOf: sliding(20, 5), build: (k: KeyedStream<Rec, string>) => k.window(SlidingEventTimeWindows.of(20, 5)), op: WindowOperator },
  ];
  for (const shape of shapes)
    for (const { kind, first } of kinds)
      it(`${kind}('v'${kind.endsWith('By') ? `, ${first}` : ''}) over ${shape.name} equals Flink's reduce in arrival order`, async () => {
        const make = operatorOf((k) => apply(shape.build(k), kind, first));
        expect(make()).toBeInstanceOf(shape.op);
        await fc.assert(
          fc.asyncProperty(elementsArb, async (raw) => {
            const elements = raw.map((e, i): [Rec, number] => [{ k: e.k, v: e.v, tag: i }, e.ts]);
            const h = new OperatorHarness(make(), { keySelector: byKey });
            await h.open();
            for (const [r, ts] of elements) h.processElement(r, ts);
            h.processWatermark(1_000);
            const got = h.getRecordOutput().map((o) => `${o.timestamp} ${JSON.stringify(o.value)}`).sort();
            expect(got).toEqual(reference(elements, shape.windowsOf, 1_000, flinkReduce(kind, first)));
          }),
          { numRuns: 25, seed: 42 },
        );
      });

  it('sum of a stream of numbers (no field) runs on panes for sliding windows too, and is exact', async () => {
    const env = StreamEnvironment.create();
    const make = () => (env.fromCollection<number>([]).keyBy(() => 'all').window(SlidingEventTimeWindows.of(20, 5)).sum().transformation as OneInputTransformation).factory() as StreamOperator<number, number>;
    expect(make()).toBeInstanceOf(PaneWindowOperator);
    const h = new OperatorHarness(make(), { keySelector: () => 'all' });
    await h.open();
    [3, 11, 4, 19, 7].forEach((v, i) => h.processElement(v, i * 4));
    h.processWatermark(100);
    // Windows [-15,5) [-10,10) [-5,15) [0,20) [5,25) [10,30) [15,35): elements at 0,4,8,12,16.
    expect(h.getRecordOutput().map((o) => [o.timestamp, o.value])).toEqual([
      [4, 14],
      [9, 18],
      [14, 37],
      [19, 44],
      [24, 30],
      [29, 26],
      [34, 7],
    ]);
  });

  it('keeps its accumulators through snapshot and restore (the pane state holds them as plain data)', async () => {
    const make = operatorOf((k) => k.window(TumblingEventTimeWindows.of(10)).minBy('v', false));
    const all: [Rec, number][] = [
      [{ k: 'a', v: 2, tag: 0 }, 1],
      [{ k: 'a', v: 1, tag: 1 }, 2],
      [{ k: 'b', v: 5, tag: 2 }, 3],
      [{ k: 'a', v: 1, tag: 3 }, 8],
      [{ k: 'b', v: 5, tag: 4 }, 9],
    ];
    const h1 = new OperatorHarness(make(), { keySelector: byKey });
    await h1.open();
    for (const [r, ts] of all.slice(0, 3)) h1.processElement(r, ts);
    const h2 = await OperatorHarness.restore(make(), h1.snapshot(), { keySelector: byKey });
    for (const [r, ts] of all.slice(3)) h2.processElement(r, ts);
    h2.processWatermark(9);
    // The last of equal minima (first = false), across the restore.
    expect(h2.getOutput().map((r) => r.tag).sort()).toEqual([3, 4]);
  });

  it('a field that is not a number fails the record with a message naming the aggregation and the record', async () => {
    const h = new OperatorHarness(operatorOf((k) => k.window(TumblingEventTimeWindows.of(10)).sum('v'))(), { keySelector: byKey });
    await h.open();
    expect(() => h.processElement({ k: 'a', v: 'x' as unknown as number, tag: 0 }, 1)).toThrow(/sum\("v"\) found string where a number or bigint was expected, in record \{"k":"a","v":"x","tag":0\}/);
  });

  it('rejects bad arguments when the job is built', async () => {
    const keyed = StreamEnvironment.create().fromCollection<Rec>([]).keyBy(byKey);
    await expectEddyError(() => keyed.window(TumblingEventTimeWindows.of(10)).sum({} as unknown as string), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => keyed.window(TumblingEventTimeWindows.of(10)).minBy('v', 'yes' as unknown as boolean), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => keyed.countWindow(0), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => keyed.countWindow(5, 1.5), 'EDDY_INVALID_ARGUMENT');
  });
});

describe('count windows (GlobalWindows + CountTrigger, + CountEvictor when sliding)', () => {
  for (const [size, slide] of [
    [3, undefined],
    [4, 1],
    [5, 2],
    [2, 3],
  ] as const)
    for (const kind of ['sum', 'maxBy'] as const)
      it(`countWindow(${size}${slide === undefined ? '' : `, ${slide}`}).${kind}('v') equals the reference; a window that never fills is not emitted`, async () => {
        const make = operatorOf((k) => k.countWindow(size, slide)[kind]('v'));
        expect(make()).toBeInstanceOf(WindowOperator);
        await fc.assert(
          fc.asyncProperty(elementsArb, async (raw) => {
            const elements = raw.map((e, i): Rec => ({ k: e.k, v: e.v, tag: i }));
            const h = new OperatorHarness(make(), { keySelector: byKey });
            await h.open();
            for (const r of elements) h.processElement(r);
            await h.endInput();
            expect(h.getOutput().map((r) => JSON.stringify(r)).sort()).toEqual(countReference(elements, size, slide ?? size, flinkReduce(kind, true)));
          }),
          { numRuns: 25, seed: 7 },
        );
      });

  it('countWindowAll runs at parallelism 1 over the whole stream', async () => {
    const env = StreamEnvironment.create({ parallelism: 3 });
    const summed = env.fromSequence(1, 10).countWindowAll(4).sum();
    summed.print();
    const nodes = env.getStreamGraph().nodes;
    expect(nodes.find((n) => n.name.startsWith('Window('))!.parallelism).toBe(1);
    expect(nodes.find((n) => n.name.startsWith('Window('))!.name).toBe('Window(GlobalWindows(), PurgingTrigger(CountTrigger(4)), sum())');
    const h = new OperatorHarness((summed.transformation as OneInputTransformation).factory() as StreamOperator<number, number>, { keySelector: () => 0 });
    await h.open();
    for (let i = 1; i <= 10; i++) h.processElement(i);
    await h.endInput();
    expect(h.getOutput()).toEqual([10, 26]);
  });

  it('GlobalWindows with a user trigger still takes the aggregations', () => {
    const keyed = StreamEnvironment.create().fromCollection<Rec>([]).keyBy(byKey);
    expect(() => keyed.window(GlobalWindows.create()).maxBy('v')).not.toThrow();
  });
});

describe('StreamEnvironment setters (Flink semantics)', () => {
  const parallelisms = (env: StreamEnvironment): string[] => env.getStreamGraph().nodes.map((n) => `${n.name} x${n.parallelism}`);

  it('setParallelism sets the default of operators created afterwards; earlier ones keep theirs (Flink captures it per Transformation)', () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    const early = env.fromSequence(1, 10).map((n) => n + 1).name('early');
    env.setParallelism(3);
    expect(env.getParallelism()).toBe(3);
    early.map((n) => n * 2).name('late').print();
    env.fromElements(1, 2).name('elements').print();
    // A collection is not parallel (1 whatever the default); sinks are created after the call.
    expect(parallelisms(env)).toEqual(['Sequence Source x2', 'early x2', 'late x3', 'Sink: Print to Std. Out x3', 'elements x1', 'Sink: Print to Std. Out x3']);
  });

  it("an operator's own setParallelism wins; without setter calls nothing is pinned", () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    env.fromSequence(1, 10).setParallelism(4).map((n) => n).name('m').print();
    expect(parallelisms(env)).toEqual(['Sequence Source x4', 'm x2', 'Sink: Print to Std. Out x2']);
  });

  it('setParallelism raises a defaulted maxParallelism, and refuses to pass an explicit one', async () => {
    const env = StreamEnvironment.create();
    expect(env.setParallelism(200).getMaxParallelism()).toBe(200);
    const fixed = StreamEnvironment.create({ maxParallelism: 64 });
    await expectEddyError(() => fixed.setParallelism(100), 'EDDY_CONFIG');
    expect(fixed.getParallelism()).toBe(1); // unchanged after the refusal
    await expectEddyError(() => fixed.setParallelism(0), 'EDDY_CONFIG');
    expect(fixed.setMaxParallelism(256).getMaxParallelism()).toBe(256);
  });

  it('enableCheckpointing equals the checkpointing option: interval, kept settings, restart policy; only EXACTLY_ONCE', async () => {
    const env = StreamEnvironment.create();
    expect(env.config.checkpointing).toBeUndefined();
    expect(env.config.restartPolicy.kind).toBe('none');
    env.enableCheckpointing(Time.seconds(2), CheckpointingMode.EXACTLY_ONCE);
    expect(env.config.checkpointing).toEqual(StreamEnvironment.create({ checkpointing: 2000 }).config.checkpointing);
    expect(env.config.restartPolicy.kind).toBe('exponentialDelay');
    const kept = StreamEnvironment.create({ checkpointing: { intervalMs: 5000, retained: 7 }, restartPolicy: { kind: 'none' } }).enableCheckpointing(100);
    expect(kept.config.checkpointing).toMatchObject({ intervalMs: 100, retained: 7 });
    expect(kept.config.restartPolicy.kind).toBe('none');
    const e = await expectEddyError(() => env.enableCheckpointing(1000, 'AT_LEAST_ONCE' as unknown as CheckpointingMode), 'EDDY_CONFIG');
    expect(e.message).toContain('always exactly-once');
    await expectEddyError(() => env.enableCheckpointing(0), 'EDDY_CONFIG');
    expect(env.config.checkpointing!.intervalMs).toBe(2000);
  });

  it('fromSequence checks its range exactly (BigInt arithmetic), fromElements takes any items', async () => {
    const env = StreamEnvironment.create();
    await expectEddyError(() => env.fromSequence(5, 4), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => env.fromSequence(0.5, 4), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => env.fromSequence(0, Number.MAX_SAFE_INTEGER + 1), 'EDDY_INVALID_ARGUMENT');
    const e = await expectEddyError(() => env.fromSequence(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toContain('holds 18014398509481983 numbers');
    expect(() => env.fromSequence(1, Number.MAX_SAFE_INTEGER)).not.toThrow();
    expect(() => env.fromSequence(7, 7)).not.toThrow();
    expect(() => env.fromElements()).not.toThrow();
  });

  it('executeAndCollect rejects at once when a source is unbounded, and leaves the other sinks alone', async () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    env.fromSequence(1, 3).print();
    const e = await expectEddyError(() => env.fromGenerator(Infinity, (i) => i).name('forever').map((i) => i).executeAndCollect(), 'EDDY_CONFIG');
    expect(e.message).toContain('executeAndCollect needs bounded sources; source "forever" is unbounded');
    expect(env.getStreamGraph().nodes.filter((n) => n.kind === 'sink').map((n) => n.name)).toEqual(['Sink: Print to Std. Out']);
  });

  it('building without executing adds no exit hook outside `eddy run`', () => {
    expect(process.env['EDDY_JOB_FILE']).toBeUndefined();
    const before = process.listenerCount('beforeExit');
    StreamEnvironment.create().fromElements(1).print();
    expect(process.listenerCount('beforeExit')).toBe(before);
  });
});

describe('Time and Duration', () => {
  it('are millisecond numbers, whole where the float product is within 1e-6 of whole', async () => {
    expect([Time.milliseconds(250), Time.seconds(5), Time.minutes(2), Time.hours(1), Time.days(1)]).toEqual([250, 5_000, 120_000, 3_600_000, 86_400_000]);
    expect([Duration.ofMillis(1), Duration.ofSeconds(1.005), Duration.ofMinutes(4.35), Duration.ofHours(2), Duration.ofDays(0.25)]).toEqual([1, 1_005, 261_000, 7_200_000, 21_600_000]);
    expect([1.005 * 1000, 4.35 * 60_000]).toEqual([1004.9999999999999, 260999.99999999997]); // what the snapping is for
    expect(Time.milliseconds(0.5)).toBe(0.5);
    expect(TumblingEventTimeWindows.of(Time.seconds(5)).slicedLayout()).toEqual({ size: 5000, slide: 5000, offset: 0 });
    await expectEddyError(() => Time.seconds(Infinity), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => Duration.ofMinutes('1' as unknown as number), 'EDDY_INVALID_ARGUMENT');
  });
});
