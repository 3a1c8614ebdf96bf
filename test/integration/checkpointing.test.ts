// Exactly-once under failures: keyed sum/reduce, a keyed process function with timers and a window give the failure-free result after restarts.
import { connect } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  KeyedProcessFunction,
  StreamEnvironment,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type DataStream,
  type JobResult,
  type KeyedProcessContext,
  type OnTimerContext,
  type ProcessWindowContext,
  type RuntimeContext,
  type StreamEnvironmentConfig,
  type TimeWindow,
  type ValueState,
} from '../../index.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { subjects } from '../../src/transport/subjects.ts';
import { collectAsync, completedCheckpoints, RestartableNatsServer, tmpDirs, waitFor } from '../fixtures/fault-tolerance-support.ts';

const nats = inject('natsUrl');
const dirs = tmpDirs('eddy-cp-test-');
afterEach(() => dirs.cleanup());

const KEYS = 5;
const BUCKET = 100;

interface Ev {
  k: number;
  i: number;
  ts: number;
}

/** Once armed by the test, the map fails on the next record (once): a user function that throws mid-stream. */
let armed = false;
let failures = 0;
/** Set by the throw tests: if the test has not armed the map before the last 500 records, they throw anyway. */
let mustThrow = false;

/** Counts the records of one key-bucket in ValueState and emits the count from an event-time timer at the bucket's end. */
class BucketCounter extends KeyedProcessFunction<string, Ev, string> {
  private count!: ValueState<number>;
  override open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor('count', 0));
  }
  processElement(e: Ev, ctx: KeyedProcessContext<string>): void {
    this.count.update(this.count.value() + 1);
    ctx.timerService().registerEventTimeTimer((Math.floor(e.ts / BUCKET) + 1) * BUCKET - 1);
  }
  override onTimer(_ts: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    out.collect(`bucket ${ctx.getCurrentKey()} ${this.count.value()}`);
    this.count.clear();
  }
}

/** The job: one generator feeding a rolling sum, a rolling reduce, the bucket counter and two tumbling windows (incremental, process). */
function build(env: StreamEnvironment, n: number, rate: number): DataStream<string> {
  const nk = (k: number) => Math.floor(n / KEYS) + (k < n % KEYS ? 1 : 0);
  const src = env
    .fromGenerator(n, (i): Ev => ({ k: i % KEYS, i, ts: i }), { ratePerSecond: rate })
    .uid('gen')
    .map((e) => {
      // Armed by the test once checkpoints completed; on a loaded machine the source may outrun them, so the last records throw regardless.
      if (armed || (mustThrow && failures === 0 && e.i === n - 500)) {
        armed = false;
        failures++;
        throw new Error(`injected failure at record ${e.i}`);
      }
      return e;
    })
    .name('faulty')
    .uid('faulty')
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts))
    .uid('wm');
  const sums = src
    .map((e) => ({ k: e.k, n: 1 }))
    .uid('ones')
    .keyBy((r) => r.k)
    .sum('n')
    .uid('sum')
    .map((r) => `sum ${r.k} ${r.n}`)
    .uid('show-sum');
  const reduced = src
    .map((e) => ({ k: e.k, n: 1, total: e.i }))
    .uid('ones-total')
    .keyBy((r) => r.k)
    .reduce((a, b) => ({ k: a.k, n: a.n + b.n, total: a.total + b.total }))
    .uid('reduce')
    .map((r) => `reduce ${r.k} ${r.n}${r.n === nk(r.k) ? ` total ${r.total}` : ''}`)
    .uid('show-reduce');
  const buckets = src
    .keyBy((e) => `${e.k}:${Math.floor(e.ts / BUCKET)}`)
    .process(new BucketCounter())
    .uid('buckets');
  const windows = src
    .map((e) => ({ k: e.k, n: 1 }))
    .uid('ones-window')
    .keyBy((r) => r.k)
    .window(TumblingEventTimeWindows.of(BUCKET))
    .reduce(
      (a, b) => ({ k: a.k, n: a.n + b.n }),
      (k: number, ctx: ProcessWindowContext<TimeWindow>, [r]: readonly { k: number; n: number }[], out: Collector<string>) => out.collect(`window ${k} ${ctx.window().start} ${r!.n}`),
    )
    .uid('window');
  // A process window function takes the general WindowOperator (contents and timers in namespaced state), not panes.
  const processed = src
    .keyBy((e) => e.k)
    .window(TumblingEventTimeWindows.of(BUCKET))
    .process((k: number, ctx: ProcessWindowContext<TimeWindow>, els: readonly Ev[], out: Collector<string>) => out.collect(`pwindow ${k} ${ctx.window().start} ${els.length}`))
    .uid('process-window');
  return sums.union(reduced, buckets, windows, processed);
}

