// Reading one key's actor state from outside a running job: route the key to its subtask, ask over NATS.
import type { NatsConnection } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import type { StreamNode } from '../graph/stream-graph.ts';
import type { ActorQueryReply } from '../operators/actor-query.ts';
import type { ActorStateView } from '../operators/actor-operator.ts';
import { keyGroupOf, subtaskForKeyGroup } from '../state/key-group.ts';
import { FrameCodec } from '../transport/frame-codec.ts';
import { subjects } from '../transport/subjects.ts';

const codec = new FrameCodec();

/** How long a query waits for the subtask's answer. */
const QUERY_TIMEOUT_MS = 5_000;

/** The actor operator named `operator` (uid, or name when only one operator has it). */
function actorNode(nodes: readonly StreamNode[], operator: string, jobName: string): StreamNode {
  const actors = nodes.filter((n) => (n.stateSchema as { kind?: string } | undefined)?.kind === 'machine');
  const byUid = actors.find((n) => n.uid === operator);
  if (byUid !== undefined) return byUid;
  const byName = actors.filter((n) => n.name === operator);
  if (byName.length === 1) return byName[0]!;
  const known = actors.map((n) => `"${n.name}" (uid "${n.uid}")`).join(', ') || 'none';
  throw new EddyError(
    'EDDY_INVALID_ARGUMENT',
    byName.length > 1
      ? `job "${jobName}" has ${byName.length} actor operators named "${operator}"; query by uid: ${known}`
      : `job "${jobName}" has no actor operator "${operator}"; its actor operators: ${known}`,
  );
}

/**
 * The machine of `key` in actor operator `operator` of a running job: state value, context and
 * pending delayed events; undefined when the key has no machine (never seen, or finished).
 *
 * @throws EddyError `EDDY_INVALID_ARGUMENT` for an unknown operator; `EDDY_QUERY_FAILED` when the
 * subtask holding the key does not answer (the job is restarting or ended: try again).
 */
export async function queryActorState(
  nc: NatsConnection,
  job: { jobId: string; jobName: string; maxParallelism: number; nodes: readonly StreamNode[] },
  operator: string,
  key: unknown,
): Promise<ActorStateView | undefined> {
  if (typeof operator !== 'string') throw new EddyError('EDDY_INVALID_ARGUMENT', `queryActor: the operator must be a uid or name string, got ${typeof operator}`);
  const node = actorNode(job.nodes, operator, job.jobName);
  const subtask = subtaskForKeyGroup(keyGroupOf(key, job.maxParallelism, node.name), node.parallelism, job.maxParallelism);
  let reply: ActorQueryReply;
  try {
    const msg = await nc.request(subjects.actorQuery(job.jobId, node.uid, subtask), codec.encodeValue([key]), { timeout: QUERY_TIMEOUT_MS });
    reply = codec.decodeValue(msg.data) as ActorQueryReply;
  } catch (e) {
    throw new EddyError('EDDY_QUERY_FAILED', `queryActor: subtask ${subtask} of actor operator "${node.name}" in job "${job.jobName}" did not answer (${(e as Error).message}); the job may be restarting or ended, try again`, {
      operator: node.name,
      cause: e,
    });
  }
  if ('error' in reply) throw new EddyError('EDDY_QUERY_FAILED', `queryActor: operator "${node.name}" could not read key ${JSON.stringify(key)}: ${reply.error.message}`, { operator: node.name });
  return (reply.state ?? undefined) as ActorStateView | undefined;
}
