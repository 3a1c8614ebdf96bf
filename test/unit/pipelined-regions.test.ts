// pipelinedRegions: the connected parts of a plan, each a set of vertices that restart together, in start order.
import { describe, expect, it } from 'vitest';
import { pipelinedRegions } from '../../actors/pipelined-regions.ts';
import { StreamEnvironment, type DataStream } from '../../index.ts';
import type { DataStreamSink } from '../../src/api/data-stream.ts';
import { createStreamGraph } from '../../src/graph/stream-graph.ts';
import { createExecutionPlan, type ExecutionPlan } from '../../src/plan/execution-plan.ts';

function planOf(parallelism: number, build: (env: StreamEnvironment) => DataStreamSink[]): ExecutionPlan {
  const env = StreamEnvironment.create({ parallelism, nats: 'nats://127.0.0.1:1' });
  const sinks = build(env);
  const graph = createStreamGraph(
    sinks.map((s) => s.transformation),
    { jobName: 'regions', parallelism, maxParallelism: 128 },
  );
  return createExecutionPlan(graph);
}

const discard = <T>(s: DataStream<T>) => s.sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });

/** Region contents by vertex name, for readable expectations. */
function named(plan: ExecutionPlan): string[][] {
  return pipelinedRegions(plan).map((r) => r.map((v) => plan.vertices[v]!.name));
}

describe('pipelinedRegions', () => {
  it('a fully chained job is one region of one vertex', () => {
    const plan = planOf(2, (env) => [discard(env.fromGenerator(10, (i) => i).map((i) => i + 1))]);
    expect(pipelinedRegions(plan)).toEqual([[0]]);
  });

  it('exchanges (keyBy, rebalance) join their vertices into one region', () => {
    const plan = planOf(2, (env) => [discard(env.fromGenerator(10, (i) => i).keyBy((i) => i % 2).sum().rebalance().map((i) => i).setParallelism(3))]);
    expect(plan.vertices.length).toBeGreaterThan(2);
    expect(pipelinedRegions(plan)).toEqual([plan.vertices.map((v) => v.id)]);
  });

  it('independent pipelines are separate regions, ordered by their first vertex', () => {
    const plan = planOf(2, (env) => [
      discard(env.fromGenerator(10, (i) => i).keyBy((i) => i).sum()),
      discard(env.fromGenerator(10, (i) => -i).map((i) => i)),
      discard(env.fromCollection(['a']).keyBy((s) => s).reduce((a) => a)),
    ]);
    const regions = pipelinedRegions(plan);
    expect(regions).toHaveLength(3);
    // Every vertex is in exactly one region, ascending inside a region, regions by smallest vertex.
    expect(regions.flat().sort((a, b) => a - b)).toEqual(plan.vertices.map((v) => v.id));
    for (const r of regions) expect(r).toEqual([...r].sort((a, b) => a - b));
    expect(regions.map((r) => r[0])).toEqual([...regions.map((r) => r[0])].sort((a, b) => a! - b!));
    expect(named(plan)[1]).toEqual(['Generator Source -> Map -> Sink: discard']);
  });

  it('a union or a connect merges the pipelines it joins, and only those', () => {
    const plan = planOf(2, (env) => {
      const a = env.fromGenerator(10, (i) => i).keyBy((i) => i).sum();
      const b = env.fromGenerator(10, (i) => i * 2).setParallelism(3);
      const c = env.fromCollection([1, 2]).keyBy((i) => i).sum();
      const d = env.fromCollection(['x']);
      const joined = c.connect(d).map(
        (n) => n,
        (s) => s.length,
      );
      return [discard(a.union(b).map((i) => i)), discard(joined)];
    });
    const regions = named(plan);
    expect(regions).toHaveLength(2);
    expect(regions[0]!.some((n) => n.startsWith('Generator Source'))).toBe(true);
    expect(regions[0]!.filter((n) => n.startsWith('Generator Source'))).toHaveLength(2);
    expect(regions[1]!.filter((n) => n.startsWith('Collection Source'))).toHaveLength(2);
  });

  it('a side output consumed by another sink stays in its producer’s region', () => {
    const plan = planOf(2, (env) => {
      const main = env.fromGenerator(10, (i) => i).keyBy((i) => i % 2).sum();
      return [discard(main), discard(main.rebalance().map((i) => -i).setParallelism(1))];
    });
    expect(pipelinedRegions(plan)).toHaveLength(1);
  });
});
