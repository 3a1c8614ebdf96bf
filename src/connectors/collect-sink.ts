// The sink behind executeAndCollect: batches records back to the client over NATS (exactly once with checkpoints).
import { EddyError } from '../errors.ts';
import type { Sink } from '../operators/sink-operator.ts';
import { FrameCodec } from '../transport/frame-codec.ts';
import { subjects } from '../transport/subjects.ts';
import { twoPhaseCommitWriter } from './two-phase-commit.ts';

const BATCH = 1000;

/**
 * Publishes `[subtask, txnId, records]` messages to the job's collect subject for node `nodeId`,
 * then `[subtask, null, null]` at the end. Without checkpoints `txnId` is null and batches go out
 * as they fill. With checkpoints a batch is a committed transaction: it is published when its
 * checkpoint completes and may be published again after a restore, so the client keeps one copy
 * per transaction id.
 */
export function collectSink<T>(nodeId: () => number): Sink<T> {
  return {
    name: 'Collect Sink',
    createWriter: async (ctx) => {
      const { operator } = ctx;
      const nc = operator.nats;
      if (nc === undefined) throw new EddyError('EDDY_CONFIG', 'executeAndCollect needs a NATS connection');
      const codec = new FrameCodec();
      const subject = subjects.collect(operator.jobId, nodeId());
      const s = operator.subtaskIndex;
      const end = (): void => nc.publish(subject, codec.encodeValue([s, null, null]));
      if (operator.checkpointing) {
        const inner = await twoPhaseCommitWriter<T>({
          ctx,
          commit: async (txn) => nc.publish(subject, codec.encodeValue([s, txn.id, txn.records], operator.operatorName)),
        });
        let ended = false;
        return {
          ...inner,
          finish: async () => {
            ended = true;
            await inner.finish?.();
          },
          // After the final checkpoint's commit, every record is out: the end marker follows it (repeats are harmless).
          notifyCheckpointComplete: async (id) => {
            await inner.notifyCheckpointComplete!(id);
            if (ended) end();
          },
        };
      }
      let batch: unknown[] = [];
      const flush = (): void => {
        if (batch.length === 0) return;
        const b = batch;
        batch = [];
        nc.publish(subject, codec.encodeValue([s, null, b], operator.operatorName));
      };
      return {
        invoke: (v) => {
          if (batch.push(v) >= BATCH) flush();
        },
        finish: async () => {
          flush();
          end();
          await nc.flush();
        },
      };
    },
  };
}
