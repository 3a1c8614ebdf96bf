// The checkpoint coordinator: triggers barriers at sources, collects acks, commits metadata, notifies tasks, aborts on timeout.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { createActor, type Actor } from 'xstate';
import type { CheckpointingOptions } from '../src/api/fault-tolerance.ts';
import type { CheckpointKind, CheckpointMetadata, CheckpointStorage, OperatorStateHandle, PruneGuard } from '../src/checkpoint/checkpoint-storage.ts';
import { EddyError, toErrorInfo, type ErrorInfo } from '../src/errors.ts';
import type { ExecutionPlan } from '../src/plan/execution-plan.ts';
import type { Cancelable, Clock } from '../src/time/clock.ts';
import { FrameCodec } from '../src/transport/frame-codec.ts';
import { subjects } from '../src/transport/subjects.ts';
import { pendingCheckpointMachine, type PendingCheckpointState } from './pending-checkpoint.machine.ts';
import type { CoordinatorMessage, TaskControlMessage } from './task.ts';

/** What the job reports about one finished checkpoint. */
export interface CheckpointStats {
  id: number;
  kind: CheckpointKind;
  status: 'completed' | 'aborted';
  durationMs: number;
  /** Bytes of state written for it (0 for aborted ones). */
  bytes: number;
  reason?: string;
}

export interface CheckpointCoordinatorOptions {
  jobId: string;
  jobName: string;
  nc: NatsConnection;
  clock: Clock;
  plan: ExecutionPlan;
  options: CheckpointingOptions;
  storage: CheckpointStorage;
  /** Ids continue after the checkpoint the job started from. */
  firstCheckpointId: number;
  /** The running attempt of the region holding `vertex`, or undefined while that region restarts. */
  attemptOf(vertex: number): number | undefined;
  openSavepointStorage(path: string): Promise<CheckpointStorage>;
  onCheckpoint(stats: CheckpointStats): void;
  /** A task declined: its state could not be written (the task fails itself as well). */
  onDecline?(error: ErrorInfo): void;
  /** More than `tolerableFailures` checkpoints in a row timed out or were declined: the pipeline is stuck. */
  onTooManyFailures(error: ErrorInfo): void;
}

interface Pending {
  id: number;
  kind: CheckpointKind;
  actor: Actor<typeof pendingCheckpointMachine>;
  started: number;
  /** Attempt per vertex when triggered: acks of other attempts are stale. */
  attempts: Map<number, number>;
  acks: Map<string, Record<string, OperatorStateHandle>>;
  expected: number;
  storage: CheckpointStorage;
  timeout: Cancelable;
  resolve(meta: CheckpointMetadata): void;
  reject(e: unknown): void;
}

/**
 * One per job. Periodic checkpoints start every `intervalMs` while every region runs, at most
 * `maxConcurrent` at once and `minPauseMs` after the last one ended. When every source subtask
 * has reached the end of its input, the coordinator triggers the final checkpoint, which carries
 * end of input through the job; its completion lets two-phase sinks commit the last output.
 *
 * Invariants (Flink's):
 * - Only checkpoints (periodic and final) publish `complete`: a savepoint lives in its own
 *   storage and failover never restores it, so letting sinks commit at a savepoint would make
 *   the records after the last checkpoint visible twice after a failure. Its transactions stay
 *   pending and the next completed checkpoint commits them.
 * - When checkpoint n completes, pending checkpoints older than n are subsumed (aborted, not
 *   counted as failures); the storage keeps `latest` monotonic for the ones already committing.
 * - Pruning after n never deletes what a checkpoint still pending (or committing) wrote or refers to.
 * - A checkpoint whose metadata commit ends after one of the attempts that took it stopped (a
 *   region failed meanwhile) stays completed and restorable, but publishes no `complete`: its
 *   tasks are gone, and a new attempt must never take it for its own (a final one would let the
 *   new attempt end before its own output committed). The restart restores it instead
 *   (`whenCommitsSettled`), and two-phase sinks commit its transactions on open.
 */
