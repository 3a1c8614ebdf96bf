// The "windows" suite: sliding-window (panes) and session-window aggregations in eddy vs plain loops in the same run.
//   sliding: generator -> timestamps -> keyBy (NATS) -> SlidingEventTimeWindows(10 s, slide) -> aggregate -> sink,
//            ~10k keys, at slide 2 s and 100 ms (size/slide 5 and 100): the cost per record must stay flat.
//            For scale, one run of the same job on the general (Flink-style, per-window) operator.
//   session: generator -> timestamps -> keyBy (NATS) -> EventTimeSessionWindows(1 s) -> aggregate -> sink.
import {
  EventTimeSessionWindows,
  SlidingEventTimeWindows,
  StreamEnvironment,
  Trigger,
  WatermarkStrategy,
  type AggregateFunction,
  type OnMergeContext,
  type Sink,
  type TimeWindow,
  type TriggerContext,
  type TriggerResult,
} from '../index.ts';
import type { BenchContext, Comparison, Measurement, SuiteResult } from './report.ts';
import { compare, fmtRate, measure, summarize } from './report.ts';

const KEYS = 10_000;
const SIZE = 10_000;

interface Event {
  key: number;
  v: number;
  ts: number;
}

/** What both implementations report: windows fired, and the sums of their counts and values. */
export interface WindowCheck {
  windows: number;
  count: number;
  sum: number;
}

const emptyCheck = (): WindowCheck => ({ windows: 0, count: 0, sum: 0 });
const sameCheck = (a: WindowCheck, b: WindowCheck): boolean => a.windows === b.windows && a.count === b.count && a.sum === b.sum;
const fmtCheck = (c: WindowCheck): string => `${c.windows} windows, count ${c.count}, sum ${c.sum}`;

/** [sum, count], updated in place: a pane's accumulator belongs to the pane. */
const sumCount: AggregateFunction<Event, [number, number], [number, number]> = {
  createAccumulator: () => [0, 0],
  add: (e, acc) => {
    acc[0] += e.v;
    acc[1]++;
    return acc;
  },
  getResult: (acc) => acc,
  merge: (a, b) => {
    a[0] += b[0];
    a[1] += b[1];
    return a;
  },
};

