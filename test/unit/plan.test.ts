// StreamGraph and ExecutionPlan: chaining rules, channels, defaults and validation (pure, no NATS).
import { describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../index.ts';
import type { DataStream } from '../../src/api/data-stream.ts';
import { createStreamGraph } from '../../src/graph/stream-graph.ts';
import { createExecutionPlan } from '../../src/plan/execution-plan.ts';

function planOf(parallelism: number, build: (env: StreamEnvironment) => DataStream<any>) {
  const env = StreamEnvironment.create({ parallelism, nats: 'nats://127.0.0.1:1' });
  const stream = build(env);
  const sink = stream.print();
  const graph = createStreamGraph([sink.transformation], { jobName: 'plan', parallelism, maxParallelism: 128 });
  return { graph, plan: createExecutionPlan(graph) };
}

describe('chaining', () => {
  it('fuses forward edges of equal parallelism into one vertex', () => {
    const { plan } = planOf(2, (env) => env.fromGenerator(10, (i) => i).map((x) => x + 1).filter((x) => x > 2));
    expect(plan.vertices.map((v) => v.name)).toEqual(['Generator Source -> Map -> Filter -> Sink: Print to Std. Out']);
    expect(plan.vertices[0]!.parallelism).toBe(2);
    expect(plan.vertices[0]!.channelCount).toBe(0);
  });

  it('breaks the chain at keyBy, rebalance and parallelism changes', () => {
    const { plan } = planOf(2, (env) =>
      env
        .fromCollection([1, 2, 3]) // parallelism 1: a collection is not parallel
        .map((x) => x)
        .keyBy((x) => x)
        .sum()
        .rebalance()
        .map((x) => x)
        .setParallelism(3),
    );
    expect(plan.vertices.map((v) => [v.name, v.parallelism])).toEqual([
      ['Collection Source', 1],
      ['Map', 2],
      ['Sum', 2],
      ['Map', 3],
      // Like Flink, a sink takes the default parallelism, not its input's: 3 -> 2 rebalances.
      ['Sink: Print to Std. Out', 2],
    ]);
    // 1 source subtask -> 2 maps: one channel each; keyBy from 2 maps: 2; 2 sums -> 3 maps: 2; 3 maps -> sink: 3.
    expect(plan.vertices.map((v) => v.channelCount)).toEqual([0, 1, 2, 2, 3]);
    expect(plan.vertices[1]!.inputs[0]!.edge.partitioner.kind).toBe('rebalance');
    expect(plan.vertices[2]!.inputs[0]!.edge.partitioner.kind).toBe('hash');
  });

  it('a union is one vertex with an input per upstream vertex, numbered channel ranges', () => {
    const { plan } = planOf(2, (env) => {
      const a = env.fromGenerator(10, (i) => i);
      const b = env.fromGenerator(10, (i) => -i).setParallelism(3);
      return a.union(b).map((x) => x);
    });
    const map = plan.vertices.find((v) => v.name.startsWith('Map'))!;
    // a -> map is forward (same parallelism) and pointwise: 1 channel; b -> map rebalances from 3 subtasks.
    expect(map.inputs.map((i) => [i.channelOffset, i.pointwise])).toEqual([
      [0, true],
      [1, false],
    ]);
    expect(map.channelCount).toBe(4);
  });

  it('a map after keyBy reads the hash-partitioned stream in a new vertex', () => {
    const { plan } = planOf(1, (env) => env.fromCollection([1]).keyBy((x) => x).map((x) => x));
    expect(plan.vertices.map((v) => v.name)).toEqual(['Collection Source', 'Map -> Sink: Print to Std. Out']);
  });
});

describe('validation', () => {
  it('duplicate uids are rejected with EDDY_CONFIG', () => {
    expect(() => planOf(1, (env) => env.fromCollection([1]).map((x) => x).uid('same').map((x) => x).uid('same'))).toThrow(
      /uid "same" is used by both/,
    );
  });
  it('a collection source cannot run in parallel', () => {
    expect(() => planOf(1, (env) => env.fromCollection([1]).setParallelism(2))).toThrow(/supports parallelism 1 at most/);
  });
  it('setParallelism on a partitioning is a clear error', () => {
    expect(() => planOf(1, (env) => env.fromCollection([1]).rebalance().setParallelism(2))).toThrow(/applies to an operator, not to Rebalance/);
  });
});
