// Two-phase commit for exactly-once sinks: records wait in the transaction of their checkpoint until it completes.
import { EddyError } from '../errors.ts';
import type { SinkContext, SinkWriter } from '../operators/sink-operator.ts';

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
   * Makes `txn` visible outside the job. Must be idempotent: after a crash the same transaction
   * (same id, same records in the same order) may be committed again.
   */
  commit(txn: SinkTransaction<T>): Promise<void>;
  /** Without checkpointing: how records are written (at-least-once at best). Default: one transaction per `flushEvery` records and at the end. */
  flushEvery?: number;
}

/**
 * A SinkWriter that buffers records per checkpoint and commits a checkpoint's transaction only
 * when that checkpoint completed. Transactions not yet committed are in the checkpoint (list
 * state), and restored ones are committed again on open. Without checkpointing it commits every
 * `flushEvery` records and at the end of input.
 *
 * @example
 * ```ts
 * const out: string[][] = [];
 * const sink: Sink<string> = {
 *   name: 'lines',
 *   createWriter: (ctx) => twoPhaseCommitWriter({ ctx, commit: async (t) => void out.push(t.records) }),
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
  let current: T[] = [];
  let pending: SinkTransaction<T>[] = [];
  let unchecked = 0;
  // Serializes commits: a transaction is committed only after the one before it.
  let committing: Promise<void> = Promise.resolve();
  const commitInOrder = (txns: SinkTransaction<T>[]): Promise<void> => {
    committing = committing.then(async () => {
      for (const t of txns) await commit(t);
    });
    return committing;
  };
  for (const raw of ctx.restoredState ?? []) {
    const t = raw as SinkTransaction<T>;
    if (t === null || typeof t !== 'object' || typeof t.id !== 'string' || !Array.isArray(t.records))
      throw new EddyError('EDDY_STATE_MISMATCH', `sink "${name}": restored state holds ${JSON.stringify(raw)?.slice(0, 80)}, not a sink transaction`, { operator: name });
    pending.push(t);
  }
  // Restored transactions belong to the completed checkpoint we restore from: commit them again (idempotently).
  if (pending.length > 0) {
    const restored = pending;
    pending = [];
    await commitInOrder(restored);
  }
  return {
    invoke(value: T): void {
      current.push(value);
      if (!checkpointing && ++unchecked >= flushEvery) {
        unchecked = 0;
        const records = current;
        current = [];
        void commitInOrder([{ id: `${txnPrefix}-direct`, checkpointId: -1, records }]).catch((e) => ctx.operator.failTask(e));
      }
    },
    async finish(): Promise<void> {
      if (checkpointing) return; // The final checkpoint takes `current` and commits it.
      const records = current;
      current = [];
      await commitInOrder(records.length > 0 ? [{ id: `${txnPrefix}-direct`, checkpointId: -1, records }] : []);
    },
    snapshotState(checkpointId: number): unknown[] {
      if (current.length > 0) pending.push({ id: `${txnPrefix}-${checkpointId}`, checkpointId, records: current });
      current = [];
      return pending.slice();
    },
    async notifyCheckpointComplete(checkpointId: number): Promise<void> {
      const ready = pending.filter((t) => t.checkpointId <= checkpointId);
      if (ready.length === 0) return committing;
      pending = pending.filter((t) => t.checkpointId > checkpointId);
      await commitInOrder(ready);
    },
    async close(): Promise<void> {
      await committing.catch(() => undefined);
    },
  };
}
