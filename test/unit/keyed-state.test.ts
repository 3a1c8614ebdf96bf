// Keyed state through the harness: every state type, per-key isolation, snapshot/restore round trips, rescaling, misuse errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OperatorHarness, ProcessFunctionHarness, type OperatorSnapshot } from 'eddy/testing';
import type { Collector, KeyedProcessContext, ProcessFunctionLike, RuntimeContext } from '../../src/functions/functions.ts';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
  type AggregateFunction,
  type AggregatingState,
  type ListState,
  type MapState,
  type ReducingState,
  type ValueState,
} from '../../src/state/descriptors.ts';
import { keyGroupOf, keyGroupOfNormalized, keyGroupRange, subtaskForKeyGroup, type Key } from '../../src/state/key-group.ts';
import { expectEddyError } from '../support/eddy-error.ts';


/** A command for one key: the test functions below interpret `op` against one state type. */
type Cmd = { k: Key; op: string; v?: unknown };
const keyOf = (c: Cmd): Key => c.k;
type Fn = ProcessFunctionLike<Cmd, unknown, KeyedProcessContext<Key>>;

// ---- one keyed function per state type, each driven by commands and emitting what it reads ----

class ValueFn implements Fn {
  private count!: ValueState<number>;
  private label!: ValueState<string | undefined>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor('count', 0));
    this.label = ctx.getState(new ValueStateDescriptor<string | undefined>('label'));
  }
  processElement(c: Cmd, ctx: KeyedProcessContext<Key>, out: Collector<unknown>): void {
    if (c.op === 'add') this.count.update(this.count.value() + (c.v as number));
    else if (c.op === 'label') this.label.update(c.v as string | undefined);
    else if (c.op === 'clear') this.count.clear();
    out.collect([ctx.getCurrentKey(), this.count.value(), this.label.value()]);
  }
}

class ListFn implements Fn {
  private list!: ListState<unknown>;
  open(ctx: RuntimeContext): void {
    this.list = ctx.getState(new ListStateDescriptor<unknown>('list'));
  }
  processElement(c: Cmd, ctx: KeyedProcessContext<Key>, out: Collector<unknown>): void {
    if (c.op === 'add') this.list.add(c.v);
    else if (c.op === 'addAll') this.list.addAll(c.v as unknown[]);
    else if (c.op === 'update') this.list.update(c.v as unknown[]);
    else if (c.op === 'clear') this.list.clear();
    out.collect([ctx.getCurrentKey(), [...this.list.get()]]);
  }
}

class MapFn implements Fn {
  private map!: MapState<string, unknown>;
  open(ctx: RuntimeContext): void {
    this.map = ctx.getState(new MapStateDescriptor<string, unknown>('map'));
  }
  processElement(c: Cmd, ctx: KeyedProcessContext<Key>, out: Collector<unknown>): void {
    const m = this.map;
    let read: unknown = null;
    if (c.op === 'put') m.put(...(c.v as [string, unknown]));
    else if (c.op === 'putAll') m.putAll(c.v as [string, unknown][]);
    else if (c.op === 'remove') m.remove(c.v as string);
    else if (c.op === 'clear') m.clear();
    else if (c.op === 'get') read = [m.get(c.v as string) ?? null, m.contains(c.v as string)];
    out.collect([ctx.getCurrentKey(), read, [...m.entries()], [...m.keys()], [...m.values()], m.isEmpty()]);
  }
}

class ReducingFn implements Fn {
  private max!: ReducingState<number>;
  open(ctx: RuntimeContext): void {
    this.max = ctx.getState(new ReducingStateDescriptor<number>('max', (a, b) => Math.max(a, b)));
  }
  processElement(c: Cmd, ctx: KeyedProcessContext<Key>, out: Collector<unknown>): void {
    if (c.op === 'add') this.max.add(c.v as number);
    else if (c.op === 'clear') this.max.clear();
    out.collect([ctx.getCurrentKey(), this.max.get() ?? null]);
  }
}

