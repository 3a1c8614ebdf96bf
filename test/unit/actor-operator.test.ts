// The actor operator in the harness: one machine per key, emits in order, durable timers in both time domains, final states free state, unhandled events, versioned snapshots and migration, rescaling.
import { describe, expect, it } from 'vitest';
import { assign, emit, setup } from 'xstate';
import { OutputTag } from '../../src/functions/output-tag.ts';
import type { ActorOptions } from '../../src/api/keyed-actor.ts';
import type { ActorOperator, UnhandledEvent } from '../../src/operators/actor-operator.ts';
import type { ActorEvent } from '../../src/machines/machine-runner.ts';
import type { OperatorSnapshot } from '../../src/operators/operator.ts';
import { OperatorHarness } from '../../src/testing/operator-harness.ts';
import { ProcessFunctionHarness } from '../../src/testing/process-function-harness.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { keyGroupOf } from '../../src/state/key-group.ts';
import { expectEddyError } from '../support/eddy-error.ts';

interface Charge {
  type: 'small' | 'large' | 'reset';
  card: string;
  amount: number;
}

/** The fraud machine: a small charge arms the card for a minute; a large charge while armed raises an alert. */
function fraudMachine(variant: 'v1' | 'v2-renamed' | 'v2-guarded' = 'v1') {
  const armed = variant === 'v2-renamed' ? 'watching' : 'armed';
  return setup({
    types: {} as { context: { card: string; smalls: number }; events: Charge; input: { card: string } },
  }).createMachine({
    id: 'fraud',
    context: ({ input }) => ({ card: input.card, smalls: 0 }),
    initial: 'idle',
    states: {
      idle: { on: { small: { target: armed, actions: assign({ smalls: ({ context }) => context.smalls + 1 }) } } },
      [armed]: {
        after: { 60_000: 'idle' },
        on: {
          large:
            variant === 'v2-guarded'
              ? { guard: ({ event }) => event.amount >= 500, target: 'idle', actions: emit(({ context, event }) => ({ type: 'alert', card: context.card, amount: event.amount })) }
              : { target: 'idle', actions: emit(({ context, event }) => ({ type: 'alert', card: context.card, amount: event.amount })) },
        },
      },
    },
  });
}

const byCard = (c: Charge) => c.card;
const fraudOptions: ActorOptions<Charge, string> = { input: (card) => ({ card }) };
const charge = (type: Charge['type'], card: string, amount: number): Charge => ({ type, card, amount });

/** An order: created -> paid -> shipped (final); unpaid orders time out after 30 s (final). */
type OrderEvent = { type: 'pay' | 'ship'; id: string };
const orderMachine = setup({ types: {} as { context: { id: string }; events: OrderEvent } }).createMachine({
  id: 'order',
  context: { id: '' },
  initial: 'created',
  states: {
    created: { after: { 30_000: 'expired' }, on: { pay: 'paid' } },
    paid: { on: { ship: 'shipped' } },
    shipped: { type: 'final', entry: emit({ type: 'shipped' }) },
    expired: { type: 'final', entry: emit({ type: 'expired' }) },
  },
});

