// One Nexmark run of bench/workers/nexmark-job.ts under `eddy run -p 2 [--workers N]`: events/s and events per CPU-second of eddy run, its workers and nats-server over the processing window.
//
// The measured window runs from the first EDDY_BENCH_READER line (the first source reader was
// created: workers are up, tasks deployed) to the last EDDY_BENCH_ROWS line (the last sink subtask
// reached the end of its input), the same span for every configuration; process start-up (node,
// tsx, bundling, starting workers) and shutdown (final checkpoint, stopping workers) are outside
// it and reported on their own. CPU over the window: the eddy run process tree from
// /proc/<pid>/stat (each live process's utime+stime, plus the cutime+cstime of children already
// reaped) and nats-server's utime+stime.
import { join } from 'node:path';
import { processCpuSeconds } from '../cpu.ts';
import type { BenchContext, Measurement } from '../report.ts';
import { descendants, exitWithin, procStat, startEddy, treeSample, type TreeSample } from './procs.ts';

/** Parallelism of every Nexmark run: at 2 workers, each worker gets one slot per vertex. */
export const NEXMARK_P = 2;
/** Checkpoint interval of the Nexmark runs (to JetStream on workers, to the local LevelDB store in one process). */
export const NEXMARK_INTERVAL_MS = 5000;

export interface ThroughputRun {
  query: string;
  /** 0: the job in the eddy run process itself. */
  workers: number;
  m: Measurement;
  /** CPU seconds over the window: the eddy run process itself, its descendants (workers; also esbuild's service), nats-server. */
  masterCpuSeconds: number;
  workersCpuSeconds: number;
  /** Each worker's own CPU seconds over the window (from /proc samples every 200 ms, so up to 200 ms short at its end). */
  perWorkerCpuSeconds: number[];
  /** From spawning eddy run to the first reader, and to its exit. */
  startupSeconds: number;
  processWallSeconds: number;
  /** CPU seconds of the whole eddy run tree from spawn to exit, plus nats-server's over the same time. */
  processCpuSeconds: number;
  /** execute() as the job master timed it (JobResult.durationMs). */
  executeSeconds: number;
  rows: number;
  digest: number;
  checkpoints: number;
}

/** Runs `query` over `events` events on `workers` local workers (0: in one process). */
export async function throughputRun(ctx: BenchContext, query: string, workers: number, events: number, tag: string): Promise<ThroughputRun> {
  ctx.gc();
  const name = `bench-workers-${query}-w${workers}-${tag}`;
  const self0 = procStat('self')!;
  const nats0 = processCpuSeconds(ctx.natsPid) ?? 0;
  const t0 = performance.now();
  const run = startEddy(
    ['run', 'bench/workers/nexmark-job.ts', '-p', String(NEXMARK_P), '--workers', String(workers), '--state-dir', join(ctx.stateDir, name), '--',
      '--query', query, '--events', String(events), '--interval', String(NEXMARK_INTERVAL_MS), '--name', name],
    ctx.natsUrl,
  );
  let start: { at: number; tree: TreeSample; nats: number } | undefined;
  let end: { at: number; tree: TreeSample; nats: number } | undefined;
  let rowsLines = 0;
  let rows = 0;
  let digest = 0;
  let result: { status: string; durationMs: number; checkpoints: number; error?: string } | undefined;
  /** Each descendant's own CPU at the window's start and its latest reading, by pid. */
  const seen = new Map<number, { comm: string; first: number; last: number }>();
  const poll = (): void => {
    for (const c of descendants(run.pid)) {
      const s = seen.get(c.pid);
      if (s === undefined) seen.set(c.pid, { comm: c.comm, first: start === undefined ? 0 : c.self, last: c.self });
      else s.last = c.self;
    }
  };
  run.onLine = (l, at) => {
    if (l.startsWith('EDDY_BENCH_READER ') && start === undefined) {
      const tree = treeSample(run.pid);
      start = { at, tree, nats: processCpuSeconds(ctx.natsPid) ?? 0 };
      for (const c of tree.children) seen.set(c.pid, { comm: c.comm, first: c.self, last: c.self });
    } else if (l.startsWith('EDDY_BENCH_ROWS ')) {
      const [, , r, d] = l.split(' ');
      rows += Number(r);
      digest += Number(d);
      if (++rowsLines === NEXMARK_P) {
        end = { at, tree: treeSample(run.pid), nats: processCpuSeconds(ctx.natsPid) ?? 0 };
        poll();
      }
    } else if (l.startsWith('RESULT ')) result = JSON.parse(l.slice('RESULT '.length));
  };
  const timer = setInterval(() => {
    if (start !== undefined && end === undefined) poll();
  }, 200);
  let code: number | null;
  try {
    // Generous for ~5-20 s runs, short enough that a stalled job fails this run (and is retried), not the suite.
    code = await exitWithin(run, Math.max(60_000, events / 80));
  } catch (e) {
    // Where it stalled: which markers came, and each process's CPU seconds (a stall shows as flat counters).
    const cpu = [...seen.entries()].map(([pid, w]) => `${w.comm} ${pid}: ${w.last.toFixed(2)} s`).join(', ');
    throw new Error(
      `${(e as Error).message}\n(${start === undefined ? 'no source reader started' : `first reader after ${((start.at - t0) / 1000).toFixed(1)} s`}, ` +
        `${rowsLines}/${NEXMARK_P} sinks finished, RESULT ${result === undefined ? 'not printed' : 'printed'}; last CPU readings: ${cpu || 'none'})`,
    );
  } finally {
    clearInterval(timer);
  }
  const t1 = performance.now();
  const self1 = procStat('self')!;
  const nats1 = processCpuSeconds(ctx.natsPid) ?? 0;
  if (code !== 0 || result?.status !== 'finished' || start === undefined || end === undefined)
    throw new Error(`${name}: eddy run exited ${code} (${result?.status ?? 'no RESULT'}${result?.error ? `: ${result.error}` : ''}); stderr:\n${run.stderr().slice(-3000)}`);
  const s = start;
  const e = end;
  const wallSeconds = (e.at - s.at) / 1000;
  const treeCpu = e.tree.total - s.tree.total;
  const natsCpu = e.nats - s.nats;
  const masterCpu = (e.tree.root?.self ?? 0) - (s.tree.root?.self ?? 0);
  const perWorker = [...seen.values()].filter((w) => w.comm === 'node').map((w) => w.last - w.first);
  return {
    query,
    workers,
    m: {
      events,
      wallSeconds,
      nodeCpuSeconds: treeCpu,
      natsCpuSeconds: natsCpu,
      eventsPerSecond: events / wallSeconds,
      eventsPerCpuSecond: events / (treeCpu + natsCpu),
    },
    masterCpuSeconds: masterCpu,
    workersCpuSeconds: treeCpu - masterCpu,
    perWorkerCpuSeconds: perWorker,
    startupSeconds: (s.at - t0) / 1000,
    processWallSeconds: (t1 - t0) / 1000,
    // This process reaped eddy run, whose reaped counters hold its workers.
    processCpuSeconds: self1.reaped - self0.reaped + (nats1 - nats0),
    executeSeconds: result.durationMs / 1000,
    rows,
    digest,
    checkpoints: result.checkpoints,
  };
}
