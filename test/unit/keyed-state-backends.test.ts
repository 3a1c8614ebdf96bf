// Runs the shared keyed state backend suite on the heap and LevelDB backends, plus LevelDB-specific behaviour.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/state/descriptors.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.ts';
import { keyGroupOf, type Key } from '../../src/state/key-group.ts';
import { LevelKeyedStateBackend } from '../../src/state/level-keyed-state-backend.ts';
import { expectEddyError } from '../support/eddy-error.ts';
import { canonical, keyedStateBackendSuite } from '../support/keyed-state-backend-suite.ts';

const root = await mkdtemp(join(tmpdir(), 'eddy-level-state-'));
let n = 0;
const nextPath = () => join(root, `db-${n++}`);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

keyedStateBackendSuite('heap', async (o) => new HeapKeyedStateBackend('Op', 128, o));
keyedStateBackendSuite('LevelDB', (o) => LevelKeyedStateBackend.open({ path: nextPath(), operatorName: 'Op', maxParallelism: 128, ...o }));
// A tiny write cache: nearly every write triggers a background flush, so reads go through flushes in flight and getSync.
keyedStateBackendSuite('LevelDB, cacheSize 3', (o) =>
  LevelKeyedStateBackend.open({ path: nextPath(), operatorName: 'Op', maxParallelism: 128, cacheSize: 3, ...o }),
);

describe('LevelKeyedStateBackend', () => {
  it('the TSDoc example runs', async () => {
    const dir = nextPath();
    const backend = await LevelKeyedStateBackend.open({ path: dir, operatorName: 'counter', maxParallelism: 128 });
    const n = backend.getState(new ValueStateDescriptor('n', 0));
    backend.setCurrentKey('a');
    n.update(n.value() + 1);
    const snap = await backend.snapshotAsync(); // portable: restores into a HeapKeyedStateBackend too
    await backend.close();
    expect(snap.states).toEqual([{ name: 'n', kind: 'value', entries: [['a', 1]] }]);
  });

  it('keys() and snapshot() are refused with EDDY_INTERNAL pointing at the async variants', async () => {
    const b = await LevelKeyedStateBackend.open({ path: nextPath(), operatorName: 'Op', maxParallelism: 128 });
    try {
      expect((await expectEddyError(() => b.keys('x'), 'EDDY_INTERNAL')).message).toContain('keysAsync');
      expect((await expectEddyError(() => b.snapshot(), 'EDDY_INTERNAL')).message).toContain('snapshotAsync');
    } finally {
      await b.close();
    }
  });

  it('reads stay synchronous and exact while flushes are in flight, and state survives close + reopen', async () => {
    const path = nextPath();
    const b = await LevelKeyedStateBackend.open({ path, operatorName: 'Op', maxParallelism: 128, cacheSize: 100 });
    const v = b.getState(new ValueStateDescriptor('v', 0));
    const l = b.getState(new ListStateDescriptor<number>('l'));
    const m = b.getState(new MapStateDescriptor<number, string>('m'));
    const N = 5000;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < N; i++) {
        b.setCurrentKey(i);
        v.update(v.value() + i);
        l.add(round);
        m.put(round, `r${round}`);
        if (i % 10 === 0 && round === 1) v.clear();
      }
    }
    for (let i = 0; i < N; i++) {
      b.setCurrentKey(i);
      expect(v.value()).toBe(i % 10 === 0 ? 0 : 2 * i);
      expect(l.get()).toEqual([0, 1]);
    }
    const snap = canonical(await b.snapshotAsync());
    await b.close();
    const r = await LevelKeyedStateBackend.open({ path, operatorName: 'Op', maxParallelism: 128 });
    try {
      expect(canonical(await r.snapshotAsync())).toEqual(snap);
      // The kinds were persisted too.
      await expectEddyError(() => r.getState(new ValueStateDescriptor('l', 0)), 'EDDY_STATE_MISMATCH');
      const m2 = r.getState(new MapStateDescriptor<number, string>('m'));
      r.setCurrentKey(42);
      expect([...m2.entries()]).toEqual([
        [0, 'r0'],
        [1, 'r1'],
      ]);
      expect((await r.keysAsync('v')).length).toBe(N - N / 10);
    } finally {
      await r.destroy();
    }
  });

  it('LevelDB keys are <key group, 2 bytes BE><state name>\\0<encoded key>, so a key group is one contiguous range', async () => {
    const path = nextPath();
    const b = await LevelKeyedStateBackend.open({ path, operatorName: 'Op', maxParallelism: 128 });
    const v = b.getState(new ValueStateDescriptor('v', 0));
    b.setCurrentKey('a');
    v.update(1);
    b.setCurrentKey(7);
    v.update(2);
    await b.close();
    const raw = new Level<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      const keys = (await raw.keys({ lt: Buffer.from([0xff, 0xff]) }).all()).map((k) => k.toString('hex'));
      const num = Buffer.alloc(9);
      num[0] = 0x6e;
      num.writeDoubleBE(7, 1);
      const expected = [
        Buffer.concat([Buffer.from([0, keyGroupOf('a', 128)]), Buffer.from('v\u0000sa')]),
        Buffer.concat([Buffer.from([0, keyGroupOf(7, 128)]), Buffer.from('v\u0000'), num]),
      ].map((k) => k.toString('hex'));
      expect(keys).toEqual(expected.sort());
    } finally {
      await raw.close();
    }
  });

  it('snapshotAsync sees entries whose batch is still in flight, and not writes made after the call', async () => {
    const b = await LevelKeyedStateBackend.open({ path: nextPath(), operatorName: 'Op', maxParallelism: 128, cacheSize: 3 });
    try {
      const v = b.getState(new ValueStateDescriptor('v', 0));
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 4; i++) {
          b.setCurrentKey(i);
          v.update(round * 10 + i); // the 4th write seals the cache and starts a batch
        }
        const pending = b.snapshotAsync();
        b.setCurrentKey(0);
        v.update(-1);
        b.setCurrentKey('late');
        v.update(-1);
        const snap = canonical(await pending);
        expect(snap.states[0]!.entries).toEqual([0, 1, 2, 3].map((i) => [i, round * 10 + i]));
        b.setCurrentKey('late');
        v.clear();
      }
    } finally {
      await b.destroy();
    }
  });

  it('wipe: true opens an empty backend over an existing database', async () => {
    const path = nextPath();
    const b = await LevelKeyedStateBackend.open({ path, operatorName: 'Op', maxParallelism: 128 });
    b.setCurrentKey('a');
    b.getState(new ValueStateDescriptor('v', 0)).update(3);
    await b.close();
    const w = await LevelKeyedStateBackend.open({ path, operatorName: 'Op', maxParallelism: 128, wipe: true });
    try {
      expect((await w.snapshotAsync()).states).toEqual([]);
    } finally {
      await w.close();
    }
  });
});

