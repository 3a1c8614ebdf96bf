// Pipelined regions of a plan: vertices connected by data exchanges, which must restart together.
import type { ExecutionPlan } from '../src/plan/execution-plan.ts';

/**
 * The connected components of the plan's vertex graph, each as ascending vertex ids, ordered by
 * their smallest vertex (start order for rest-for-one). All exchanges are pipelined, so a region
 * is exactly the set of tasks a consistent restore must reset together (Flink's failover region).
 *
 * @example
 * ```ts
 * pipelinedRegions(plan); // e.g. [[0, 1, 2], [3, 4]] for two independent pipelines
 * ```
 */
export function pipelinedRegions(plan: ExecutionPlan): number[][] {
  const parent = plan.vertices.map((v) => v.id);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]!]!;
    return x;
  };
  for (const v of plan.vertices)
    for (const input of v.inputs) {
      const a = find(v.id);
      const b = find(input.sourceVertex);
      if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
    }
  const groups = new Map<number, number[]>();
  for (const v of plan.vertices) {
    const root = find(v.id);
    (groups.get(root) ?? groups.set(root, []).get(root)!).push(v.id);
  }
  return [...groups.values()].sort((a, b) => a[0]! - b[0]!);
}