/** An average whose accumulator is mutated in place (as Flink code often does): snapshots must still be detached. */
const average: AggregateFunction<number, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (v, acc) => {
    acc.sum += v;
    acc.n += 1;
    return acc;
  },
  getResult: (acc) => acc.sum / acc.n,
};

class AggregatingFn implements Fn {
  private avg!: AggregatingState<number, number>;
  open(ctx: RuntimeContext): void {
    this.avg = ctx.getState(new AggregatingStateDescriptor('avg', average));
  }
  processElement(c: Cmd, ctx: KeyedProcessContext<Key>, out: Collector<unknown>): void {
    if (c.op === 'add') this.avg.add(c.v as number);
    else if (c.op === 'clear') this.avg.clear();
    out.collect([ctx.getCurrentKey(), this.avg.get() ?? null]);
  }
}

const harnessFor = (fn: Fn, options: { parallelism?: number; subtaskIndex?: number; maxParallelism?: number } = {}) =>
  ProcessFunctionHarness.forKeyedProcessFunction<Cmd, Key, unknown>(fn, keyOf, options);

/** Runs commands through a fresh open harness and returns its output. */
async function run(fn: Fn, cmds: Cmd[]): Promise<unknown[]> {
  const h = harnessFor(fn);
  await h.open();
  h.processElements(cmds);
  return h.getOutput();
}

describe('ValueState', () => {
  it('reads the default until updated, per key; clear and update(undefined) bring the default back', async () => {
    const out = await run(new ValueFn(), [
      { k: 'a', op: 'read' },
      { k: 'a', op: 'add', v: 2 },
      { k: 'b', op: 'add', v: 10 },
      { k: 'a', op: 'add', v: 3 },
      { k: 'a', op: 'label', v: 'x' },
      { k: 'b', op: 'read' },
      { k: 'a', op: 'clear' },
      { k: 'a', op: 'label', v: undefined },
      { k: 'b', op: 'read' },
    ]);
    expect(out).toEqual([
      ['a', 0, undefined],
      ['a', 2, undefined],
      ['b', 10, undefined],
      ['a', 5, undefined],
      ['a', 5, 'x'],
      ['b', 10, undefined],
      ['a', 0, 'x'],
      ['a', 0, undefined],
      ['b', 10, undefined],
    ]);
  });

  it('keys of different types and tuple keys are different keys', async () => {
    const out = await run(new ValueFn(), [
      { k: 1, op: 'add', v: 1 },
      { k: '1', op: 'add', v: 10 },
      { k: 1n, op: 'add', v: 100 },
      { k: ['a', 1], op: 'add', v: 1000 },
      { k: ['a', '1'], op: 'add', v: 10000 },
      { k: [['a'], 1], op: 'add', v: 100000 },
      { k: 1, op: 'add', v: 1 },
      { k: ['a', 1], op: 'add', v: 1000 },
    ]);
    expect(out.map((r) => (r as unknown[])[1])).toEqual([1, 10, 100, 1000, 10000, 100000, 2, 2000]);
  });

  it('a mutable default value is shared by every key', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction<Cmd, Key, unknown>(
      {
        processElement(c, ctx, out) {
          const seen = ctx.getState(new ValueStateDescriptor<string[]>('seen', []));
          const list = seen.value();
          list.push(String(c.v));
          seen.update(list);
          out.collect(seen.value().slice());
        },
      },
      keyOf,
    );
    await h.open();
    h.processElements([
      { k: 'a', op: 'x', v: 1 },
      { k: 'b', op: 'x', v: 2 },
    ]);
    expect(h.getOutput()).toEqual([['1'], ['2']]);
  });
});

