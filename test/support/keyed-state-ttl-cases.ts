// State TTL cases of the shared keyed state backend suite (heap, LevelDB): expiry, visibility, restore, full-snapshot and incremental cleanup.
import { Packr } from 'msgpackr';
import { expect, it } from 'vitest';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/state/descriptors.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import { HeapValueState } from '../../src/state/heap-state-handles.ts';
import { LevelValueState } from '../../src/state/level-state-handles.ts';
import { StateTtlConfig, type StateTtlConfigBuilder } from '../../src/state/state-ttl.ts';
import { TtlListState, TtlMapState, TtlValueState } from '../../src/state/ttl-state-handles.ts';
import { ManualClock, type Clock } from '../../src/time/clock.ts';
import { expectEddyError } from './eddy-error.ts';
import {
  canonical,
  decodeChanges,
  encodeChanges,
  flatten,
  keysOf,
  snapshotOf,
  type BackendUnderTest,
} from './keyed-state-backend-suite.ts';

/** What the suite passes to a backend factory. */
export interface BackendOptions {
  clock?: Clock;
}

type Make = (options?: BackendOptions) => Promise<BackendUnderTest>;
type WithBackends = (fn: () => Promise<void>) => () => Promise<void>;

const TTL = 100;
const ttl = (configure: (b: StateTtlConfigBuilder) => StateTtlConfigBuilder = (b) => b): StateTtlConfig =>
  configure(StateTtlConfig.newBuilder(TTL)).build();

/** Every state type with the same TTL config; `n` distinguishes state names. */
function ttlStates(b: BackendUnderTest, config: StateTtlConfig, n = '') {
  return {
    value: b.getState(new ValueStateDescriptor<string>(`value${n}`, 'none').enableTimeToLive(config)),
    list: b.getState(new ListStateDescriptor<string>(`list${n}`).enableTimeToLive(config)),
    map: b.getState(new MapStateDescriptor<string, string>(`map${n}`).enableTimeToLive(config)),
    reducing: b.getState(new ReducingStateDescriptor<string>(`reducing${n}`, (x, y) => `${x},${y}`).enableTimeToLive(config)),
    aggregating: b.getState(
      new AggregatingStateDescriptor<string, string[], string>(`aggregating${n}`, {
        createAccumulator: () => [],
        add: (v, acc) => [...acc, v],
        getResult: (acc) => acc.join('+'),
      }).enableTimeToLive(config),
    ),
  };
}
type States = ReturnType<typeof ttlStates>;

/** Writes `v` into every state of the current key. */
function writeAll(s: States, v: string): void {
  s.value.update(v);
  s.list.add(v);
  s.map.put(v, v);
  s.reducing.add(v);
  s.aggregating.add(v);
}

/** What every state of the current key reads now (maps as sorted keys). */
function readAll(s: States) {
  return {
    value: s.value.value(),
    list: [...s.list.get()],
    map: [...s.map.keys()].sort(),
    reducing: s.reducing.get(),
    aggregating: s.aggregating.get(),
  };
}

const NOTHING = { value: 'none', list: [], map: [], reducing: undefined, aggregating: undefined };
const tick = () => new Promise<void>((r) => setImmediate(r));

