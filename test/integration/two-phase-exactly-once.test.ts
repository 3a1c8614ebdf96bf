// Exactly-once through a two-phase sink when a failure follows a savepoint, when a commit stalls and fails, when a commit never succeeds, and when a completion of a checkpoint the tasks did not take arrives.
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StreamEnvironment, type JobClient, type JobResult } from '../../index.ts';
import type { Source, SourceReader } from '../../src/connectors/source.ts';
import { twoPhaseCommitWriter, type CommitRetryOptions, type SinkTransaction } from '../../src/connectors/two-phase-commit.ts';
import type { Sink } from '../../src/operators/sink-operator.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { subjects } from '../../src/transport/subjects.ts';
import type { TaskControlMessage } from '../../actors/task-protocol.ts';
import { completedCheckpoints, tmpDirs, waitFor } from '../fixtures/fault-tolerance-support.ts';

const nats = inject('natsUrl');
const dirs = tmpDirs('eddy-2pc-test-');
afterEach(() => dirs.cleanup());

const N = 3000;
const SINK = 'Txn Sink';
/** The sink operator's name (what errors are attributed to). */
const SINK_OP = `Sink: ${SINK}`;

// The job runs in this process: the test steers it through this shared state, by record counts
// and checkpoint ids, never by wall time.

/** How far the source may read (records 0 .. limit-1); the test raises it. */
const feed = {
  limit: 0,
  waiters: [] as (() => void)[],
  raise(to: number): void {
    this.limit = to;
    for (const w of this.waiters.splice(0)) w();
  },
};
/** Every record any sink subtask was handed (in any attempt). */
const seen = new Set<number>();
/** Committed transactions by id: a re-commit of the same id replaces it (idempotent, like the real sinks). */
const committed = new Map<string, number[]>();
/** Commit attempts per transaction id. */
const attempts = new Map<string, number>();
/** The map throws once at this record (then clears it). */
let failAt: number | undefined;
/** Decides each commit attempt (throw to fail it); reset per test. */
let behave: (t: SinkTransaction<number>, attempt: number) => void | Promise<void> = () => undefined;

function reset(): void {
  feed.limit = 0;
  feed.waiters = [];
  seen.clear();
  committed.clear();
  attempts.clear();
  failAt = undefined;
  behave = () => undefined;
}

/** Records 0..N-1, never past `feed.limit`; its position is checkpointed, so a restart replays from the restored checkpoint. */
const gatedSource: Source<number> = {
  name: 'Gated Source',
  bounded: true,
  maxParallelism: 1,
  createReader(): SourceReader<number> {
    let next = 0;
    return {
      poll(out, max) {
        if (next >= N) return 'end';
        const to = Math.min(N, feed.limit, next + max);
        while (next < to) out.collect(next, next++);
        return next < feed.limit || next >= N ? 'more' : 'wait';
      },
      available: () => (next < feed.limit ? Promise.resolve() : new Promise<void>((resolve) => feed.waiters.push(resolve))),
      snapshotState: () => [{ next }],
      restoreState: (splits) => {
        next = (splits[0] as { next: number } | undefined)?.next ?? 0;
      },
    };
  },
};

/** A sink on twoPhaseCommitWriter that commits into `committed` (after `behave` let the attempt through). */
function txnSink(commitRetry?: CommitRetryOptions): Sink<number> {
  return {
    name: SINK,
    createWriter: async (ctx) => {
      const inner = await twoPhaseCommitWriter<number>({
        ctx,
        ...(commitRetry === undefined ? {} : { commitRetry }),
        commit: async (t) => {
          const n = (attempts.get(t.id) ?? 0) + 1;
          attempts.set(t.id, n);
          await behave(t, n);
          committed.set(t.id, t.records.slice());
        },
      });
      return {
        ...inner,
        invoke(v: number, ts: number): void {
          seen.add(v);
          inner.invoke(v, ts);
        },
      };
    },
  };
}

/**
 * Gated source (parallelism 1) -> a map that throws once at `failAt` -> rebalance -> the sink at
 * parallelism 2. Only the checkpoints the test triggers (and the final one) are taken, after the
 * first periodic one: the interval is an hour.
 */