describe('ListState', () => {
  it('add / addAll / update / get / clear, per key', async () => {
    const out = await run(new ListFn(), [
      { k: 'a', op: 'read' },
      { k: 'a', op: 'add', v: 1 },
      { k: 'b', op: 'addAll', v: [7, 8] },
      { k: 'a', op: 'addAll', v: [2, 3] },
      { k: 'a', op: 'add', v: { nested: [1] } },
      { k: 'b', op: 'update', v: [9] },
      { k: 'a', op: 'update', v: [] },
      { k: 'b', op: 'add', v: 10 },
      { k: 'b', op: 'clear' },
      { k: 'c', op: 'addAll', v: [] },
    ]);
    expect(out).toEqual([
      ['a', []],
      ['a', [1]],
      ['b', [7, 8]],
      ['a', [1, 2, 3]],
      ['a', [1, 2, 3, { nested: [1] }]],
      ['b', [9]],
      ['a', []],
      ['b', [9, 10]],
      ['b', []],
      ['c', []],
    ]);
  });

  it('update copies its input: changing the array afterwards does not change the state', async () => {
    const given = [1, 2];
    const h = ProcessFunctionHarness.forKeyedProcessFunction<Cmd, Key, unknown>(new ListFn(), keyOf);
    await h.open();
    h.processElement({ k: 'a', op: 'update', v: given });
    given.push(3);
    h.processElement({ k: 'a', op: 'read' });
    expect(h.getOutput()).toEqual([
      ['a', [1, 2]],
      ['a', [1, 2]],
    ]);
  });
});

describe('MapState', () => {
  it('get / put / putAll / remove / contains / entries / keys / values / isEmpty / clear, per key', async () => {
    const out = await run(new MapFn(), [
      { k: 'a', op: 'get', v: 'x' },
      { k: 'a', op: 'put', v: ['x', 1] },
      { k: 'b', op: 'putAll', v: [['p', 'q'], ['r', 's']] },
      { k: 'a', op: 'get', v: 'x' },
      { k: 'a', op: 'putAll', v: [['y', 2], ['x', 3]] },
      { k: 'b', op: 'remove', v: 'p' },
      { k: 'a', op: 'remove', v: 'nope' },
      { k: 'b', op: 'get', v: 'p' },
      { k: 'b', op: 'remove', v: 'r' },
      { k: 'a', op: 'clear' },
      { k: 'c', op: 'remove', v: 'x' },
    ]);
    expect(out).toEqual([
      ['a', [null, false], [], [], [], true],
      ['a', null, [['x', 1]], ['x'], [1], false],
      ['b', null, [['p', 'q'], ['r', 's']], ['p', 'r'], ['q', 's'], false],
      ['a', [1, true], [['x', 1]], ['x'], [1], false],
      ['a', null, [['x', 3], ['y', 2]], ['x', 'y'], [3, 2], false],
      ['b', null, [['r', 's']], ['r'], ['s'], false],
      ['a', null, [['x', 3], ['y', 2]], ['x', 'y'], [3, 2], false],
      ['b', [null, false], [['r', 's']], ['r'], ['s'], false],
      ['b', null, [], [], [], true],
      ['a', null, [], [], [], true],
      ['c', null, [], [], [], true],
    ]);
  });
});

describe('ReducingState', () => {
  it('folds every add with the reduce function, per key; clear starts over', async () => {
    const out = await run(new ReducingFn(), [
      { k: 'a', op: 'read' },
      { k: 'a', op: 'add', v: 3 },
      { k: 'b', op: 'add', v: -1 },
      { k: 'a', op: 'add', v: 1 },
      { k: 'a', op: 'add', v: 7 },
      { k: 'b', op: 'add', v: -5 },
      { k: 'a', op: 'clear' },
      { k: 'a', op: 'add', v: 2 },
    ]);
    expect(out).toEqual([
      ['a', null],
      ['a', 3],
      ['b', -1],
      ['a', 3],
      ['a', 7],
      ['b', -1],
      ['a', null],
      ['a', 2],
    ]);
  });
});

describe('AggregatingState', () => {
  it('folds every add into the accumulator and reads the result, per key; clear starts over', async () => {
    const out = await run(new AggregatingFn(), [
      { k: 'a', op: 'read' },
      { k: 'a', op: 'add', v: 1 },
      { k: 'b', op: 'add', v: 10 },
      { k: 'a', op: 'add', v: 2 },
      { k: 'b', op: 'add', v: 20 },
      { k: 'a', op: 'clear' },
      { k: 'a', op: 'add', v: 6 },
    ]);
    expect(out).toEqual([
      ['a', null],
      ['a', 1],
      ['b', 10],
      ['a', 1.5],
      ['b', 15],
      ['a', null],
      ['a', 6],
    ]);
  });
});

