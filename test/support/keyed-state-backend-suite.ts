// Shared behaviour suite every KeyedStateBackend must pass (heap, LevelDB): state types, keys, snapshots, restore, incremental snapshots, errors.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
  type AggregateFunction,
} from '../../src/state/descriptors.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from '../../src/state/keyed-state-backend.ts';
import { keyGroupOfNormalized, keyGroupRange, normalizeKey, type Key, type NormalizedKey } from '../../src/state/key-group.ts';
import type { IncrementalKeyedState, KeyGroupChanges, KeyedStateChanges } from '../../src/state/keyed-state-changes.ts';
import { expectEddyError } from './eddy-error.ts';
import { keyedStateTtlCases, type BackendOptions } from './keyed-state-ttl-cases.ts';

/**
 * A backend under test; asynchronous backends add `snapshotAsync` / `keysAsync`, `flush` to make
 * written state durable, and `close` to release resources.
 */
export type BackendUnderTest = KeyedStateBackend & IncrementalKeyedState & {
  close?(): Promise<void>;
  flush?(): Promise<void>;
  snapshotAsync?(): Promise<KeyedStateSnapshot>;
  keysAsync?(stateName: string): Promise<NormalizedKey[]>;
};

/** The backend's snapshot, whichever way it takes one. */
export async function snapshotOf(b: BackendUnderTest): Promise<KeyedStateSnapshot> {
  return (await b.snapshotAsync?.()) ?? b.snapshot();
}

/** The keys of a state, whichever way the backend lists them. */
export async function keysOf(b: BackendUnderTest, name: string): Promise<NormalizedKey[]> {
  return (await b.keysAsync?.(name)) ?? [...b.keys(name)];
}

/** A type-tagged, sortable name for a normalized key (1, '1' and 1n differ). */
const tag = (k: NormalizedKey): string => `${typeof k}:${String(k)}`;
const sortedKeys = (ks: NormalizedKey[]): string[] => ks.map(tag).sort();

/** A snapshot in a canonical order (states by name, entries by key), for comparisons across backends. */
export function canonical(s: KeyedStateSnapshot): KeyedStateSnapshot {
  return {
    version: s.version,
    maxParallelism: s.maxParallelism,
    states: [...s.states]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((st) => ({ name: st.name, kind: st.kind, entries: [...st.entries].sort(([a], [b]) => (tag(a) < tag(b) ? -1 : tag(a) > tag(b) ? 1 : 0)) })),
  };
}

/** An average whose accumulator is mutated in place. */
const average: AggregateFunction<number, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (v, acc) => {
    acc.sum += v;
    acc.n += 1;
    return acc;
  },
  getResult: (acc) => acc.sum / acc.n,
};

/** Declares every state type on `b`. */
function allStates(b: KeyedStateBackend) {
  return {
    count: b.getState(new ValueStateDescriptor('count', 0)),
    list: b.getState(new ListStateDescriptor<unknown>('list')),
    map: b.getState(new MapStateDescriptor<string, unknown>('map')),
    max: b.getState(new ReducingStateDescriptor<number>('max', (x, y) => Math.max(x, y))),
    avg: b.getState(new AggregatingStateDescriptor('avg', average)),
  };
}

/** Keys of every kind: strings (one starting with U+0000), numbers, a bigint, tuples. */
const KEYS: Key[] = [
  ...Array.from({ length: 40 }, (_, i) => `user-${i}`),
  ...Array.from({ length: 10 }, (_, i) => i * 7 - 3),
  1.5,
  123n,
  '\u0000odd',
  ['a', 1],
  ['a', '1'],
  [['nested'], 2n],
];

/** Fills every state type for every key in KEYS (interleaved), and returns the state handles. */
function fill(b: KeyedStateBackend) {
  const s = allStates(b);
  for (let round = 0; round < 3; round++) {
    KEYS.forEach((k, i) => {
      b.setCurrentKey(k);
      s.count.update(s.count.value() + i + round);
      s.list.add({ i, round });
      s.map.put(`r${round % 2}`, [i, round]);
      s.max.add(i * round);
      s.avg.add(i + round);
    });
  }
  return s;
}

// ---- incremental snapshots ----

/**
 * How a checkpoint encodes a take: one msgpack buffer per key group, made right after the take
 * (the values of a take may be shared with live state, so the caller must encode before the next write).
 */
const changesPackr = new Packr({ moreTypes: true });
export type EncodedChanges = Map<number, Uint8Array>;
export const encodeChanges = (c: KeyedStateChanges): EncodedChanges => new Map([...c].map(([g, kg]) => [g, changesPackr.pack(kg)]));
export const decodeChanges = (e: EncodedChanges): KeyedStateChanges =>
  new Map([...e].map(([g, bytes]) => [g, changesPackr.unpack(bytes) as KeyGroupChanges]));