async function start(name: string, commitRetry?: CommitRetryOptions, maxAttempts = 3): Promise<JobClient> {
  const env = StreamEnvironment.create({
    nats,
    parallelism: 2,
    stateDir: await dirs.make(),
    checkpointing: { intervalMs: 3_600_000 },
    restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts },
  });
  env
    .fromSource(gatedSource)
    .setParallelism(1)
    .uid('gated')
    .map((v: number) => {
      if (v === failAt) {
        failAt = undefined;
        throw new Error(`injected failure at record ${v}`);
      }
      return v;
    })
    .setParallelism(1)
    .name('faulty')
    .uid('faulty')
    .rebalance()
    .sinkTo(txnSink(commitRetry))
    .uid('txn-sink');
  const client = await env.executeAsync(name);
  await waitFor('the first (periodic) checkpoint', () => completedCheckpoints(client) >= 1, 30_000);
  return client;
}

/** Lets records up to `to` flow and waits until the sinks were handed every one of them. */
async function feedUpTo(to: number): Promise<void> {
  const from = feed.limit;
  feed.raise(to);
  await waitFor(`records ${from}..${to - 1} at the sinks`, () => {
    for (let i = from; i < to; i++) if (!seen.has(i)) return false;
    return true;
  }, 30_000);
}

/** The committed output, every record as often as it was committed (under distinct transaction ids). */
function output(): number[] {
  return [...committed.values()].flat().sort((a, b) => a - b);
}

const everyRecord = Array.from({ length: N }, (_, i) => i);
const ofCheckpoint = (id: number) => (txnId: string) => txnId.endsWith(`-${id}`);

function expectExactlyOnce(result: JobResult): void {
  expect(result.status).toBe('finished');
  const out = output();
  const twice = out.filter((v, i) => i > 0 && out[i - 1] === v);
  expect(twice.length, 'records committed twice').toBe(0);
  expect(out.length, 'records committed').toBe(N);
  expect(out).toEqual(everyRecord);
}

