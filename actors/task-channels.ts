// How a task wires its chain: the writers of its outgoing edges, the specs of its input channels, each operator's context.
import { DeadLetterPublisher } from '../src/connectors/dead-letter-publisher.ts';
import { resolveRecordFailurePolicy } from '../src/functions/record-failure-policy.ts';
import type { StreamNode } from '../src/graph/stream-graph.ts';
import type { ExecutionPlan } from '../src/plan/execution-plan.ts';
import { attributeError, createRecordFailureHandler } from '../src/operators/record-failure.ts';
import type { OperatorContext } from '../src/operators/operator.ts';
import type { KeyedStateBackend } from '../src/state/keyed-state-backend.ts';
import type { InputChannelSpec } from '../src/transport/input-gate.ts';
import type { ChannelSender, OutputGate } from '../src/transport/output-gate.ts';
import { RecordWriter } from '../src/transport/record-writer.ts';
import { subjects } from '../src/transport/subjects.ts';
import { FrameCodec } from '../src/transport/frame-codec.ts';
import { toErrorInfo } from '../src/errors.ts';
import type { TaskDeployment } from './task-protocol.ts';

/**
 * The writer of edge `edgeId` leaving this subtask: one sender per target subtask (one for a
 * pointwise edge), each on the target's input subject of this attempt, at this subtask's channel.
 */
export function createNetworkWriter(
  d: TaskDeployment,
  gate: OutputGate,
  edgeId: number,
  operatorName: string,
  metrics: Map<string, number>,
  fail: (e: unknown) => void,
): RecordWriter<unknown> {
  const out = d.vertex.outputs.find((o) => o.edge.id === edgeId)!;
  const target = d.plan.vertices[out.targetVertex]!;
  const senders: ChannelSender[] = [];
  const ch = out.targetChannelOffset + (out.pointwise ? 0 : d.subtask);
  const targets = out.pointwise ? [d.subtask] : [...Array(target.parallelism).keys()];
  for (const t of targets) senders.push(gate.createSender(subjects.input(d.dataJob, target.id, t), ch, `${edgeId}:${t}`, d.network.credits, operatorName));
  const targetNode = target.nodes[0]!;
  // A key selector belongs to the keyed operator it feeds: its failures follow that operator's policy.
  const keyOperator = `keyBy of "${targetNode.name}"`;
  const keyFailed = out.edge.partitioner.kind === 'hash' ? recordFailedOf(d, targetNode, keyOperator, fail, () => bump(metrics, `${keyOperator}.deadLetters`)) : undefined;
  return new RecordWriter(out.edge.partitioner, senders, d.plan.maxParallelism, operatorName, d.subtask, keyFailed);
}

const bump = (metrics: Map<string, number>, name: string): void => void metrics.set(name, (metrics.get(name) ?? 0) + 1);

/** True when every source of the plan is bounded: such jobs fail on a bad record by default. */
const boundedPlans = new WeakMap<ExecutionPlan, boolean>();
function isBounded(plan: ExecutionPlan): boolean {
  let b = boundedPlans.get(plan);
  if (b === undefined) {
    b = plan.vertices.every((v) => v.nodes.every((n) => n.kind !== 'source' || n.source!.bounded));
    boundedPlans.set(plan, b);
  }
  return b;
}

/** One dead-letter publisher per task (deployment). */
const publishers = new WeakMap<TaskDeployment, DeadLetterPublisher>();

/** Resolves when the dead letters this task stored in JetStream so far were acknowledged (or failed the task): before a task ends or acks a checkpoint. */
export function deadLettersSettled(d: TaskDeployment): Promise<unknown> {
  return publishers.get(d)?.settled() ?? Promise.resolve();
}

/** The record-failure handler of `node` in this task, named `operator` in errors and dead letters. */
function recordFailedOf(
  d: TaskDeployment,
  node: StreamNode,
  operator: string,
  fail: (e: unknown) => void,
  count?: () => void,
): (e: unknown, record: unknown, headers?: Record<string, string>) => void {
  const policy = resolveRecordFailurePolicy(node.recordFailures, d.recordFailures, { name: d.jobName, bounded: isBounded(d.plan) });
  if (policy.kind === 'fail') return createRecordFailureHandler(operator, policy, () => undefined, () => undefined);
  let publisher = publishers.get(d);
  if (publisher === undefined) publishers.set(d, (publisher = new DeadLetterPublisher(d.nc, fail)));
  const origin = { jobName: d.jobName, jobId: d.jobId, operator, subtask: d.subtask };
  const pub = publisher;
  return createRecordFailureHandler(operator, policy, (record, error, headers) => pub.publish(policy, origin, record, error, headers), count ?? (() => undefined));
}

/** This subtask's input channels, indexed by channel number: who produces each and where its credits go. */
export function inputChannelSpecs(d: TaskDeployment): InputChannelSpec[] {
  const specs: InputChannelSpec[] = [];
  for (const input of d.vertex.inputs) {
    const up = d.plan.vertices[input.sourceVertex]!;
    const producers = input.pointwise ? [d.subtask] : [...Array(up.parallelism).keys()];
    for (const u of producers)
      specs[input.channelOffset + (input.pointwise ? 0 : u)] = {
        producer: `${up.name} (${u + 1}/${up.parallelism})`,
        creditSubject: subjects.credit(d.dataJob, up.id, u),
        creditKey: `${input.edge.id}:${d.subtask}`,
        inputIndex: input.edge.inputIndex,
      };
  }
  return specs;
}

const queryCodec = new FrameCodec();

/** Answers msgpack requests on `subjects.actorQuery(job, uid, subtask)` with `answer(request)` (a request/reply per query). */
function serveQueries(d: TaskDeployment, node: StreamNode, answer: (request: unknown) => unknown): { stop(): void } {
  const sub = d.nc.subscribe(subjects.actorQuery(d.jobId, node.uid, d.subtask), {
    callback: (err, msg) => {
      if (err !== null || msg.reply === undefined) return;
      let reply: unknown;
      try {
        reply = answer(queryCodec.decodeValue(msg.data));
      } catch (e) {
        reply = { error: toErrorInfo(e) };
      }
      msg.respond(queryCodec.encodeValue(reply));
    },
  });
  return { stop: () => sub.unsubscribe() };
}

/** The context operator `node` of this subtask runs with; its counters land in `metrics` as `<operator>.<name>`. */
export function operatorContext(
  d: TaskDeployment,
  node: StreamNode,
  keyedState: KeyedStateBackend | undefined,
  metrics: Map<string, number>,
  fail: (e: unknown) => void,
): OperatorContext {
  const prefix = node.name + '.';
  return {
    jobName: d.jobName,
    jobId: d.jobId,
    operatorName: node.name,
    uid: node.uid,
    subtaskIndex: d.subtask,
    parallelism: d.vertex.parallelism,
    maxParallelism: d.plan.maxParallelism,
    clock: d.clock,
    metrics: { inc: (name, by = 1) => void metrics.set(prefix + name, (metrics.get(prefix + name) ?? 0) + by) },
    keyedState,
    nats: d.nc,
    autoWatermarkIntervalMs: d.autoWatermarkIntervalMs,
    checkpointing: d.checkpointing !== undefined,
    failTask: (e) => fail(attributeError(e, node.name)),
    recordFailed: recordFailedOf(d, node, node.name, fail, () => bump(metrics, prefix + 'deadLetters')),
    serveQueries: (answer) => serveQueries(d, node, answer),
  };
}
