// Chaos-test helpers: kill a running job's task actor over NATS, and read a whole JetStream stream back.
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { errors, type NatsConnection } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import { connectNats } from '../transport/connect-nats.ts';
import { FrameCodec } from '../transport/frame-codec.ts';
import { subjects } from '../transport/subjects.ts';

/** Where a job runs: a JobClient has both fields. */
export interface JobAddress {
  jobId: string;
  /** The job's NATS URL, credentials included (JobClient.natsUrl). */
  natsUrl: string;
}

/** How long killTask waits for the job master's answer. */
const KILL_REPLY_TIMEOUT_MS = 10_000;

const codec = new FrameCodec();

/** Runs `fn` on `nc`, or on a connection of its own to `natsUrl` that is closed afterwards. */
async function withConnection<T>(natsUrl: string, nc: NatsConnection | undefined, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  if (nc !== undefined) return fn(nc);
  const own = await connectNats(natsUrl, { name: 'eddy-chaos' });
  try {
    return await fn(own);
  } finally {
    await own.close();
  }
}

/**
 * Kills the task actor `vertexName` / `subtask` of a running job, as a crash would: it stops at once
 * without reporting, and its pipelined region restarts from the last completed checkpoint. Vertex
 * names are the chained operator names joined by `' -> '` (e.g. `'src -> map'`). Only a job created
 * with `testHooks: true` listens for kills. Resolves, once the job master has acted, with the number
 * of task actors the kill reached: 0 when the name matches no task or the region is restarting.
 *
 * @throws EddyError `EDDY_CONFIG` when no job master answers: the job does not enable `testHooks`,
 *   or it has ended.
 * @example
 * ```ts
 * const env = StreamEnvironment.create({ checkpointing: 100, testHooks: true });
 * const client = await env.executeAsync('job');
 * await killTask(client, 'Window -> Sink', 1); // 1
 * ```
 */
export async function killTask(job: JobAddress, vertexName: string, subtask: number, nc?: NatsConnection): Promise<number> {
  return withConnection(job.natsUrl, nc, async (c) => {
    try {
      const reply = await c.request(subjects.kill(job.jobId), codec.encodeValue([vertexName, subtask]), { timeout: KILL_REPLY_TIMEOUT_MS });
      return codec.decodeValue(reply.data) as number;
    } catch (e) {
      if (e instanceof errors.RequestError && e.isNoResponders())
        throw new EddyError('EDDY_CONFIG', `job ${job.jobId} does not accept task kills: create its environment with testHooks: true (or the job has ended)`, { cause: e });
      throw e;
    }
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