/** One entry of a take. */
export interface FlatChange {
  group: number;
  name: string;
  key: NormalizedKey;
  /** 'del', or the value put. */
  value: unknown;
}

/**
 * The entries of a take, checking its invariants: every key lies in the key group it is filed under,
 * no state appears twice in a key group, no (state, key) appears twice, and no group is empty.
 */
export function flatten(changes: KeyedStateChanges, maxParallelism = 128): FlatChange[] {
  const out: FlatChange[] = [];
  const seen = new Set<string>();
  for (const [group, { states }] of changes) {
    expect(states.length, `group ${group} is empty`).toBeGreaterThan(0);
    expect(new Set(states.map((st) => st.name)).size, `a state twice in group ${group}`).toBe(states.length);
    for (const st of states) {
      expect(st.put.length + st.del.length, `state ${st.name} empty in group ${group}`).toBeGreaterThan(0);
      const all: [NormalizedKey, unknown][] = [...st.put, ...st.del.map((k): [NormalizedKey, unknown] => [k, 'del'])];
      for (const [key, value] of all) {
        expect(keyGroupOfNormalized(key, maxParallelism), `key ${tag(key)} filed under ${group}`).toBe(group);
        const id = `${st.name}/${tag(key)}`;
        expect(seen.has(id), `${id} twice`).toBe(false);
        seen.add(id);
        out.push({ group, name: st.name, key, value });
      }
    }
  }
  return out;
}

/** A state's content for comparisons: canonical order, states without entries dropped, optionally only a key-group range. */
export function contentOf(s: KeyedStateSnapshot, range?: { start: number; end: number }): KeyedStateSnapshot {
  const c = canonical(s);
  const inRange = (k: NormalizedKey) => {
    if (range === undefined) return true;
    const g = keyGroupOfNormalized(k, s.maxParallelism);
    return g >= range.start && g <= range.end;
  };
  return { ...c, states: c.states.map((st) => ({ ...st, entries: st.entries.filter(([k]) => inRange(k)) })).filter((st) => st.entries.length > 0) };
}

/** The entries of a take as a snapshot (every put an entry; fails on a del), for comparing a takeFull() with snapshot(). */
function changesAsSnapshot(changes: KeyedStateChanges): KeyedStateSnapshot {
  const states = new Map<string, KeyedStateSnapshot['states'][number]>();
  for (const { states: parts } of changes.values())
    for (const st of parts) {
      expect(st.del, `takeFull() has no dels (${st.name})`).toEqual([]);
      let into = states.get(st.name);
      if (into === undefined) states.set(st.name, (into = { name: st.name, kind: st.kind, entries: [] }));
      into.entries.push(...st.put);
    }
  return { version: 1, maxParallelism: 128, states: [...states.values()] };
}

/** The state now, detached (the heap snapshot shares accumulators that are mutated in place). */
function stateNow(b: BackendUnderTest): Promise<KeyedStateSnapshot> {
  // snapshotAsync() captures the state before its first await, so later writes are not in it.
  return b.snapshotAsync !== undefined ? b.snapshotAsync() : Promise.resolve(structuredClone(b.snapshot()));
}

/** A take, encoded at once (heap results share values with live state); takeFull() may resolve later, its content may not. */
function encodedTake(take: KeyedStateChanges | Promise<KeyedStateChanges>): Promise<EncodedChanges> {
  return take instanceof Promise ? take.then(encodeChanges) : Promise.resolve(encodeChanges(take));
}

/** One command of the incremental-snapshot property: a write on a key, a take, a full take, or a turn of the event loop. */
export type IncrementalCmd = { op: 'write'; k: Key; w: number; v: number } | { op: 'take' } | { op: 'full' } | { op: 'yield'; flush: boolean };

/** Number of distinct writes `applyWrite` knows. */
const WRITES = 18;

/** Every write method of every state type, chosen by `w`. */
function applyWrite(b: KeyedStateBackend, s: ReturnType<typeof allStates>, k: Key, w: number, v: number): void {
  b.setCurrentKey(k);
  switch (w) {
    case 0: s.count.update(s.count.value() + v); break;
    case 1: s.count.clear(); break;
    case 2: s.count.update(undefined as unknown as number); break;
    case 3: s.list.add(v); break;
    case 4: s.list.addAll([v, v + 1]); break;
    case 5: s.list.update(v % 2 === 0 ? [] : [v]); break;
    case 6: s.list.clear(); break;
    case 7: s.map.put(`m${v % 3}`, v); break;
    case 8: s.map.putAll(v % 4 === 0 ? [] : [[`m${v % 3}`, v], ['z', [v]]]); break;
    case 9: s.map.remove(`m${v % 3}`); break;
    case 10: s.map.remove('z'); break;
    case 11: s.map.clear(); break;
    case 12: s.max.add(v); break;
    case 13: s.max.clear(); break;
    case 14: s.avg.add(v); break; // the accumulator is mutated in place
    case 15: s.avg.clear(); break;
    case 16: s.list.addAll([]); break;
    default: s.count.update(v); s.list.add(v); s.map.put('all', v); s.max.add(v); s.avg.add(v);
  }
}

