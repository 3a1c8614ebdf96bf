// Two-phase commit for exactly-once sinks: records wait in the transaction of their checkpoint until it completes.
import { EddyError } from '../errors.ts';
import type { SinkContext, SinkWriter } from '../operators/sink-operator.ts';
import { CommitRetrier, resolveCommitRetry, type CommitRetryOptions } from './commit-retry.ts';

export type { CommitRetryOptions } from './commit-retry.ts';

/**
 * The records a sink subtask received between two checkpoint barriers. `id` is stable plain data
 * (`<jobId>-<subtask>-<checkpointId>` of the job and subtask that opened it), so a commit repeated
 * after a restore (even at another parallelism, or by a new job started from a savepoint) writes
 * under the same names or message ids as the first attempt.
 */
export interface SinkTransaction<T> {
  id: string;
  checkpointId: number;
  records: T[];
}

/** What a connector supplies: how to make a transaction's records visible. */
export interface TwoPhaseCommitOptions<T> {
  ctx: SinkContext;
  /**
   * Makes `txn` visible outside the job. Must be idempotent: after a crash, or a retry of an
   * attempt that failed halfway, the same transaction (same id, same records in the same order)
   * may be committed again.
   */
  commit(txn: SinkTransaction<T>): Promise<void>;
  /** Without checkpointing: how records are written (at-least-once at best). Default: one transaction per `flushEvery` records and at the end. */
  flushEvery?: number;
  /**
   * How a failed commit is retried (with the operator's clock) before the task fails with
   * `EDDY_SINK_COMMIT_FAILED`; default 5 retries, 100 ms doubling up to 5 s. Errors a retry cannot
   * mend (`EDDY_CONFIG`, `EDDY_INVALID_ARGUMENT`, ...) fail the task at once.
   */
  commitRetry?: CommitRetryOptions;
}

/**
 * A SinkWriter that buffers records per checkpoint and commits a checkpoint's transaction only
 * when that checkpoint completed. Invariants (Flink's two-phase commit rules):
 * - A transaction stays in `pending`, and so in every snapshot, until its commit succeeded: a
 *   failure during the commit (or a crash) restores it from any later checkpoint and commits it
 *   again, so nothing is lost.
 * - Commits run one at a time, in checkpoint order; a failed one is retried with backoff and
 *   blocks the ones after it; when retries are exhausted the task fails (the restart policy
 *   applies) and the restored transactions are committed again on open, before anything else.
 * - `notifyCheckpointComplete(n)` resolves only when every transaction up to n is committed,
 *   so the final checkpoint of a bounded job ends the job only after its output is visible.
 * Without checkpointing it commits every `flushEvery` records and at the end of input.
 *
 * @example
 * ```ts
 * const out: string[][] = [];
 * const sink: Sink<string> = {
 *   name: 'lines',
 *   createWriter: (ctx) => twoPhaseCommitWriter({ ctx, commit: async (t) => void out.push(t.records), commitRetry: { maxRetries: 3 } }),
 * };
 * ```
 */
export async function twoPhaseCommitWriter<T>(opts: TwoPhaseCommitOptions<T>): Promise<SinkWriter<T>> {
  const { ctx, commit } = opts;
  const name = ctx.operator.operatorName;
  const subtask = ctx.operator.subtaskIndex;
  const txnPrefix = `${ctx.operator.jobId}-${subtask}`;
  const checkpointing = ctx.operator.checkpointing;
  const flushEvery = opts.flushEvery ?? 1000;
  const retrier = new CommitRetrier(name, resolveCommitRetry(opts.commitRetry, name), ctx.operator.clock);
  let current: T[] = [];
  /** Not yet committed, ascending by checkpoint id; the one being committed stays first until its commit succeeded. */
  const pending: SinkTransaction<T>[] = [];
  /** Transactions of checkpoints up to this id may be committed (the checkpoint completed, or they were restored). */
  let committable = Number.NEGATIVE_INFINITY;
  let unchecked = 0;
  // Serializes commits: a transaction is committed only after the one before it. Once a commit
  // failed for good this promise stays rejected, so every later notification reports the failure too.
  let committing: Promise<void> = Promise.resolve();
  const commitPending = (): Promise<void> => {
    committing = committing.then(async () => {
      while (pending.length > 0 && pending[0]!.checkpointId <= committable) {
        const t = pending[0]!;
        await retrier.run(t.id, t.checkpointId, () => commit(t));
        // Only this loop removes and snapshotState only appends: `t` is still the first.
        pending.shift();
      }
    });
    return committing;
  };
  const commitDirect = (records: T[]): Promise<void> => {
    const t: SinkTransaction<T> = { id: `${txnPrefix}-direct`, checkpointId: -1, records };
    committing = committing.then(() => retrier.run(t.id, -1, () => commit(t)));
    return committing;
  };
  const restored: SinkTransaction<T>[] = [];
  for (const raw of ctx.restoredState ?? []) {
    const t = raw as SinkTransaction<T>;
    if (t === null || typeof t !== 'object' || typeof t.id !== 'string' || typeof t.checkpointId !== 'number' || !Array.isArray(t.records))
      throw new EddyError('EDDY_STATE_MISMATCH', `sink "${name}": restored state holds ${JSON.stringify(raw)?.slice(0, 80)}, not a sink transaction`, { operator: name });
    restored.push(t);
  }
  // Restored transactions belong to the completed checkpoint we restore from: commit them again
  // (idempotently) before any newer one. A rescale deals them round-robin; the stable sort keeps
  // each old subtask's order.
  if (restored.length > 0) {
    restored.sort((a, b) => a.checkpointId - b.checkpointId);
    pending.push(...restored);
    committable = restored[restored.length - 1]!.checkpointId;
    await commitPending();
  }
  return {
    invoke(value: T): void {
      current.push(value);
      if (!checkpointing && ++unchecked >= flushEvery) {
        unchecked = 0;
        const records = current;
        current = [];
        commitDirect(records).catch((e) => ctx.operator.failTask(e));
      }
    },
    async finish(): Promise<void> {
      if (checkpointing) return; // The final checkpoint takes `current` and commits it.
      const records = current;
      current = [];
      await (records.length > 0 ? commitDirect(records) : committing);
    },
    snapshotState(checkpointId: number): unknown[] {
      if (current.length > 0) pending.push({ id: `${txnPrefix}-${checkpointId}`, checkpointId, records: current });
      current = [];
      return pending.slice();
    },
    notifyCheckpointComplete(checkpointId: number): Promise<void> {
      if (checkpointId > committable) committable = checkpointId;
      return commitPending();
    },
    async close(): Promise<void> {
      retrier.cancel();
      // An attempt already running is waited for: a restarted attempt must not commit the same transaction concurrently.
      await committing.catch(() => undefined);
    },
  };
}