// ---- snapshot / restore ----

const scripts: { name: string; make: () => Fn; cmds: Cmd[] }[] = [
  {
    name: 'ValueState',
    make: () => new ValueFn(),
    cmds: [
      { k: 'a', op: 'add', v: 1 },
      { k: 'b', op: 'add', v: 5 },
      { k: 'a', op: 'label', v: 'l' },
      { k: 3, op: 'add', v: 2 },
      { k: 'a', op: 'add', v: 4 },
      { k: 'b', op: 'clear' },
      { k: ['t', 1], op: 'add', v: 9 },
      { k: 3, op: 'add', v: 2 },
      { k: 'b', op: 'add', v: 1 },
      { k: ['t', 1], op: 'read' },
    ],
  },
  {
    name: 'ListState',
    make: () => new ListFn(),
    cmds: [
      { k: 'a', op: 'add', v: 1 },
      { k: 'b', op: 'addAll', v: [1, 2] },
      { k: 'a', op: 'add', v: { o: [1, 'x'] } },
      { k: 'b', op: 'update', v: [3] },
      { k: 'a', op: 'add', v: 2n },
      { k: 'c', op: 'add', v: null },
      { k: 'b', op: 'add', v: 4 },
      { k: 'c', op: 'clear' },
      { k: 'a', op: 'read' },
      { k: 'c', op: 'add', v: 'again' },
    ],
  },
  {
    name: 'MapState',
    make: () => new MapFn(),
    cmds: [
      { k: 'a', op: 'put', v: ['x', 1] },
      { k: 'b', op: 'putAll', v: [['p', { deep: [1, 2] }], ['q', 2]] },
      { k: 'a', op: 'put', v: ['y', 'z'] },
      { k: 'b', op: 'remove', v: 'p' },
      { k: 'a', op: 'get', v: 'x' },
      { k: 'c', op: 'put', v: ['m', null] },
      { k: 'a', op: 'remove', v: 'x' },
      { k: 'b', op: 'put', v: ['p', 3] },
      { k: 'c', op: 'clear' },
      { k: 'b', op: 'get', v: 'q' },
    ],
  },
  {
    name: 'ReducingState',
    make: () => new ReducingFn(),
    cmds: [
      { k: 'a', op: 'add', v: 1 },
      { k: 'b', op: 'add', v: 5 },
      { k: 'a', op: 'add', v: 3 },
      { k: 'b', op: 'add', v: 2 },
      { k: 'a', op: 'clear' },
      { k: 'a', op: 'add', v: -1 },
      { k: 'b', op: 'add', v: 8 },
      { k: 'a', op: 'add', v: 0 },
    ],
  },
  {
    name: 'AggregatingState',
    make: () => new AggregatingFn(),
    cmds: [
      { k: 'a', op: 'add', v: 1 },
      { k: 'b', op: 'add', v: 4 },
      { k: 'a', op: 'add', v: 2 },
      { k: 'b', op: 'add', v: 8 },
      { k: 'a', op: 'add', v: 6 },
      { k: 'b', op: 'clear' },
      { k: 'b', op: 'add', v: 1 },
      { k: 'a', op: 'read' },
    ],
  },
];

/** Output of: commands[0, cut) -> snapshot -> restore into a new harness (new function copy) -> commands[cut, n). */
async function interrupted(make: () => Fn, cmds: Cmd[], cut: number): Promise<unknown[]> {
  const first = harnessFor(make());
  await first.open();
  first.processElements(cmds.slice(0, cut));
  const snap = first.snapshot();
  // The first instance keeps running after the checkpoint (and then fails): that must not leak into the snapshot.
  first.processElements(cmds.slice(cut));
  await first.close();
  const second = harnessFor(make());
  await second.open(snap);
  second.processElements(cmds.slice(cut));
  return [...first.getOutput().slice(0, cut), ...second.getOutput()];
}

