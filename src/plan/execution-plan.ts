// StreamGraph -> ExecutionPlan: operator chains (vertices), their parallel subtasks and input channels.
import type { StreamEdge, StreamGraph, StreamNode } from '../graph/stream-graph.ts';

/** A network input of a vertex: one edge, read over `channelCount` channels starting at `channelOffset`. */
export interface PlanInput {
  readonly edge: StreamEdge;
  readonly sourceVertex: number;
  readonly channelOffset: number;
  /** Forward edges connect subtask i to subtask i only: one channel; other edges: one per upstream subtask. */
  readonly pointwise: boolean;
}

/** A network output of a vertex: records leave `edge.source` for the head of `targetVertex`. */
export interface PlanOutput {
  readonly edge: StreamEdge;
  readonly targetVertex: number;
  /** Where the channels of this edge start at the target's subtasks. */
  readonly targetChannelOffset: number;
  readonly pointwise: boolean;
}

/** A chain of operators fused over forward edges; it runs as `parallelism` task subtasks. */
export interface PlanVertex {
  readonly id: number;
  readonly name: string;
  readonly parallelism: number;
  /** Chain members in topological order; the first is the head. */
  readonly nodes: readonly StreamNode[];
  /** Edges inside the chain (direct calls). */
  readonly chainedEdges: readonly StreamEdge[];
  readonly inputs: readonly PlanInput[];
  readonly outputs: readonly PlanOutput[];
  /** Number of input channels of each subtask. */
  readonly channelCount: number;
}

export interface ExecutionPlan {
  readonly jobName: string;
  readonly maxParallelism: number;
  readonly vertices: readonly PlanVertex[];
}

/** True when `edge` fuses its two nodes into one chain. */
export function isChainable(edge: StreamEdge, graph: StreamGraph): boolean {
  const up = graph.nodes.find((n) => n.id === edge.source)!;
  const down = graph.nodes.find((n) => n.id === edge.target)!;
  const inDegree = graph.edges.filter((e) => e.target === down.id).length;
  return edge.partitioner.kind === 'forward' && up.parallelism === down.parallelism && down.kind !== 'source' && inDegree === 1;
}

/**
 * Plans a StreamGraph: chains operators over forward edges with equal parallelism and numbers every
 * subtask's input channels. Pure; the runtime derives subjects and deploys tasks from the result.
 *
 * @example
 * ```ts
 * const plan = createExecutionPlan(graph);
 * plan.vertices.map((v) => v.name); // e.g. ['Source: collection -> map', 'sum -> Sink: collect']
 * ```
 */
export function createExecutionPlan(graph: StreamGraph): ExecutionPlan {
  const chained = new Set(graph.edges.filter((e) => isChainable(e, graph)).map((e) => e.id));
  // Every node belongs to the vertex of the chain head it is reached from over chained edges.
  const vertexOfNode = new Map<number, number>();
  const members: StreamNode[][] = [];
  const order = topologicalOrder(graph);
  for (const node of order) {
    const inChained = graph.edges.find((e) => e.target === node.id && chained.has(e.id));
    if (inChained === undefined) {
      vertexOfNode.set(node.id, members.length);
      members.push([node]);
    } else {
      const v = vertexOfNode.get(inChained.source)!;
      vertexOfNode.set(node.id, v);
      members[v]!.push(node);
    }
  }

  const inputs: PlanInput[][] = members.map(() => []);
  const channelCounts = members.map(() => 0);
  const outputs: PlanOutput[][] = members.map(() => []);
  for (const e of graph.edges) {
    if (chained.has(e.id)) continue;
    const sv = vertexOfNode.get(e.source)!;
    const tv = vertexOfNode.get(e.target)!;
    const pointwise = e.partitioner.kind === 'forward';
    const offset = channelCounts[tv]!;
    channelCounts[tv] = offset + (pointwise ? 1 : members[sv]![0]!.parallelism);
    inputs[tv]!.push({ edge: e, sourceVertex: sv, channelOffset: offset, pointwise });
    outputs[sv]!.push({ edge: e, targetVertex: tv, targetChannelOffset: offset, pointwise });
  }

  const vertices: PlanVertex[] = members.map((nodes, id) => ({
    id,
    name: nodes.map((n) => n.name).join(' -> '),
    parallelism: nodes[0]!.parallelism,
    nodes,
    chainedEdges: graph.edges.filter((e) => chained.has(e.id) && vertexOfNode.get(e.source) === id),
    inputs: inputs[id]!,
    outputs: outputs[id]!,
    channelCount: channelCounts[id]!,
  }));
  return { jobName: graph.jobName, maxParallelism: graph.maxParallelism, vertices };
}

function topologicalOrder(graph: StreamGraph): StreamNode[] {
  const indeg = new Map(graph.nodes.map((n) => [n.id, 0]));
  for (const e of graph.edges) indeg.set(e.target, indeg.get(e.target)! + 1);
  const ready = graph.nodes.filter((n) => indeg.get(n.id) === 0);
  const out: StreamNode[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a.id - b.id);
    const n = ready.shift()!;
    out.push(n);
    for (const e of graph.edges) {
      if (e.source !== n.id) continue;
      const d = indeg.get(e.target)! - 1;
      indeg.set(e.target, d);
      if (d === 0) ready.push(graph.nodes.find((x) => x.id === e.target)!);
    }
  }
  return out;
}