export class CheckpointCoordinator {
  private nextId: number;
  private readonly pending = new Map<number, Pending>();
  private readonly codec = new FrameCodec();
  private sub: Subscription | undefined;
  private tick: Cancelable | undefined;
  private lastEnded = Number.NEGATIVE_INFINITY;
  private readonly sourcesEnded = new Set<string>();
  private readonly sourceSubtasks: number;
  private finalPending = false;
  private finalCompleted: number | undefined;
  /** When the newest checkpoint started (intervals count from starts, as in Flink). */
  private lastStarted = Number.NEGATIVE_INFINITY;
  private stopped = false;
  /** Checkpoints in a row that timed out or were declined (aborts for restarts do not count). */
  private consecutiveFailures = 0;
  /** Metadata commits to the job's storage still under way (settled: they never reject). */
  private readonly committing = new Set<Promise<void>>();

  constructor(private readonly o: CheckpointCoordinatorOptions) {
    this.nextId = o.firstCheckpointId;
    this.sourceSubtasks = o.plan.vertices.filter((v) => v.nodes[0]!.kind === 'source').reduce((n, v) => n + v.parallelism, 0);
  }

  /** The storage tasks write checkpoint `id` to (a savepoint has its own). */
  storageFor(id: number): CheckpointStorage {
    return this.pending.get(id)?.storage ?? this.o.storage;
  }

  start(): void {
    this.sub = this.o.nc.subscribe(subjects.toCoordinator(this.o.jobId), {
      callback: (err, msg) => {
        if (err || this.stopped) return;
        this.onMessage(this.codec.decodeValue(msg.data) as CoordinatorMessage);
      },
    });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.tick?.cancel();
    this.sub?.unsubscribe();
    for (const p of [...this.pending.values()]) this.abort(p, 'TASK_FAILED', 'the job stopped');
  }

  /** Aborts every pending checkpoint (a region fails or restarts); the last completed one stays untouched. */
  abortAll(reason: string): void {
    for (const p of [...this.pending.values()]) this.abort(p, 'TASK_FAILED', reason);
  }

  /**
   * Resolves when no checkpoint is writing its metadata to the job's storage any more. A restart
   * reads `latest` after this: a checkpoint every task acked is either restored or was never
   * completed, never completed behind the restart's back (its sinks may already have committed).
   */
  async whenCommitsSettled(): Promise<void> {
    while (this.committing.size > 0) await Promise.all([...this.committing]);
  }

  /** The sources of a restarting region will report their end again. */
  resetSources(vertices: readonly number[]): void {
    for (const key of [...this.sourcesEnded]) if (vertices.includes(Number(key.split('/')[0]))) this.sourcesEnded.delete(key);
    this.finalCompleted = undefined;
  }

  /** Triggers a checkpoint now (on demand) and resolves when it completed. */
  async trigger(kind: CheckpointKind, savepointPath?: string): Promise<CheckpointMetadata> {
    if (this.stopped) throw new EddyError('EDDY_CHECKPOINT_FAILED', `job "${this.o.jobName}" is not running`);
    // A savepoint in the checkpoint storage would become `latest` and be pruned like a checkpoint.
    if ((kind === 'savepoint') !== (savepointPath !== undefined)) throw new EddyError('EDDY_INTERNAL', `a ${kind} needs ${kind === 'savepoint' ? 'its own directory' : 'no directory'}`);
    for (const v of this.o.plan.vertices)
      if (this.o.attemptOf(v.id) === undefined) throw new EddyError('EDDY_CHECKPOINT_FAILED', `job "${this.o.jobName}" is restarting; try again when it runs`);
    const storage = savepointPath === undefined ? this.o.storage : await this.o.openSavepointStorage(savepointPath);
    return new Promise((resolve, reject) => this.begin(kind, storage, resolve, reject));
  }

  private schedule(): void {
    if (this.stopped) return;
    const { options } = this.o;
    this.tick = this.o.clock.schedule(Math.max(10, Math.min(options.intervalMs / 4, 250)), () => {
      this.periodic();
      this.schedule();
    });
  }

  private periodic(): void {
    const { options, clock } = this.o;
    if (this.finalCompleted !== undefined) {
      // Repeated so a task that missed it (a lost message) still learns that it may end.
      this.publish({ type: 'complete', checkpointId: this.finalCompleted, kind: 'final' });
      return;
    }
    if (!this.allRunning()) return;
    if (this.sourcesEnded.size >= this.sourceSubtasks && !this.finalPending) {
      this.begin('final', this.o.storage, () => undefined, () => undefined);
      return;
    }
    if (this.finalPending || this.pending.size >= options.maxConcurrent) return;
    const now = clock.monotonic();
    if (now - this.lastStarted < options.intervalMs || now - this.lastEnded < options.minPauseMs) return;
    this.begin('checkpoint', this.o.storage, () => undefined, () => undefined);
  }