describe.each(scripts)('$name snapshot / restore', ({ make, cmds }) => {
  it('restoring at any point and continuing equals an uninterrupted run', async () => {
    const reference = await run(make(), cmds);
    for (let cut = 0; cut <= cmds.length; cut++) expect(await interrupted(make, cmds, cut), `cut at ${cut}`).toEqual(reference);
  });

  it('a snapshot restores into a new harness with the same state for every key', async () => {
    const h = harnessFor(make());
    await h.open();
    h.processElements(cmds);
    const snap = h.snapshot();
    const r = harnessFor(make());
    await r.open(snap);
    expect(r.snapshot()).toEqual(snap);
    const keys = (name: string, hh: OperatorHarness<Cmd, unknown>) => [...hh.stateBackend!.keys(name)].sort();
    for (const s of snap.keyed!.states) expect(keys(s.name, r)).toEqual(keys(s.name, h));
  });
});

describe('snapshot / restore properties', () => {
  const key = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 3 }), fc.tuple(fc.constantFrom('t', 'u'), fc.nat(2)));
  const listCmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.record({ k: key, op: fc.constant('add'), v: fc.integer() }),
    fc.record({ k: key, op: fc.constant('addAll'), v: fc.array(fc.string(), { maxLength: 3 }) }),
    fc.record({ k: key, op: fc.constant('update'), v: fc.array(fc.integer(), { maxLength: 3 }) }),
    fc.record({ k: key, op: fc.constant('clear') }),
  );
  const mapKey = fc.constantFrom('x', 'y', 'z');
  const mapCmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.record({ k: key, op: fc.constant('put'), v: fc.tuple(mapKey, fc.oneof(fc.integer(), fc.string(), fc.constant(null))) }),
    fc.record({ k: key, op: fc.constant('putAll'), v: fc.array(fc.tuple(mapKey, fc.integer()), { maxLength: 3 }) }),
    fc.record({ k: key, op: fc.constant('remove'), v: mapKey }),
    fc.record({ k: key, op: fc.constant('get'), v: mapKey }),
    fc.record({ k: key, op: fc.constant('clear') }),
  );
  const numCmd: fc.Arbitrary<Cmd> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: key, op: fc.constant('add'), v: fc.integer({ min: -100, max: 100 }) }) },
    { weight: 1, arbitrary: fc.record({ k: key, op: fc.constant('clear') }) },
  );

  it.each([
    ['ValueState', () => new ValueFn(), numCmd],
    ['ListState', () => new ListFn(), listCmd],
    ['MapState', () => new MapFn(), mapCmd],
    ['ReducingState', () => new ReducingFn(), numCmd],
    ['AggregatingState', () => new AggregatingFn(), numCmd],
  ] as const)('%s: any command sequence, restored at any point, equals the uninterrupted run', async (_name, make, cmd) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(cmd, { maxLength: 25 }).chain((cmds) => fc.tuple(fc.constant(cmds), fc.integer({ min: 0, max: cmds.length }))),
        async ([cmds, cut]) => {
          expect(await interrupted(make, cmds, cut)).toEqual(await run(make(), cmds));
        },
      ),
      { numRuns: 60 },
    );
  });
});

// ---- rescaling ----

/** One function that uses all five state types, so a rescale test covers each. */
class AllStates implements Fn {
  private count!: ValueState<number>;
  private list!: ListState<number>;
  private map!: MapState<number, number>;
  private sum!: ReducingState<number>;
  private avg!: AggregatingState<number, number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor('count', 0));
    this.list = ctx.getState(new ListStateDescriptor<number>('list'));
    this.map = ctx.getState(new MapStateDescriptor<number, number>('map'));
    this.sum = ctx.getState(new ReducingStateDescriptor<number>('sum', (a, b) => a + b));
    this.avg = ctx.getState(new AggregatingStateDescriptor('avg', average));
  }
  processElement(c: Cmd, ctx: KeyedProcessContext<Key>, out: Collector<unknown>): void {
    const v = c.v as number;
    this.count.update(this.count.value() + 1);
    this.list.add(v);
    this.map.put(v % 3, v);
    this.sum.add(v);
    this.avg.add(v);
    out.collect([ctx.getCurrentKey(), this.count.value(), [...this.list.get()], [...this.map.entries()], this.sum.get(), this.avg.get()]);
  }
}
const STATE_NAMES = ['count', 'list', 'map', 'sum', 'avg'];

