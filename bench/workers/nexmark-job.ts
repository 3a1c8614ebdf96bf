// A Nexmark query as a job for `eddy run [--workers N]` (bench/workers.ts): generator -> query -> a counting sink; readers and sink writers print marker lines the bench reads.
//   eddy run bench/workers/nexmark-job.ts -p 2 [--workers N] -- --query q5 --events N --interval MS --name NAME
// Every process that loads this file (eddy run, and each `eddy worker`) rebuilds the same plan from the same arguments.
// Lines on stdout (workers inherit eddy run's stdout):
//   EDDY_BENCH_READER <subtask> <epoch ms>        a source reader was created (the first one starts the measured window)
//   EDDY_BENCH_ROWS <subtask> <rows> <digest>      a sink subtask reached the end of its input
//   RESULT {...}                                   the job master's JobResult, after execute() returned
import { parseArgs } from 'node:util';
import { StreamEnvironment, WatermarkStrategy, type Sink, type Source } from '../../index.ts';
import { DIGESTS, RowCounter } from '../nexmark/baselines.ts';
import { eventTime, nexmarkSource } from '../nexmark/generator.ts';
import type { NexmarkEvent } from '../nexmark/model.ts';
import { QUERIES } from '../nexmark/queries/index.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { query: { type: 'string' }, events: { type: 'string' }, interval: { type: 'string' }, name: { type: 'string' } },
});
const q = values.query ?? 'q5';
const query = QUERIES[q];
const digest = DIGESTS[q];
if (query === undefined || digest === undefined) throw new Error(`unknown query ${q}`);
const events = Number(values.events ?? 10_000_000);
const intervalMs = Number(values.interval ?? 5000);

/** `inner`, printing a line when a reader is created (its reader is returned unchanged, so the source keeps its fused loop). */
function markedSource<T>(inner: Source<T>): Source<T> {
  return {
    name: inner.name,
    bounded: inner.bounded,
    ...(inner.maxParallelism === undefined ? {} : { maxParallelism: inner.maxParallelism }),
    createReader: (ctx) => {
      process.stdout.write(`EDDY_BENCH_READER ${ctx.subtaskIndex} ${Date.now()}\n`);
      return inner.createReader(ctx);
    },
  };
}

/** Counts and digests rows (bench/nexmark/baselines.ts's RowCounter); prints them at the end of input. */
const countingSink: Sink<unknown> = {
  name: 'Nexmark counting sink',
  createWriter: ({ operator }) => {
    const counter = new RowCounter(digest);
    return {
      invoke: (row: unknown): void => counter.add(row),
      finish: (): void => {
        process.stdout.write(`EDDY_BENCH_ROWS ${operator.subtaskIndex} ${counter.rows} ${counter.digest}\n`);
      },
    };
  },
};

const env = StreamEnvironment.create(intervalMs > 0 ? { checkpointing: intervalMs } : {});
// As nexmarkEvents() (bench/nexmark/queries/index.ts) builds it, with the marked source.
const stream = env
  .fromSource(markedSource(nexmarkSource({ events, eventsPerSecond: 10_000_000 })), 'Nexmark Source')
  .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<NexmarkEvent>(100).withTimestampAssigner(eventTime));
query(env, stream).sinkTo(countingSink).name('counting sink');
const r = await env.execute(values.name ?? `bench-workers-${q}`);
console.log(`RESULT ${JSON.stringify({ status: r.status, durationMs: r.durationMs, checkpoints: r.checkpoints?.completed ?? 0, restarts: r.restarts.length, error: r.error?.message })}`);
