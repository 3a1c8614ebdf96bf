// Part (3) of the "checkpoints" suite: restore time of the largest scaling job's retained LevelDB checkpoint (full + deltas).
//   restoreOperator into fresh heap backends, and a whole job restored with `restore: { latest: true }` (time to first
//   record) vs the same job started empty.
import { join } from 'node:path';
import { jobDirName } from '../../src/api/job-registry.ts';
import { LevelCheckpointStorage } from '../../src/checkpoint/level-checkpoint-storage.ts';
import { restoreOperator } from '../../src/checkpoint/operator-restore.ts';
import type { StreamNode } from '../../src/graph/stream-graph.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import type { BenchContext, Measurement } from '../report.ts';
import { fmtRate, measure } from '../report.ts';
import { CountingSink, fmtInt, median, P, table } from './common.ts';
import { Gate, jobName, scalingEnv } from './scaling.ts';

interface RestoreOnce {
  keys: number;
  /** Both subtasks concurrently (what a restarting job does). */
  wallSeconds: number;
  perSubtaskSeconds: number[];
}

/** The key count of a restored backend (after the timing). */
function keysIn(b: HeapKeyedStateBackend): number {
  return b.snapshot().states.reduce((n, s) => n + s.entries.length, 0);
}

/** restoreOperator of every keyed operator of the latest checkpoint into fresh heap backends, p subtasks concurrently. */
async function restoreDirect(storage: LevelCheckpointStorage, sequential: boolean): Promise<RestoreOnce> {
  const meta = await storage.latest();
  if (meta === undefined) throw new Error(`no checkpoint in ${storage.location}`);
  const ops = Object.values(meta.operators).filter((op) => op.keyed && op.subtasks.some((h) => h.chain.length > 0));
  if (ops.length === 0) throw new Error('the checkpoint holds no keyed state');
  const backends: HeapKeyedStateBackend[] = [];
  const perSubtask: number[] = [];
  const one = async (op: (typeof ops)[number], s: number): Promise<void> => {
    const node = { keyed: true, name: op.name } as StreamNode;
    const b = new HeapKeyedStateBackend(op.name, meta.maxParallelism);
    backends.push(b);
    const t = performance.now();
    await restoreOperator(storage, op, node, s, op.parallelism, meta.maxParallelism, b);
    perSubtask.push((performance.now() - t) / 1000);
  };
  const t0 = performance.now();
  for (const op of ops) {
    if (sequential) for (let s = 0; s < op.parallelism; s++) await one(op, s);
    else await Promise.all(op.subtasks.map((_, s) => one(op, s)));
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  return { keys: backends.reduce((n, b) => n + keysIn(b), 0), wallSeconds, perSubtaskSeconds: perSubtask };
}

/** Chunks of the latest checkpoint's keyed chains (full + deltas), for the report. */
async function chainOf(storage: LevelCheckpointStorage): Promise<{ checkpoint: number; chain: string[] }> {
  const meta = (await storage.latest())!;
  const op = Object.values(meta.operators).find((o) => o.keyed && o.subtasks.some((h) => h.chain.length > 0))!;
  return { checkpoint: meta.id, chain: op.subtasks[0]!.chain };
}

interface JobStart {
  /** From before executeAsync to the first record at the sink. */
  firstRecordSeconds: number;
  /** From before executeAsync until every task runs (restore included). */
  runningSeconds: number;
  checkpointsCompleted: number;
}

/**
 * Starts the scaling job (restored from its latest checkpoint, or empty under another name),
 * lets one record per source subtask through, waits for the first at the sink, and stops it as
 * failed (a cancelled job would delete the checkpoints the next run restores).
 */
async function jobStart(ctx: BenchContext, keys: number, restore: boolean): Promise<JobStart> {
  const gate = new Gate();
  const sink = new CountingSink();
  gate.open(P);
  const t0 = performance.now();
  const env = scalingEnv(ctx, keys, gate, sink, restore);
  const client = await env.executeAsync(restore ? jobName(keys) : `${jobName(keys)}-empty`);
  const running = performance.now();
  await sink.waitFor(1);
  gate.fail();
  const r = await client.result;
  if (r.status !== 'failed') throw new Error(`restore job ended ${r.status}, expected the harness's failure`);
  return { firstRecordSeconds: (sink.firstAt - t0) / 1000, runningSeconds: (running - t0) / 1000, checkpointsCompleted: r.checkpoints?.completed ?? 0 };
}

/** Restores the `kMax`-key scaling job's latest checkpoint, operator by operator and as a whole job, warm-up + `ctx.runs` times. */
export async function runRestore(ctx: BenchContext, kMax: number) {
  const runs = ctx.runs;
  const dir = join(ctx.stateDir, 'checkpoints', jobDirName(jobName(kMax)));
  const storage = await LevelCheckpointStorage.open(dir);
  const restoreRuns: Measurement[] = [];
  const restoreOnce: RestoreOnce[] = [];
  const sequentialOnce: RestoreOnce[] = [];
  let chain: { checkpoint: number; chain: string[] };
  try {
    chain = await chainOf(storage);
    ctx.log(`restore: restoreOperator of checkpoint ${chain.checkpoint} (chain ${chain.chain.length} chunks per subtask: full + ${chain.chain.length - 1} deltas) of ${fmtInt(kMax)} keys into fresh heap backends, ${P} subtasks concurrently; warm-up + ${runs}`);
    for (let r = 0; r <= runs; r++) {
      const x = await measure(ctx, kMax, () => restoreDirect(storage, false));
      const y = await measure(ctx, kMax, () => restoreDirect(storage, true));
      if (x.check.keys !== kMax || y.check.keys !== kMax) throw new Error(`restore: ${x.check.keys} / ${y.check.keys} keys restored, expected ${kMax}`);
      const tag = r === 0 ? 'warm-up' : `run ${r}`;
      ctx.log(
        `  ${tag.padEnd(7)} concurrent ${x.check.wallSeconds.toFixed(3)} s (${fmtRate(x.m.eventsPerSecond)} keys/s, CPU ${(x.m.nodeCpuSeconds).toFixed(2)} s); ` +
          `one after another: ${y.check.perSubtaskSeconds.map((t) => t.toFixed(3)).join(' + ')} s`,
      );
      if (r > 0) {
        restoreRuns.push(x.m);
        restoreOnce.push(x.check);
        sequentialOnce.push(y.check);
      }
    }
  } finally {
    await storage.close();
  }
  const restoreBest = Math.min(...restoreOnce.map((x) => x.wallSeconds));
  const restoreMedian = median(restoreOnce.map((x) => x.wallSeconds));
  const sequentialBest = Math.min(...sequentialOnce.map((x) => x.perSubtaskSeconds.reduce((a, b) => a + b, 0)));

  ctx.log(`restore: the whole job with restore: { latest: true } vs the same job started empty, time to first record; ${runs} runs each`);
  const restored: JobStart[] = [];
  const empty: JobStart[] = [];
  for (let r = 1; r <= runs; r++) {
    ctx.gc();
    const a = await jobStart(ctx, kMax, true);
    ctx.gc();
    const b = await jobStart(ctx, kMax, false);
    if (a.checkpointsCompleted > 0) ctx.log('  (the restored job completed a checkpoint: later runs restore that one)');
    ctx.log(`  run ${r}   restored: running after ${a.runningSeconds.toFixed(3)} s, first record ${a.firstRecordSeconds.toFixed(3)} s; empty: ${b.runningSeconds.toFixed(3)} s / ${b.firstRecordSeconds.toFixed(3)} s`);
    restored.push(a);
    empty.push(b);
  }
  const firstBest = Math.min(...restored.map((x) => x.firstRecordSeconds));
  const emptyBest = Math.min(...empty.map((x) => x.firstRecordSeconds));

  const restoreTable = table(
    ['restore of ' + fmtInt(kMax) + ' keys', 'best s', 'median s', 'target'],
    [
      [`restoreOperator, ${P} subtasks concurrently`, restoreBest.toFixed(3), restoreMedian.toFixed(3), `< 2 s: ${restoreBest < 2 ? 'MET' : 'MISSED'}`],
      [`restoreOperator, subtasks one after another (sum)`, sequentialBest.toFixed(3), median(sequentialOnce.map((x) => x.perSubtaskSeconds.reduce((a, b) => a + b, 0))).toFixed(3), ''],
      ['whole job restored: first record', firstBest.toFixed(3), median(restored.map((x) => x.firstRecordSeconds)).toFixed(3), `< 2 s: ${firstBest < 2 ? 'MET' : 'MISSED'}`],
      ['same job, empty state: first record', emptyBest.toFixed(3), median(empty.map((x) => x.firstRecordSeconds)).toFixed(3), ''],
    ],
  );
  return { chain, restoreTable, restoreRuns, restoreOnce, sequentialOnce, restoreBest, restoreMedian, restored, empty, firstBest, emptyBest };
}