describe('restoring at a different parallelism', () => {
  const keys: Key[] = [
    ...Array.from({ length: 24 }, (_, i) => `user-${i}`),
    ...Array.from({ length: 8 }, (_, i) => i * 1000),
    [1, 'tuple'],
    [2, 'tuple'],
    123n,
  ];
  const cmds: Cmd[] = keys.flatMap((k, i) => [
    { k, op: 'add', v: i },
    { k, op: 'add', v: i * 2 + 1 },
  ]);
  const probes: Cmd[] = keys.map((k, i) => ({ k, op: 'add', v: 100 + i }));
  const keyName = (k: Key) => JSON.stringify(k, (_x, v) => (typeof v === 'bigint' ? `${v}n` : v));

  it.each([2, 3, 7])('scale out 1 -> %i: each subtask gets exactly its key groups, and together they have every key', async (parallelism) => {
    const maxParallelism = 128;
    const whole = harnessFor(new AllStates());
    await whole.open();
    whole.processElements(cmds);
    const snap = whole.snapshot();
    whole.clearOutput();
    whole.processElements(probes);
    const expected = new Map(probes.map((p, i) => [keyName(p.k), whole.getOutput()[i]]));

    const union = new Map<string, string[]>(STATE_NAMES.map((n) => [n, []]));
    const continued = new Map<string, unknown>();
    for (let s = 0; s < parallelism; s++) {
      const h = harnessFor(new AllStates(), { parallelism, subtaskIndex: s, maxParallelism });
      await h.open(snap);
      const range = keyGroupRange(s, parallelism, maxParallelism);
      expect(h.keyGroups).toEqual(range);
      for (const name of STATE_NAMES) {
        for (const k of h.stateBackend!.keys(name)) {
          const g = keyGroupOfNormalized(k, maxParallelism);
          expect(g >= range.start && g <= range.end, `key ${String(k)} (group ${g}) on subtask ${s}`).toBe(true);
          union.get(name)!.push(String(k));
        }
      }
      // Continue on each subtask with the keys it owns: the state carried over is exactly the key's state.
      const mine = probes.filter((p) => subtaskForKeyGroup(keyGroupOf(p.k, maxParallelism), parallelism, maxParallelism) === s);
      h.processElements(mine);
      mine.forEach((p, i) => continued.set(keyName(p.k), h.getOutput()[i]));
      // A key another subtask owns is refused rather than silently given empty state.
      const foreign = probes.find((p) => !mine.includes(p));
      if (foreign !== undefined) await expectEddyError(() => h.processElement(foreign), 'EDDY_INVALID_ARGUMENT');
    }
    for (const name of STATE_NAMES) {
      const all = [...whole.stateBackend!.keys(name)].map(String).sort();
      expect(union.get(name)!.sort(), `state ${name}`).toEqual(all);
      expect(new Set(union.get(name)).size).toBe(all.length); // no key on two subtasks
    }
    expect(continued).toEqual(expected);
  });

  it('both subtasks of parallelism 2 hold some keys (the test above is not vacuous)', () => {
    const owners = new Set(keys.map((k) => subtaskForKeyGroup(keyGroupOf(k, 128), 2, 128)));
    expect(owners).toEqual(new Set([0, 1]));
  });

  it('scale in 2 -> 1: merged subtask snapshots restore every key', async () => {
    const parts: OperatorSnapshot[] = [];
    const outputs = new Map<string, unknown>();
    for (let s = 0; s < 2; s++) {
      const h = harnessFor(new AllStates(), { parallelism: 2, subtaskIndex: s });
      await h.open();
      h.processElements(cmds.filter((c) => subtaskForKeyGroup(keyGroupOf(c.k, 128), 2, 128) === s));
      parts.push(h.snapshot());
    }
    const one = harnessFor(new AllStates());
    await one.open(OperatorHarness.mergeSnapshots(parts));
    one.processElements(probes);
    const reference = harnessFor(new AllStates());
    await reference.open();
    reference.processElements(cmds);
    reference.clearOutput();
    reference.processElements(probes);
    probes.forEach((p, i) => outputs.set(keyName(p.k), reference.getOutput()[i]));
    expect(new Map(probes.map((p, i) => [keyName(p.k), one.getOutput()[i]]))).toEqual(outputs);
  });

  it('merging snapshots that disagree on a state kind or maxParallelism fails with EDDY_STATE_MISMATCH', async () => {
    const snap = (fn: Fn, maxParallelism = 128) => {
      const h = harnessFor(fn, { maxParallelism });
      return h.open().then(() => {
        h.processElement({ k: 'a', op: 'add', v: 1 });
        return h.snapshot();
      });
    };
    const asValue = await snap(
      {
        processElement(_c, ctx) {
          ctx.getState(new ValueStateDescriptor('s', 0)).update(1);
        },
      },
    );
    const asList = await snap(
      {
        processElement(_c, ctx) {
          ctx.getState(new ListStateDescriptor<number>('s')).add(1);
        },
      },
    );
    await expectEddyError(() => OperatorHarness.mergeSnapshots([asValue, asList]), 'EDDY_STATE_MISMATCH');
    const other = await snap(new ValueFn(), 64);
    await expectEddyError(() => OperatorHarness.mergeSnapshots([asValue, other]), 'EDDY_STATE_MISMATCH');
    await expectEddyError(() => OperatorHarness.mergeSnapshots([{ operator: 1 }, { operator: 2 }]), 'EDDY_STATE_MISMATCH');
  });
});

