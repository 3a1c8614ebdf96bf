// Part (1) of the "checkpoints" suite: throughput with checkpoints every second vs none.
//   generator(p=2) -> map -> keyBy (NATS) -> sum -> discarding sink over 100k keys, with checkpoints every 1 s vs none.
import { StreamEnvironment } from '../../index.ts';
import type { CheckpointSummary } from '../../src/api/job.ts';
import type { BenchContext, Measurement } from '../report.ts';
import { compare, fmtRate, measure, summarize } from '../report.ts';
import { bump, CountingSink, fmtBytes, fmtInt, INTERVAL_MS, mean, P, type Ev } from './common.ts';

export const THROUGHPUT_KEYS = 100_000;
const generate = (i: number): Ev => ({ key: i % THROUGHPUT_KEYS, v: i % 7 });

interface ThroughputCheck {
  count: number;
  checkpoints: CheckpointSummary | undefined;
}

export async function throughputJob(ctx: Pick<BenchContext, 'natsUrl' | 'stateDir'>, n: number, checkpoints: boolean): Promise<ThroughputCheck> {
  const sink = new CountingSink();
  const env = StreamEnvironment.create({
    parallelism: P,
    nats: ctx.natsUrl,
    stateDir: ctx.stateDir,
    ...(checkpoints ? { checkpointing: { intervalMs: INTERVAL_MS } } : {}),
  });
  env
    .fromGenerator(n, generate)
    .map(bump)
    .keyBy((e) => e.key)
    .sum('v')
    .sinkTo(sink);
  const r = await env.execute(checkpoints ? 'bench-cp-on' : 'bench-cp-off');
  if (r.status !== 'finished') throw new Error(`throughput job ended ${r.status}`);
  return { count: sink.count, checkpoints: r.checkpoints };
}

interface CheckpointFigures {
  /** Periodic checkpoints completed (the final one at the end of input not counted). */
  periodic: number;
  aborted: number;
  meanDurationMs: number;
  maxDurationMs: number;
  meanBytes: number;
  /** The final checkpoint (end of input). */
  finalDurationMs: number;
  finalBytes: number;
}

function checkpointFigures(s: CheckpointSummary | undefined): CheckpointFigures {
  const h = s?.history ?? [];
  const periodic = h.filter((c) => c.kind === 'checkpoint' && c.status === 'completed');
  const fin = h.find((c) => c.kind === 'final' && c.status === 'completed');
  return {
    periodic: periodic.length,
    aborted: h.filter((c) => c.status === 'aborted').length,
    meanDurationMs: mean(periodic.map((c) => c.durationMs)),
    maxDurationMs: Math.max(0, ...periodic.map((c) => c.durationMs)),
    meanBytes: mean(periodic.map((c) => c.bytes)),
    finalDurationMs: fin?.durationMs ?? NaN,
    finalBytes: fin?.bytes ?? NaN,
  };
}

/** Warm-up + `ctx.runs` measured runs of `n` events with checkpoints and without: the comparison and the checkpoint figures. */
export async function runThroughput(ctx: BenchContext, n: number) {
  const runs = ctx.runs;
  ctx.log(`throughput: generator(p=${P}) -> map -> keyBy -> sum -> discard, ${THROUGHPUT_KEYS} keys, ${fmtInt(n)} events, checkpoints every ${INTERVAL_MS} ms vs none, warm-up + best of ${runs}`);
  const onRuns: Measurement[] = [];
  const offRuns: Measurement[] = [];
  const onFigures: CheckpointFigures[] = [];
  for (let r = 0; r <= runs; r++) {
    const on = await measure(ctx, n, () => throughputJob(ctx, n, true));
    const off = await measure(ctx, n, () => throughputJob(ctx, n, false));
    for (const [who, c] of [['with checkpoints', on.check], ['without', off.check]] as const)
      if (c.count !== n) throw new Error(`throughput ${who}: the sink saw ${c.count} records, expected ${n}`);
    const f = checkpointFigures(on.check.checkpoints);
    const tag = r === 0 ? 'warm-up' : `run ${r}`;
    ctx.log(
      `  ${tag.padEnd(7)} checkpoints ${fmtRate(on.m.eventsPerSecond)} ev/s  none ${fmtRate(off.m.eventsPerSecond)} ev/s  ` +
        `(${f.periodic} periodic checkpoints, mean ${f.meanDurationMs.toFixed(0)} ms / ${fmtBytes(f.meanBytes)}; final ${f.finalDurationMs} ms / ${fmtBytes(f.finalBytes)})`,
    );
    if (r > 0) {
      onRuns.push(on.m);
      offRuns.push(off.m);
      onFigures.push(f);
    }
  }
  const throughput = compare({
    name: 'throughput',
    description: `generator(p=${P}) -> map -> keyBy (NATS) -> sum -> discarding sink, ${THROUGHPUT_KEYS} keys: checkpoints every ${INTERVAL_MS} ms vs none`,
    eddy: summarize(`checkpoints ${INTERVAL_MS} ms`, onRuns),
    baseline: summarize('no checkpoints', offRuns),
    target: 0.9,
  });
  const allPeriodic = onFigures.reduce((a, f) => a + f.periodic, 0);
  const throughputCheckpoints = {
    perRun: onFigures,
    periodicPerRunMean: allPeriodic / onFigures.length,
    meanDurationMs: onFigures.reduce((a, f) => a + f.meanDurationMs * f.periodic, 0) / allPeriodic,
    meanBytes: onFigures.reduce((a, f) => a + f.meanBytes * f.periodic, 0) / allPeriodic,
    finalMeanDurationMs: mean(onFigures.map((f) => f.finalDurationMs)),
  };
  return { throughput, throughputCheckpoints };
}
