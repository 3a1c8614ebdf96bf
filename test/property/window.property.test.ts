// Window results (and what goes late) equal a brute-force reference model, for random events, disorder and watermarks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EventTimeSessionWindows,
  OutputTag,
  ProcessingTimeSessionWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  StreamEnvironment,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  type AggregateFunction,
  type Collector,
  type DataStream,
  type ProcessWindowContext,
  type TimeWindow,
  type WindowAssigner,
} from '../../index.ts';
import type { OneInputTransformation } from '../../src/graph/transformation.ts';
import type { StreamOperator } from '../../src/operators/operator.ts';
import { OperatorHarness } from '../../src/testing/index.ts';
import { Delegating } from '../support/window-harness.ts';

interface Ev {
  k: string;
  v: number;
  n: number;
}
/** What every window emits: its key, bounds, and the sum / count / sorted values of its elements. */
interface Out {
  k: string;
  start: number;
  end: number;
  sum: number;
  count: number;
  ts: number;
}

type Op = { kind: 'event'; k: string; ts: number; v: number } | { kind: 'wm'; delay: number } | { kind: 'restore' };
type Shape = { kind: 'tumbling'; size: number; offset: number } | { kind: 'sliding'; size: number; slide: number; offset: number } | { kind: 'session'; gap: number };
type Mode = 'aggregate' | 'aggregateNoMerge' | 'reduce' | 'process';

// ---------------------------------------------------------------------------------------------
// The reference: Flink's rules written plainly, one window at a time.
// ---------------------------------------------------------------------------------------------

function windowsOf(shape: Shape, ts: number): [number, number][] {
  if (shape.kind === 'session') return [[ts, ts + shape.gap]];
  const slide = shape.kind === 'tumbling' ? shape.size : shape.slide;
  const out: [number, number][] = [];
  // Every window [s, s + size) with s = offset (mod slide) that holds ts.
  for (let s = ts - shape.size - slide; s <= ts; s++) if ((((s - shape.offset) % slide) + slide) % slide === 0 && s <= ts && ts < s + shape.size) out.push([s, s + shape.size]);
  return out;
}

interface RefWindow {
  k: string;
  start: number;
  end: number;
  values: number[];
}

function reference(ops: readonly Op[], shape: Shape, lateness: number): { fired: Out[]; late: number[]; lateFirings: number } {
  const inFlight: RefWindow[] = [];
  const fired: Out[] = [];
  const late: number[] = [];
  let lateFirings = 0;
  let wm = -Infinity;
  let maxTs = -Infinity;
  const emit = (w: RefWindow): void => {
    fired.push({ k: w.k, start: w.start, end: w.end, sum: w.values.reduce((a, b) => a + b, 0), count: w.values.length, ts: w.end - 1 });
  };
  const advance = (to: number): void => {
    if (to <= wm) return;
    // On-time firing: every in-flight window whose last timestamp the watermark passes.
    for (const w of inFlight) if (w.end - 1 > wm && w.end - 1 <= to) emit(w);
    wm = to;
    // Cleanup at maxTimestamp + allowed lateness.
    for (let i = inFlight.length - 1; i >= 0; i--) if (inFlight[i]!.end - 1 + lateness <= wm) inFlight.splice(i, 1);
  };
  for (const op of ops) {
    if (op.kind === 'wm') advance(maxTs - op.delay);
    if (op.kind !== 'event') continue;
    maxTs = Math.max(maxTs, op.ts);
    if (shape.kind === 'session') {
      const [s, e] = windowsOf(shape, op.ts)[0]!;
      const overlapping = inFlight.filter((w) => w.k === op.k && w.start <= e && w.end >= s);
      const start = Math.min(s, ...overlapping.map((w) => w.start));
      const end = Math.max(e, ...overlapping.map((w) => w.end));
      if (overlapping.length === 0 && end - 1 + lateness <= wm) {
        late.push(op.v);
        continue;
      }
      for (const w of overlapping) inFlight.splice(inFlight.indexOf(w), 1);
      const merged: RefWindow = { k: op.k, start, end, values: [...overlapping.flatMap((w) => w.values), op.v] };
      inFlight.push(merged);
      if (end - 1 <= wm) {
        emit(merged); // a late firing within the allowed lateness
        lateFirings++;
      }
      continue;
    }
    let taken = false;
    for (const [s, e] of windowsOf(shape, op.ts)) {
      if (e - 1 + lateness <= wm) continue; // this window is gone
      taken = true;
      let w = inFlight.find((x) => x.k === op.k && x.start === s && x.end === e);
      if (w === undefined) inFlight.push((w = { k: op.k, start: s, end: e, values: [] }));
      w.values.push(op.v);
      if (e - 1 <= wm) {
        emit(w);
        lateFirings++;
      }
    }
    if (!taken && op.ts + lateness <= wm) late.push(op.v);
  }
  advance(Infinity);
  return { fired, late, lateFirings };
}