const incrementalKey: fc.Arbitrary<Key> = fc.oneof(
  fc.nat(40).map((i) => `k${i}`),
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom<Key>(123n, '\u0000odd', 1.5),
  fc.tuple(fc.constant('t'), fc.nat(3)),
);

/** Random command sequences: mostly writes, with takes, full takes and (for LevelDB) event-loop turns or flushes between them. */
export const incrementalCmds = (maxLength: number): fc.Arbitrary<IncrementalCmd[]> =>
  fc.array(
    fc.oneof(
      { weight: 12, arbitrary: fc.record({ op: fc.constant('write' as const), k: incrementalKey, w: fc.nat(WRITES - 1), v: fc.integer({ min: -50, max: 50 }) }) },
      { weight: 2, arbitrary: fc.constant({ op: 'take' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'full' as const }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('yield' as const), flush: fc.boolean() }) },
    ),
    { maxLength },
  );

/** A key-group range of the 128 key groups (what one subtask restores after rescaling). */
export const keyGroupSubRange: fc.Arbitrary<{ start: number; end: number }> = fc
  .tuple(fc.nat(127), fc.nat(127))
  .map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) }));

/**
 * The incremental-snapshot property. `before` runs untracked (state that was there at restore),
 * then the original calls trackChanges() and takeFull(); `cmds` follow, then a last take. Every
 * take is encoded at once. Each chain (a full take and the takes after it, up to the next full one)
 * is replayed with applyChanges into a fresh `makeReplay()` backend, and after every take the replay
 * equals the original's state at that take; replaying only the key groups in `range` equals that
 * state restricted to `range`. A takeFull() must equal the state at its call, even though the
 * commands after it run before it resolves.
 */
export async function checkIncrementalReplay(
  makeOriginal: () => Promise<BackendUnderTest>,
  makeReplay: () => Promise<BackendUnderTest>,
  before: IncrementalCmd[],
  cmds: IncrementalCmd[],
  range: { start: number; end: number },
): Promise<void> {
  const b = await makeOriginal();
  const s = allStates(b);
  const run = async (c: IncrementalCmd) => {
    if (c.op === 'write') applyWrite(b, s, c.k, c.w, c.v);
    // Let LevelDB batches land, or wait until everything is in LevelDB: takes then read through getSync.
    else if (c.op === 'yield') await (c.flush && b.flush !== undefined ? b.flush() : new Promise((r) => setImmediate(r)));
  };
  for (const c of before) await run(c);
  b.trackChanges();
  type Take = { parts: Promise<EncodedChanges>; expected: Promise<KeyedStateSnapshot>; full: boolean };
  const chains: Take[][] = [];
  const full = () => {
    // takeFull() and the expected state are both captured now; nothing is awaited until the end.
    chains.push([{ parts: encodedTake(b.takeFull()), expected: stateNow(b), full: true }]);
  };
  full();
  for (const c of cmds) {
    if (c.op === 'take') chains.at(-1)!.push({ parts: encodedTake(b.takeChanges()), expected: stateNow(b), full: false });
    else if (c.op === 'full') full();
    else await run(c);
  }
  chains.at(-1)!.push({ parts: encodedTake(b.takeChanges()), expected: stateNow(b), full: false });

  for (const chain of chains) {
    const whole = await makeReplay();
    const part = await makeReplay();
    for (const [i, take] of chain.entries()) {
      const changes = decodeChanges(await take.parts);
      const expected = await take.expected;
      flatten(changes);
      if (take.full) expect(contentOf(changesAsSnapshot(changes)), 'takeFull() = state at its call').toEqual(contentOf(expected));
      for (const [g, kg] of changes) {
        await whole.applyChanges(kg);
        if (g >= range.start && g <= range.end) await part.applyChanges(kg);
      }
      expect(contentOf(await snapshotOf(whole)), `replay after take ${i}`).toEqual(contentOf(expected));
      expect(contentOf(await snapshotOf(part)), `range replay after take ${i}`).toEqual(contentOf(expected, range));
    }
  }
}

/**
 * Defines the behaviour suite for a keyed state backend. `create` returns a fresh, empty backend
 * (maxParallelism 128, operator name "Op", processing time from `options.clock` when given) each
 * time it is called. The state TTL cases (keyed-state-ttl-cases.ts) are part of it.
 */