/** What the job outputs without any failure, computed directly. */
function expected(n: number): string[] {
  const out: string[] = [];
  const count = new Map<string, number>();
  const total = new Map<number, number>();
  const seen = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const k = i % KEYS;
    const j = (seen.get(k) ?? 0) + 1;
    seen.set(k, j);
    total.set(k, (total.get(k) ?? 0) + i);
    out.push(`sum ${k} ${j}`);
    const b = Math.floor(i / BUCKET);
    count.set(`${k}:${b}`, (count.get(`${k}:${b}`) ?? 0) + 1);
  }
  for (const [k, j] of seen) for (let x = 1; x <= j; x++) out.push(`reduce ${k} ${x}${x === j ? ` total ${total.get(k)}` : ''}`);
  for (const [kb, c] of count) {
    out.push(`bucket ${kb} ${c}`);
    const [k, b] = kb.split(':');
    out.push(`window ${k} ${Number(b) * BUCKET} ${c}`);
    out.push(`pwindow ${k} ${Number(b) * BUCKET} ${c}`);
  }
  return out.sort();
}

/** Checkpoint statistics agree with their history; the job ended with a completed final checkpoint. */
function expectConsistentCheckpoints(result: JobResult): void {
  const c = result.checkpoints!;
  expect(c.history.filter((h) => h.status === 'completed')).toHaveLength(c.completed);
  expect(c.history.filter((h) => h.status === 'aborted')).toHaveLength(c.aborted);
  const last = c.history[c.history.length - 1]!;
  expect(last).toMatchObject({ kind: 'final', status: 'completed', id: c.lastCompletedId });
  const ids = c.history.map((h) => h.id);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
}

async function start(name: string, n: number, rate: number, config: StreamEnvironmentConfig) {
  const env = StreamEnvironment.create({
    nats,
    stateDir: await dirs.make(),
    checkpointing: { intervalMs: 50 },
    restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 3 },
    autoWatermarkIntervalMs: 20,
    ...config,
  });
  return collectAsync(env, [build(env, n, rate)], name);
}

/** Publishes one message on its own connection and waits until the server has it. */
async function publishOnce(subject: string, bytes: Uint8Array): Promise<void> {
  const nc = await connect(natsConnectionOptions(nats));
  nc.publish(subject, bytes);
  await nc.flush();
  await nc.close();
}