// ---- misuse ----

describe('state misuse', () => {
  it('asking for a state name with a different kind fails with EDDY_STATE_MISMATCH naming the operator', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction<Cmd, Key, unknown>(
      {
        processElement(c, ctx) {
          if (c.op === 'value') ctx.getState(new ValueStateDescriptor('shared', 0)).update(1);
          else ctx.getState(new ListStateDescriptor<number>('shared')).add(1);
        },
      },
      keyOf,
      { name: 'Confused' },
    );
    await h.open();
    h.processElement({ k: 'a', op: 'value' });
    const e = await expectEddyError(() => h.processElement({ k: 'a', op: 'list' }), 'EDDY_STATE_MISMATCH');
    expect(e.operator).toBe('Confused');
    expect(e.message).toContain('"shared"');
  });

  it('restoring a state under a different kind fails with EDDY_STATE_MISMATCH', async () => {
    const first = harnessFor(new ValueFn());
    await first.open();
    first.processElement({ k: 'a', op: 'add', v: 1 });
    const snap = first.snapshot();
    const asList = harnessFor({
      open(ctx: RuntimeContext) {
        ctx.getState(new ListStateDescriptor<number>('count'));
      },
      processElement() {},
    });
    await expectEddyError(() => asList.open(snap), 'EDDY_STATE_MISMATCH');
  });

  it('keyed state on a non-keyed harness fails with EDDY_CONFIG (in open and in processElement)', async () => {
    const inOpen = ProcessFunctionHarness.forMap({
      open(ctx: RuntimeContext) {
        ctx.getState(new ValueStateDescriptor('n', 0));
      },
      map: (x: number) => x,
    });
    const e1 = await expectEddyError(() => inOpen.open(), 'EDDY_CONFIG');
    expect(e1.message).toContain('keyBy');
    const inProcess = ProcessFunctionHarness.forProcessFunction<number, number>(
      {
        processElement(v, ctx, out) {
          out.collect(ctx.getState(new ValueStateDescriptor('n', 0)).value() + v);
        },
      },
      { name: 'Unkeyed' },
    );
    await inProcess.open();
    const e2 = await expectEddyError(() => inProcess.processElement(1), 'EDDY_CONFIG');
    expect(e2.operator).toBe('Unkeyed');
  });
});
