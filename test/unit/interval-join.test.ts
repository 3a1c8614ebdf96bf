// Interval join (Flink's IntervalJoinOperator rules) through the two-input harness: bounds, lateness, cleanup, snapshots.
import { describe, expect, it } from 'vitest';
import { TwoInputOperatorHarness } from 'eddy/testing';
import { OutputTag, StreamEnvironment } from '../../index.ts';
import { ProcessJoinFunction, type Collector, type ProcessJoinContext } from '../../src/functions/functions.ts';
import { createStreamGraph } from '../../src/graph/stream-graph.ts';
import { IntervalJoinOperator, type IntervalJoinSpec } from '../../src/operators/interval-join-operator.ts';
import { keyGroupOf } from '../../src/state/key-group.ts';
import { expectEddyError } from '../support/eddy-error.ts';

interface Ev {
  k: string;
  id: string;
}

/** Emits `left.id-right.id` and records the context's timestamps. */
class Pairs extends ProcessJoinFunction<Ev, Ev, string> {
  static readonly info = new OutputTag<string>('info');
  processElement(l: Ev, r: Ev, ctx: ProcessJoinContext, out: Collector<string>): void {
    out.collect(`${l.id}-${r.id}`);
    ctx.output(Pairs.info, `${ctx.getLeftTimestamp()}/${ctx.getRightTimestamp()}/${ctx.getTimestamp()}`);
  }
}

const keys = { keySelector1: (e: Ev) => e.k, keySelector2: (e: Ev) => e.k };

function join(lower: number, upper: number, opts: Partial<IntervalJoinSpec<Ev, Ev>> = {}): IntervalJoinOperator<Ev, Ev, string> {
  const spec = { lowerBound: lower, upperBound: upper, lowerBoundInclusive: true, upperBoundInclusive: true, ...opts };
  return new IntervalJoinOperator<Ev, Ev, string>('Interval Join', new Pairs(), spec, (e) => e.k, (e) => e.k);
}

async function harness(lower: number, upper: number, opts: Partial<IntervalJoinSpec<Ev, Ev>> = {}) {
  const h = new TwoInputOperatorHarness(join(lower, upper, opts), keys);
  await h.open();
  return h;
}

const ev = (id: string, k = 'a'): Ev => ({ k, id });

/** Buffered timestamps per side (over every key) and the number of live timers. */
function buffered(h: TwoInputOperatorHarness<Ev, Ev, string>): { left: number; right: number; timers: number } {
  const b = h.stateBackend!;
  const snap = h.snapshot();
  return {
    left: [...b.keys('LEFT_BUFFER')].length,
    right: [...b.keys('RIGHT_BUFFER')].length,
    timers: (snap.timers?.event.length ?? 0) + (snap.timers?.processing.length ?? 0),
  };
}

describe('TSDoc examples', () => {
  it('IntervalJoinOperator', async () => {
    const op = new IntervalJoinOperator<string, string, string>(
      'Interval Join',
      { processElement: (l, r, _ctx, out) => out.collect(`${l}+${r}`) },
      { lowerBound: -5, upperBound: 5, lowerBoundInclusive: true, upperBoundInclusive: true },
      (l) => l[0],
      (r) => r[0],
    );
    const h = new TwoInputOperatorHarness(op, { keySelector1: (l: string) => l[0], keySelector2: (r: string) => r[0] });
    await h.open();
    h.processElement1('a1', 10);
    h.processElement2('a2', 14);
    h.processElement2('a3', 16);
    expect(h.getRecordOutput()).toEqual([{ value: 'a1+a2', timestamp: 14 }]);
  });
});