// ---------------------------------------------------------------------------------------------
// eddy, through the operator harness
// ---------------------------------------------------------------------------------------------

const sumCount: AggregateFunction<Ev, { sum: number; count: number }, { sum: number; count: number }> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (e, a) => ({ sum: a.sum + e.v, count: a.count + e.n }),
  getResult: (a) => a,
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
};
const { merge: _merge, ...sumCountNoMerge } = sumCount;

function describeWindow(k: string, w: TimeWindow, sum: number, count: number): Out {
  return { k, start: w.start, end: w.end, sum, count, ts: w.end - 1 };
}

function buildOperator(assigner: WindowAssigner<Ev, TimeWindow>, mode: Mode, lateness: number, lateTag: OutputTag<Ev> | undefined, general = false): StreamOperator<Ev, Out> {
  const env = StreamEnvironment.create();
  const build = (s: DataStream<Ev>): DataStream<Out> => {
    const w = s.keyBy((e) => e.k).window(assigner).allowedLateness(lateness);
    if (general) w.trigger(new Delegating(assigner.getDefaultTrigger()));
    if (lateTag !== undefined) w.sideOutputLateData(lateTag);
    const single = (k: string, ctx: ProcessWindowContext<TimeWindow>, [r]: readonly { sum: number; count: number }[], out: Collector<Out>) =>
      out.collect(describeWindow(k, ctx.window(), r!.sum, r!.count));
    switch (mode) {
      case 'aggregate':
        return w.aggregate(sumCount, single);
      case 'aggregateNoMerge':
        return w.aggregate(sumCountNoMerge, single);
      case 'reduce':
        return w.reduce(
          (a, b) => ({ k: a.k, v: a.v + b.v, n: a.n + b.n }),
          (k: string, ctx: ProcessWindowContext<TimeWindow>, [e]: readonly Ev[], out: Collector<Out>) => out.collect(describeWindow(k, ctx.window(), e!.v, e!.n)),
        );
      case 'process':
        return w.process((k: string, ctx: ProcessWindowContext<TimeWindow>, es: readonly Ev[], out: Collector<Out>) =>
          out.collect(describeWindow(k, ctx.window(), es.reduce((a, e) => a + e.v, 0), es.length)),
        );
    }
  };
  return (build(env.fromCollection<Ev>([])).transformation as OneInputTransformation).factory() as StreamOperator<Ev, Out>;
}

function assignerOf(shape: Shape): WindowAssigner<Ev, TimeWindow> {
  switch (shape.kind) {
    case 'tumbling':
      return TumblingEventTimeWindows.of(shape.size, shape.offset);
    case 'sliding':
      return SlidingEventTimeWindows.of(shape.size, shape.slide, shape.offset);
    case 'session':
      return EventTimeSessionWindows.withGap(shape.gap);
  }
}

const keySelector = (e: Ev): string => e.k;