  private allRunning(): boolean {
    return this.o.plan.vertices.every((v) => this.o.attemptOf(v.id) !== undefined);
  }

  private begin(kind: CheckpointKind, storage: CheckpointStorage, resolve: (m: CheckpointMetadata) => void, reject: (e: unknown) => void): void {
    const id = this.nextId++;
    const attempts = new Map<number, number>();
    let expected = 0;
    for (const v of this.o.plan.vertices) {
      attempts.set(v.id, this.o.attemptOf(v.id)!);
      expected += v.parallelism;
    }
    const started = this.o.clock.monotonic();
    this.lastStarted = started;
    const p: Pending = {
      id,
      kind,
      actor: createActor(pendingCheckpointMachine).start(),
      started,
      attempts,
      acks: new Map(),
      expected,
      storage,
      timeout: this.o.clock.schedule(this.o.options.timeoutMs, () => this.abort(p, 'TIMEOUT', `not complete after ${this.o.options.timeoutMs} ms`)),
      resolve,
      reject,
    };
    if (kind === 'final') this.finalPending = true;
    this.pending.set(id, p);
    this.publish({ type: 'trigger', checkpointId: id, kind });
  }

  private onMessage(m: CoordinatorMessage): void {
    if (m.type === 'source-ended') {
      if (this.o.attemptOf(m.vertex) !== m.attempt) return;
      this.sourcesEnded.add(`${m.vertex}/${m.subtask}`);
      // The last source to end starts the final checkpoint at once (bounded jobs end without waiting for a tick).
      if (this.sourcesEnded.size >= this.sourceSubtasks && !this.finalPending && this.finalCompleted === undefined && this.allRunning())
        this.begin('final', this.o.storage, () => undefined, () => undefined);
      return;
    }
    const p = this.pending.get(m.checkpointId);
    if (p === undefined || p.attempts.get(m.vertex) !== m.attempt || this.state(p) !== 'pending') return;
    if (m.type === 'decline') {
      this.o.onDecline?.(m.error);
      this.abort(p, 'DECLINED', `task ${m.vertex}/${m.subtask} declined: ${m.error.message}`);
      return;
    }
    p.acks.set(`${m.vertex}/${m.subtask}`, m.handles);
    if (p.acks.size === p.expected) void this.complete(p);
  }

  private state(p: Pending): PendingCheckpointState {
    return p.actor.getSnapshot().value as PendingCheckpointState;
  }

  private async complete(p: Pending): Promise<void> {
    p.actor.send({ type: 'ACKED_ALL' });
    p.timeout.cancel();
    const { plan } = this.o;
    const meta: CheckpointMetadata = {
      id: p.id,
      kind: p.kind,
      jobId: this.o.jobId,
      jobName: this.o.jobName,
      timestamp: this.o.clock.now(),
      maxParallelism: plan.maxParallelism,
      operators: {},
    };
    for (const v of plan.vertices)
      for (const node of v.nodes) {
        const subtasks: OperatorStateHandle[] = [];
        for (let s = 0; s < v.parallelism; s++) subtasks.push(p.acks.get(`${v.id}/${s}`)![node.uid]!);
        meta.operators[node.uid] = { name: node.name, parallelism: v.parallelism, keyed: node.keyed, subtasks, ...(node.stateSchema === undefined ? {} : { schema: node.stateSchema }) };
      }
    // The storage keeps `latest` monotonic: an older checkpoint that was already committing when a newer one completed never replaces it.
    const commit = p.storage.commit(meta);
    const settled = commit.then(
      () => undefined,
      () => undefined,
    );
    if (p.storage === this.o.storage) this.committing.add(settled);
    try {
      await commit;
    } catch (e) {
      p.actor.send({ type: 'COMMIT_FAILED' });
      this.finish(p, 'aborted', `writing its metadata failed: ${(e as Error).message}`);
      p.reject(e);
      return;
    } finally {
      this.committing.delete(settled);
    }
    p.actor.send({ type: 'COMMITTED' });
    this.consecutiveFailures = 0;
    this.finish(p, 'completed');
    if (p.kind === 'savepoint') {
      // No `complete`: sinks keep the savepoint's transactions pending (see the class comment).
      await p.storage.close().catch(() => undefined);
      p.resolve(meta);
      return;
    }
    if (p.kind === 'final' && this.takenByRunningAttempts(p)) this.finalCompleted = p.id;
    for (const q of [...this.pending.values()])
      if (q.id < p.id && q.kind !== 'savepoint') this.abort(q, 'SUBSUMED', `subsumed by ${p.kind} ${p.id}, which completed first`);
    try {
      await p.storage.prune(this.o.options.retained, this.pruneGuard());
    } catch {
      // Pruning is housekeeping: the checkpoint is complete; the next completion prunes again, and a broken storage fails that commit.
    }
    if (this.takenByRunningAttempts(p)) this.publish({ type: 'complete', checkpointId: p.id, kind: p.kind });
    p.resolve(meta);
  }

