// The "nexmark" bench suite: each Nexmark query as an eddy job (exactly-once checkpoints, counting sink) next to its plain loop, per query events/s, events per CPU-second, peak RSS, latency.
//   npm run bench -- nexmark [--query q5[,q7...]] [--events N] [--parallelism N] [--checkpoint-interval 10s|off]
//                            [--rate R] [--events-per-second E] [--runs N] [--quick]
import { parseArgs } from 'node:util';
import { StreamEnvironment, WatermarkStrategy, type DataStream } from '../../index.ts';
import type { BenchContext, Comparison, Measurement, SuiteResult } from '../report.ts';
import { compare, fmtRate, measure, summarize } from '../report.ts';
import { BASELINES, DIGESTS, RowCounter } from './baselines.ts';
import { eventTime, nexmarkSource } from './generator.ts';
import { countingSink, LatencyRecorder, peakRssMB, resetPeakRss, timedSource, type LatencyMode, type ReaderStarts } from './measure.ts';
import type { NexmarkConfig, NexmarkEvent } from './model.ts';
import { QUERIES } from './queries/index.ts';

/** Flink 1.13 events per second per core (nexmark.md, from the nexmark/nexmark README). */
export const FLINK_PER_CORE: Readonly<Record<string, number>> = {
  q0: 155_000,
  q1: 157_900,
  q2: 175_200,
  q3: 152_100,
  q4: 34_300,
  q5: 22_100,
  q7: 12_300,
  q8: 146_100,
  q11: 39_700,
  q12: 75_700,
};

/** The goal: eddy's events per CPU-second at least this many times Flink's per-core figure. */
export const FLINK_GOAL = 4;

/** q12's windows are processing time: its output depends on timing, and its latency is measured from the window's end. */
const PROCESSING_TIME = new Set(['q12']);

/** The suite's options (from the command line). */
export interface NexmarkOptions {
  queries: string[];
  events: number;
  parallelism: number;
  /** 0: checkpointing off. */
  checkpointIntervalMs: number;
  /** Processing-time rate limit of the source (events/s over all subtasks), or undefined: as fast as possible. */
  rate: number | undefined;
  /** Event-time rate of the generator. */
  eventsPerSecond: number;
}

/** "10s", "500ms", "2m", "10000" (ms), "off"/"0" -> ms. */
export function parseDuration(s: string): number {
  if (s === 'off') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new Error(`--checkpoint-interval: "${s}" is not a duration such as 10s, 500ms or off`);
  const x = Number(m[1]);
  return Math.round(m[2] === 's' ? x * 1000 : m[2] === 'm' ? x * 60_000 : x);
}

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v.replace(/_/g, ''));
  if (!(Number.isInteger(x) && x > 0)) throw new Error(`--${name} needs a positive integer, got "${v}"`);
  return x;
}

/** Reads the suite's options from `argv` (bench/run.ts has checked they are known). */
export function nexmarkOptions(argv: string[], scale: number): NexmarkOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      query: { type: 'string' },
      events: { type: 'string' },
      parallelism: { type: 'string' },
      'checkpoint-interval': { type: 'string' },
      rate: { type: 'string' },
      'events-per-second': { type: 'string' },
    },
    strict: false,
  });
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const queries = str('query')?.split(',').map((q) => q.trim()) ?? Object.keys(QUERIES);
  for (const q of queries) if (!(q in QUERIES) || !(q in BASELINES)) throw new Error(`--query: unknown query "${q}" (known: ${Object.keys(QUERIES).join(', ')})`);
  const rate = str('rate') === undefined ? undefined : positive('rate', str('rate'), 1);
  return {
    queries,
    // A size every query finishes in seconds on 2 vCPUs; --quick takes a tenth.
    events: positive('events', str('events'), Math.max(100_000, Math.round(5_000_000 * scale))),
    parallelism: positive('parallelism', str('parallelism'), 1),
    checkpointIntervalMs: parseDuration(str('checkpoint-interval') ?? '10s'),
    rate,
    // Rate-limited, event time runs as fast as the source (so windows close in real time); else the reference suite's 10 M/s.
    eventsPerSecond: positive('events-per-second', str('events-per-second'), rate ?? 10_000_000),
  };
}

