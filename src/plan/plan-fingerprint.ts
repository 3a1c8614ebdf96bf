// A plan's fingerprint: a hash of its structure (vertices, chains, edges, parallelism, uids), the same wherever the job's code rebuilds it.
import { createHash } from 'node:crypto';
import type { ExecutionPlan } from './execution-plan.ts';

/**
 * The structure a task depends on, as plain data: everything that decides subjects, channels, key
 * groups and state mapping. Functions (operator factories, key selectors, sources, sinks) are left
 * out: two processes that load the same job code get the same plan, and a changed job another one.
 */
function structure(plan: ExecutionPlan): unknown {
  return {
    jobName: plan.jobName,
    maxParallelism: plan.maxParallelism,
    vertices: plan.vertices.map((v) => ({
      id: v.id,
      name: v.name,
      parallelism: v.parallelism,
      channelCount: v.channelCount,
      nodes: v.nodes.map((n) => [n.id, n.uid, n.name, n.kind, n.parallelism, n.keyed]),
      chained: v.chainedEdges.map((e) => [e.id, e.source, e.target, e.partitioner.kind, e.sideTag ?? null, e.inputIndex]),
      inputs: v.inputs.map((i) => [i.edge.id, i.edge.partitioner.kind, i.sourceVertex, i.channelOffset, i.pointwise, i.edge.sideTag ?? null, i.edge.inputIndex]),
      outputs: v.outputs.map((o) => [o.edge.id, o.edge.partitioner.kind, o.targetVertex, o.targetChannelOffset, o.pointwise, o.edge.sideTag ?? null]),
    })),
  };
}

/**
 * A hex sha-256 of the plan's structure. A task deployed with one fingerprint runs only in a
 * process whose plan has the same one (a worker that loaded other job code refuses it).
 *
 * @example
 * ```ts
 * planFingerprint(createExecutionPlan(graph)); // '3f1c…' (64 hex digits), equal for equal jobs
 * ```
 */
export function planFingerprint(plan: ExecutionPlan): string {
  return createHash('sha256').update(JSON.stringify(structure(plan))).digest('hex');
}
