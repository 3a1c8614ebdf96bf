// The task boundary as data: a descriptor survives the wire codec, names its plan by a fingerprint that equal jobs share, and a process with another plan refuses it.
import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { StreamEnvironment } from '../../index.ts';
import { resolveTask, workerServices, type TaskDescriptor } from '../../actors/task-descriptor.ts';
import { createStreamGraph } from '../../src/graph/stream-graph.ts';
import { createExecutionPlan } from '../../src/plan/execution-plan.ts';
import { planFingerprint } from '../../src/plan/plan-fingerprint.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { expectEddyError } from '../support/eddy-error.ts';

/** The same job as a user's script builds it: generator -> keyBy -> sum -> sink (keyParallelism for the sum). */
function planOf(keyParallelism: number, sumField = 'v') {
  const env = StreamEnvironment.create({ parallelism: 2 });
  const sink = env
    .fromGenerator(100, (i) => ({ k: i % 7, v: i, w: 1 }))
    .keyBy((r) => r.k)
    .sum(sumField)
    .setParallelism(keyParallelism)
    .uid('sum')
    .print();
  return createExecutionPlan(createStreamGraph([sink.transformation], { jobName: 'descriptor', parallelism: 2, maxParallelism: 128 }));
}

const services = (plan = planOf(2)) =>
  workerServices({
    nc: {} as NatsConnection,
    clock: new ManualClock(0),
    stateDir: '/tmp/unused',
    plan,
    storageFor: () => {
      throw new Error('no checkpoints here');
    },
    openRestore: () => {
      throw new Error('no restore here');
    },
  });

const descriptor = (fingerprint: string): TaskDescriptor => ({
  jobId: 'job1',
  jobName: 'descriptor',
  planFingerprint: fingerprint,
  vertex: 1,
  subtask: 1,
  attempt: 3,
  dataJob: 'job1-3',
  runId: 'run1',
  network: { batchSize: 1000, flushIntervalMs: 5, credits: 8 },
  autoWatermarkIntervalMs: 200,
  stateBackend: 'heap',
  checkpointing: { intervalMs: 100, timeoutMs: 1000, minPauseMs: 0, maxConcurrent: 1, retained: 3, compactEvery: 8, tolerableFailures: 3, storage: 'local' },
  recordFailures: { deadLetter: { subject: 'dlq.x' } },
  restore: { checkpointId: 7, kind: 'checkpoint', location: '/state/checkpoints/x' },
});

describe('task descriptors', () => {
  it('are plain data: the wire codec gives them back equal', () => {
    const d = descriptor(planFingerprint(planOf(2)));
    const codec = new FrameCodec();
    expect(codec.decodeValue(codec.encodeValue(d))).toEqual(d);
  });

  it('name the plan by a fingerprint that two builds of the same job share, and a changed job does not', () => {
    expect(planFingerprint(planOf(2))).toBe(planFingerprint(planOf(2)));
    expect(planFingerprint(planOf(2))).toMatch(/^[0-9a-f]{64}$/);
    expect(planFingerprint(planOf(3))).not.toBe(planFingerprint(planOf(2)));
    // Functions are not part of it: the same shape with another field summed is the same plan.
    expect(planFingerprint(planOf(2, 'w'))).toBe(planFingerprint(planOf(2)));
  });

  it('resolve against a worker with the same plan into the deployment a task runs', () => {
    const w = services();
    const { restore: _r, ...d } = descriptor(w.planFingerprint);
    const dep = resolveTask(d, w);
    expect(dep.vertex).toBe(w.plan.vertices[1]);
    expect([dep.subtask, dep.attempt, dep.dataJob, dep.runId, dep.stateBackend]).toEqual([1, 3, 'job1-3', 'run1', 'heap']);
    expect(dep.checkpointing?.options.intervalMs).toBe(100);
    expect(dep.nc).toBe(w.nc);
  });

  it('are refused by a process that built another plan (EDDY_PLAN_MISMATCH naming both), or that lacks the vertex', async () => {
    const e = await expectEddyError(() => resolveTask(descriptor(planFingerprint(planOf(3))), services()), 'EDDY_PLAN_MISMATCH');
    expect(e.message).toMatch(/task 1\/1 of job "descriptor" was planned as [0-9a-f]{12}, but this process built plan [0-9a-f]{12}/);
    const w = services();
    await expectEddyError(() => resolveTask({ ...descriptor(w.planFingerprint), vertex: 9 }, w), 'EDDY_INTERNAL');
  });
});
