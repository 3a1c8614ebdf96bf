// Broadcast state in snapshots (operator state, restored on every subtask) and the graph the broadcast pattern builds.
import { describe, expect, it } from 'vitest';
import { TwoInputOperatorHarness } from 'eddy/testing';
import { MapStateDescriptor as PublicMapStateDescriptor, StreamEnvironment } from '../../index.ts';
import { KeyedBroadcastProcessFunction, type KeyedBroadcastContext, type KeyedBroadcastReadOnlyContext } from '../../src/functions/broadcast-functions.ts';
import { BroadcastStream } from '../../src/api/broadcast-stream.ts';
import type { Collector } from '../../src/functions/functions.ts';
import { createStreamGraph } from '../../src/graph/stream-graph.ts';
import { BroadcastProcessOperator } from '../../src/operators/broadcast-process-operator.ts';
import { MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.ts';
import { keyGroupOf } from '../../src/state/key-group.ts';
import { expectEddyError } from '../support/eddy-error.ts';

interface Reading {
  sensor: string;
  value: number;
}

const thresholds = new MapStateDescriptor<string, number>('thresholds');

/** Emits readings above their sensor's threshold. */
class Alert extends KeyedBroadcastProcessFunction<string, Reading, [string, number], Reading> {
  processElement(r: Reading, ctx: KeyedBroadcastReadOnlyContext<string>, out: Collector<Reading>): void {
    if (r.value > (ctx.getBroadcastState(thresholds).get(ctx.getCurrentKey()) ?? Infinity)) out.collect(r);
  }
  processBroadcastElement([sensor, t]: [string, number], ctx: KeyedBroadcastContext<string>): void {
    ctx.getBroadcastState(thresholds).put(sensor, t);
  }
}

const alert = () => new BroadcastProcessOperator<Reading, [string, number], Reading>('Alert', new Alert(), [thresholds], (r) => r.sensor);
const bySensor = { keySelector1: (r: Reading) => r.sensor };

describe('snapshots', () => {
  it('broadcast state is operator state: in the snapshot and restored on every subtask, with keyed state and timers', async () => {
    const h = new TwoInputOperatorHarness(alert(), bySensor);
    await h.open();
    h.processElements2([
      ['s1', 10],
      ['s2', 20],
    ]);
    h.processElement1({ sensor: 's1', value: 1 });
    const snap = h.snapshot();
    expect(snap.operator).toEqual({
      broadcast: [
        [
          'thresholds',
          [
            ['s1', 10],
            ['s2', 20],
          ],
        ],
      ],
    });
    h.processElement2(['s1', 0]);
    // The snapshot is a copy: later writes do not change it.
    expect((snap.operator as { broadcast: unknown[][] }).broadcast[0]![1]).toEqual([
      ['s1', 10],
      ['s2', 20],
    ]);

    // Restored at parallelism 2, each subtask has the whole broadcast state and its own keys.
    const out: Reading[] = [];
    for (const subtaskIndex of [0, 1]) {
      const r = await TwoInputOperatorHarness.restore(alert(), snap, { ...bySensor, parallelism: 2, subtaskIndex });
      for (const sensor of ['s1', 's2', 's3', 's4', 's5']) {
        const g = keyGroupOf(sensor, 128);
        if (g >= r.keyGroups.start && g <= r.keyGroups.end) r.processElement1({ sensor, value: 15 });
      }
      out.push(...r.getOutput());
      const s = r.snapshot();
      expect(s.operator).toEqual(snap.operator);
    }
    expect(out.map((r) => r.sensor).sort()).toEqual(['s1']);
  });

  it('restoring a broadcast state that is no longer declared fails instead of dropping it', async () => {
    const h = new TwoInputOperatorHarness(alert(), bySensor);
    await h.open();
    h.processElement2(['s1', 1]);
    const snap = h.snapshot();
    const renamed = new MapStateDescriptor<string, number>('renamed');
    const op = new BroadcastProcessOperator<Reading, [string, number], Reading>('Alert', new Alert(), [renamed], (r) => r.sensor);
    const e = await expectEddyError(() => TwoInputOperatorHarness.restore(op, snap, bySensor), 'EDDY_STATE_MISMATCH');
    expect(e.message).toContain('"thresholds"');
  });

  it('round trip: restored state answers like the original', async () => {
    const a = new TwoInputOperatorHarness(alert(), bySensor);
    await a.open();
    a.processElement2(['s1', 10]);
    const b = await TwoInputOperatorHarness.restore(alert(), a.snapshot(), bySensor);
    for (const h of [a, b]) h.processElements1([{ sensor: 's1', value: 11 }, { sensor: 's1', value: 9 }]);
    expect(b.getOutput()).toEqual(a.getOutput());
    expect(b.getOutput()).toEqual([{ sensor: 's1', value: 11 }]);
  });
});

describe('API and graph', () => {
  const env = () => StreamEnvironment.create({ parallelism: 3, nats: 'nats://127.0.0.1:1' });

  it('broadcast() without descriptors still partitions; with descriptors it is a BroadcastStream', () => {
    const e = env();
    const s = e.fromCollection([1]);
    expect(s.broadcast()).not.toBeInstanceOf(BroadcastStream);
    const bs = s.broadcast(new PublicMapStateDescriptor<string, number>('d'));
    expect(bs).toBeInstanceOf(BroadcastStream);
    expect(() => s.broadcast(new ValueStateDescriptor('v', 0) as never)).toThrow(/MapStateDescriptor/);
    expect(() => s.broadcast(thresholds, new MapStateDescriptor('thresholds'))).toThrow(/two descriptors/);
  });

  it('the broadcast side is a broadcast edge into input 2; the keyed side a hash edge into input 1', () => {
    const e = env();
    const rules = e.fromCollection<[string, number]>([['s1', 1]]).broadcast(thresholds);
    const out = e
      .fromCollection<Reading>([])
      .keyBy((r) => r.sensor)
      .connect(rules)
      .process(new Alert())
      .print();
    const g = createStreamGraph([out.transformation], { jobName: 'bc', parallelism: 3, maxParallelism: 128 });
    const op = g.nodes.find((n) => n.name === 'Co-Process-Broadcast-Keyed')!;
    expect(op.keyed).toBe(true);
    const inputs = g.edges.filter((x) => x.target === op.id).map((x) => [x.inputIndex, x.partitioner.kind]);
    expect(inputs.sort()).toEqual([
      [0, 'hash'],
      [1, 'broadcast'],
    ]);
  });

  it('a KeyedBroadcastProcessFunction on a non-keyed stream is a clear error', () => {
    const e = env();
    const rules = e.fromCollection<[string, number]>([]).broadcast(thresholds);
    expect(() => e.fromCollection<Reading>([]).connect(rules).process(new Alert() as never)).toThrow(/keyBy/);
    expect(() => e.fromCollection<Reading>([]).connect(rules).process({} as never)).toThrow(/processBroadcastElement/);
  });
});
