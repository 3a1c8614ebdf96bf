// State TTL: the StateTtlConfig builder, and TTL semantics through the operator harness (every state type x update type x visibility, restore, cleanup).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock, OperatorHarness, ProcessFunctionHarness, type OperatorSnapshot } from 'eddy/testing';
import type { Collector, KeyedProcessContext, ProcessFunctionLike, RuntimeContext } from '../../src/functions/functions.ts';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
  type StateDescriptor,
} from '../../src/state/descriptors.ts';
import { keyGroupOf } from '../../src/state/key-group.ts';
import { LevelKeyedStateBackend } from '../../src/state/level-keyed-state-backend.ts';
import { StateTtlConfig, StateVisibility, UpdateType } from '../../src/state/state-ttl.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import * as eddy from '../../src/index.ts';
import { expectEddyError } from '../support/eddy-error.ts';

const root = await mkdtemp(join(tmpdir(), 'eddy-ttl-'));
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('StateTtlConfig', () => {
  it('defaults as in Flink: OnCreateAndWrite, NeverReturnExpired, background incremental cleanup of 5 entries, no full-snapshot cleanup', () => {
    const c = StateTtlConfig.newBuilder(1_000).build();
    expect([c.getTtl(), c.getUpdateType(), c.getStateVisibility(), c.getTtlTimeCharacteristic(), c.isEnabled()]).toEqual([
      1_000,
      'OnCreateAndWrite',
      'NeverReturnExpired',
      'ProcessingTime',
      true,
    ]);
    expect(c.getCleanupStrategies()).toEqual({ fullSnapshot: false, incremental: { cleanupSize: 5, runCleanupForEveryRecord: false } });
    expect(StateTtlConfig.newBuilder(1).disableCleanupInBackground().build().cleanupStrategies.incremental).toBeUndefined();
    // An explicit incremental cleanup applies even without background cleanup (Flink's rule).
    expect(StateTtlConfig.newBuilder(1).disableCleanupInBackground().cleanupIncrementally(3, true).build().cleanupStrategies.incremental).toEqual({
      cleanupSize: 3,
      runCleanupForEveryRecord: true,
    });
    expect(StateTtlConfig.DISABLED.isEnabled()).toBe(false);
    expect(new ValueStateDescriptor('v').getTtlConfig()).toBe(StateTtlConfig.DISABLED);
  });

  it("the builder's setters, Flink's enum names and shorthands, toBuilder; configs are frozen", () => {
    const c = StateTtlConfig.newBuilder(10)
      .setUpdateType(StateTtlConfig.UpdateType.OnReadAndWrite)
      .setStateVisibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
      .setTtlTimeCharacteristic(StateTtlConfig.TtlTimeCharacteristic.ProcessingTime)
      .cleanupFullSnapshot()
      .cleanupIncrementally(7, false)
      .setTtl(20)
      .build();
    expect([c.ttlMs, c.updateType, c.stateVisibility, c.cleanupStrategies]).toEqual([
      20,
      UpdateType.OnReadAndWrite,
      StateVisibility.ReturnExpiredIfNotCleanedUp,
      { fullSnapshot: true, incremental: { cleanupSize: 7, runCleanupForEveryRecord: false } },
    ]);
    expect(c.toBuilder().build()).toEqual(c);
    expect(StateTtlConfig.newBuilder(1).disableCleanupInBackground().build().toBuilder().build().cleanupStrategies.incremental).toBeUndefined();
    const short = StateTtlConfig.newBuilder(5).updateTtlOnReadAndWrite().returnExpiredIfNotCleanedUp().useProcessingTime().build();
    expect([short.updateType, short.stateVisibility]).toEqual(['OnReadAndWrite', 'ReturnExpiredIfNotCleanedUp']);
    const back = short.toBuilder().updateTtlOnCreateAndWrite().neverReturnExpired().build();
    expect([back.updateType, back.stateVisibility, short.updateType]).toEqual(['OnCreateAndWrite', 'NeverReturnExpired', 'OnReadAndWrite']);
    expect(Object.isFrozen(c) && Object.isFrozen(c.cleanupStrategies)).toBe(true);
    // Exported from the package entry.
    expect([eddy.StateTtlConfig, eddy.UpdateType, eddy.StateVisibility]).toEqual([StateTtlConfig, UpdateType, StateVisibility]);
  });

  it('bad settings fail with EDDY_CONFIG naming the setting', async () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number])
      expect((await expectEddyError(() => StateTtlConfig.newBuilder(bad), 'EDDY_CONFIG')).message).toContain('time-to-live');
    const b = StateTtlConfig.newBuilder(1);
    expect((await expectEddyError(() => b.setUpdateType('Sometimes' as UpdateType), 'EDDY_CONFIG')).message).toContain('OnReadAndWrite');
    await expectEddyError(() => b.setStateVisibility('Maybe' as StateVisibility), 'EDDY_CONFIG');
    await expectEddyError(() => b.setTtlTimeCharacteristic('EventTime' as 'ProcessingTime'), 'EDDY_CONFIG');
    expect((await expectEddyError(() => b.cleanupIncrementally(0), 'EDDY_CONFIG')).message).toContain('cleanupSize');
    await expectEddyError(() => b.cleanupIncrementally(1.5), 'EDDY_CONFIG');
    await expectEddyError(() => b.setTtl(-5), 'EDDY_CONFIG');
    const e = await expectEddyError(() => new ValueStateDescriptor('v').enableTimeToLive({ ttlMs: 5 } as unknown as StateTtlConfig), 'EDDY_CONFIG');
    expect(e.message).toContain('"v"');
  });

  it('the TSDoc examples run: enableTimeToLive on every descriptor returns the descriptor', () => {
    const ttl = StateTtlConfig.newBuilder(60_000)
      .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
      .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
      .cleanupFullSnapshot()
      .cleanupIncrementally(10, false)
      .build();
    const lastSeen = new ValueStateDescriptor<number>('lastSeen');
    lastSeen.enableTimeToLive(ttl);
    expect(lastSeen.getTtlConfig()).toBe(ttl);
    const descriptors: StateDescriptor[] = [
      new ListStateDescriptor<number>('l'),
      new MapStateDescriptor<string, number>('m'),
      new ReducingStateDescriptor<number>('r', (a, b) => a + b),
      new AggregatingStateDescriptor('a', { createAccumulator: () => 0, add: (v: number, acc: number) => acc + v, getResult: (acc: number) => acc }),
    ];
    for (const d of descriptors) expect(d.enableTimeToLive(ttl).getTtlConfig()).toBe(ttl);
    const longer = StateTtlConfig.newBuilder(1_000).build().toBuilder().setTtl(5_000).build();
    expect(longer.ttlMs).toBe(5_000);
  });
});