describe('bounds', () => {
  const cases: [string, Partial<IntervalJoinSpec<Ev, Ev>>, string[]][] = [
    ['inclusive', {}, ['L-r8', 'L-r10', 'L-r13']],
    ['lower exclusive', { lowerBoundInclusive: false }, ['L-r10', 'L-r13']],
    ['upper exclusive', { upperBoundInclusive: false }, ['L-r8', 'L-r10']],
    ['both exclusive', { lowerBoundInclusive: false, upperBoundInclusive: false }, ['L-r10']],
  ];
  for (const [name, opts, expected] of cases)
    it(`${name}: right.ts in [left.ts - 2, left.ts + 3] with ${name} bounds, whichever side arrives first`, async () => {
      for (const leftFirst of [true, false]) {
        const h = await harness(-2, 3, opts);
        if (leftFirst) h.processElement1(ev('L'), 10);
        for (const ts of [7, 8, 10, 13, 14]) h.processElement2(ev(`r${ts}`), ts);
        if (!leftFirst) h.processElement1(ev('L'), 10);
        expect(h.getOutput()).toEqual(expected);
      }
    });

  it('bounds may both be positive or both negative', async () => {
    const later = await harness(5, 10);
    later.processElement1(ev('L'), 100);
    for (const ts of [95, 104, 105, 110, 111]) later.processElement2(ev(`r${ts}`), ts);
    expect(later.getOutput()).toEqual(['L-r105', 'L-r110']);

    const earlier = await harness(-10, -5);
    earlier.processElement1(ev('L'), 100);
    for (const ts of [89, 90, 95, 96, 105]) earlier.processElement2(ev(`r${ts}`), ts);
    expect(earlier.getOutput()).toEqual(['L-r90', 'L-r95']);
  });

  it('lower == upper joins exact offsets only; both exclusive then joins nothing', async () => {
    const exact = await harness(3, 3);
    exact.processElement1(ev('L'), 0);
    for (const ts of [2, 3, 4]) exact.processElement2(ev(`r${ts}`), ts);
    expect(exact.getOutput()).toEqual(['L-r3']);
    const none = await harness(3, 3, { lowerBoundInclusive: false, upperBoundInclusive: false });
    none.processElement1(ev('L'), 0);
    none.processElement2(ev('r3'), 3);
    expect(none.getOutput()).toEqual([]);
  });

  it('rejects lower > upper and non-integer bounds', async () => {
    await expectEddyError(() => join(5, 1), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => join(0, 1.5), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => join(Number.NaN, 1), 'EDDY_INVALID_ARGUMENT');
    const env = StreamEnvironment.create({ nats: 'nats://127.0.0.1:1' });
    const a = env.fromCollection<Ev>([]).keyBy((e) => e.k);
    expect(() => a.intervalJoin(a).between(1, 0)).toThrow(/lower <= upper/);
    expect(() => a.intervalJoin(env.fromCollection<Ev>([]) as never)).toThrow(/KeyedStream/);
  });
});

describe('pairs', () => {
  it('carry max(left.ts, right.ts); the context reports both timestamps', async () => {
    const h = await harness(-5, 5);
    h.processElement1(ev('L'), 10);
    h.processElement2(ev('R1'), 7);
    h.processElement2(ev('R2'), 12);
    expect(h.getRecordOutput()).toEqual([
      { value: 'L-R1', timestamp: 10 },
      { value: 'L-R2', timestamp: 12 },
    ]);
    expect(h.getSideRecordOutput(Pairs.info)).toEqual([
      { value: '10/7/10', timestamp: 10 },
      { value: '10/12/12', timestamp: 12 },
    ]);
  });

  it('joins only equal keys, every element of a timestamp bucket, in arrival order', async () => {
    const h = await harness(0, 0);
    h.processElement1(ev('a1', 'a'), 5);
    h.processElement1(ev('a2', 'a'), 5);
    h.processElement1(ev('b1', 'b'), 5);
    h.processElement2(ev('A', 'a'), 5);
    h.processElement2(ev('C', 'c'), 5);
    expect(h.getOutput()).toEqual(['a1-A', 'a2-A']);
  });

  it('records without a timestamp fail with a clear error, on either side', async () => {
    const h = await harness(0, 1);
    const e1 = await expectEddyError(() => h.processElement1(ev('L')), 'EDDY_CONFIG');
    expect(e1.message).toMatch(/left input has no event timestamp.*assignTimestampsAndWatermarks/);
    expect(e1.operator).toBe('Interval Join');
    const e2 = await expectEddyError(() => h.processElement2(ev('R')), 'EDDY_CONFIG');
    expect(e2.message).toMatch(/right input has no event timestamp/);
  });
});

describe('lateness and cleanup', () => {
  it('elements below the watermark are dropped and counted; at the watermark they are not late', async () => {
    const h = await harness(-10, 10);
    h.processElement1(ev('L'), 100);
    h.processWatermark(100);
    h.processElement2(ev('late'), 99);
    h.processElement2(ev('onTime'), 100);
    h.processElement1(ev('lateL'), 50);
    expect(h.getOutput()).toEqual(['L-onTime']);
    expect(h.metrics().get('lateRecordsDropped')).toBe(2);
  });

  it('late elements go to the late-data side outputs when set', async () => {
    const leftLate = new OutputTag<Ev>('left-late');
    const rightLate = new OutputTag<Ev>('right-late');
    const h = await harness(0, 5, { leftLateTag: leftLate, rightLateTag: rightLate });
    h.processWatermark(20);
    h.processElement1(ev('l'), 19);
    h.processElement2(ev('r'), 3);
    expect(h.getSideRecordOutput(leftLate)).toEqual([{ value: ev('l'), timestamp: 19 }]);
    expect(h.getSideRecordOutput(rightLate)).toEqual([{ value: ev('r'), timestamp: 3 }]);
    expect(h.metrics().get('lateRecordsDropped')).toBeUndefined();
    expect(buffered(h)).toEqual({ left: 0, right: 0, timers: 0 });
  });

  const cleanup: [string, number, number, number, number][] = [
    // name, lower, upper, when left@10 is dropped, when right@10 is dropped
    ['around', -5, 5, 15, 15],
    ['positive', 2, 5, 15, 10],
    ['negative', -5, -2, 10, 15],
  ];
  for (const [name, lower, upper, leftGone, rightGone] of cleanup)
    it(`buffers are dropped exactly when the watermark makes them unjoinable (${name} bounds [${lower}, ${upper}])`, async () => {
      const h = await harness(lower, upper);
      h.processElement1(ev('L'), 10);
      h.processElement2(ev('R'), 10);
      for (let wm = 9; wm <= 16; wm++) {
        h.processWatermark(wm);
        const b = buffered(h);
        expect([wm, b.left, b.right]).toEqual([wm, wm >= leftGone ? 0 : 1, wm >= rightGone ? 0 : 1]);
      }
      expect(buffered(h)).toEqual({ left: 0, right: 0, timers: 0 });
    });

  it('a joinable partner still joins right up to the cleanup watermark (Flink: not after it)', async () => {
    const h = await harness(0, 5);
    h.processElement1(ev('L'), 10);
    h.processWatermark(14);
    h.processElement2(ev('R15'), 15);
    h.processWatermark(15);
    // At watermark 15 the left element is gone; a right element at 15 is not late (15 < 15 is false) but finds nothing.
    h.processElement2(ev('R15b'), 15);
    expect(h.getOutput()).toEqual(['L-R15']);
  });

  it('after end of input every buffer and timer is gone', async () => {
    const h = await harness(-100, 100);
    for (let i = 0; i < 20; i++) {
      h.processElement1(ev(`l${i}`, `k${i % 3}`), i * 7);
      h.processElement2(ev(`r${i}`, `k${i % 4}`), i * 11);
    }
    expect(buffered(h).left).toBe(3);
    await h.endInput();
    expect(buffered(h)).toEqual({ left: 0, right: 0, timers: 0 });
  });
});