for (const path of ['auto', 'xstate'] as const)
  describe(`actor operator (${path === 'auto' ? 'compiled' : 'xstate'} path)`, () => {
    const fraud = (h?: Partial<ActorOptions<Charge, string>>) => ProcessFunctionHarness.forActor(fraudMachine(), byCard, { ...fraudOptions, path, ...h });

    it('runs one machine per key: a small then a large charge within a minute alerts, with the large charge timestamp; other cards are independent', async () => {
      const h = fraud();
      await h.open();
      expect(h.operator.query('c1')).toBeUndefined();
      h.processElement(charge('small', 'c1', 5), 1_000);
      h.processElement(charge('large', 'c2', 900), 2_000);
      h.processElement(charge('large', 'c1', 700), 30_000);
      expect(h.getRecordOutput()).toEqual([{ value: { type: 'alert', card: 'c1', amount: 700 }, timestamp: 30_000 }]);
      expect(h.operator.query('c1')).toEqual({ value: 'idle', context: { card: 'c1', smalls: 1 }, timers: [] });
      expect(h.operator.query('c2')).toEqual({ value: 'idle', context: { card: 'c2', smalls: 0 }, timers: [] });
    });

    it('event time: the minute runs out when time passes, by the watermark or by a later record of the key, before that record', async () => {
      const h = fraud();
      await h.open();
      h.processElement(charge('small', 'a', 5), 1_000);
      h.processElement(charge('small', 'b', 5), 1_000);
      expect(h.operator.query('a')).toMatchObject({ value: 'armed', timers: [{ id: 'xstate.after.60000.fraud.armed', at: 61_000 }] });
      h.processWatermark(60_999);
      expect(h.operator.query('a')?.value).toBe('armed');
      h.processWatermark(61_000);
      expect(h.operator.query('a')).toMatchObject({ value: 'idle', timers: [] });
      // Key b's timer is due at 61 000 too, and the watermark passed it: it fired as well.
      expect(h.operator.query('b')?.value).toBe('idle');
      // A record at 70 000 for a key armed at 9 000: its timer (69 000) fires before the record.
      h.processElement(charge('small', 'c', 5), 9_000);
      h.processElement(charge('large', 'c', 800), 70_000);
      expect(h.getOutput()).toEqual([]);
      expect(h.operator.query('c')).toMatchObject({ value: 'idle', timers: [] });
    });

    it('pending event-time timers survive a snapshot and fire exactly once after the restore', async () => {
      const h = fraud();
      await h.open();
      h.processElement(charge('small', 'a', 5), 1_000);
      const snap = h.snapshot(1);
      const r = await restoreActor(fraudMachineOperator(path), snap);
      expect(r.operator.query('a')).toMatchObject({ value: 'armed', timers: [{ at: 61_000 }] });
      r.processWatermark(61_000);
      expect(r.operator.query('a')).toMatchObject({ value: 'idle', timers: [] });
      // The timer is gone from the next snapshot: a second restore does not fire it again.
      const again = await restoreActor(fraudMachineOperator(path), r.snapshot(2));
      again.processElement(charge('large', 'a', 900), 61_500);
      expect(again.getOutput()).toEqual([]);
      expect(again.operator.query('a')?.value).toBe('idle');
    });

    for (const [policy, fires] of [
      ['deadline', 60_000],
      ['remaining', 80_000],
      ['restart', 90_000],
    ] as const)
      it(`processing time, restore policy '${policy}': a delay pending at the snapshot (t=10 s, due 60 s) restored at 30 s fires at ${fires / 1000} s, once`, async () => {
        const options = { timeDomain: 'processing', processingTimeRestore: policy } as const;
        const h = fraud(options);
        await h.open();
        h.processElement(charge('small', 'a', 5));
        h.setProcessingTime(10_000);
        const snap = h.snapshot(1);
        const r = ProcessFunctionHarness.forActor(fraudMachine(), byCard, { ...fraudOptions, path, ...options }, { clock: new ManualClock(30_000) });
        await r.open(snap);
        r.setProcessingTime(fires - 1);
        expect(r.operator.query('a')?.value).toBe('armed');
        r.setProcessingTime(fires);
        expect(r.operator.query('a')).toMatchObject({ value: 'idle', timers: [] });
        r.setProcessingTime(200_000);
        expect(r.operator.query('a')?.value).toBe('idle');
      });

    it('a machine in a top-level final state frees its key: no snapshot, no timers', async () => {
      const h = ProcessFunctionHarness.forActor(orderMachine, (e: OrderEvent) => e.id, { path });
      await h.open();
      h.processElement({ type: 'pay', id: 'o1' }, 1_000);
      h.processElement({ type: 'pay', id: 'o2' }, 1_000);
      h.processElement({ type: 'ship', id: 'o1' }, 2_000);
      expect(h.operator.query('o1')).toBeUndefined();
      expect(h.operator.query('o2')?.value).toBe('paid');
      h.processElement({ type: 'pay', id: 'o3' }, 3_000);
      h.processElement({ type: 'ship', id: 'o4' }, 4_000); // created: ship is not handled there
      h.processWatermark(34_000);
      expect(h.getRecordOutput()).toEqual([
        { value: { type: 'shipped' }, timestamp: 2_000 },
        { value: { type: 'expired' }, timestamp: 34_000 },
      ]);
      expect([...h.stateBackend!.keys('eddy.actor')].sort()).toEqual(['o2', 'o3']);
    });

    it("unhandled events: ignored by default, on a side output with onUnhandled 'side-output', EDDY_UNHANDLED_EVENT with 'fail'", async () => {
      const ignore = fraud();
      await ignore.open();
      ignore.processElement(charge('reset', 'a', 0), 1);
      expect(ignore.operator.query('a')?.value).toBe('idle');
      const tag = new OutputTag<UnhandledEvent<Charge>>('unhandled');
      const side = fraud({ onUnhandled: 'side-output', unhandledOutput: tag });
      await side.open();
      side.processElement(charge('large', 'a', 50), 7);
      expect(side.getSideRecordOutput(tag)).toEqual([{ value: { key: 'a', event: charge('large', 'a', 50), state: 'idle', record: charge('large', 'a', 50) }, timestamp: 7 }]);
      const fail = fraud({ onUnhandled: 'fail' });
      await fail.open();
      expect((await expectEddyError(() => fail.processElement(charge('large', 'a', 50), 7), 'EDDY_UNHANDLED_EVENT')).message).toMatch(/key "a" in state "idle" does not handle event "large"/);
    });

    it('a record that is not an event fails with EDDY_INVALID_EVENT naming the fix; emitTo sends chosen emitted types to side outputs', async () => {
      const h = fraud();
      await h.open();
      expect((await expectEddyError(() => h.processElement({ card: 'a', amount: 1 } as unknown as Charge, 1), 'EDDY_INVALID_EVENT')).message).toMatch(/pass toEvent/);
      const alerts = new OutputTag<{ type: 'alert' }>('alerts');
      const s = fraud({ emitTo: { alert: alerts } });
      await s.open();
      s.processElements([charge('small', 'a', 1), charge('large', 'a', 999)], 5);
      expect(s.getOutput()).toEqual([]);
      expect(s.getSideOutput(alerts)).toEqual([{ type: 'alert', card: 'a', amount: 999 }]);
    });

    it('restores at another parallelism: two subtasks snapshotted, merged into one, every key and timer kept', async () => {
      const subtasks = [0, 1].map((i) => ProcessFunctionHarness.forActor(fraudMachine(), byCard, { ...fraudOptions, path }, { parallelism: 2, subtaskIndex: i }));
      for (const s of subtasks) await s.open();
      const cards = Array.from({ length: 20 }, (_, i) => `card-${i}`);
      for (const c of cards) {
        const g = keyGroupOf(c, 128);
        const owner = subtasks.find((s) => s.keyGroups.start <= g && g <= s.keyGroups.end)!;
        owner.processElement(charge('small', c, 1), 1_000);
      }
      const merged = OperatorHarness.mergeSnapshots(subtasks.map((s) => s.snapshot(3)));
      const one = await restoreActor(fraudMachineOperator(path), merged);
      for (const c of cards) one.processElement(charge('large', c, 600), 2_000);
      expect(one.getOutput().map((a) => (a as unknown as { card: string }).card).sort()).toEqual([...cards].sort());
    });
  });