// ---- through the operator harness ----

type Kind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';
const KINDS: Kind[] = ['value', 'list', 'map', 'reducing', 'aggregating'];
/** A command for one key: write a value, read (the function emits what it reads), or nothing (a record that touches no state). */
type Cmd = { k: string; op: 'write' | 'read' | 'noop'; v?: string };

/** The descriptor of `kind` named "s"; reducing and aggregating keep the latest value, so every kind reads back what was written. */
function descriptor(kind: Kind, config: StateTtlConfig): StateDescriptor {
  switch (kind) {
    case 'value':
      return new ValueStateDescriptor<string>('s').enableTimeToLive(config);
    case 'list':
      return new ListStateDescriptor<string>('s').enableTimeToLive(config);
    case 'map':
      return new MapStateDescriptor<string, string>('s').enableTimeToLive(config);
    case 'reducing':
      return new ReducingStateDescriptor<string>('s', (_a, b) => b).enableTimeToLive(config);
    case 'aggregating':
      return new AggregatingStateDescriptor<string, string[], string>('s', {
        createAccumulator: () => [],
        add: (v) => [v],
        getResult: (acc) => acc[0]!,
      }).enableTimeToLive(config);
  }
}

/** Drives one state of `kind`: writes, and emits what a read returns as a list of visible values. */
class Probe implements ProcessFunctionLike<Cmd, string[], KeyedProcessContext<string>> {
  private s: any;
  constructor(
    private readonly kind: Kind,
    private readonly config: StateTtlConfig,
  ) {}
  open(ctx: RuntimeContext): void {
    this.s = ctx.getState(descriptor(this.kind, this.config));
  }
  processElement(c: Cmd, _ctx: KeyedProcessContext<string>, out: Collector<string[]>): void {
    const { s } = this;
    if (c.op === 'write') {
      if (this.kind === 'value') s.update(c.v);
      else if (this.kind === 'map') s.put(c.v, c.v);
      else s.add(c.v);
    } else if (c.op === 'read') {
      if (this.kind === 'list') out.collect([...s.get()]);
      else if (this.kind === 'map') out.collect([...s.keys()]);
      else {
        const v = this.kind === 'value' ? s.value() : s.get();
        out.collect(v === undefined ? [] : [v]);
      }
    }
  }
}

function harness(kind: Kind, config: StateTtlConfig, clock = new ManualClock(0)): OperatorHarness<Cmd, string[]> {
  return ProcessFunctionHarness.forKeyedProcessFunction(new Probe(kind, config), (c: Cmd) => c.k, { clock });
}

const write = (v: string, k = 'k'): Cmd => ({ k, op: 'write', v });
const read = (k = 'k'): Cmd => ({ k, op: 'read' });
const noop = (k: string): Cmd => ({ k, op: 'noop' });

