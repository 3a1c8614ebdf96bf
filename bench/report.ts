// Shared benchmark types, summaries (best / median of runs) and the printed table.
import { CpuMeter } from './cpu.ts';

/** What a suite gets from the dispatcher. */
export interface BenchContext {
  /** The private nats-server every job and baseline of the run uses. */
  readonly natsUrl: string;
  /** nats-server's pid, for CPU accounting. */
  readonly natsPid: number;
  /** A temporary directory for job state. */
  readonly stateDir: string;
  /** Multiplies event counts (1 = full size; `--quick` uses 0.1). */
  readonly scale: number;
  /** Measured runs per benchmark (after one warm-up). */
  readonly runs: number;
  /** A full garbage collection, so a run does not pay for the previous one's garbage. */
  gc(): void;
  log(line: string): void;
}

/** One timed run. CPU seconds are user + system. */
export interface Measurement {
  events: number;
  wallSeconds: number;
  /** This node process (eddy or the baseline, plus the harness). */
  nodeCpuSeconds: number;
  /** The nats-server process. */
  natsCpuSeconds: number;
  /** events / wall second. */
  eventsPerSecond: number;
  /** events / (node + nats-server CPU seconds). */
  eventsPerCpuSecond: number;
}

/** Several runs of one implementation. "best" is the maximum over the runs, each metric on its own. */
export interface Summary {
  label: string;
  bestEventsPerSecond: number;
  medianEventsPerSecond: number;
  bestEventsPerCpuSecond: number;
  medianEventsPerCpuSecond: number;
  /** The run with the best events/s. */
  best: Measurement;
  runs: Measurement[];
}

export interface Comparison {
  name: string;
  description: string;
  eddy: Summary;
  baseline: Summary;
  /** eddy / baseline of best events/s. */
  ratio: number;
  /** eddy / baseline of best events per CPU-second. */
  cpuRatio: number;
  /** The events/s ratio eddy must reach. */
  target: number;
  met: boolean;
}

export interface SuiteResult {
  suite: string;
  params: Record<string, number | string>;
  comparisons: Comparison[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarize(label: string, runs: Measurement[]): Summary {
  if (runs.length === 0) throw new Error(`no runs for ${label}`);
  const best = runs.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
  return {
    label,
    bestEventsPerSecond: best.eventsPerSecond,
    medianEventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
    bestEventsPerCpuSecond: Math.max(...runs.map((r) => r.eventsPerCpuSecond)),
    medianEventsPerCpuSecond: median(runs.map((r) => r.eventsPerCpuSecond)),
    best,
    runs,
  };
}

export function compare(c: { name: string; description: string; eddy: Summary; baseline: Summary; target: number }): Comparison {
  const ratio = c.eddy.bestEventsPerSecond / c.baseline.bestEventsPerSecond;
  const cpuRatio = c.eddy.bestEventsPerCpuSecond / c.baseline.bestEventsPerCpuSecond;
  return { ...c, ratio, cpuRatio, met: ratio >= c.target };
}

/** 12345678 -> "12.35 M". */
export function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return 'inf';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** A plain-text table of comparisons (also valid Markdown). */
export function formatTable(results: readonly SuiteResult[]): string {
  const header = ['benchmark', 'impl', 'events', 'events/s best', 'events/s median', 'events/CPU-s best', 'node CPU-s', 'nats CPU-s', 'wall s'];
  const rows: string[][] = [];
  for (const s of results)
    for (const c of s.comparisons) {
      for (const x of [c.eddy, c.baseline])
        rows.push([
          `${s.suite}/${c.name}`,
          x.label,
          x.best.events.toLocaleString('en-US'),
          fmtRate(x.bestEventsPerSecond),
          fmtRate(x.medianEventsPerSecond),
          fmtRate(x.bestEventsPerCpuSecond),
          x.best.nodeCpuSeconds.toFixed(2),
          x.best.natsCpuSeconds.toFixed(2),
          x.best.wallSeconds.toFixed(2),
        ]);
      rows.push([
        `${s.suite}/${c.name}`,
        'eddy/baseline',
        '',
        pct(c.ratio),
        pct(c.eddy.medianEventsPerSecond / c.baseline.medianEventsPerSecond),
        pct(c.cpuRatio),
        `target >= ${pct(c.target)}`,
        c.met ? 'MET' : 'MISSED',
        '',
      ]);
    }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(header), sep, ...rows.map(line)].join('\n');
}

/** Runs `fn` once after a full GC and measures wall time and CPU (this process + nats-server). */
export async function measure<C>(ctx: BenchContext, events: number, fn: () => C | Promise<C>): Promise<{ m: Measurement; check: C }> {
  ctx.gc();
  const meter = new CpuMeter([ctx.natsPid]);
  const start = meter.sample();
  const check = await fn();
  const d = meter.since(start);
  return {
    check,
    m: {
      events,
      wallSeconds: d.wallSeconds,
      nodeCpuSeconds: d.selfCpu,
      natsCpuSeconds: d.otherCpu,
      eventsPerSecond: events / d.wallSeconds,
      eventsPerCpuSecond: d.totalCpu > 0 ? events / d.totalCpu : Infinity,
    },
  };
}
