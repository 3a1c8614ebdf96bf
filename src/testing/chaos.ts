// Chaos-test helpers: kill a running job's task actor over NATS, and read a whole JetStream stream back.
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FrameCodec } from '../transport/frame-codec.ts';
import { subjects } from '../transport/subjects.ts';

/** Where a job runs: a JobClient has both fields. */
export interface JobAddress {
  jobId: string;
  natsUrl: string;
}

const codec = new FrameCodec();

/** Runs `fn` on `nc`, or on a connection of its own to `natsUrl` that is closed afterwards. */
async function withConnection<T>(natsUrl: string, nc: NatsConnection | undefined, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  if (nc !== undefined) return fn(nc);
  const own = await connect({ servers: natsUrl, name: 'eddy-chaos' });
  try {
    return await fn(own);
  } finally {
    await own.close();
  }
}

/**
 * Kills the task actor `vertexName` / `subtask` of a running job, as a crash would: it stops at once
 * without reporting, and its pipelined region restarts from the last completed checkpoint. Vertex
 * names are the chained operator names joined by `' -> '` (e.g. `'src -> map'`). A name that matches
 * no task, or a region that is restarting, makes this a no-op. Resolves once the server has the message.
 *
 * @example
 * ```ts
 * const client = await env.executeAsync('job');
 * await killTask(client, 'Window -> Sink', 1);
 * ```
 */
export async function killTask(job: JobAddress, vertexName: string, subtask: number, nc?: NatsConnection): Promise<void> {
  await withConnection(job.natsUrl, nc, async (c) => {
    c.publish(subjects.kill(job.jobId), codec.encodeValue([vertexName, subtask]));
    await c.flush();
  });
}

/**
 * Every message of a JetStream stream, in stream order, decoded as JSON (an ordered consumer from
 * the first sequence up to the last one stored when the call starts).
 *
 * @example
 * ```ts
 * const rows = await readJetStream<{ k: number }>(natsUrl, 'OUT');
 * ```
 */
export async function readJetStream<T>(natsUrl: string, stream: string, nc?: NatsConnection): Promise<T[]> {
  return withConnection(natsUrl, nc, async (c) => {
    const info = await (await jetstreamManager(c)).streams.info(stream);
    const out: T[] = [];
    if (info.state.messages === 0) return out;
    const last = info.state.last_seq;
    const consumer = await jetstream(c).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 1024 });
    try {
      for await (const m of messages) {
        out.push(m.json<T>());
        // The last sequence stored at the start: later messages are not part of this read.
        if (m.seq >= last || m.info.pending === 0) break;
      }
    } finally {
      await messages.close().catch(() => undefined);
      await consumer.delete().catch(() => undefined);
    }
    return out;
  });
}