export function keyedStateBackendSuite(name: string, create: (options?: BackendOptions) => Promise<BackendUnderTest>): void {
  describe(`${name}: keyed state backend`, () => {
    const open: BackendUnderTest[] = [];
    const make = async (options?: BackendOptions) => {
      const b = await create(options);
      open.push(b);
      return b;
    };
    const closeAll = async () => {
      for (const b of open.splice(0)) await b.close?.();
    };
    /** Runs a test body with a fresh backend list, closing every backend it made. */
    const withBackends = (fn: () => Promise<void>) => async () => {
      try {
        await fn();
      } finally {
        await closeAll();
      }
    };

    it('ValueState: default until updated, per key; clear and update(undefined) bring the default back', withBackends(async () => {
      const b = await make();
      const count = b.getState(new ValueStateDescriptor('count', 0));
      const label = b.getState(new ValueStateDescriptor<string | undefined>('label'));
      b.setCurrentKey('a');
      expect([count.value(), label.value()]).toEqual([0, undefined]);
      count.update(2);
      b.setCurrentKey('b');
      count.update(10);
      b.setCurrentKey('a');
      count.update(count.value() + 3);
      label.update('x');
      expect([count.value(), label.value()]).toEqual([5, 'x']);
      b.setCurrentKey('b');
      expect([count.value(), label.value()]).toEqual([10, undefined]);
      b.setCurrentKey('a');
      count.clear();
      label.update(undefined);
      expect([count.value(), label.value()]).toEqual([0, undefined]);
      b.setCurrentKey('b');
      expect(count.value()).toBe(10);
      expect(await keysOf(b, 'count')).toEqual(['b']);
      expect(await keysOf(b, 'label')).toEqual([]);
    }));

    it('ValueState: a mutable default is copied per read, so no key changes another key\'s default', withBackends(async () => {
      const b = await make();
      const seen = b.getState(new ValueStateDescriptor<string[]>('seen', []));
      b.setCurrentKey('a');
      const l = seen.value();
      l.push('1');
      seen.update(l);
      b.setCurrentKey('b');
      expect(seen.value()).toEqual([]);
      seen.value().push('lost'); // not written back: the default stays empty
      expect(seen.value()).toEqual([]);
      b.setCurrentKey('a');
      expect(seen.value()).toEqual(['1']);
    }));

    it('keys of different types and tuple keys are different keys; setCurrentNormalizedKey addresses the same entry', withBackends(async () => {
      const b = await make();
      const n = b.getState(new ValueStateDescriptor('n', 0));
      const keys: Key[] = [1, '1', 1n, ['a', 1], ['a', '1'], [['a'], 1], '\u0000s', '', -0.5];
      keys.forEach((k, i) => {
        b.setCurrentKey(k);
        n.update(n.value() + 10 ** i);
      });
      keys.forEach((k, i) => {
        b.setCurrentKey(k);
        expect(n.value(), JSON.stringify(k, (_x, v) => (typeof v === 'bigint' ? `${v}n` : v))).toBe(10 ** i);
        expect(b.getCurrentKey()).toBe(normalizeKey(k));
      });
      b.setCurrentNormalizedKey(normalizeKey(['a', 1]));
      expect(n.value()).toBe(1000);
      expect(sortedKeys(await keysOf(b, 'n'))).toEqual(sortedKeys(keys.map((k) => normalizeKey(k))));
    }));

    it('ListState: add / addAll / update / get / clear, per key; update copies its input', withBackends(async () => {
      const b = await make();
      const list = b.getState(new ListStateDescriptor<unknown>('list'));
      const at = (k: Key) => {
        b.setCurrentKey(k);
        return [...list.get()];
      };
      expect(at('a')).toEqual([]);
      list.add(1);
      b.setCurrentKey('b');
      list.addAll([7, 8]);
      b.setCurrentKey('a');
      list.addAll([2, 3]);
      list.add({ nested: [1] });
      expect(at('a')).toEqual([1, 2, 3, { nested: [1] }]);
      const given = [9];
      b.setCurrentKey('b');
      list.update(given);
      given.push(99);
      expect(at('b')).toEqual([9]);
      b.setCurrentKey('a');
      list.update([]);
      expect(at('a')).toEqual([]);
      b.setCurrentKey('b');
      list.add(10n);
      expect(at('b')).toEqual([9, 10n]);
      b.setCurrentKey('c');
      list.addAll([]);
      expect(sortedKeys(await keysOf(b, 'list'))).toEqual(['string:b']);
      b.setCurrentKey('b');
      list.clear();
      expect(at('b')).toEqual([]);
      expect(await keysOf(b, 'list')).toEqual([]);
    }));

    it('MapState: get / put / putAll / remove / contains / entries / keys / values / isEmpty / clear, per key', withBackends(async () => {
      const b = await make();
      const m = b.getState(new MapStateDescriptor<string, unknown>('map'));
      const view = (k: Key) => {
        b.setCurrentKey(k);
        return [[...m.entries()], [...m.keys()], [...m.values()], m.isEmpty()];
      };
      b.setCurrentKey('a');
      expect([m.get('x'), m.contains('x')]).toEqual([undefined, false]);
      m.put('x', 1);
      b.setCurrentKey('b');
      m.putAll([
        ['p', 'q'],
        ['r', { deep: [1, 2n] }],
      ]);
      b.setCurrentKey('a');
      expect([m.get('x'), m.contains('x')]).toEqual([1, true]);
      m.putAll([
        ['y', 2],
        ['x', 3],
      ]);
      m.put('n', null);
      expect(view('a')).toEqual([[['x', 3], ['y', 2], ['n', null]], ['x', 'y', 'n'], [3, 2, null], false]);
      b.setCurrentKey('b');
      m.remove('p');
      m.remove('nope');
      expect(view('b')).toEqual([[['r', { deep: [1, 2n] }]], ['r'], [{ deep: [1, 2n] }], false]);
      m.remove('r');
      expect(view('b')).toEqual([[], [], [], true]);
      b.setCurrentKey('c');
      m.remove('x');
      expect(view('c')).toEqual([[], [], [], true]);
      expect(sortedKeys(await keysOf(b, 'map'))).toEqual(['string:a']);
      b.setCurrentKey('a');
      m.clear();
      expect(view('a')).toEqual([[], [], [], true]);
      expect(await keysOf(b, 'map')).toEqual([]);
    }));

    it('ReducingState and AggregatingState fold every add, per key; clear starts over', withBackends(async () => {
      const b = await make();
      const max = b.getState(new ReducingStateDescriptor<number>('max', (x, y) => Math.max(x, y)));
      const avg = b.getState(new AggregatingStateDescriptor('avg', average));
      const feed: [Key, number][] = [
        ['a', 3],
        ['b', -1],
        ['a', 1],
        ['a', 8],
        ['b', -5],
      ];
      b.setCurrentKey('a');
      expect([max.get(), avg.get()]).toEqual([undefined, undefined]);
      for (const [k, v] of feed) {
        b.setCurrentKey(k);
        max.add(v);
        avg.add(v);
      }
      b.setCurrentKey('a');
      expect([max.get(), avg.get()]).toEqual([8, 4]);
      b.setCurrentKey('b');
      expect([max.get(), avg.get()]).toEqual([-1, -3]);
      b.setCurrentKey('a');
      max.clear();
      avg.clear();
      expect([max.get(), avg.get()]).toEqual([undefined, undefined]);
      max.add(2);
      avg.add(6);
      expect([max.get(), avg.get()]).toEqual([2, 6]);
    }));

    it('many interleaved keys across every state type read back exactly; keys() lists them', withBackends(async () => {
      const b = await make();
      const s = fill(b);
      KEYS.forEach((k, i) => {
        b.setCurrentKey(k);
        expect(s.count.value()).toBe(3 * i + 3);
        expect(s.list.get()).toEqual([0, 1, 2].map((round) => ({ i, round })));
        expect([...s.map.entries()]).toEqual([
          ['r0', [i, 2]],
          ['r1', [i, 1]],
        ]);
        expect(s.max.get()).toBe(2 * i);
        expect(s.avg.get()).toBe(i + 1);
      });
      const all = sortedKeys(KEYS.map((k) => normalizeKey(k)));
      for (const n of ['count', 'list', 'map', 'max', 'avg']) expect(sortedKeys(await keysOf(b, n)), n).toEqual(all);
    }));

    it('snapshot -> restore into a fresh backend, and into a heap backend (portable format), gives the same state', withBackends(async () => {
      const b = await make();
      fill(b);
      b.setCurrentKey('user-3');
      allStates(b).list.clear();
      const snap = await snapshotOf(b);
      expect(snap.version).toBe(1);
      expect(snap.maxParallelism).toBe(128);
      expect(snap.states.map((s) => [s.name, s.kind]).sort()).toEqual(
        [['avg', 'aggregating'], ['count', 'value'], ['list', 'list'], ['map', 'map'], ['max', 'reducing']].sort(),
      );
      const full = { start: 0, end: 127 };
      const fresh = await make();
      fresh.restore([snap], full);
      const heap = new HeapKeyedStateBackend('Op', 128);
      heap.restore([snap], full);
      expect(canonical(await snapshotOf(fresh))).toEqual(canonical(snap));
      expect(canonical(heap.snapshot())).toEqual(canonical(snap));
      // Handles declared after the restore read the restored state and keep folding.
      for (const r of [fresh, heap]) {
        const s = allStates(r);
        r.setCurrentKey(['a', 1]);
        const i = KEYS.findIndex((k) => Array.isArray(k) && k[0] === 'a' && k[1] === 1);
        expect([s.count.value(), s.max.get(), s.avg.get(), s.list.get().length, s.map.get('r1')]).toEqual([3 * i + 3, 2 * i, i + 1, 3, [i, 1]]);
        s.avg.add(i + 1);
        expect(s.avg.get()).toBe(i + 1);
        r.setCurrentKey('user-3');
        expect(s.list.get()).toEqual([]);
      }
      // And a heap snapshot restores into this backend.
      const back = await make();
      back.restore([heap.snapshot()], full);
      const s = allStates(back);
      back.setCurrentKey(123n);
      expect(s.count.value()).toBe(3 * KEYS.indexOf(123n) + 3);
    }));

    it('a snapshot is detached: writes after it do not change it', withBackends(async () => {
      const b = await make();
      const s = allStates(b);
      b.setCurrentKey('k');
      s.count.update(1);
      s.list.add(1);
      s.map.put('x', 1);
      const snap = await snapshotOf(b);
      const before = structuredClone(canonical(snap));
      s.count.update(2);
      s.list.add(2);
      s.map.put('y', 2);
      b.setCurrentKey('new');
      s.count.update(5);
      expect(canonical(snap)).toEqual(before);
    }));

    it('restore keeps only the key groups in the range; the ranges of 3 subtasks partition the keys', withBackends(async () => {
      const b = await make();
      fill(b);
      const snap = await snapshotOf(b);
      const union: string[] = [];
      for (let sub = 0; sub < 3; sub++) {
        const range = keyGroupRange(sub, 3, 128);
        const r = await make();
        r.restore([snap], range);
        const ks = await keysOf(r, 'count');
        for (const k of ks) {
          const g = keyGroupOfNormalized(k, 128);
          expect(g >= range.start && g <= range.end, `key ${String(k)} group ${g} in subtask ${sub}`).toBe(true);
        }
        for (const n of ['list', 'map', 'max', 'avg']) expect(sortedKeys(await keysOf(r, n)), n).toEqual(sortedKeys(ks));
        union.push(...ks.map(tag));
        const s = allStates(r);
        for (const k of ks) {
          r.setCurrentNormalizedKey(k);
          expect(s.count.value()).toBeGreaterThan(0);
        }
      }
      expect(union.sort()).toEqual(sortedKeys(KEYS.map((k) => normalizeKey(k))));
      expect(new Set(union).size).toBe(KEYS.length);
    }));

    it('restoring two partial snapshots merges them', withBackends(async () => {
      const parts: KeyedStateSnapshot[] = [];
      for (const ks of [KEYS.slice(0, 20), KEYS.slice(20)]) {
        const b = await make();
        const n = b.getState(new ValueStateDescriptor('n', 0));
        for (const k of ks) {
          b.setCurrentKey(k);
          n.update(7);
        }
        parts.push(await snapshotOf(b));
      }
      const r = await make();
      r.restore(parts, { start: 0, end: 127 });
      expect(sortedKeys(await keysOf(r, 'n'))).toEqual(sortedKeys(KEYS.map((k) => normalizeKey(k))));
    }));

    it('a state name declared with another kind fails with EDDY_STATE_MISMATCH naming the operator and state', withBackends(async () => {
      const b = await make();
      b.getState(new ValueStateDescriptor('shared', 0));
      const e = await expectEddyError(() => b.getState(new ListStateDescriptor<number>('shared')), 'EDDY_STATE_MISMATCH');
      expect(e.operator).toBe('Op');
      expect(e.message).toContain('"shared"');
    }));

    it('restoring a state under another kind, or with another maxParallelism, fails with EDDY_STATE_MISMATCH', withBackends(async () => {
      const b = await make();
      b.setCurrentKey('a');
      b.getState(new ValueStateDescriptor('count', 0)).update(1);
      const snap = await snapshotOf(b);
      const r = await make();
      r.getState(new ListStateDescriptor<number>('count'));
      await expectEddyError(() => r.restore([snap], { start: 0, end: 127 }), 'EDDY_STATE_MISMATCH');
      const r2 = await make();
      await expectEddyError(() => r2.restore([{ ...snap, maxParallelism: 64 }], { start: 0, end: 127 }), 'EDDY_STATE_MISMATCH');
      const r3 = await make();
      r3.restore([snap], { start: 0, end: 127 });
      await expectEddyError(() => r3.getState(new MapStateDescriptor('count')), 'EDDY_STATE_MISMATCH');
    }));

    it('incremental: nothing is tracked before trackChanges(), and writes before it are not in the first take', withBackends(async () => {
      const b = await make();
      fill(b);
      expect(b.takeChanges().size).toBe(0);
      b.trackChanges();
      expect(b.takeChanges().size).toBe(0);
      b.trackChanges(); // idempotent
      expect(b.takeChanges().size).toBe(0);
    }));

    it('incremental: after many writes each (state, key) shows up once, in its key group, with its value at the take', withBackends(async () => {
      const b = await make();
      b.trackChanges();
      fill(b); // 3 rounds of writes to every state of every key
      const flat = flatten(b.takeChanges());
      expect(flat.length).toBe(5 * KEYS.length);
      expect(flat.filter((c) => c.value === 'del')).toEqual([]);
      // The puts are exactly the state: every entry, with its current value.
      const snap = await snapshotOf(b);
      const asSnapshot: KeyedStateSnapshot = { ...snap, states: snap.states.map((st) => ({ ...st, entries: [] })) };
      for (const c of flat) asSnapshot.states.find((x) => x.name === c.name)!.entries.push([c.key, c.value]);
      expect(canonical(asSnapshot)).toEqual(canonical(snap));
    }));

    it('incremental: every write method shows up as a put of the new value, every removal as a del', withBackends(async () => {
      const b = await make();
      const s = allStates(b);
      type S = typeof s;
      const cases: { name: string; setup?: (s: S) => void; write: (s: S) => void; expected: unknown }[] = [
        { name: 'count', write: (s) => s.count.update(5), expected: 5 },
        { name: 'count', setup: (s) => s.count.update(1), write: (s) => s.count.update(s.count.value() + 1), expected: 2 },
        { name: 'list', setup: (s) => s.list.add(1), write: (s) => s.list.add(2), expected: [1, 2] },
        { name: 'list', setup: (s) => s.list.add(1), write: (s) => s.list.addAll([2, 3]), expected: [1, 2, 3] },
        { name: 'list', setup: (s) => s.list.add(1), write: (s) => s.list.update([7]), expected: [7] },
        { name: 'map', setup: (s) => s.map.put('a', 1), write: (s) => s.map.put('b', 2), expected: new Map([['a', 1], ['b', 2]]) },
        { name: 'map', write: (s) => s.map.putAll([['a', 1], ['b', { x: [2] }]]), expected: new Map<string, unknown>([['a', 1], ['b', { x: [2] }]]) },
        { name: 'map', setup: (s) => s.map.putAll([['a', 1], ['b', 2]]), write: (s) => s.map.remove('a'), expected: new Map([['b', 2]]) },
        { name: 'max', setup: (s) => s.max.add(3), write: (s) => s.max.add(9), expected: 9 },
        { name: 'avg', setup: (s) => s.avg.add(2), write: (s) => s.avg.add(4), expected: { sum: 6, n: 2 } },
        { name: 'count', setup: (s) => s.count.update(1), write: (s) => s.count.clear(), expected: 'del' },
        { name: 'count', setup: (s) => s.count.update(1), write: (s) => s.count.update(undefined as unknown as number), expected: 'del' },
        { name: 'list', setup: (s) => s.list.add(1), write: (s) => s.list.clear(), expected: 'del' },
        { name: 'list', setup: (s) => s.list.add(1), write: (s) => s.list.update([]), expected: 'del' },
        { name: 'map', setup: (s) => s.map.put('a', 1), write: (s) => s.map.remove('a'), expected: 'del' },
        { name: 'map', setup: (s) => s.map.put('a', 1), write: (s) => s.map.clear(), expected: 'del' },
        { name: 'max', setup: (s) => s.max.add(1), write: (s) => s.max.clear(), expected: 'del' },
        { name: 'avg', setup: (s) => s.avg.add(1), write: (s) => s.avg.clear(), expected: 'del' },
        // Written, then removed between two takes: a del (the key may be unknown to the chain; a del of it is harmless).
        { name: 'count', write: (s) => (s.count.update(3), s.count.clear()), expected: 'del' },
      ];
      for (const [i, c] of cases.entries()) {
        const key: Key = i % 2 === 0 ? `case-${i}` : ['case', i];
        b.setCurrentKey(key);
        c.setup?.(s);
        b.trackChanges();
        b.takeChanges();
        b.setCurrentKey(key);
        c.write(s);
        const k = normalizeKey(key);
        expect(flatten(b.takeChanges()), `case ${i}`).toEqual([{ group: keyGroupOfNormalized(k, 128), name: c.name, key: k, value: c.expected }]);
      }
    }));

    it('incremental: a take resets; an encoded take is unaffected by later writes; lists and maps are copied', withBackends(async () => {
      const b = await make();
      const s = allStates(b);
      b.trackChanges();
      b.setCurrentKey('k');
      s.count.update(1);
      s.list.add(1);
      s.map.put('a', 1);
      s.avg.add(2);
      const take = b.takeChanges();
      // The caller's contract: encode right away (values such as accumulators are shared with live state).
      const encoded = encodeChanges(take);
      expect(b.takeChanges().size).toBe(0);
      s.count.update(2);
      s.list.add(2);
      s.map.put('b', 2);
      s.avg.add(4); // mutates the accumulator in place
      const raw = Object.fromEntries(flatten(take).map((c) => [c.name, c.value]));
      expect([raw.list, raw.map]).toEqual([[1], new Map([['a', 1]])]);
      const decoded = Object.fromEntries(flatten(decodeChanges(encoded)).map((c) => [c.name, c.value]));
      expect(decoded).toEqual({ count: 1, list: [1], map: new Map([['a', 1]]), avg: { sum: 2, n: 1 } });
      // Only what was written since the last take, now.
      b.setCurrentKey('other');
      s.max.add(7);
      const next = flatten(b.takeChanges());
      expect(next.map((c) => [c.name, c.key]).sort()).toEqual([['avg', 'k'], ['count', 'k'], ['list', 'k'], ['map', 'k'], ['max', 'other']]);
      expect(b.takeChanges().size).toBe(0);
    }));

    it('incremental: states declared after trackChanges() and restored or applied entries are tracked', withBackends(async () => {
      const b = await make();
      b.trackChanges();
      const late = b.getState(new ValueStateDescriptor('late', 0));
      b.setCurrentKey('x');
      late.update(1);
      b.restore([{ version: 1, maxParallelism: 128, states: [{ name: 'restored', kind: 'value', entries: [['r', 2]] }] }], { start: 0, end: 127 });
      await b.applyChanges({ states: [{ name: 'applied', kind: 'list', put: [['p', [3]]], del: [] }] });
      expect(flatten(b.takeChanges()).map((c) => [c.name, c.key, c.value]).sort()).toEqual([['applied', 'p', [3]], ['late', 'x', 1], ['restored', 'r', 2]]);
    }));

    it('incremental: takeFull() has every entry as a put, as of its call, and resets the tracked keys', withBackends(async () => {
      const b = await make();
      const s = fill(b);
      b.trackChanges();
      b.setCurrentKey('user-1');
      s.list.clear();
      const expected = contentOf(await snapshotOf(b));
      const pending = b.takeFull();
      // Writes after the call are not in it, but are in the next take.
      b.setCurrentKey('user-2');
      s.count.update(-1);
      b.setCurrentKey('late');
      s.count.update(-1);
      const full = decodeChanges(encodeChanges(await pending));
      const flat = flatten(full);
      expect(flat.filter((c) => c.value === 'del')).toEqual([]);
      expect(contentOf(changesAsSnapshot(full))).toEqual(expected);
      expect(flatten(b.takeChanges()).map((c) => [c.name, c.key, c.value]).sort()).toEqual([['count', 'late', -1], ['count', 'user-2', -1]]);
      // And a full take into a fresh backend restores the state.
      const r = await make();
      for (const kg of full.values()) await r.applyChanges(kg);
      expect(contentOf(await snapshotOf(r))).toEqual(expected);
    }));

    it('incremental: applyChanges sets puts and removes dels; a kind mismatch fails with EDDY_STATE_MISMATCH', withBackends(async () => {
      const b = await make();
      const s = allStates(b);
      b.setCurrentKey('gone');
      s.count.update(9);
      const given = [1, 2];
      await b.applyChanges({ states: [{ name: 'count', kind: 'value', put: [['a', 4]], del: ['gone', 'never'] }, { name: 'list', kind: 'list', put: [['a', given]], del: [] }] });
      given.push(3); // the applied state does not share the caller's list
      b.setCurrentKey('a');
      expect([s.count.value(), [...s.list.get()]]).toEqual([4, [1, 2]]);
      b.setCurrentKey('gone');
      expect(s.count.value()).toBe(0);
      const e = await expectEddyError(() => b.applyChanges({ states: [{ name: 'count', kind: 'list', put: [['a', [1]]], del: [] }] }), 'EDDY_STATE_MISMATCH');
      expect(e.message).toContain('"count"');
    }));

    it('incremental property: replaying full + takes (or a key-group range of them) gives the original state at every take', withBackends(async () => {
      await fc.assert(
        fc.asyncProperty(incrementalCmds(15), incrementalCmds(80), keyGroupSubRange, async (before, cmds, range) => {
          try {
            await checkIncrementalReplay(make, make, before, cmds, range);
          } finally {
            await closeAll();
          }
        }),
        { numRuns: 25 },
      );
    }));

    keyedStateTtlCases(make, withBackends);
  });
}