describe('snapshots', () => {
  it('round trip: buffers and cleanup timers survive, joins and cleanup continue', async () => {
    const h = await harness(-5, 5);
    h.processElement1(ev('L1'), 10);
    h.processElement1(ev('L2', 'b'), 12);
    h.processElement2(ev('R1'), 8);
    const snap = h.snapshot();
    expect(snap.keyed?.states.map((s) => s.name).sort()).toEqual(['LEFT_BUFFER', 'RIGHT_BUFFER']);
    const r = await TwoInputOperatorHarness.restore(join(-5, 5), snap, keys);
    r.processElement2(ev('R2'), 14);
    r.processElement2(ev('R3', 'b'), 16);
    expect(r.getOutput()).toEqual(['L1-R2', 'L2-R3']);
    r.processWatermark(17);
    expect(buffered(r)).toEqual({ left: 0, right: 2, timers: 2 });
    r.processWatermark(19);
    expect(buffered(r)).toEqual({ left: 0, right: 1, timers: 1 });
    r.processWatermark(21);
    expect(buffered(r)).toEqual({ left: 0, right: 0, timers: 0 });
  });

  it('restores at another parallelism: each subtask keeps its own keys', async () => {
    const h = await harness(0, 10);
    const ks = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const k of ks) h.processElement1(ev(`L${k}`, k), 0);
    const snap = h.snapshot();
    const out: string[] = [];
    for (const subtaskIndex of [0, 1]) {
      const r = await TwoInputOperatorHarness.restore(join(0, 10), snap, { ...keys, parallelism: 2, subtaskIndex });
      for (const k of ks) {
        const g = keyGroupOf(k, 128);
        if (g >= r.keyGroups.start && g <= r.keyGroups.end) r.processElement2(ev(`R${k}`, k), 5);
      }
      out.push(...r.getOutput());
      expect(buffered(r).left).toBe(ks.filter((k) => keyGroupOf(k, 128) >= r.keyGroups.start && keyGroupOf(k, 128) <= r.keyGroups.end).length);
    }
    expect(out.sort()).toEqual(ks.map((k) => `L${k}-R${k}`));
  });
});

describe('API and graph', () => {
  it('both inputs are hash-partitioned into one keyed two-input operator', () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats: 'nats://127.0.0.1:1' });
    const l = env.fromCollection<Ev>([]);
    const r = env.fromCollection<Ev>([]);
    const out = l
      .keyBy((e) => e.k)
      .intervalJoin(r.keyBy((e) => e.k))
      .between(-1, 1)
      .lowerBoundExclusive()
      .upperBoundExclusive()
      .sideOutputLeftLateData(new OutputTag<Ev>('ll'))
      .sideOutputRightLateData(new OutputTag<Ev>('rl'))
      .process(new Pairs())
      .print();
    const g = createStreamGraph([out.transformation], { jobName: 'ij', parallelism: 2, maxParallelism: 128 });
    const op = g.nodes.find((n) => n.name === 'Interval Join')!;
    expect(op.keyed).toBe(true);
    expect(g.edges.filter((e) => e.target === op.id).map((e) => [e.inputIndex, e.partitioner.kind])).toEqual([
      [0, 'hash'],
      [1, 'hash'],
    ]);
    expect(() => l.keyBy((e) => e.k).intervalJoin(r.keyBy((e) => e.k)).between(0, 1).process({} as never)).toThrow(/ProcessJoinFunction/);
  });
});