describe('state TTL through the operator harness', () => {
  // Written once at 0 with a TTL of 100, then read at these times (twice where the second read shows a removal).
  const readsAt = [60, 130, 130, 229, 400, 400];
  const expected: Record<string, string[][]> = {
    // Expires at 100; nothing renews it.
    'OnCreateAndWrite/NeverReturnExpired': [['a'], [], [], [], [], []],
    // The first read after expiry returns it and removes it.
    'OnCreateAndWrite/ReturnExpiredIfNotCleanedUp': [['a'], ['a'], [], [], [], []],
    // Each read renews: 60 -> 130 -> 229, so it lives until 329.
    'OnReadAndWrite/NeverReturnExpired': [['a'], ['a'], ['a'], ['a'], [], []],
    'OnReadAndWrite/ReturnExpiredIfNotCleanedUp': [['a'], ['a'], ['a'], ['a'], ['a'], []],
  };
  for (const kind of KINDS)
    for (const updateType of [UpdateType.OnCreateAndWrite, UpdateType.OnReadAndWrite])
      for (const visibility of [StateVisibility.NeverReturnExpired, StateVisibility.ReturnExpiredIfNotCleanedUp])
        it(`${kind} state, ${updateType}, ${visibility}`, async () => {
          // No background cleanup: a cleanup step before each read would remove the expired value before ReturnExpiredIfNotCleanedUp could show it.
          const config = StateTtlConfig.newBuilder(100).setUpdateType(updateType).setStateVisibility(visibility).disableCleanupInBackground().build();
          const h = harness(kind, config);
          await h.open();
          h.processElement(write('a'));
          for (const t of readsAt) {
            h.setProcessingTime(t);
            h.processElement(read());
          }
          expect(h.getOutput()).toEqual(expected[`${updateType}/${visibility}`]);
          await h.close();
        });

  it.each(KINDS)('%s state: every write renews the timestamp (a list element or map entry: its own)', async (kind) => {
    const h = harness(kind, StateTtlConfig.newBuilder(100).build());
    await h.open();
    h.processElement(write('a'));
    h.setProcessingTime(90);
    h.processElement(write('a'));
    h.setProcessingTime(150);
    h.processElement(read()); // the value (the second list element, the map entry) was written at 90
    h.setProcessingTime(190);
    h.processElement(read());
    expect(h.getOutput()).toEqual([['a'], []]);
  });

  it.each(KINDS)('%s state: snapshot -> restore keeps the timestamps (restored later, expiry does not restart)', async (kind) => {
    const config = StateTtlConfig.newBuilder(100).build();
    const first = harness(kind, config);
    await first.open();
    first.processElement(write('o', 'old'));
    first.setProcessingTime(40);
    first.processElement(write('n', 'new'));
    first.setProcessingTime(50);
    const snap: OperatorSnapshot = first.snapshot();
    expect(snap.keyed!.states).toEqual([expect.objectContaining({ name: 's', ttl: true })]);
    // Restored at 120: 'old' (written at 0) is gone, 'new' (written at 40) lives until 140.
    const h = harness(kind, config, new ManualClock(120));
    await h.open(snap);
    h.processElements([read('old'), read('new')]);
    h.setProcessingTime(140);
    h.processElement(read('new'));
    expect(h.getOutput()).toEqual([[], ['n'], []]);
  });

  it('mergeSnapshots keeps the TTL form and timestamps (scale in), and refuses to merge a state with and without TTL', async () => {
    const config = StateTtlConfig.newBuilder(100).build();
    const key = (c: Cmd) => c.k;
    const subtasks = [0, 1].map((i) => ProcessFunctionHarness.forKeyedProcessFunction(new Probe('list', config), key, { parallelism: 2, subtaskIndex: i }));
    for (const h of subtasks) await h.open();
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const owner = (k: string) => subtasks.find((h) => keyGroupOf(k, 128) >= h.keyGroups.start && keyGroupOf(k, 128) <= h.keyGroups.end)!;
    for (const k of keys) owner(k).processElement(write('a', k));
    for (const h of subtasks) h.setProcessingTime(50);
    for (const k of keys.slice(0, 4)) owner(k).processElement(write('b', k));
    const merged = OperatorHarness.mergeSnapshots(subtasks.map((h) => h.snapshot()));
    expect(merged.keyed!.states.map((st) => [st.name, st.ttl, st.entries.length])).toEqual([['s', true, 8]]);
    const one = harness('list', config, new ManualClock(100));
    await one.open(merged);
    one.processElements(keys.map((k) => read(k)));
    expect(one.getOutput()).toEqual([...keys.slice(0, 4).map(() => ['b']), ...keys.slice(4).map(() => [])]);
    const plain = harness('list', StateTtlConfig.DISABLED);
    await plain.open();
    plain.processElement(write('a', 'k0'));
    await expectEddyError(() => OperatorHarness.mergeSnapshots([subtasks[0]!.snapshot(), plain.snapshot()]), 'EDDY_STATE_MISMATCH');
  });

  it('a state restored without TTL into a descriptor with TTL fails with EDDY_STATE_MISMATCH naming the state', async () => {
    const first = harness('value', StateTtlConfig.DISABLED);
    await first.open();
    first.processElement(write('a'));
    const snap = first.snapshot();
    expect(snap.keyed!.states[0]!.ttl).toBeUndefined();
    const second = harness('value', StateTtlConfig.newBuilder(100).build());
    const e = await expectEddyError(() => second.open(snap), 'EDDY_STATE_MISMATCH');
    expect(e.message).toContain('"s"');
  });

  it('cleanupFullSnapshot: the snapshot leaves expired state out and shrinks; without it every key stays', async () => {
    const codec = new FrameCodec();
    const run = async (config: StateTtlConfig) => {
      const h = harness('value', config);
      await h.open();
      for (let i = 0; i < 100; i++) h.processElement(write(`payload-${i}`.repeat(4), `k${i}`));
      h.setProcessingTime(150);
      for (let i = 0; i < 10; i++) h.processElement(write('fresh', `late${i}`));
      h.setProcessingTime(200);
      const snap = h.snapshot();
      return { entries: snap.keyed!.states[0]!.entries.length, bytes: codec.encodeValue(snap, 'test').length, live: [...h.stateBackend!.keys('s')].length };
    };
    const kept = await run(StateTtlConfig.newBuilder(100).disableCleanupInBackground().build());
    const dropped = await run(StateTtlConfig.newBuilder(100).disableCleanupInBackground().cleanupFullSnapshot().build());
    expect(kept).toMatchObject({ entries: 110, live: 110 });
    expect(dropped).toMatchObject({ entries: 10, live: 110 }); // only the snapshot drops them
    expect(dropped.bytes).toBeLessThan(kept.bytes / 5);
  });

  it('cleanupIncrementally(n): keys never read again are reclaimed by accesses to other keys; per record with runCleanupForEveryRecord', async () => {
    const run = async (config: StateTtlConfig, cmd: Cmd) => {
      const h = harness('value', config);
      await h.open();
      for (let i = 0; i < 100; i++) h.processElement(write('x', `k${i}`));
      h.setProcessingTime(1_000);
      const left: number[] = [];
      for (let round = 0; round < 12; round++) {
        h.processElement(cmd); // one key, over and over
        left.push([...h.stateBackend!.keys('s')].length);
      }
      return left;
    };
    // Each read of 'live' visits 10 more entries of the whole state: 100 expired keys are gone after 10 reads.
    const perAccess = await run(StateTtlConfig.newBuilder(100).cleanupIncrementally(10, false).build(), read('live'));
    expect(perAccess).toEqual([90, 80, 70, 60, 50, 40, 30, 20, 10, 0, 0, 0]);
    // Records that touch no state: only runCleanupForEveryRecord visits entries, at least 10 per record (one step per
    // key selection: the harness and the operator both select the record's key, so here it is 20).
    const perRecord = await run(StateTtlConfig.newBuilder(100).cleanupIncrementally(10, true).build(), noop('live'));
    expect(perRecord.every((n, i) => n <= Math.max(0, 90 - 10 * i)), String(perRecord)).toBe(true);
    expect(perRecord.at(-1)).toBe(0);
    expect(await run(StateTtlConfig.newBuilder(100).cleanupIncrementally(10, false).build(), noop('live'))).toEqual(Array(12).fill(100));
    expect(await run(StateTtlConfig.newBuilder(100).disableCleanupInBackground().build(), read('live'))).toEqual(Array(12).fill(100));
  });
});

describe('LevelDB backend and TTL', () => {
  it('the TTL form of a state survives close + reopen (persisted with its kind)', async () => {
    const path = join(root, 'reopen');
    const clock = new ManualClock(0);
    const config = StateTtlConfig.newBuilder(100).build();
    const b = await LevelKeyedStateBackend.open({ path, operatorName: 'Op', maxParallelism: 128, clock });
    b.setCurrentKey('k');
    b.getState(new ValueStateDescriptor<string>('v').enableTimeToLive(config)).update('a');
    await b.close();
    const r = await LevelKeyedStateBackend.open({ path, operatorName: 'Op', maxParallelism: 128, clock });
    try {
      await expectEddyError(() => r.getState(new ValueStateDescriptor<string>('v')), 'EDDY_STATE_MISMATCH');
      const v = r.getState(new ValueStateDescriptor<string>('v').enableTimeToLive(config));
      r.setCurrentKey('k');
      expect(v.value()).toBe('a');
      clock.setTime(100);
      expect(v.value()).toBeUndefined();
    } finally {
      await r.destroy();
    }
  });
});
