// The "workers" suite: recovery time after a worker SIGKILL, and Nexmark q5/q11 on 1 and 2 worker processes next to one process, events/s and events per CPU-second of every process.
//   npm run bench -- workers [--runs N] [--quick]        (only when named, like chaos and nexmark)
//   recovery:   bench/workers/recovery-job.ts (generator 10k/s -> keyBy -> running sum -> core NATS publish) on 2 workers, -p 2,
//               checkpoints every 300 ms, fixedDelay 100 ms; a busy worker is SIGKILLed after a completed checkpoint; the time
//               to the first record of a restarted task (bench/workers/recovery.ts), at heartbeat timeouts 3000 ms (default) and 1000 ms.
//   throughput: bench/workers/nexmark-job.ts (the Nexmark generator and query of bench/nexmark) under `eddy run -p 2` with
//               --workers 0 (one process), 1 and 2, alternating; CPU of eddy run + its workers + nats-server (bench/workers/throughput.ts).
import { loadavg } from 'node:os';
import { connectNats } from '../src/transport/connect-nats.ts';
import type { BenchContext, Comparison, SuiteResult } from './report.ts';
import { compare, fmtRate, summarize } from './report.ts';
import { describeRecovery, RECOVERY_INTERVAL_MS, RECOVERY_RATE, RECOVERY_RECORDS, recoveryRun, recoverySummary, type RecoveryRun } from './workers/recovery.ts';
import { NEXMARK_INTERVAL_MS, NEXMARK_P, throughputRun, type ThroughputRun } from './workers/throughput.ts';

/** The heartbeat timeouts recovery is measured at: eddy's default, and a lower one a job may set. */
export const HEARTBEAT_TIMEOUTS_MS = [3000, 1000];
/** The recovery target (seconds). */
export const RECOVERY_TARGET_S = 5;
export const QUERIES = ['q5', 'q11'];
export const WORKER_COUNTS = [0, 1, 2];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** `fn`, once more if it throws (a worker killed from outside, a stall on a loaded machine); the first failure is logged. */
async function withRetry<T>(ctx: BenchContext, what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
  try {
    return await fn(0);
  } catch (e) {
    ctx.log(`  ${what} FAILED, retrying once: ${String((e as Error)?.message ?? e).slice(0, 1500)}`);
    return await fn(1);
  }
}

const setup = (w: number): string => (w === 0 ? '1 process' : `${w} worker${w > 1 ? 's' : ''}`);

/** A throughput configuration's runs, summarized; CPU split of the run with the best events/s. */
interface ConfigReport {
  query: string;
  workers: number;
  events: number;
  bestEventsPerSecond: number;
  medianEventsPerSecond: number;
  bestEventsPerCpuSecond: number;
  medianEventsPerCpuSecond: number;
  best: ThroughputRun;
  runs: ThroughputRun[];
}

function configReport(runs: ThroughputRun[]): ConfigReport {
  const best = runs.reduce((a, b) => (b.m.eventsPerSecond > a.m.eventsPerSecond ? b : a));
  return {
    query: best.query,
    workers: best.workers,
    events: best.m.events,
    bestEventsPerSecond: best.m.eventsPerSecond,
    medianEventsPerSecond: median(runs.map((r) => r.m.eventsPerSecond)),
    bestEventsPerCpuSecond: Math.max(...runs.map((r) => r.m.eventsPerCpuSecond)),
    medianEventsPerCpuSecond: median(runs.map((r) => r.m.eventsPerCpuSecond)),
    best,
    runs,
  };
}