describe('LevelDB backend equals the heap backend', () => {
  type Op = { k: Key; op: number; v: number; yieldAfter: boolean };
  const states = (b: KeyedStateBackend) => ({
    value: b.getState(new ValueStateDescriptor('value', 0)),
    list: b.getState(new ListStateDescriptor<number>('list')),
    map: b.getState(new MapStateDescriptor<number, number>('map')),
    sum: b.getState(new ReducingStateDescriptor<number>('sum', (x, y) => x + y)),
    agg: b.getState(
      new AggregatingStateDescriptor<number, number[], number>('agg', {
        createAccumulator: () => [],
        add: (v, acc) => (acc.push(v), acc), // mutated in place
        getResult: (acc) => acc.length,
      }),
    ),
  });
  /** Applies one command and returns everything the key's state reads afterwards. */
  function apply(b: KeyedStateBackend, s: ReturnType<typeof states>, { k, op, v }: Op): unknown {
    b.setCurrentKey(k);
    switch (op) {
      case 0: s.value.update(s.value.value() + v); break;
      case 1: s.value.clear(); break;
      case 2: s.list.add(v); break;
      case 3: s.list.update(v % 2 === 0 ? [] : [v, v]); break;
      case 4: s.map.put(v % 3, v); break;
      case 5: s.map.remove(v % 3); break;
      case 6: s.sum.add(v); s.agg.add(v); break;
      case 7: s.list.clear(); s.map.clear(); s.sum.clear(); s.agg.clear(); break;
    }
    return [s.value.value(), [...s.list.get()], [...s.map.entries()].sort(), s.sum.get(), s.agg.get()];
  }
  const op: fc.Arbitrary<Op> = fc.record({
    k: fc.oneof(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 5 }), fc.tuple(fc.constantFrom('t'), fc.nat(3))),
    op: fc.nat(7),
    v: fc.integer({ min: -50, max: 50 }),
    yieldAfter: fc.boolean(),
  });

  it('any command sequence reads the same on both, and both snapshots (and a restore of each into the other) agree', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), async (ops, cacheSize) => {
        const heap = new HeapKeyedStateBackend('Op', 128);
        const level = await LevelKeyedStateBackend.open({ path: nextPath(), operatorName: 'Op', maxParallelism: 128, cacheSize });
        try {
          const hs = states(heap);
          const ls = states(level);
          for (const o of ops) {
            expect(apply(level, ls, o)).toEqual(apply(heap, hs, o));
            if (o.yieldAfter) await new Promise((r) => setImmediate(r)); // let batches land
          }
          const hSnap = canonical(heap.snapshot());
          expect(canonical(await level.snapshotAsync())).toEqual(hSnap);
          const back = new HeapKeyedStateBackend('Op', 128);
          back.restore([await level.snapshotAsync()], { start: 0, end: 127 });
          expect(canonical(back.snapshot())).toEqual(hSnap);
        } finally {
          await level.destroy();
        }
      }),
      { numRuns: 50 },
    );
  });
});