/** One eddy run's extras beside its Measurement. */
interface EddyRun {
  counter: RowCounter;
  /** RSS when the run started (after a full GC): what the process already held. */
  startRssMB: number;
  peakRssMB: number;
  checkpoints: number;
  latency: LatencyRecorder | undefined;
}

/** Runs query `q` as an eddy job on the bench's nats-server; the sink counts rows. */
async function runEddy(ctx: BenchContext, q: string, o: NexmarkOptions, config: NexmarkConfig): Promise<EddyRun> {
  resetPeakRss();
  const startRssMB = process.memoryUsage.rss() / 2 ** 20;
  const env = StreamEnvironment.create({
    parallelism: o.parallelism,
    nats: ctx.natsUrl,
    stateDir: ctx.stateDir,
    ...(o.checkpointIntervalMs > 0 ? { checkpointing: o.checkpointIntervalMs } : {}),
  });
  const readers: ReaderStarts = { starts: [] };
  // As nexmarkEvents() (queries/index.ts) builds it, with reader start times noted for latency.
  const events: DataStream<NexmarkEvent> = env
    .fromSource(timedSource(nexmarkSource(config), readers), 'Nexmark Source')
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<NexmarkEvent>(100).withTimestampAssigner(eventTime));
  const counter = new RowCounter(DIGESTS[q]!);
  const mode: LatencyMode = PROCESSING_TIME.has(q) ? 'processing' : 'event';
  const latency =
    config.ratePerSecond === undefined ? undefined : new LatencyRecorder({ ...config, ratePerSecond: config.ratePerSecond }, readers, o.parallelism, mode);
  QUERIES[q]!(env, events).sinkTo(countingSink(counter, latency)).name('counting sink');
  const r = await env.execute(`nexmark-${q}`);
  if (r.status !== 'finished') throw new Error(`nexmark ${q}: the job ended ${r.status}${r.error ? `: ${r.error.message}` : ''}`);
  return { counter, startRssMB, peakRssMB: peakRssMB(), checkpoints: r.checkpoints?.completed ?? 0, latency };
}

/** Runs the plain loop of query `q`. */
function runLoop(q: string, config: NexmarkConfig): { counter: RowCounter; peakRssMB: number } {
  resetPeakRss();
  const counter = new RowCounter(DIGESTS[q]!);
  BASELINES[q]!(config, counter);
  return { counter, peakRssMB: peakRssMB() };
}

/** What the suite records per query, beside the standard comparison. */
export interface NexmarkQueryReport {
  query: string;
  parallelism: number;
  events: number;
  eventsPerSecondEventTime: number;
  ratePerSecond: number | null;
  checkpointIntervalMs: number;
  eddy: {
    bestEventsPerSecond: number;
    medianEventsPerSecond: number;
    bestEventsPerCpuSecond: number;
    medianEventsPerCpuSecond: number;
    /** Peak RSS of the process during the run (max over runs); the process also holds the harness and what earlier runs left. */
    peakRssMB: number;
    /** RSS when the run with that peak started. */
    startRssMB: number;
    outputRows: number;
    checkpointsPerRun: number[];
    latencyP50Ms: number | null;
    latencyP99Ms: number | null;
    latencyMaxMs: number | null;
    latencySamples: number;
  };
  /** `peakRssMB`: includes memory the eddy run before it left mapped (V8 keeps freed pages), so it is an upper bound. */
  loop: { bestEventsPerSecond: number; bestEventsPerCpuSecond: number; peakRssMB: number; outputRows: number };
  /** Whether eddy's rows (count and digest) equal the loop's; null for q12 (processing time). */
  outputsMatch: boolean | null;
  flinkPerCore: number;
  /** eddy best events/CPU-s / Flink 1.13 per core. */
  xFlink: number;
  /** eddy / loop, best events/s. */
  ratioToLoop: number;
  /** eddy / loop, best events/CPU-s. */
  cpuRatioToLoop: number;
}

/** The suite's result: the standard comparisons plus a report per query. */
export interface NexmarkSuiteResult extends SuiteResult {
  nexmark: NexmarkQueryReport[];
}

