// The sink behind executeAndCollect: batches records back to the client over NATS.
import { EddyError } from '../errors.ts';
import type { Sink } from '../operators/sink-operator.ts';
import { FrameCodec } from '../transport/frame-codec.ts';
import { subjects } from '../transport/subjects.ts';

const BATCH = 1000;

/**
 * Publishes `[subtask, records]` batches to the job's collect subject for node `nodeId`, then
 * `[subtask, null]` at end of input; the executor gathers them for the client.
 */
export function collectSink<T>(nodeId: () => number): Sink<T> {
  return {
    name: 'Collect Sink',
    createWriter: ({ operator }) => {
      const nc = operator.nats;
      if (nc === undefined) throw new EddyError('EDDY_CONFIG', 'executeAndCollect needs a NATS connection');
      const codec = new FrameCodec();
      const subject = subjects.collect(operator.jobId, nodeId());
      const s = operator.subtaskIndex;
      let batch: unknown[] = [];
      const flush = (): void => {
        if (batch.length === 0) return;
        const b = batch;
        batch = [];
        nc.publish(subject, codec.encodeValue([s, b], operator.operatorName));
      };
      return {
        invoke: (v) => {
          if (batch.push(v) >= BATCH) flush();
        },
        finish: async () => {
          flush();
          nc.publish(subject, codec.encodeValue([s, null]));
          await nc.flush();
        },
      };
    },
  };
}