/** A harness restored from `snap` around `op` (typed as the actor operator it runs). */
async function restoreActor(op: ActorOperator<Charge>, snap: OperatorSnapshot): Promise<OperatorHarness<Charge, ActorEvent> & { operator: ActorOperator<Charge> }> {
  return (await OperatorHarness.restore(op, snap, { keySelector: byCard })) as OperatorHarness<Charge, ActorEvent> & { operator: ActorOperator<Charge> };
}

/** A fresh actor operator on the v1 fraud machine (for OperatorHarness.restore). */
function fraudMachineOperator(path: 'auto' | 'xstate', variant: Parameters<typeof fraudMachine>[0] = 'v1', extra: Partial<ActorOptions<Charge, string>> = {}) {
  return ProcessFunctionHarness.forActor(fraudMachine(variant), byCard, { ...fraudOptions, path, ...extra }).operator;
}

describe('actor operator: versioned snapshots', () => {
  async function armedSnapshot() {
    const h = ProcessFunctionHarness.forActor(fraudMachine(), byCard, fraudOptions);
    await h.open();
    h.processElement(charge('small', 'a', 1), 1_000);
    h.processElement(charge('small', 'b', 1), 1_000);
    h.processElement(charge('large', 'b', 900), 2_000); // b is idle again
    return h.snapshot(1);
  }

  it('a snapshot records the machine id, a structural hash and its states', async () => {
    const snap = await armedSnapshot();
    expect(snap.schema).toMatchObject({ kind: 'machine', id: 'fraud', states: expect.arrayContaining(['fraud.idle', 'fraud.armed']) });
    const other = ProcessFunctionHarness.forActor(fraudMachine('v2-guarded'), byCard, fraudOptions);
    await other.open();
    other.processElement(charge('small', 'a', 1), 0);
    expect((other.snapshot(1).schema as { hash: string }).hash).not.toBe((snap.schema as { hash: string }).hash);
  });

  it('restoring into a machine whose states were renamed fails with EDDY_STATE_MISMATCH naming them', async () => {
    const snap = await armedSnapshot();
    expect((await expectEddyError(() => OperatorHarness.restore(fraudMachineOperator('auto', 'v2-renamed'), snap, { keySelector: byCard }), 'EDDY_STATE_MISMATCH')).message).toMatch(/"fraud\.armed" no longer exist.*migrate/s);
  });

  it('a changed machine whose states all remain restores as it is (here: a guard added)', async () => {
    const r = await restoreActor(fraudMachineOperator('auto', 'v2-guarded'), await armedSnapshot());
    expect(r.operator.query('a')?.value).toBe('armed');
    r.processElement(charge('large', 'a', 100), 3_000); // the new guard holds it back
    r.processElement(charge('large', 'a', 600), 3_000);
    expect(r.getOutput()).toEqual([{ type: 'alert', card: 'a', amount: 600 }]);
  });

  it('a migration function maps each key onto the new machine (and may drop keys); its timers stay', async () => {
    const from: unknown[] = [];
    const op = fraudMachineOperator('auto', 'v2-renamed', {
      migrate: (s, version) => {
        from.push(version.states.includes('fraud.armed'));
        if ((s.context as { card: string }).card === 'b') return undefined;
        // The `after` timer is named after its state: renamed with it.
        const rename = (id: string) => id.replace('fraud.armed', 'fraud.watching');
        return s.value === 'armed' ? { value: 'watching', context: s.context, timers: s.timers.map((t) => ({ ...t, id: rename(t.id), event: { type: rename(t.event.type) } })) } : s;
      },
    });
    const r = await restoreActor(op, await armedSnapshot());
    expect(from).toEqual([true, true]);
    expect(r.operator.query('a')).toMatchObject({ value: 'watching', timers: [{ id: 'xstate.after.60000.fraud.watching', at: 61_000 }] });
    expect(r.operator.query('b')).toBeUndefined();
    r.processWatermark(61_000);
    expect(r.operator.query('a')?.value).toBe('idle');
    // The migrated state is what the next snapshot holds.
    const again = await restoreActor(fraudMachineOperator('auto', 'v2-renamed'), r.snapshot(2));
    expect(again.operator.query('a')?.value).toBe('idle');
  });

  it('a migration that maps a key to a state the machine lacks fails with EDDY_STATE_MISMATCH naming key and state', async () => {
    const op = fraudMachineOperator('auto', 'v2-renamed', { migrate: (s) => s });
    const snap = await armedSnapshot();
    expect((await expectEddyError(() => OperatorHarness.restore(op, snap, { keySelector: byCard }), 'EDDY_STATE_MISMATCH')).message).toMatch(/key "a" to state "armed".*"fraud\.armed" does not exist/);
  });
});
