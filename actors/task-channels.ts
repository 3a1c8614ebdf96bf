// A task's network channels: the writers of its outgoing edges and the specs of its input channels.
import type { InputChannelSpec } from '../src/transport/input-gate.ts';
import type { ChannelSender, OutputGate } from '../src/transport/output-gate.ts';
import { RecordWriter } from '../src/transport/record-writer.ts';
import { subjects } from '../src/transport/subjects.ts';
import type { TaskDeployment } from './task-protocol.ts';

/**
 * The writer of edge `edgeId` leaving this subtask: one sender per target subtask (one for a
 * pointwise edge), each on the target's input subject of this attempt, at this subtask's channel.
 */
export function createNetworkWriter(d: TaskDeployment, gate: OutputGate, edgeId: number, operatorName: string): RecordWriter<unknown> {
  const out = d.vertex.outputs.find((o) => o.edge.id === edgeId)!;
  const target = d.plan.vertices[out.targetVertex]!;
  const senders: ChannelSender[] = [];
  const ch = out.targetChannelOffset + (out.pointwise ? 0 : d.subtask);
  const targets = out.pointwise ? [d.subtask] : [...Array(target.parallelism).keys()];
  for (const t of targets) senders.push(gate.createSender(subjects.input(d.dataJob, target.id, t), ch, `${edgeId}:${t}`, d.network.credits, operatorName));
  return new RecordWriter(out.edge.partitioner, senders, d.plan.maxParallelism, operatorName, d.subtask);
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
