// The checkpoint coordinator over real NATS, with the test acking as the tasks: savepoints publish no `complete`; concurrent checkpoints never move `latest` back nor lose state to pruning.
import type { NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { CheckpointCoordinator, type CheckpointStats } from '../../actors/checkpoint-coordinator.ts';
import type { TaskControlMessage } from '../../actors/task-protocol.ts';
import { resolveCheckpointing } from '../../src/api/fault-tolerance.ts';
import type { CheckpointMetadata, OperatorStateHandle } from '../../src/checkpoint/checkpoint-storage.ts';
import { MemoryCheckpointStorage } from '../../src/checkpoint/memory-checkpoint-storage.ts';
import type { ExecutionPlan } from '../../src/plan/execution-plan.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { subjects } from '../../src/transport/subjects.ts';
import { waitFor } from '../fixtures/fault-tolerance-support.ts';

const nats = inject('natsUrl');
const codec = new FrameCodec();

/** One vertex with one subtask and one operator "op": the test acks for it. */
const plan = {
  jobName: 'coord',
  maxParallelism: 128,
  vertices: [{ id: 0, name: 'v', parallelism: 1, nodes: [{ id: 0, uid: 'op', name: 'op', kind: 'source', keyed: true }], chainedEdges: [], inputs: [], outputs: [], channelCount: 0 }],
} as unknown as ExecutionPlan;

/** Memory storage whose metadata commit of one checkpoint waits until the test opens the gate. */
class GatedStorage extends MemoryCheckpointStorage {
  gatedId = -1;
  /** Checkpoint ids whose metadata commit began. */
  readonly commitsStarted: number[] = [];
  open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  override async commit(meta: CheckpointMetadata): Promise<void> {
    this.commitsStarted.push(meta.id);
    if (meta.id === this.gatedId) await this.gate;
    return super.commit(meta);
  }
}

let nc: NatsConnection;
let run = 0;
beforeEach(async () => {
  nc = await connectNats(nats);
});
afterEach(async () => {
  await nc.close();
});

/** A coordinator on a manual clock (no periodic checkpoint, no timeout fires) and what it publishes to the tasks. */
function setUp(storage: MemoryCheckpointStorage, savepointStorage = new MemoryCheckpointStorage(), attemptOf: (vertex: number) => number | undefined = () => 0) {
  const jobId = `coord-${process.pid}-${run++}`;
  const toTasks: TaskControlMessage[] = [];
  nc.subscribe(subjects.toTasks(jobId), { callback: (_e, m) => void toTasks.push(codec.decodeValue(m.data) as TaskControlMessage) });
  const stats: CheckpointStats[] = [];
  const coordinator = new CheckpointCoordinator({
    jobId,
    jobName: 'coord',
    nc,
    clock: new ManualClock(0),
    plan,
    options: resolveCheckpointing({ intervalMs: 1000, maxConcurrent: 3, retained: 1 })!,
    storage,
    firstCheckpointId: 1,
    attemptOf,
    openSavepointStorage: async () => savepointStorage,
    onCheckpoint: (s) => void stats.push(s),
    onTooManyFailures: () => undefined,
  });
  coordinator.start();
  const ack = (checkpointId: number, handle: OperatorStateHandle, attempt = 0): void =>
    nc.publish(subjects.toCoordinator(jobId), codec.encodeValue({ type: 'ack', attempt, vertex: 0, subtask: 0, checkpointId, handles: { op: handle } }));
  const sourceEnded = (attempt: number): void => nc.publish(subjects.toCoordinator(jobId), codec.encodeValue({ type: 'source-ended', attempt, vertex: 0, subtask: 0 }));
  const triggered = (id: number): Promise<void> => waitFor(`trigger ${id}`, () => toTasks.some((m) => m.type === 'trigger' && m.checkpointId === id));
  return { coordinator, toTasks, stats, ack, sourceEnded, triggered };
}

const handle = (chain: string[], state: string): OperatorStateHandle => ({ keyGroups: [0, 127], chain, state });
const bytes = new Uint8Array([1]);

describe('CheckpointCoordinator', () => {
  it('a completed savepoint publishes no `complete` (sinks must not commit), a checkpoint does', async () => {
    const storage = new MemoryCheckpointStorage();
    const { coordinator, toTasks, ack, triggered } = setUp(storage);
    const savepoint = coordinator.trigger('savepoint', '/unused');
    await triggered(1);
    ack(1, handle([], ''));
    expect((await savepoint).kind).toBe('savepoint');
    const checkpoint = coordinator.trigger('checkpoint');
    await triggered(2);
    ack(2, handle([], ''));
    await checkpoint;
    // One publisher, one subject: had `complete(1)` been sent, it would have arrived before `complete(2)`.
    await waitFor('complete(2)', () => toTasks.some((m) => m.type === 'complete' && m.checkpointId === 2));
    expect(toTasks.filter((m) => m.type === 'complete').map((m) => m.checkpointId)).toEqual([2]);
    // The savepoint is not in the job's checkpoint storage: failover never restores it.
    expect((await storage.latest())!.id).toBe(2);
    coordinator.stop();
  });

  it('with concurrent checkpoints: a newer completion subsumes older pending ones, an older one already committing never moves `latest` back, and pruning keeps its state', async () => {
    const storage = new GatedStorage();
    storage.gatedId = 1;
    const { coordinator, stats, ack, triggered } = setUp(storage);
    const [one, two, three] = [coordinator.trigger('checkpoint'), coordinator.trigger('checkpoint'), coordinator.trigger('checkpoint')];
    const twoFailed = two.then(
      () => undefined,
      (e: Error) => e,
    );
    await triggered(3);
    // Incremental chains: 1 writes the full chunk c1, 2 and 3 append; each writes its own state blob.
    for (const id of [1, 2, 3]) {
      await storage.writeChunk(`c${id}`, id, new Map([[0, bytes]]));
      await storage.writeBlob(`s${id}`, id, bytes);
    }
    // One connection, one subject: the coordinator takes ack 1 first, so checkpoint 1 is writing
    // its metadata (held at the gate) when checkpoint 3 completes.
    ack(1, handle(['c1'], 's1'));
    ack(3, handle(['c1', 'c2', 'c3'], 's3'));
    expect((await three).id).toBe(3);
    expect(stats.find((s) => s.id === 2)).toMatchObject({ status: 'aborted', reason: expect.stringMatching(/subsumed by checkpoint 3/) });
    expect((await twoFailed)?.message).toMatch(/checkpoint 2 .* was aborted: subsumed/);
    // Pruning after 3 (retained: 1) kept what checkpoint 1, still committing, refers to.
    expect([...(await storage.readBlob('s1'))]).toEqual([1]);
    storage.open();
    expect((await one).id).toBe(1);
    expect((await storage.latest())!.id).toBe(3);
    expect(stats.filter((s) => s.status === 'completed').map((s) => s.id)).toEqual([3, 1]);
    coordinator.stop();
  });

  it('a final checkpoint whose metadata commit ends after its region stopped publishes no `complete` (the new attempt must not end on it), and a restart waits for that commit', async () => {
    const storage = new GatedStorage();
    storage.gatedId = 1;
    let attempt: number | undefined = 0;
    const { coordinator, toTasks, stats, ack, sourceEnded, triggered } = setUp(storage, undefined, () => attempt);
    // The only source ends: the coordinator triggers the final checkpoint 1, every task acks it, and
    // its metadata commit waits at the gate.
    sourceEnded(0);
    await triggered(1);
    expect(toTasks.find((m) => m.type === 'trigger' && m.checkpointId === 1)).toMatchObject({ kind: 'final' });
    ack(1, handle([], ''));
    const order: string[] = [];
    await waitFor('checkpoint 1 to reach its metadata commit', () => storage.commitsStarted.includes(1));
    const settled = coordinator.whenCommitsSettled().then(() => void order.push('settled'));
    // A task fails now: the job master stops the region (the committing checkpoint is not aborted).
    attempt = undefined;
    coordinator.abortAll('a region restarts');
    coordinator.resetSources([0]);
    storage.open();
    await settled;
    order.push(`latest ${(await storage.latest())?.id}`);
    // What the restart reads after waiting: the checkpoint the failed attempt completed.
    expect(order).toEqual(['settled', 'latest 1']);
    expect(stats.find((s) => s.id === 1)).toMatchObject({ kind: 'final', status: 'completed' });
    // The restarted attempt runs and ends its input again: its own final checkpoint 2 is the one announced.
    attempt = 1;
    sourceEnded(1);
    await triggered(2);
    ack(2, handle([], ''), 1);
    await waitFor('complete(2)', () => toTasks.some((m) => m.type === 'complete' && m.checkpointId === 2));
    // One publisher, one subject: a `complete(1)` would have arrived before `complete(2)`.
    expect(toTasks.filter((m) => m.type === 'complete').map((m) => m.checkpointId)).toEqual([2]);
    coordinator.stop();
  });
});
