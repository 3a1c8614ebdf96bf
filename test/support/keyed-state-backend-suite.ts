// Shared behaviour suite every KeyedStateBackend must pass (heap, LevelDB): state types, keys, snapshots, restore, errors.
import { describe, expect, it } from 'vitest';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
  type AggregateFunction,
} from '../../src/state/descriptors.ts';
import { HeapKeyedStateBackend, type KeyedStateBackend, type KeyedStateSnapshot } from '../../src/state/heap-keyed-state-backend.ts';
import { keyGroupOfNormalized, keyGroupRange, normalizeKey, type Key, type NormalizedKey } from '../../src/state/key-group.ts';
import { expectEddyError } from './eddy-error.ts';

/** A backend under test; asynchronous backends add `snapshotAsync` / `keysAsync`, and `close` to release resources. */
export type BackendUnderTest = KeyedStateBackend & {
  close?(): Promise<void>;
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

/**
 * Defines the behaviour suite for a keyed state backend. `create` returns a fresh, empty backend
 * (maxParallelism 128, operator name "Op") each time it is called.
 */
export function keyedStateBackendSuite(name: string, create: () => Promise<BackendUnderTest>): void {
  describe(`${name}: keyed state backend`, () => {
    const open: BackendUnderTest[] = [];
    const make = async () => {
      const b = await create();
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
  });
}