/** The suite's one table: recovery rows, then a row per query and worker count. */
export function workersTable(recovery: Record<number, RecoveryRun[]>, configs: readonly ConfigReport[]): string {
  const rows = [
    '| benchmark | setup | events | events/s best (median) | events/CPU-s best (median) | CPU-s eddy run / workers / nats | window s (start-up s) | recovery s best (median) |',
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const hb of HEARTBEAT_TIMEOUTS_MS) {
    const runs = recovery[hb];
    if (runs === undefined) continue;
    const s = recoverySummary(runs);
    rows.push(
      `| recovery after worker SIGKILL | 2 workers, p 2, heartbeat timeout ${hb} ms | - | - | - | - | - | ` +
        `**${s.best.toFixed(2)}** (${s.median.toFixed(2)}) ${s.best < RECOVERY_TARGET_S ? '< 5: met' : '>= 5: MISSED'} |`,
    );
  }
  for (const c of configs) {
    const b = c.best;
    rows.push(
      `| nexmark ${c.query} | ${setup(c.workers)}, p ${NEXMARK_P} | ${c.events.toLocaleString('en-US')} | ${fmtRate(c.bestEventsPerSecond)} (${fmtRate(c.medianEventsPerSecond)}) | ` +
        `${fmtRate(c.bestEventsPerCpuSecond)} (${fmtRate(c.medianEventsPerCpuSecond)}) | ` +
        `${b.masterCpuSeconds.toFixed(2)} / ${c.workers === 0 ? '-' : b.perWorkerCpuSeconds.map((x) => x.toFixed(2)).join(' + ')} / ${b.m.natsCpuSeconds.toFixed(2)} | ` +
        `${b.m.wallSeconds.toFixed(2)} (${b.startupSeconds.toFixed(1)}) | - |`,
    );
  }
  return rows.join('\n');
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const events = Math.max(1_000_000, Math.round(10_000_000 * ctx.scale));
  // Other work on the machine shows here (the figures are only as quiet as the machine was).
  const loadBefore = loadavg()[0]!;
  ctx.log(
    `workers: recovery (${RECOVERY_RECORDS} records at ${RECOVERY_RATE}/s, checkpoints every ${RECOVERY_INTERVAL_MS} ms, heartbeat timeouts ${HEARTBEAT_TIMEOUTS_MS.join(' and ')} ms) ` +
      `x ${ctx.runs}; nexmark ${QUERIES.join(', ')} at ${events.toLocaleString('en-US')} events, p ${NEXMARK_P}, checkpoints every ${NEXMARK_INTERVAL_MS} ms, ` +
      `on ${WORKER_COUNTS.map(setup).join(' / ')}: warm-up + ${ctx.runs} runs each, alternating`,
  );

  // ---- (1) recovery
  const nc = await connectNats(ctx.natsUrl);
  const recovery: Record<number, RecoveryRun[]> = {};
  try {
    for (let r = 0; r < ctx.runs; r++)
      for (const hb of HEARTBEAT_TIMEOUTS_MS) {
        const x = await withRetry(ctx, `recovery run ${r + 1} (heartbeat ${hb} ms)`, (a) => recoveryRun(ctx, nc, hb, `${process.pid}-${hb}-${r}-${a}`));
        ctx.log(`  recovery run ${r + 1}: ${describeRecovery(x)}`);
        (recovery[hb] ??= []).push(x);
      }
  } finally {
    await nc.close();
  }

  // ---- (2) nexmark on workers: a warm-up (tsx's compile cache, the page cache, nats-server), then alternating runs.
  const warm = await throughputRun(ctx, QUERIES[0]!, 2, Math.round(events / 10), `${process.pid}-warmup`);
  ctx.log(`  warm-up ${warm.query} ${setup(warm.workers)}: ${fmtRate(warm.m.eventsPerSecond)} ev/s`);
  const byConfig = new Map<string, ThroughputRun[]>();
  for (let r = 0; r < ctx.runs; r++)
    for (const q of QUERIES)
      for (const w of WORKER_COUNTS) {
        const x = await withRetry(ctx, `${q} ${setup(w)} run ${r + 1}`, (a) => throughputRun(ctx, q, w, events, `${process.pid}-${r}-${a}`));
        ctx.log(
          `  ${q} ${setup(w).padEnd(9)} run ${r + 1}: ${fmtRate(x.m.eventsPerSecond)} ev/s, ${fmtRate(x.m.eventsPerCpuSecond)} ev/CPU-s over ${x.m.wallSeconds.toFixed(2)} s ` +
            `(CPU eddy run ${x.masterCpuSeconds.toFixed(2)} s, workers ${x.workersCpuSeconds.toFixed(2)} s [${x.perWorkerCpuSeconds.map((c) => c.toFixed(2)).join(', ')}], ` +
            `nats ${x.m.natsCpuSeconds.toFixed(2)} s); start-up ${x.startupSeconds.toFixed(1)} s, process ${x.processWallSeconds.toFixed(1)} s / ${x.processCpuSeconds.toFixed(1)} CPU-s; ` +
            `${x.rows} rows (digest ${x.digest}), ${x.checkpoints} ckpts`,
        );
        byConfig.set(`${q}/${w}`, [...(byConfig.get(`${q}/${w}`) ?? []), x]);
      }
  const configs = [...byConfig.values()].map(configReport);

  // The same rows in every configuration (the job is deterministic in event time).
  const mismatches: string[] = [];
  for (const q of QUERIES) {
    const all = configs.filter((c) => c.query === q).flatMap((c) => c.runs);
    const ref = all[0]!;
    for (const x of all)
      if (x.rows !== ref.rows || x.digest !== ref.digest) mismatches.push(`${q} ${setup(x.workers)}: ${x.rows} rows (digest ${x.digest}) vs ${ref.rows} (${ref.digest})`);
  }
  for (const m of mismatches) ctx.log(`  MISMATCH ${m}`);

  const comparisons: Comparison[] = [];
  for (const q of QUERIES) {
    const one = configs.find((c) => c.query === q && c.workers === 0)!;
    const baseline = summarize('1 process', one.runs.map((x) => x.m));
    for (const c of configs.filter((x) => x.query === q && x.workers > 0))
      comparisons.push(
        compare({
          name: `${q}-${c.workers}w`,
          description: `Nexmark ${q}, p ${NEXMARK_P}, on ${setup(c.workers)} vs in one process (no target: a measurement); CPU = eddy run + workers (node) and nats-server`,
          eddy: summarize(setup(c.workers), c.runs.map((x) => x.m)),
          baseline,
          target: 0,
        }),
      );
  }

  ctx.log('\n' + workersTable(recovery, configs));
  ctx.log(
    '(window: first source reader created -> last sink subtask at end of input; start-up: spawning eddy run -> first reader; ' +
      'recovery: SIGKILL -> first record published by a sink writer created after the kill, i.e. by a restarted task)',
  );

  const params: Record<string, number | string> = {
    events,
    parallelism: NEXMARK_P,
    checkpointIntervalMs: NEXMARK_INTERVAL_MS,
    runs: ctx.runs,
    recoveryRecords: RECOVERY_RECORDS,
    recoveryRate: RECOVERY_RATE,
    recoveryCheckpointIntervalMs: RECOVERY_INTERVAL_MS,
    loadAverage1mBefore: Number(loadBefore.toFixed(2)),
    loadAverage1mAfter: Number(loadavg()[0]!.toFixed(2)),
  };
  for (const hb of HEARTBEAT_TIMEOUTS_MS) {
    const s = recoverySummary(recovery[hb]!);
    params[`recovery.hb${hb}.bestSeconds`] = Number(s.best.toFixed(3));
    params[`recovery.hb${hb}.medianSeconds`] = Number(s.median.toFixed(3));
  }
  const result: SuiteResult & Record<string, unknown> = {
    suite: 'workers',
    params,
    comparisons,
    recovery: HEARTBEAT_TIMEOUTS_MS.map((hb) => ({ heartbeatTimeoutMs: hb, ...recoverySummary(recovery[hb]!), targetSeconds: RECOVERY_TARGET_S, runs: recovery[hb]! })),
    throughput: configs.map((c) => ({ ...c, best: undefined })),
    outputsMatch: mismatches.length === 0,
  };
  return result;
}