describe('two-phase sinks: exactly once around savepoints and failing commits', () => {
  it('a failure after a savepoint: the savepoint committed nothing, so the replay from the last checkpoint writes each record once', async () => {
    reset();
    const client = await start('2pc-savepoint-then-failure');
    await feedUpTo(1000);
    const checkpoint = await client.triggerCheckpoint();
    await feedUpTo(2000);
    const savepointDir = join(await dirs.make(), 'sp');
    await client.savepoint(savepointDir);
    const savepointId = client.status().checkpoints!.history.find((h) => h.kind === 'savepoint')!.id;
    // Records sent after the savepoint resolved reach each sink subtask after any `complete` the
    // coordinator published for it (one connection, in order): once the sinks hold them, a sink
    // that commits at savepoints has done so.
    await feedUpTo(2200);
    expect([...committed.keys()].filter(ofCheckpoint(savepointId))).toEqual([]);
    failAt = 2500;
    feed.raise(N);
    const result = await client.result;
    expect(failAt).toBeUndefined();
    expect(result.restarts).toHaveLength(1);
    expect(result.restarts[0]!.cause.message).toMatch(/injected failure at record 2500/);
    // Failover restores the last checkpoint, never the savepoint.
    expect(result.restarts[0]!.checkpointId).toBe(checkpoint);
    expect([...committed.keys()].filter(ofCheckpoint(savepointId))).toEqual([]);
    expectExactlyOnce(result);
  });

  for (const [label, retry, restarts] of [
    ['retried in place (default retries)', undefined, 0],
    ['failing the task at once (maxRetries 0), then re-committed from the restored checkpoint', { maxRetries: 0 }, 1],
  ] as const)
    it(`a commit that stalls past the next checkpoint and then throws once is ${label}: nothing lost`, async () => {
      reset();
      let target = Number.POSITIVE_INFINITY;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const stalled = new Set<string>();
      behave = async (t, attempt) => {
        if (t.checkpointId < target || attempt > 1) return;
        stalled.add(t.id);
        await gate;
        throw new Error(`commit of ${t.id} broke`);
      };
      const client = await start(`2pc-stalled-commit-${restarts}`, retry);
      await feedUpTo(1000);
      target = client.status().checkpoints!.lastCompletedId! + 1;
      const stalledCheckpoint = await client.triggerCheckpoint();
      expect(stalledCheckpoint).toBe(target);
      // Both sink subtasks hold records of it; their commits now wait for the gate.
      await waitFor('both commits of the checkpoint to stall', () => stalled.size === 2, 30_000);
      target = Number.POSITIVE_INFINITY;
      // The next checkpoint completes while those commits are in flight: its state must still hold them.
      await feedUpTo(2000);
      const next = await client.triggerCheckpoint();
      release();
      feed.raise(N);
      const result = await client.result;
      for (const id of stalled) expect(attempts.get(id)).toBe(2);
      expect(result.restarts).toHaveLength(restarts);
      if (restarts > 0) {
        expect(result.restarts[0]!.cause).toMatchObject({ code: 'EDDY_SINK_COMMIT_FAILED', operator: SINK_OP });
        expect(result.restarts[0]!.cause.message).toMatch(/could not commit transaction .*-\d+ \(checkpoint \d+\) after 1 attempt: commit of .* broke/);
        expect(result.restarts[0]!.checkpointId).toBe(next);
      }
      expectExactlyOnce(result);
    });

  it('a commit that always fails fails the job with EDDY_SINK_COMMIT_FAILED after the restart policy; nothing is reported finished', async () => {
    reset();
    let target = Number.POSITIVE_INFINITY;
    behave = (t) => {
      if (t.checkpointId >= target) throw new Error(`storage refuses ${t.id}`);
    };
    const client = await start('2pc-commit-always-fails', { maxRetries: 1, initialDelayMs: 1 }, 2);
    await feedUpTo(1000);
    target = client.status().checkpoints!.lastCompletedId! + 1;
    await client.triggerCheckpoint();
    const result = await client.result;
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'EDDY_SINK_COMMIT_FAILED', operator: SINK_OP });
    expect(result.error!.message).toMatch(new RegExp(`sink "${SINK_OP}" could not commit transaction \\S+-${target} \\(checkpoint ${target}\\) after 2 attempts: storage refuses`));
    expect(result.restarts.length).toBeGreaterThanOrEqual(1);
    for (const r of result.restarts) expect(r.cause.code).toBe('EDDY_SINK_COMMIT_FAILED');
    // Each restart restored the failed transaction and tried it again.
    expect(Math.max(...[...attempts].filter(([id]) => ofCheckpoint(target)(id)).map(([, n]) => n))).toBeGreaterThanOrEqual(4);
    expect([...committed.keys()].filter(ofCheckpoint(target))).toEqual([]);
  });

  it('a `complete` of a checkpoint no running task took (a final one of a stopped attempt, here sent by the test) commits and ends nothing: every record once', async () => {
    reset();
    const client = await start('2pc-stale-final');
    await feedUpTo(1000);
    const codec = new FrameCodec();
    const nc = await connectNats(nats);
    try {
      const stale: TaskControlMessage = { type: 'complete', checkpointId: 1_000_000, kind: 'final' };
      let delivered!: () => void;
      const arrived = new Promise<void>((resolve) => (delivered = resolve));
      nc.subscribe(subjects.toTasks(client.jobId), {
        callback: (_e, m) => {
          if ((codec.decodeValue(m.data) as TaskControlMessage).checkpointId === stale.checkpointId) delivered();
        },
      });
      await nc.flush();
      nc.publish(subjects.toTasks(client.jobId), codec.encodeValue(stale));
      await arrived;
    } finally {
      await nc.close();
    }
    // A task that took it for its own would commit the open transactions (records 0..999 are in
    // them: no checkpoint since the first) and end at the end of input without its final checkpoint.
    feed.raise(N);
    const result = await client.result;
    expectExactlyOnce(result);
    const final = result.checkpoints!.history.filter((h) => h.kind === 'final' && h.status === 'completed');
    expect(final).toHaveLength(1);
    expect([...committed.keys()].filter(ofCheckpoint(1_000_000))).toEqual([]);
  });
});
