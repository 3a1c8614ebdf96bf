// The "checkpoints" suite: throughput with checkpoints vs none, incremental checkpoint size/duration as keyed state grows, restore time.
//   throughput: generator(p=2) -> map -> keyBy (NATS) -> sum -> discarding sink over 100k keys, with checkpoints every 1 s vs none.
//   scaling:    a real job builds K keys (10k, 100k, 1M), then per checkpoint updates 1% of them; JobResult history gives
//               each checkpoint's duration and bytes: incremental (1% changed) vs full (compaction every compactEvery chunks).
//   restore:    the 1M-key job's retained LevelDB checkpoint (full + deltas): restoreOperator into fresh heap backends,
//               and a whole job restored with `restore: { latest: true }` (time to first record) vs the same job started empty.
// Each part is in bench/checkpoints/; this module runs them in order and reports.
import type { BenchContext, SuiteResult } from './report.ts';
import { fmtBytes, fmtInt, INTERVAL_MS, P } from './checkpoints/common.ts';
import { runRestore } from './checkpoints/restore.ts';
import { COMPACT_EVERY, ROUNDS, runScaling } from './checkpoints/scaling.ts';
import { runThroughput, THROUGHPUT_KEYS } from './checkpoints/throughput.ts';

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const runs = ctx.runs;
  const n = Math.max(100_000, Math.round(10_000_000 * ctx.scale));
  const params: Record<string, number | string> = { events: n, keys: THROUGHPUT_KEYS, parallelism: P, intervalMs: INTERVAL_MS, runs, compactEvery: COMPACT_EVERY, rounds: ROUNDS };

  // ---- (1) throughput
  const { throughput, throughputCheckpoints } = await runThroughput(ctx, n);

  // ---- (2) scaling
  const { sizes, scaling, scalingTable, last, slope, scalingMet } = await runScaling(ctx);

  // ---- (3) restore (from the largest scaling job's retained checkpoints)
  const kMax = sizes[sizes.length - 1]!;
  const { chain, restoreTable, restoreRuns, restoreOnce, sequentialOnce, restoreBest, restoreMedian, restored, empty, firstBest, emptyBest } = await runRestore(ctx, kMax);

  ctx.log('\nscaling (duration and bytes of each checkpoint from JobResult history; delta = 1% of keys changed):\n' + scalingTable);
  ctx.log(
    `scaling target (delta bytes track the changed keys, not the total): at K=${fmtInt(last.keys)} a delta is ${(last.bytesRatio * 100).toFixed(2)}% of a full snapshot ` +
      `(${((100 * last.changedPerCheckpoint) / last.keys).toFixed(0)}% of keys changed); ${slope.toFixed(1)} B per extra changed key vs ${last.fullBytesPerKey.toFixed(1)} B per key in a full snapshot: ${scalingMet ? 'MET' : 'MISSED'}`,
  );
  ctx.log('\nrestore:\n' + restoreTable);
  ctx.log(
    `\nthroughput: ${throughputCheckpoints.periodicPerRunMean.toFixed(1)} periodic checkpoints per run, mean ${throughputCheckpoints.meanDurationMs.toFixed(0)} ms and ${fmtBytes(throughputCheckpoints.meanBytes)} each; ` +
      `final checkpoint ${throughputCheckpoints.finalMeanDurationMs.toFixed(0)} ms mean`,
  );

  params['throughput.periodicCheckpointsPerRun'] = throughputCheckpoints.periodicPerRunMean;
  params['throughput.checkpointMeanMs'] = Math.round(throughputCheckpoints.meanDurationMs);
  params['throughput.checkpointMeanBytes'] = Math.round(throughputCheckpoints.meanBytes);
  for (const s of scaling) {
    params[`scaling.${s.keys}.deltaMeanMs`] = Number(s.deltaMeanMs.toFixed(1));
    params[`scaling.${s.keys}.deltaMeanBytes`] = Math.round(s.deltaMeanBytes);
    params[`scaling.${s.keys}.fullMeanMs`] = Number(s.fullMeanMs.toFixed(1));
    params[`scaling.${s.keys}.fullMeanBytes`] = Math.round(s.fullMeanBytes);
  }
  params['restore.keys'] = kMax;
  params['restore.operatorBestSeconds'] = Number(restoreBest.toFixed(3));
  params['restore.jobFirstRecordBestSeconds'] = Number(firstBest.toFixed(3));
  params['restore.emptyJobFirstRecordBestSeconds'] = Number(emptyBest.toFixed(3));

  const result: SuiteResult & Record<string, unknown> = {
    suite: 'checkpoints',
    params,
    comparisons: [throughput],
    throughputCheckpoints,
    scaling,
    scalingTarget: {
      description: 'at the largest K a delta is < 2x its share of changed keys of a full snapshot, and the marginal bytes per extra changed key are < 2x a full snapshot\'s bytes per key',
      marginalBytesPerChangedKey: slope,
      met: scalingMet,
    },
    restore: {
      keys: kMax,
      checkpoint: chain.checkpoint,
      chainLength: chain.chain.length,
      operator: { runs: restoreRuns, concurrent: restoreOnce, sequential: sequentialOnce, bestSeconds: restoreBest, medianSeconds: restoreMedian, target: 2, met: restoreBest < 2 },
      job: { restored, empty, firstRecordBestSeconds: firstBest, emptyFirstRecordBestSeconds: emptyBest, met: firstBest < 2 },
    },
  };
  return result;
}