  /** Whether every region that took part in `p` still runs the attempt that took it (see the class invariants). */
  private takenByRunningAttempts(p: Pending): boolean {
    for (const [vertex, attempt] of p.attempts) if (this.o.attemptOf(vertex) !== attempt) return false;
    return true;
  }

  /** What the checkpoints still pending or committing in the job's storage wrote or refer to (so far): prune keeps it. */
  private pruneGuard(): PruneGuard {
    let oldestPending: number | undefined;
    const referenced = new Set<string>();
    for (const q of this.pending.values()) {
      if (q.storage !== this.o.storage) continue;
      if (oldestPending === undefined || q.id < oldestPending) oldestPending = q.id;
      for (const handles of q.acks.values())
        for (const h of Object.values(handles)) {
          for (const c of h.chain) referenced.add(c);
          if (h.state !== '') referenced.add(h.state);
        }
    }
    return oldestPending === undefined ? { referenced } : { oldestPending, referenced };
  }

  private abort(p: Pending, event: 'TIMEOUT' | 'DECLINED' | 'TASK_FAILED' | 'SUBSUMED', reason: string): void {
    if (this.state(p) !== 'pending') return;
    p.actor.send({ type: event });
    p.timeout.cancel();
    this.finish(p, 'aborted', reason);
    if ((event === 'TIMEOUT' || event === 'DECLINED') && ++this.consecutiveFailures > this.o.options.tolerableFailures) {
      this.consecutiveFailures = 0;
      this.o.onTooManyFailures(
        toErrorInfo(
          new EddyError(
            'EDDY_CHECKPOINT_FAILED',
            `${this.o.options.tolerableFailures + 1} checkpoints in a row of job "${this.o.jobName}" failed (last: ${p.kind} ${p.id}: ${reason}); restarting from the last completed checkpoint (raise checkpointing.timeoutMs if the job is only slow)`,
          ),
        ),
      );
    }
    this.publish({ type: 'abort', checkpointId: p.id });
    if (p.kind === 'savepoint') void p.storage.close().catch(() => undefined);
    p.reject(new EddyError('EDDY_CHECKPOINT_FAILED', `${p.kind} ${p.id} of job "${this.o.jobName}" was aborted: ${reason}`));
  }

  private finish(p: Pending, status: 'completed' | 'aborted', reason?: string): void {
    this.pending.delete(p.id);
    p.actor.stop();
    if (p.kind === 'final') this.finalPending = false;
    this.lastEnded = this.o.clock.monotonic();
    const stats: CheckpointStats = {
      id: p.id,
      kind: p.kind,
      status,
      durationMs: Math.round(this.lastEnded - p.started),
      bytes: status === 'completed' ? p.storage.bytesOf(p.id) : 0,
    };
    if (reason !== undefined) stats.reason = reason;
    this.o.onCheckpoint(stats);
  }

  private publish(m: TaskControlMessage): void {
    try {
      this.o.nc.publish(subjects.toTasks(this.o.jobId), this.codec.encodeValue(m));
    } catch (e) {
      this.o.onDecline?.(toErrorInfo(e));
    }
  }
}