async function runEddy(
  ops: readonly Op[],
  shape: Shape,
  mode: Mode,
  lateness: number,
  sideOutput: boolean,
  general: boolean,
): Promise<{ fired: Out[]; late: number[]; dropped: number; operator: string }> {
  const tag = sideOutput ? new OutputTag<Ev>('late') : undefined;
  const make = () => buildOperator(assignerOf(shape), mode, lateness, tag, general);
  let h = new OperatorHarness(make(), { keySelector });
  const operator = h.operator.constructor.name;
  await h.open();
  const fired: Out[] = [];
  const late: number[] = [];
  let dropped = 0;
  const drain = (x: OperatorHarness<Ev, Out>): void => {
    fired.push(...x.getRecordOutput().map((r) => ({ ...r.value, ts: r.timestamp! })));
    if (tag !== undefined) late.push(...x.getSideOutput(tag).map((e) => e.v));
    dropped += x.metrics().get('numLateRecordsDropped') ?? 0;
  };
  let maxTs = -Infinity;
  let wm = -Infinity;
  for (const op of ops) {
    if (op.kind === 'event') {
      maxTs = Math.max(maxTs, op.ts);
      h.processElement({ k: op.k, v: op.v, n: 1 }, op.ts);
    } else if (op.kind === 'wm') {
      if (maxTs - op.delay > wm) h.processWatermark((wm = maxTs - op.delay));
    } else {
      // Snapshot mid-stream and go on with a new operator instance restored from it.
      const snap = h.snapshot();
      drain(h);
      await h.close();
      h = await OperatorHarness.restore(make(), snap, { keySelector });
      h.processWatermark(wm);
    }
  }
  await h.endInput();
  drain(h);
  return { fired, late, dropped, operator };
}

const sortOut = (xs: Out[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

/** Events whose timestamps grow along the sequence (2 ms a step), disordered by up to 40 ms; watermarks and restores in between. */
const opsArb: fc.Arbitrary<Op[]> = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('event' as const), k: fc.constantFrom('a', 'b', 'c'), d: fc.integer({ min: -40, max: 5 }), v: fc.integer({ min: 1, max: 9 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('wm' as const), delay: fc.integer({ min: 0, max: 30 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'restore' as const }) },
    ),
    { minLength: 5, maxLength: 60, size: 'medium' },
  )
  .map((ops) => ops.map((o, i): Op => (o.kind === 'event' ? { kind: 'event', k: o.k, ts: i * 2 + o.d, v: o.v } : o)));

const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  fc.integer({ min: 1, max: 25 }).chain((size) => fc.record({ kind: fc.constant('tumbling' as const), size: fc.constant(size), offset: fc.integer({ min: -(size - 1), max: size - 1 }) })),
  fc
    .tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 5 }), fc.boolean())
    .chain(([slide, factor, aligned]) =>
      fc.record({
        kind: fc.constant('sliding' as const),
        // Mostly a multiple of the slide (the pane path), sometimes not (the general path).
        size: fc.constant(aligned ? slide * factor : slide * factor + 1),
        slide: fc.constant(slide),
        offset: fc.integer({ min: -(slide - 1), max: slide - 1 }),
      }),
    ),
  fc.record({ kind: fc.constant('session' as const), gap: fc.integer({ min: 1, max: 20 }) }),
);