function checkSink(check: WindowCheck): Sink<[number, number]> {
  return {
    name: 'check',
    createWriter: () => ({
      invoke([sum, count]: [number, number]): void {
        check.windows++;
        check.count += count;
        check.sum += sum;
      },
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// (a) sliding windows: 1 000 events per ms of event time, key i % 10 000, in timestamp order
// ---------------------------------------------------------------------------------------------

const SLIDING_EVENTS_PER_MS = 1000;
const slidingEvent = (i: number): Event => ({ key: i % KEYS, v: (i * 7) % 100, ts: Math.floor(i / SLIDING_EVENTS_PER_MS) });

/** The default trigger under another class: the window then runs on the general (per-window, Flink-style) operator. */
class SameAsDefault extends Trigger<unknown, TimeWindow> {
  constructor(private readonly inner: Trigger<unknown, TimeWindow>) {
    super();
  }
  onElement(e: unknown, ts: number, w: TimeWindow, c: TriggerContext): TriggerResult {
    return this.inner.onElement(e, ts, w, c);
  }
  onEventTime(t: number, w: TimeWindow, c: TriggerContext): TriggerResult {
    return this.inner.onEventTime(t, w, c);
  }
  onProcessingTime(t: number, w: TimeWindow, c: TriggerContext): TriggerResult {
    return this.inner.onProcessingTime(t, w, c);
  }
  clear(w: TimeWindow, c: TriggerContext): void {
    this.inner.clear(w, c);
  }
  override canMerge(): boolean {
    return true;
  }
  override onMerge(w: TimeWindow, c: OnMergeContext): void {
    this.inner.onMerge(w, c);
  }
}

/** The sliding job; `general` runs it on the general operator (every record updates size/slide windows). */
export async function slidingEddy(ctx: Pick<BenchContext, 'natsUrl' | 'stateDir'>, n: number, slide: number, general = false): Promise<WindowCheck> {
  const check = emptyCheck();
  const env = StreamEnvironment.create({ parallelism: 1, nats: ctx.natsUrl, stateDir: ctx.stateDir });
  const assigner = SlidingEventTimeWindows.of(SIZE, slide);
  const windowed = env
    .fromGenerator(n, slidingEvent)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Event>().withTimestampAssigner((e) => e.ts))
    .keyBy((e) => e.key)
    .window(assigner);
  if (general) windowed.trigger(new SameAsDefault(assigner.getDefaultTrigger()));
  windowed.aggregate(sumCount).sinkTo(checkSink(check));
  const r = await env.execute('bench-sliding');
  if (r.status !== 'finished') throw new Error(`sliding job ended ${r.status}`);
  return check;
}

/**
 * The plain loop: per key, a ring of per-slide sums and counts; when time crosses a slide boundary,
 * every key with data in the window that ended emits the sum over its ring (O(size/slide) per window).
 */
export function slidingLoop(n: number, slide: number): WindowCheck {
  const check = emptyCheck();
  const panes = SIZE / slide;
  const sums = new Float64Array(KEYS * panes);
  const counts = new Float64Array(KEYS * panes);
  const lastPane = new Float64Array(KEYS).fill(-Infinity);
  let pane = -Infinity;
  // Emits the windows that end with pane p (panes p - panes + 1 .. p) of every key that has data in them.
  const fireUpTo = (to: number): void => {
    for (let p = pane; p < to; p++) {
      for (let k = 0; k < KEYS; k++) {
        if (lastPane[k]! <= p - panes) continue;
        let sum = 0;
        let count = 0;
        for (let q = p - panes + 1; q <= p; q++) {
          const at = k * panes + (((q % panes) + panes) % panes);
          if (q <= lastPane[k]! && q > lastPane[k]! - panes) {
            sum += sums[at]!;
            count += counts[at]!;
          }
        }
        if (count === 0) continue;
        check.windows++;
        check.count += count;
        check.sum += sum;
      }
    }
  };
  for (let i = 0; i < n; i++) {
    const e = slidingEvent(i);
    const p = Math.floor(e.ts / slide);
    if (p > pane) {
      if (pane !== -Infinity) fireUpTo(p);
      pane = p;
    }
    const at = e.key * panes + (p % panes);
    if (lastPane[e.key]! < p) {
      // Panes the key skipped are empty; the ring slot of p is reused.
      for (let q = Math.max(lastPane[e.key]! + 1, p - panes + 1); q <= p; q++) {
        sums[e.key * panes + (q % panes)] = 0;
        counts[e.key * panes + (q % panes)] = 0;
      }
      lastPane[e.key] = p;
    }
    sums[at] += e.v;
    counts[at]!++;
  }
  if (pane !== -Infinity) fireUpTo(pane + panes);
  return check;
}

// ---------------------------------------------------------------------------------------------
// (b) session windows: 10 groups of 1 000 keys take turns being active for 2 s of event time
// ---------------------------------------------------------------------------------------------

const GAP = 1_000;
const SESSION_EVENTS_PER_MS = 100;
const BURST = 200_000;
const sessionEvent = (i: number): Event => ({ key: (Math.floor(i / BURST) % 10) * 1000 + (i % 1000), v: (i * 7) % 100, ts: Math.floor(i / SESSION_EVENTS_PER_MS) });

export async function sessionEddy(ctx: Pick<BenchContext, 'natsUrl' | 'stateDir'>, n: number): Promise<WindowCheck> {
  const check = emptyCheck();
  const env = StreamEnvironment.create({ parallelism: 1, nats: ctx.natsUrl, stateDir: ctx.stateDir });
  env
    .fromGenerator(n, sessionEvent)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Event>().withTimestampAssigner((e) => e.ts))
    .keyBy((e) => e.key)
    .window(EventTimeSessionWindows.withGap(GAP))
    .aggregate(sumCount)
    .sinkTo(checkSink(check));
  const r = await env.execute('bench-session');
  if (r.status !== 'finished') throw new Error(`session job ended ${r.status}`);
  return check;
}

/** The plain loop (in-order input): per key the open session's end, count and sum; a later event past the end closes it. */
export function sessionLoop(n: number): WindowCheck {
  const check = emptyCheck();
  const end = new Float64Array(KEYS).fill(-Infinity);
  const counts = new Float64Array(KEYS);
  const sums = new Float64Array(KEYS);
  const close = (k: number): void => {
    check.windows++;
    check.count += counts[k]!;
    check.sum += sums[k]!;
    counts[k] = 0;
    sums[k] = 0;
  };
  for (let i = 0; i < n; i++) {
    const e = sessionEvent(i);
    // [ts, ts + gap) merges with the open session when it touches it (ts <= end).
    if (counts[e.key]! > 0 && e.ts > end[e.key]!) close(e.key);
    end[e.key] = Math.max(end[e.key]!, e.ts + GAP);
    counts[e.key]!++;
    sums[e.key] += e.v;
  }
  for (let k = 0; k < KEYS; k++) if (counts[k]! > 0) close(k);
  return check;
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------


async function pair(
  ctx: BenchContext,
  name: string,
  events: number,
  eddy: () => Promise<WindowCheck>,
  loop: () => WindowCheck,
): Promise<{ eddy: Measurement[]; loop: Measurement[]; check: WindowCheck }> {
  const eddyRuns: Measurement[] = [];
  const loopRuns: Measurement[] = [];
  let check = emptyCheck();
  for (let r = 0; r <= ctx.runs; r++) {
    const e = await measure(ctx, events, eddy);
    const l = await measure(ctx, events, loop);
    if (!sameCheck(e.check, l.check)) throw new Error(`${name}: eddy computed ${fmtCheck(e.check)}, the plain loop ${fmtCheck(l.check)}`);
    check = e.check;
    const tag = r === 0 ? 'warm-up' : `run ${r}`;
    ctx.log(`  ${tag.padEnd(7)} eddy ${fmtRate(e.m.eventsPerSecond)} ev/s  loop ${fmtRate(l.m.eventsPerSecond)} ev/s`);
    if (r > 0) {
      eddyRuns.push(e.m);
      loopRuns.push(l.m);
    }
  }
  ctx.log(`  ${name}: ${fmtCheck(check)}`);
  return { eddy: eddyRuns, loop: loopRuns, check };
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const slidingN = Math.max(100_000, Math.round(6_000_000 * ctx.scale));
  const sessionN = Math.max(BURST * 2, Math.round(4_000_000 * ctx.scale));
  const comparisons: Comparison[] = [];
  const params: Record<string, number | string> = { keys: KEYS, windowSize: SIZE, slidingEvents: slidingN, sessionEvents: sessionN, sessionGap: GAP, runs: ctx.runs };
  const eddyRuns = new Map<number, Measurement[]>();
  const windowsFired = new Map<number, number>();

  for (const slide of [2_000, 100]) {
    const name = `sliding-${slide}ms`;
    ctx.log(
      `${name}: SlidingEventTimeWindows(${SIZE}, ${slide}) aggregate, ${KEYS} keys, ${slidingN.toLocaleString('en-US')} events (${(SLIDING_EVENTS_PER_MS * slide) / KEYS} per key per slide), warm-up + best of ${ctx.runs}`,
    );
    const r = await pair(ctx, name, slidingN, () => slidingEddy(ctx, slidingN, slide), () => slidingLoop(slidingN, slide));
    params[`${name}.windows`] = r.check.windows;
    eddyRuns.set(slide, r.eddy);
    windowsFired.set(slide, r.check.windows);
    comparisons.push(
      compare({
        name,
        description: `generator -> keyBy (NATS) -> SlidingEventTimeWindows(10 s, ${slide} ms).aggregate -> sink, parallelism 1, vs a plain loop over per-slide sums (O(size/slide) per window)`,
        eddy: summarize('eddy', r.eddy),
        baseline: summarize('plain loop', r.loop),
        // The loop has no network; eddy's keyed exchange over NATS alone caps it near foundation/shuffle's rate.
        target: slide === 100 ? 0.1 : 0.02,
      }),
    );
  }
  // The requirement: the cost per record stays flat while size/slide grows from 5 to 100.
  const flat = compare({
    name: 'sliding-flat',
    description: 'eddy at slide 100 ms (100 panes per window) vs eddy at slide 2 s (5 panes per window), same events; 100 ms also fires 20x the windows',
    eddy: summarize('eddy 100 ms', eddyRuns.get(100)!),
    baseline: summarize('eddy 2 s', eddyRuns.get(2_000)!),
    target: 0.5,
  });
  comparisons.push(flat);
  const ns = (slide: number) => 1e9 / summarize('eddy', eddyRuns.get(slide)!).bestEventsPerSecond;
  const perWindow = ((ns(100) - ns(2_000)) * slidingN) / (windowsFired.get(100)! - windowsFired.get(2_000)!);
  params['sliding.nsPerRecord.2000ms'] = Math.round(ns(2_000));
  params['sliding.nsPerRecord.100ms'] = Math.round(ns(100));
  params['sliding.nsPerExtraWindowFired'] = Math.round(perWindow);
  ctx.log(
    `sliding: eddy ${ns(2_000).toFixed(0)} ns/record at slide 2 s (5 panes per window, ${windowsFired.get(2_000)} windows), ` +
      `${ns(100).toFixed(0)} ns/record at 100 ms (100 panes, ${windowsFired.get(100)} windows): x${(ns(100) / ns(2_000)).toFixed(2)}, ` +
      `i.e. ~${perWindow.toFixed(0)} ns per extra window fired and emitted`,
  );

  // For scale: the same job on the general operator, which updates every window of a record (one run each, fewer events).
  const generalN = Math.max(20_000, Math.round(slidingN / 10));
  for (const slide of [2_000, 100]) {
    const loop = slidingLoop(generalN, slide);
    const figures: string[] = [];
    for (const general of [false, true]) {
      const g = await measure(ctx, generalN, () => slidingEddy(ctx, generalN, slide, general));
      if (!sameCheck(g.check, loop)) throw new Error(`sliding (${general ? 'general' : 'pane'} operator): ${fmtCheck(g.check)} vs the plain loop's ${fmtCheck(loop)}`);
      const nsPer = Math.round(1e9 / g.m.eventsPerSecond);
      params[`sliding.${general ? 'generalOperator' : 'paneOperator'}.${generalN}events.nsPerRecord.${slide}ms`] = nsPer;
      figures.push(`${general ? 'general' : 'panes'} ${nsPer} ns/record`);
    }
    ctx.log(`sliding ${slide} ms, ${generalN.toLocaleString('en-US')} events, panes vs the general operator (no panes): ${figures.join(', ')}`);
  }

  ctx.log(`session: EventTimeSessionWindows(${GAP}) aggregate, ${KEYS} keys, ${sessionN.toLocaleString('en-US')} events, warm-up + best of ${ctx.runs}`);
  const s = await pair(ctx, 'session', sessionN, () => sessionEddy(ctx, sessionN), () => sessionLoop(sessionN));
  params['session.windows'] = s.check.windows;
  comparisons.push(
    compare({
      name: 'session',
      description: `generator -> keyBy (NATS) -> EventTimeSessionWindows(${GAP} ms).aggregate -> sink, parallelism 1, vs a plain loop (in-order sessions in typed arrays)`,
      eddy: summarize('eddy', s.eddy),
      baseline: summarize('plain loop', s.loop),
      target: 0.02,
    }),
  );
  return { suite: 'windows', params, comparisons };
}
