// A task's side of the checkpoint protocol: triggers, barriers, acks to the coordinator, completion notifications.
import type { Subscription } from '@nats-io/transport-node';
import type { CheckpointKind, OperatorStateHandle } from '../src/checkpoint/checkpoint-storage.ts';
import { EddyError, toErrorInfo } from '../src/errors.ts';
import { attributeError } from '../src/operators/record-failure.ts';
import type { StreamOperator } from '../src/operators/operator.ts';
import { FrameCodec } from '../src/transport/frame-codec.ts';
import type { RecordWriter } from '../src/transport/record-writer.ts';
import { subjects } from '../src/transport/subjects.ts';
import { TaskCheckpointer, type CheckpointedNode } from './task-checkpointer.ts';
import type { CoordinatorMessage, TaskControlMessage, TaskDeployment } from './task-protocol.ts';
import { deadLettersSettled } from './task-channels.ts';

/** What the protocol needs from its task. */
export interface CheckpointHost {
  readonly name: string;
  readonly writers: readonly RecordWriter<unknown>[];
  readonly operators: readonly { operator: StreamOperator<unknown, unknown> }[];
  /** True once the task failed or ended: nothing more is done for it. */
  stopped(): boolean;
  fail(e: unknown): void;
  /** Ends the chain's input (idempotent): before the final checkpoint's snapshot. */
  endInput(): Promise<void>;
  /** A source task takes the checkpoint between two poll slices. */
  trigger(checkpointId: number, kind: CheckpointKind): void;
  abortAlignment(checkpointId: number): void;
  /** The final checkpoint completed and this task's operators committed: the task may end. */
  finalCommitted(): void;
}

/**
 * Listens on the job's task control subject and runs this task's part of each checkpoint. The
 * state is captured and the barrier forwarded synchronously; writing the state and acking happen
 * in the background (asynchronous snapshots), so a source keeps reading while its state is written.
 */
export class TaskCheckpointProtocol {
  private readonly codec = new FrameCodec();
  private readonly checkpointer: TaskCheckpointer;
  private readonly sub: Subscription;
  /** Completion notifications run one after another, in order. */
  private notifying: Promise<void> = Promise.resolve();
  /** Checkpoints this attempt took part in whose completion it has not handled yet. */
  private readonly taken = new Set<number>();

  constructor(
    private readonly d: TaskDeployment,
    nodes: readonly CheckpointedNode[],
    private readonly host: CheckpointHost,
  ) {
    this.checkpointer = new TaskCheckpointer(
      {
        // The run id keeps chunk ids unique across processes too: a resumed job reuses job id and attempt numbers.
        idPrefix: `${d.runId}.${d.dataJob}.v${d.vertex.id}.s${d.subtask}`,
        subtask: d.subtask,
        parallelism: d.vertex.parallelism,
        maxParallelism: d.plan.maxParallelism,
        compactEvery: d.checkpointing!.options.compactEvery,
        storageFor: d.checkpointing!.storageFor,
      },
      nodes,
    );
    this.sub = d.nc.subscribe(subjects.toTasks(d.jobId), {
      callback: (err, msg) => {
        if (err || host.stopped()) return;
        const m = this.codec.decodeValue(msg.data) as TaskControlMessage;
        if (m.type === 'trigger') host.trigger(m.checkpointId, m.kind);
        else if (m.type === 'abort') host.abortAlignment(m.checkpointId);
        else this.onComplete(m.checkpointId, m.kind);
      },
    });
  }

  close(): void {
    this.sub.unsubscribe();
  }

  /** A source reached the end of its input: the coordinator starts the final checkpoint once all have. */
  sourceEnded(): void {
    const { d } = this;
    this.send({ type: 'source-ended', attempt: d.attempt, vertex: d.vertex.id, subtask: d.subtask });
  }

  /** All input channels delivered barrier `checkpointId`. A final barrier means all input has arrived. */
  onBarrier(checkpointId: number, kind: CheckpointKind): void {
    void this.checkpointAt(checkpointId, kind).catch((e) => this.host.fail(e));
  }

  /**
   * Takes this task's part of a checkpoint: (final only: end input first) capture state and
   * forward the barrier with nothing in between; the write and the ack follow in the background.
   */
  async checkpointAt(checkpointId: number, kind: CheckpointKind): Promise<void> {
    const { d, host } = this;
    if (kind === 'final') await host.endInput();
    if (host.stopped()) return;
    let written: Promise<Record<string, OperatorStateHandle>>;
    try {
      written = this.checkpointer.snapshot(checkpointId, kind);
    } catch (e) {
      throw attributeError(e, host.name);
    }
    this.taken.add(checkpointId);
    // Records dead-lettered before the barrier are skipped by the restored job: their dead letters
    // must be stored before the checkpoint that skips them can complete.
    const settled = deadLettersSettled(d);
    written = written.then((handles) => settled.then(() => handles));
    for (const w of host.writers) w.emitBarrier(checkpointId, kind);
    const base = { attempt: d.attempt, vertex: d.vertex.id, subtask: d.subtask, checkpointId };
    written.then(
      (handles) => this.send({ type: 'ack', ...base, handles }),
      (e) => {
        this.send({ type: 'decline', ...base, error: toErrorInfo(e) });
        host.fail(new EddyError('EDDY_CHECKPOINT_FAILED', `task ${host.name} could not write its state for checkpoint ${checkpointId}: ${(e as Error).message}`, { cause: e }));
      },
    );
  }

  /**
   * Checkpoint `checkpointId` completed: operators commit what it covers, in order of completion.
   * A savepoint's completion is ignored (the coordinator does not send it either): failover
   * restores the last checkpoint, not the savepoint, so committing the savepoint's transactions
   * would make the records replayed after a failure visible twice. They stay pending and the
   * next completed checkpoint commits them.
   *
   * Only the completion of a checkpoint this attempt took is acted on: one taken by a stopped
   * attempt (or a repeat of one already handled) says nothing about this attempt's output, and
   * a final one would end the task before its own final checkpoint committed what it replayed.
   * A completion covers every checkpoint before it, so older ids are forgotten with it.
   */
  private onComplete(checkpointId: number, kind: CheckpointKind): void {
    if (kind === 'savepoint' || !this.taken.has(checkpointId)) return;
    for (const id of this.taken) if (id <= checkpointId) this.taken.delete(id);
    const { host } = this;
    this.notifying = this.notifying.then(async () => {
      if (host.stopped()) return;
      try {
        for (const { operator } of host.operators) {
          try {
            await operator.notifyCheckpointComplete?.(checkpointId);
          } catch (e) {
            throw attributeError(e, operator.name);
          }
        }
      } catch (e) {
        return host.fail(e);
      }
      if (kind === 'final') host.finalCommitted();
    });
  }

  private send(m: CoordinatorMessage): void {
    try {
      this.d.nc.publish(subjects.toCoordinator(this.d.jobId), this.codec.encodeValue(m));
    } catch (e) {
      this.host.fail(e);
    }
  }
}