const ms = (x: number | null): string => (x === null || Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** The Markdown table the suite prints (and bench/README.md keeps). */
export function nexmarkTable(reports: readonly NexmarkQueryReport[]): string {
  const rows = [
    '| query | p | events | eddy events/s | eddy events/CPU-s | x Flink 1.13/core | loop events/s | eddy/loop events/s | eddy/loop events/CPU-s | eddy peak RSS MB (at start) | p50 / p99 latency ms | rows | ckpts/run |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of reports)
    rows.push(
      `| ${r.query} | ${r.parallelism} | ${r.events.toLocaleString('en-US')} | ${fmtRate(r.eddy.bestEventsPerSecond)} | ${fmtRate(r.eddy.bestEventsPerCpuSecond)} | ` +
        `${r.xFlink.toFixed(1)}x${r.xFlink >= FLINK_GOAL ? '' : ' (<4x)'} | ${fmtRate(r.loop.bestEventsPerSecond)} | ${(r.ratioToLoop * 100).toFixed(1)}% | ` +
        `${(r.cpuRatioToLoop * 100).toFixed(1)}% | ${r.eddy.peakRssMB.toFixed(0)} (${r.eddy.startRssMB.toFixed(0)}) | ${ms(r.eddy.latencyP50Ms)} / ${ms(r.eddy.latencyP99Ms)} | ` +
        `${r.eddy.outputRows.toLocaleString('en-US')}${r.outputsMatch === false ? ' (MISMATCH)' : ''} | ${r.eddy.checkpointsPerRun.join(',')} |`,
    );
  return rows.join('\n');
}

/**
 * The suite: for each query, a warm-up and `ctx.runs` measured runs of the eddy job and the plain
 * loop, alternating; prints a table per query and returns the standard comparisons plus
 * {@link NexmarkQueryReport}s (bench/run.ts writes them to bench/results/).
 */
export async function run(ctx: BenchContext): Promise<NexmarkSuiteResult> {
  const o = nexmarkOptions(process.argv.slice(2), ctx.scale);
  const config: NexmarkConfig = { events: o.events, eventsPerSecond: o.eventsPerSecond, ...(o.rate === undefined ? {} : { ratePerSecond: o.rate }) };
  // The loop is never rate-limited: it has no source to pace, and its figure is the ceiling.
  const loopConfig: NexmarkConfig = { events: o.events, eventsPerSecond: o.eventsPerSecond };
  ctx.log(
    `nexmark: ${o.queries.join(', ')} | ${o.events.toLocaleString('en-US')} events, ${fmtRate(o.eventsPerSecond)} events/s of event time, ` +
      `parallelism ${o.parallelism}, checkpoints ${o.checkpointIntervalMs > 0 ? `every ${o.checkpointIntervalMs} ms (exactly-once)` : 'off'}, ` +
      `${o.rate === undefined ? 'source unthrottled' : `source limited to ${fmtRate(o.rate)} events/s`} | warm-up + ${ctx.runs} runs, eddy and loop alternating`,
  );
  const comparisons: Comparison[] = [];
  const reports: NexmarkQueryReport[] = [];
  for (const q of o.queries) {
    const eddyRuns: Measurement[] = [];
    const loopRuns: Measurement[] = [];
    const eddyExtras: EddyRun[] = [];
    const loopRss: number[] = [];
    let loopRows = 0;
    let match: boolean | null = null;
    for (let r = 0; r <= ctx.runs; r++) {
      const e = await measure(ctx, o.events, () => runEddy(ctx, q, o, config));
      const l = await measure(ctx, o.events, () => runLoop(q, loopConfig));
      const same = e.check.counter.rows === l.check.counter.rows && e.check.counter.digest === l.check.counter.digest;
      if (!PROCESSING_TIME.has(q)) {
        match = (match ?? true) && same;
        if (!same)
          ctx.log(`  ${q}: MISMATCH eddy ${e.check.counter.rows} rows (digest ${e.check.counter.digest}), loop ${l.check.counter.rows} rows (digest ${l.check.counter.digest})`);
      }
      const lat = e.check.latency?.histogram;
      ctx.log(
        `  ${q} ${(r === 0 ? 'warm-up' : `run ${r}`).padEnd(7)} eddy ${fmtRate(e.m.eventsPerSecond)} ev/s, ${fmtRate(e.m.eventsPerCpuSecond)} ev/CPU-s ` +
          `(node ${e.m.nodeCpuSeconds.toFixed(2)} s, nats ${e.m.natsCpuSeconds.toFixed(2)} s), ${e.check.counter.rows} rows, ${e.check.checkpoints} ckpts, ` +
          `${e.check.peakRssMB.toFixed(0)} MB${lat ? `, latency p50 ${ms(lat.quantile(0.5))} p99 ${ms(lat.quantile(0.99))} ms` : ''} | loop ${fmtRate(l.m.eventsPerSecond)} ev/s, ${l.check.counter.rows} rows`,
      );
      if (r === 0) continue;
      eddyRuns.push(e.m);
      loopRuns.push(l.m);
      eddyExtras.push(e.check);
      loopRss.push(l.check.peakRssMB);
      loopRows = l.check.counter.rows;
    }
    const eddy = summarize('eddy', eddyRuns);
    const loop = summarize('plain loop', loopRuns);
    const c = compare({
      name: `${q}-p${o.parallelism}`,
      description: `Nexmark ${q}: generator -> query -> counting sink, parallelism ${o.parallelism}, vs its plain loop (bench/nexmark/baselines.ts); no events/s target vs the loop (the goal is events/CPU-s >= ${FLINK_GOAL}x Flink 1.13 per core)`,
      eddy,
      baseline: loop,
      target: 0,
    });
    comparisons.push(c);
    // Latency over every measured run together: quantiles of the pooled rows.
    const pooled = eddyExtras.map((x) => x.latency?.histogram).filter((h) => h !== undefined);
    const median = pooled.length === 0 ? undefined : pooled[Math.floor(pooled.length / 2)]!;
    const flink = FLINK_PER_CORE[q] ?? Number.NaN;
    const peak = eddyExtras.reduce((a, b) => (b.peakRssMB > a.peakRssMB ? b : a));
    reports.push({
      query: q,
      parallelism: o.parallelism,
      events: o.events,
      eventsPerSecondEventTime: o.eventsPerSecond,
      ratePerSecond: o.rate ?? null,
      checkpointIntervalMs: o.checkpointIntervalMs,
      eddy: {
        bestEventsPerSecond: eddy.bestEventsPerSecond,
        medianEventsPerSecond: eddy.medianEventsPerSecond,
        bestEventsPerCpuSecond: eddy.bestEventsPerCpuSecond,
        medianEventsPerCpuSecond: eddy.medianEventsPerCpuSecond,
        peakRssMB: peak.peakRssMB,
        startRssMB: peak.startRssMB,
        outputRows: eddyExtras.at(-1)!.counter.rows,
        checkpointsPerRun: eddyExtras.map((x) => x.checkpoints),
        latencyP50Ms: median === undefined ? null : median.quantile(0.5),
        latencyP99Ms: median === undefined ? null : median.quantile(0.99),
        latencyMaxMs: median === undefined ? null : median.max,
        latencySamples: median?.count ?? 0,
      },
      loop: { bestEventsPerSecond: loop.bestEventsPerSecond, bestEventsPerCpuSecond: loop.bestEventsPerCpuSecond, peakRssMB: Math.max(...loopRss), outputRows: loopRows },
      outputsMatch: match,
      flinkPerCore: flink,
      xFlink: eddy.bestEventsPerCpuSecond / flink,
      ratioToLoop: c.ratio,
      cpuRatioToLoop: c.cpuRatio,
    });
  }
  ctx.log('\n' + nexmarkTable(reports));
  ctx.log(
    `(latency: ${o.rate === undefined ? 'only with --rate' : 'the median run\'s quantiles; event-time rows from the due time of the newest event they can depend on (windows include the 100 ms watermark bound and the 200 ms watermark interval), q12 from its window\'s end'})`,
  );
  const suffix = `${o.parallelism === 1 ? '' : `-p${o.parallelism}`}${o.rate === undefined ? '' : `-rate${o.rate}`}`;
  return {
    suite: `nexmark${suffix}`,
    params: {
      queries: o.queries.join(','),
      events: o.events,
      eventsPerSecondEventTime: o.eventsPerSecond,
      parallelism: o.parallelism,
      checkpointIntervalMs: o.checkpointIntervalMs,
      ratePerSecond: o.rate ?? 'unlimited',
      runs: ctx.runs,
    },
    comparisons,
    nexmark: reports,
  };
}