describe('event-time windows equal the reference model (fast-check)', () => {
  it('tumbling, sliding and session windows: results, late side output, drop counts, across snapshot/restore', async () => {
    const seen = new Set<string>();
    const cases = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        opsArb,
        shapeArb,
        fc.constantFrom<Mode>('aggregate', 'aggregateNoMerge', 'reduce', 'process'),
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 })),
        fc.boolean(),
        fc.boolean(),
        async (ops, shape, mode, lateness, sideOutput, general) => {
          if (shape.kind === 'session' && mode === 'aggregateNoMerge') mode = 'aggregate';
          const expected = reference(ops, shape, lateness);
          const got = await runEddy(ops, shape, mode, lateness, sideOutput, general);
          seen.add(`${shape.kind}/${got.operator}`);
          if (expected.late.length > 0) cases.add('late elements');
          if (expected.lateFirings > 0) cases.add('late firings');
          if (ops.some((o) => o.kind === 'restore') && expected.fired.length > 0) cases.add('restore');
          expect(sortOut(got.fired)).toEqual(sortOut(expected.fired));
          if (sideOutput) {
            expect(got.late.sort()).toEqual(expected.late.sort());
            expect(got.dropped).toBe(0);
          } else expect(got.dropped).toBe(expected.late.length);
        },
      ),
      { numRuns: Number(process.env.WRUNS ?? 400) },
    );
    expect([...cases].sort()).toEqual(['late elements', 'late firings', 'restore']);
    // Every implementation was exercised: panes (aligned tumbling/sliding), sessions, and the general operator.
    expect([...seen].sort()).toEqual([
      'session/SessionWindowOperator',
      'session/WindowOperator',
      'sliding/PaneWindowOperator',
      'sliding/WindowOperator',
      'tumbling/PaneWindowOperator',
      'tumbling/WindowOperator',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Processing time: windows of the arrival time, fired by the (manual) clock.
// ---------------------------------------------------------------------------------------------

type PtOp = { kind: 'event'; k: string; v: number } | { kind: 'tick'; ms: number };

function ptReference(ops: readonly PtOp[], shape: Shape): Out[] {
  const inFlight: RefWindow[] = [];
  const fired: Out[] = [];
  let now = 0;
  const advance = (to: number): void => {
    now = to;
    for (let i = 0; i < inFlight.length; i++) {
      const w = inFlight[i]!;
      if (w.end - 1 > now) continue;
      fired.push({ k: w.k, start: w.start, end: w.end, sum: w.values.reduce((a, b) => a + b, 0), count: w.values.length, ts: w.end - 1 });
      inFlight.splice(i--, 1);
    }
  };
  for (const op of ops) {
    if (op.kind === 'tick') {
      advance(now + op.ms);
      continue;
    }
    if (shape.kind === 'session') {
      const [s, e] = [now, now + shape.gap];
      const overlapping = inFlight.filter((w) => w.k === op.k && w.start <= e && w.end >= s);
      for (const w of overlapping) inFlight.splice(inFlight.indexOf(w), 1);
      inFlight.push({ k: op.k, start: Math.min(s, ...overlapping.map((w) => w.start)), end: Math.max(e, ...overlapping.map((w) => w.end)), values: [...overlapping.flatMap((w) => w.values), op.v] });
      continue;
    }
    for (const [s, e] of windowsOf(shape, now)) {
      let w = inFlight.find((x) => x.k === op.k && x.start === s && x.end === e);
      if (w === undefined) inFlight.push((w = { k: op.k, start: s, end: e, values: [] }));
      w.values.push(op.v);
    }
  }
  advance(now + 1_000);
  return fired;
}

describe('processing-time windows equal the reference model (fast-check)', () => {
  it('tumbling, sliding and session windows with the manual clock', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 3, arbitrary: fc.record({ kind: fc.constant('event' as const), k: fc.constantFrom('a', 'b'), v: fc.integer({ min: 1, max: 9 }) }) },
            { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 12 }) }) },
          ),
          { maxLength: 50 },
        ),
        shapeArb,
        fc.constantFrom<Mode>('aggregate', 'process'),
        fc.boolean(),
        async (ops, shape, mode, general) => {
          const assigner =
            shape.kind === 'tumbling'
              ? TumblingProcessingTimeWindows.of(shape.size, shape.offset)
              : shape.kind === 'sliding'
                ? SlidingProcessingTimeWindows.of(shape.size, shape.slide, shape.offset)
                : ProcessingTimeSessionWindows.withGap(shape.gap);
          const h = new OperatorHarness(buildOperator(assigner, mode, 0, undefined, general), { keySelector });
          await h.open();
          let now = 0;
          for (const op of ops) {
            if (op.kind === 'tick') h.setProcessingTime((now += op.ms));
            else h.processElement({ k: op.k, v: op.v, n: 1 });
          }
          h.setProcessingTime(now + 1_000);
          const got = h.getRecordOutput().map((r) => ({ ...r.value, ts: r.timestamp! }));
          expect(sortOut(got)).toEqual(sortOut(ptReference(ops, shape)));
        },
      ),
      { numRuns: Number(process.env.WRUNS ?? 200) },
    );
  });
});