/** The TTL cases, run inside a backend's suite with its `make` (tracking backends to close) and `withBackends`. */
export function keyedStateTtlCases(make: Make, withBackends: WithBackends): void {
  it('TTL: every state type hides a value from lastAccess + ttl on; list elements and map entries expire one by one', withBackends(async () => {
    const clock = new ManualClock(1_000);
    const b = await make({ clock });
    const s = ttlStates(b, ttl());
    b.setCurrentKey('k');
    writeAll(s, 'a');
    clock.setTime(1_050);
    writeAll(s, 'b'); // value: b; list [a, b]; map {a, b}; reducing a,b; aggregating a+b, all stamped 1050 but a's list element and map entry
    clock.setTime(1_099);
    expect(readAll(s)).toEqual({ value: 'b', list: ['a', 'b'], map: ['a', 'b'], reducing: 'a,b', aggregating: 'a+b' });
    clock.setTime(1_100); // a's element and entry expire: lastAccess 1000 + ttl 100 <= 1100
    expect(readAll(s)).toEqual({ value: 'b', list: ['b'], map: ['b'], reducing: 'a,b', aggregating: 'a+b' });
    expect([s.map.get('a'), s.map.contains('a'), s.map.get('b'), s.map.contains('b'), s.map.isEmpty()]).toEqual([undefined, false, 'b', true, false]);
    clock.setTime(1_150);
    expect(readAll(s)).toEqual(NOTHING);
    expect(s.map.isEmpty()).toBe(true);
    // A fold after expiry starts afresh.
    s.reducing.add('c');
    s.aggregating.add('c');
    expect([s.reducing.get(), s.aggregating.get()]).toEqual(['c', 'c']);
    // Other keys are untouched by this key's expiry.
    b.setCurrentKey('other');
    expect(readAll(s)).toEqual(NOTHING);
  }));

  it('TTL: OnReadAndWrite renews on every read; ReturnExpiredIfNotCleanedUp returns an expired value once', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    const onRead = ttlStates(b, ttl((c) => c.updateTtlOnReadAndWrite()), 'R');
    // Without background cleanup: a cleanup step runs before each read and would remove the value first.
    const lax = ttlStates(b, ttl((c) => c.returnExpiredIfNotCleanedUp().disableCleanupInBackground()), 'X');
    b.setCurrentKey('k');
    writeAll(onRead, 'a');
    writeAll(lax, 'a');
    const all = { value: 'a', list: ['a'], map: ['a'], reducing: 'a', aggregating: 'a' };
    for (const t of [90, 180, 270]) {
      clock.setTime(t);
      expect(readAll(onRead), `read at ${t}`).toEqual(all); // each read moves lastAccess to t
    }
    expect(readAll(lax)).toEqual(all); // written at 0, expired from 100 on: this read returns and removes it...
    expect(readAll(lax)).toEqual(NOTHING); // ...so the next finds nothing
    clock.setTime(370);
    expect(readAll(onRead)).toEqual(NOTHING);
  }));

  it('TTL: add() folds into an expired value only while it is visible (ReturnExpiredIfNotCleanedUp), as Flink does', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    const lax = ttlStates(b, ttl((c) => c.returnExpiredIfNotCleanedUp().disableCleanupInBackground()), 'X');
    const strict = ttlStates(b, ttl((c) => c.disableCleanupInBackground()), 'S');
    b.setCurrentKey('k');
    for (const s of [lax, strict]) {
      s.reducing.add('a');
      s.aggregating.add('a');
    }
    clock.setTime(500);
    for (const s of [lax, strict]) {
      s.reducing.add('b');
      s.aggregating.add('b');
    }
    clock.setTime(599); // the fold is stamped 500
    expect([lax.reducing.get(), lax.aggregating.get(), strict.reducing.get(), strict.aggregating.get()]).toEqual(['a,b', 'a+b', 'b', 'b']);
  }));

  it('TTL: an expired value found by a read is removed, and the next take carries the removal as a del', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    const s = ttlStates(b, ttl((c) => c.disableCleanupInBackground()));
    b.trackChanges();
    b.setCurrentKey('k');
    writeAll(s, 'a');
    const puts = flatten(b.takeChanges());
    expect(puts.map((c) => [c.name, c.value]).sort()).toEqual(
      [['aggregating', [['a'], 0]], ['list', [['a', 0]]], ['map', new Map([['a', ['a', 0]]])], ['reducing', ['a', 0]], ['value', ['a', 0]]].sort(),
    );
    clock.setTime(200);
    expect(readAll(s)).toEqual(NOTHING);
    const dels = flatten(b.takeChanges());
    expect(dels.map((c) => [c.name, c.value]).sort()).toEqual(['aggregating', 'list', 'map', 'reducing', 'value'].map((n) => [n, 'del']));
    expect(await keysOf(b, 'value')).toEqual([]);
  }));

  it('TTL: snapshots carry the timestamps: a restore (into either backend, or by replaying a full take) keeps them', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    const config = ttl((c) => c.disableCleanupInBackground());
    const s = ttlStates(b, config);
    b.setCurrentKey('old');
    writeAll(s, 'o');
    clock.setTime(60);
    b.setCurrentKey('new');
    writeAll(s, 'n');
    b.trackChanges();
    const snap = structuredClone(await snapshotOf(b));
    const full = decodeChanges(encodeChanges(await b.takeFull()));
    expect(snap.states.map((st) => [st.name, st.ttl])).toEqual(expect.arrayContaining([['value', true], ['map', true]]));
    // Restored later: nothing is renewed by the restore itself.
    const later = new ManualClock(99);
    const targets: BackendUnderTest[] = [await make({ clock: later }), new HeapKeyedStateBackend('Op', 128, { clock: later })];
    for (const r of targets) r.restore([snap], { start: 0, end: 127 });
    const replayed = await make({ clock: later });
    for (const kg of full.values()) await replayed.applyChanges(kg);
    targets.push(replayed);
    for (const r of targets) expect(canonical(await snapshotOf(r))).toEqual(canonical(snap));
    const reads = (r: BackendUnderTest) => {
      const rs = ttlStates(r, config);
      r.setCurrentKey('old');
      const old = readAll(rs);
      r.setCurrentKey('new');
      return [old, readAll(rs)];
    };
    const both = { value: 'n', list: ['n'], map: ['n'], reducing: 'n', aggregating: 'n' };
    for (const r of targets) expect(reads(r)).toEqual([{ value: 'o', list: ['o'], map: ['o'], reducing: 'o', aggregating: 'o' }, both]);
    later.setTime(100); // 'old' was written at 0: expired now, although restored at 99
    for (const r of targets) expect(reads(r)).toEqual([NOTHING, both]);
    later.setTime(160);
    for (const r of targets) expect(reads(r)).toEqual([NOTHING, NOTHING]);
  }));

  it('TTL: cleanupFullSnapshot leaves expired entries and elements out of snapshots and full takes; live state keeps them', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    const dropping = ttlStates(b, ttl((c) => c.cleanupFullSnapshot().disableCleanupInBackground()), 'D');
    const keeping = ttlStates(b, ttl((c) => c.disableCleanupInBackground()), 'K');
    for (let i = 0; i < 30; i++) {
      b.setCurrentKey(`k${i}`);
      writeAll(dropping, 'early');
      writeAll(keeping, 'early');
    }
    clock.setTime(80);
    for (let i = 25; i < 30; i++) {
      b.setCurrentKey(`k${i}`);
      writeAll(dropping, 'late'); // lists and maps of these keys hold an expired and a live part
      writeAll(keeping, 'late');
    }
    const packr = new Packr({ moreTypes: true });
    const before = await snapshotOf(b);
    clock.setTime(150);
    b.trackChanges();
    const after = await snapshotOf(b);
    const full = flatten(await b.takeFull());
    const count = (snap: typeof after, name: string) => snap.states.find((st) => st.name === name)!.entries.length;
    for (const kind of ['value', 'list', 'map', 'reducing', 'aggregating']) {
      expect(count(before, `${kind}D`), kind).toBe(30);
      expect(count(after, `${kind}D`), kind).toBe(5);
      expect(count(after, `${kind}K`), kind).toBe(30);
      expect(full.filter((c) => c.name === `${kind}D`).length, kind).toBe(5);
    }
    const listD = after.states.find((st) => st.name === 'listD')!.entries.map(([, v]) => v);
    expect(listD).toEqual(Array.from({ length: 5 }, () => [['late', 80]]));
    const mapD = after.states.find((st) => st.name === 'mapD')!.entries.map(([, v]) => [...(v as Map<string, unknown>)]);
    expect(mapD).toEqual(Array.from({ length: 5 }, () => [['late', ['late', 80]]]));
    const sizeOf = (snap: typeof after, suffix: string) => packr.pack(snap.states.filter((st) => st.name.endsWith(suffix))).length;
    expect(sizeOf(after, 'D')).toBeLessThan(sizeOf(before, 'D') / 3);
    // Only the snapshot shrank: the live state still holds every key (reads would remove them).
    expect((await keysOf(b, 'valueD')).length).toBe(30);
  }));

  it('TTL: incremental cleanup reclaims keys never read again (in LevelDB and in the write cache), and the next take deletes them', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    const config = ttl((c) => c.cleanupIncrementally(4, false));
    const s = ttlStates(b, config);
    const plain = b.getState(new ValueStateDescriptor<string>('plain', 'none'));
    b.trackChanges();
    const writeKeys = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        b.setCurrentKey(`gone-${i}`);
        writeAll(s, 'x');
        plain.update('kept'); // another state's entries in the same key groups (the LevelDB scan seeks past them)
      }
    };
    writeKeys(0, 30);
    await b.flush?.(); // these are in LevelDB...
    writeKeys(30, 40); // ...and these only in the write cache (LevelDB backend)
    const base = decodeChanges(encodeChanges(b.takeChanges()));
    clock.setTime(1_000);
    b.setCurrentKey('live');
    writeAll(s, 'y');
    const names = ['value', 'list', 'map', 'reducing', 'aggregating'];
    const left = async () => Promise.all(names.map(async (n) => (await keysOf(b, n)).length));
    // Only 'live' is ever accessed again: every access visits 4 more entries of its state.
    let accesses = 0;
    while ((await left()).some((n) => n > 1) && accesses < 2_000) {
      for (let i = 0; i < 20; i++, accesses++) {
        readAll(s);
        await tick(); // LevelDB prefetches in the background
      }
    }
    expect(await left()).toEqual([1, 1, 1, 1, 1]);
    expect((await keysOf(b, 'plain')).length).toBe(40);
    const take = decodeChanges(encodeChanges(b.takeChanges()));
    const flat = flatten(take);
    for (const n of names) {
      const dels = flat.filter((c) => c.name === n && c.value === 'del').map((c) => String(c.key));
      expect(dels.sort(), n).toEqual(Array.from({ length: 40 }, (_, i) => `gone-${i}`).sort());
    }
    // Replaying base + take (as a restore does) does not bring them back.
    const r = await make({ clock });
    for (const chunk of [base, take]) for (const kg of chunk.values()) await r.applyChanges(kg);
    for (const n of names) expect((await keysOf(r, n)).map(String), n).toEqual(['live']);
    expect((await keysOf(r, 'plain')).length).toBe(40);
  }));

  it('TTL: runCleanupForEveryRecord visits entries on every key selection, without any state access', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    const perRecord = b.getState(new ValueStateDescriptor<string>('perRecord').enableTimeToLive(ttl((c) => c.cleanupIncrementally(5, true))));
    const perAccess = b.getState(new ValueStateDescriptor<string>('perAccess').enableTimeToLive(ttl((c) => c.cleanupIncrementally(5, false))));
    for (let i = 0; i < 20; i++) {
      b.setCurrentKey(`k${i}`);
      perRecord.update('x');
      perAccess.update('x');
    }
    await b.flush?.();
    clock.setTime(500);
    let selections = 0;
    while ((await keysOf(b, 'perRecord')).length > 0 && selections < 2_000) {
      for (let i = 0; i < 20; i++, selections++) {
        b.setCurrentKey(`record-${selections}`); // a record's key selection; no state is read or written
        await tick();
      }
    }
    expect(await keysOf(b, 'perRecord')).toEqual([]);
    expect((await keysOf(b, 'perAccess')).length).toBe(20);
  }));

  it('TTL: a state written with TTL cannot be declared or restored without it, nor the reverse (EDDY_STATE_MISMATCH)', withBackends(async () => {
    const clock = new ManualClock(0);
    const b = await make({ clock });
    b.getState(new ValueStateDescriptor<number>('withTtl').enableTimeToLive(ttl()));
    b.getState(new ValueStateDescriptor<number>('without'));
    const e = await expectEddyError(() => b.getState(new ValueStateDescriptor<number>('withTtl')), 'EDDY_STATE_MISMATCH');
    expect(e.message).toContain('"withTtl"');
    expect(e.message).toContain('enableTimeToLive');
    await expectEddyError(() => b.getState(new ValueStateDescriptor<number>('without').enableTimeToLive(ttl())), 'EDDY_STATE_MISMATCH');
    // A disabled config is no TTL.
    expect(() => b.getState(new ValueStateDescriptor<number>('without').enableTimeToLive(StateTtlConfig.DISABLED))).not.toThrow();
    b.setCurrentKey('k');
    b.getState(new ValueStateDescriptor<number>('withTtl').enableTimeToLive(ttl())).update(1);
    const snap = await snapshotOf(b);
    const r = await make({ clock });
    r.getState(new ValueStateDescriptor<number>('withTtl'));
    await expectEddyError(() => r.restore([snap], { start: 0, end: 127 }), 'EDDY_STATE_MISMATCH');
    const r2 = await make({ clock });
    r2.restore([snap], { start: 0, end: 127 });
    await expectEddyError(() => r2.getState(new ValueStateDescriptor<number>('withTtl')), 'EDDY_STATE_MISMATCH');
    const r3 = await make({ clock });
    r3.getState(new ValueStateDescriptor<number>('withTtl'));
    await expectEddyError(() => r3.applyChanges({ states: [{ name: 'withTtl', kind: 'value', ttl: true, put: [['k', [1, 0]]], del: [] }] }), 'EDDY_STATE_MISMATCH');
  }));

  it('TTL: only descriptors with an enabled TTL get TTL handles (states without TTL keep the plain ones)', withBackends(async () => {
    const b = await make({ clock: new ManualClock(0) });
    const plain = b.getState(new ValueStateDescriptor('plain', 0));
    const disabled = b.getState(new ValueStateDescriptor('disabled', 0).enableTimeToLive(StateTtlConfig.DISABLED));
    expect(plain instanceof HeapValueState || plain instanceof LevelValueState).toBe(true);
    expect(disabled instanceof HeapValueState || disabled instanceof LevelValueState).toBe(true);
    expect(b.getState(new ValueStateDescriptor('t', 0).enableTimeToLive(ttl()))).toBeInstanceOf(TtlValueState);
    expect(b.getState(new ListStateDescriptor('l').enableTimeToLive(ttl()))).toBeInstanceOf(TtlListState);
    expect(b.getState(new MapStateDescriptor('m').enableTimeToLive(ttl()))).toBeInstanceOf(TtlMapState);
  }));
}