describe('exactly-once with checkpoints under failures', () => {
  for (const [parallelism, stateBackend, storage] of [
    [1, 'heap', 'local'],
    [2, 'heap', 'local'],
    [2, 'level', 'local'],
    [2, 'heap', 'jetstream'],
  ] as const)
    it(`a user function that throws once mid-stream (p=${parallelism}, ${stateBackend} state, ${storage} checkpoints)`, async () => {
      // Long enough (1.5 s at 8,000/s) that two checkpoints complete first even on a loaded machine.
      const n = 12000;
      armed = false;
      failures = 0;
      mustThrow = true;
      const job = await start(`throw-p${parallelism}-${stateBackend}-${storage}`, n, 8000, { parallelism, stateBackend, checkpointing: { intervalMs: 50, storage } });
      // Fail once two checkpoints completed, so the restart has one to restore. If the fallback near the
      // end of the stream already threw (a very slow machine), arming again would make a second failure.
      await waitFor('two checkpoints', () => completedCheckpoints(job.client) >= 2);
      if (failures === 0) armed = true;
      const { result, outputs } = await job.done;
      expect(result.status).toBe('finished');
      expect(failures).toBe(1);
      expect(outputs[0]!.sort()).toEqual(expected(n));
      expect(result.restarts).toHaveLength(1);
      const r = result.restarts[0]!;
      expect(r.cause).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty' });
      expect(r.cause.message).toMatch(/injected failure at record \d+/);
      expect(r.checkpointId).toBeGreaterThanOrEqual(1);
      expect(result.checkpoints!.completed).toBeGreaterThanOrEqual(2);
      expect(result.checkpoints!.lastCompletedId).toBeGreaterThan(r.checkpointId!);
      expect(result.checkpoints!.history.find((h) => h.id === r.checkpointId)).toMatchObject({ status: 'completed' });
      expectConsistentCheckpoints(result);
    });

  it('a killed task actor', async () => {
    // Long enough (1.5 s at 8,000/s) that the kill lands while the job runs, even on a loaded machine.
    const n = 12000;
    armed = false;
    mustThrow = false;
    const job = await start('kill', n, 8000, { parallelism: 2, testHooks: true });
    await waitFor('two checkpoints', () => completedCheckpoints(job.client) >= 2);
    await publishOnce(subjects.kill(job.client.jobId), new FrameCodec().encodeValue(['Sum -> Map', 1]));
    const { result, outputs } = await job.done;
    expect(result.status).toBe('finished');
    expect(outputs[0]!.sort()).toEqual(expected(n));
    expect(result.restarts).toHaveLength(1);
    expect(result.restarts[0]!.cause).toMatchObject({ code: 'EDDY_TASK_DIED', subtask: 1 });
    expect(result.restarts[0]!.cause.message).toContain('Sum -> Map (2/2)');
    expect(result.restarts[0]!.regions).toEqual([0]);
    expect(result.restarts[0]!.checkpointId).toBeGreaterThanOrEqual(2);
    expectConsistentCheckpoints(result);
  });

  it('a forged frame (EDDY_SEQUENCE_GAP)', async () => {
    const n = 12000;
    armed = false;
    mustThrow = false;
    const job = await start('gap', n, 8000, { parallelism: 2 });
    await waitFor('two checkpoints', () => completedCheckpoints(job.client) >= 2);
    // Frame 1,000,000 of channel 0 of vertex 1 (the first keyed vertex), subtask 0, attempt 0.
    await publishOnce(subjects.input(`${job.client.jobId}-0`, 1, 0), new FrameCodec().encodeData(0, 1_000_000, [{ k: 0, n: 1 }], null, 'test'));
    const { result, outputs } = await job.done;
    expect(result.status).toBe('finished');
    expect(outputs[0]!.sort()).toEqual(expected(n));
    expect(result.restarts).toHaveLength(1);
    expect(result.restarts[0]!.cause).toMatchObject({ code: 'EDDY_SEQUENCE_GAP', subtask: 0 });
    expect(result.restarts[0]!.cause.message).toMatch(/frame 1000000 but \d+ was next/);
    expect(result.restarts[0]!.checkpointId).toBeGreaterThanOrEqual(2);
    expectConsistentCheckpoints(result);
  });

  it('a nats-server restart in the middle of the job', async () => {
    const n = 6000;
    armed = false;
    mustThrow = false;
    const server = await RestartableNatsServer.start(await dirs.make());
    try {
      const env = StreamEnvironment.create({
        nats: server.url,
        parallelism: 2,
        stateDir: await dirs.make(),
        checkpointing: { intervalMs: 50 },
        restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 5 },
        autoWatermarkIntervalMs: 20,
        connectionLossTimeoutMs: 10_000,
      });
      const job = await collectAsync(env, [build(env, n, 6000)], 'nats-restart');
      await waitFor('two checkpoints', () => completedCheckpoints(job.client) >= 2);
      await server.stop();
      await server.start();
      const { result, outputs } = await job.done;
      expect(result.error).toBeUndefined();
      expect(result.status).toBe('finished');
      expect(outputs[0]!.sort()).toEqual(expected(n));
      // Messages in flight may have been lost: the job restarted from the checkpoint before the outage.
      expect(result.restarts).toHaveLength(1);
      expect(result.restarts[0]!.cause.code).toBe('EDDY_NATS_CONNECTION_LOST');
      expect(result.restarts[0]!.checkpointId).toBeGreaterThanOrEqual(2);
      expectConsistentCheckpoints(result);
    } finally {
      await server.stop();
    }
  });
});
