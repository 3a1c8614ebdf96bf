// The actor-operator examples as libraries, on the shared test nats-server: fraud detection (NATS in and out, event-time
// timeouts, queryActor, parallelism 1 and 2), order lifecycle (final states, side output) and device protocol
// (parallel and nested states, unhandled events), each against its plain expected-output function.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { describe, expect, inject, it } from 'vitest';
import { StreamEnvironment, type ActorStateView, type JobClient } from 'eddy';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { createMachineRunner } from '../../src/machines/machine-runner.ts';
import { ProcessFunctionHarness } from '../../src/testing/process-function-harness.ts';
import {
  ARMED_MS,
  buildFraudDetectionJob,
  cardIds,
  chargeEvent,
  expectedAlerts,
  expectedFraud,
  FRAUD_OPERATOR,
  fraudMachine,
  generateTransactions,
  publishTransactions,
  runFraudDetectionDemo,
  type FraudAlert,
  type Transaction,
} from '../../examples/fraud-detection.ts';
import {
  createOrderMachine,
  expectedOrderOutcomes,
  generateOrderEvents,
  orderMachine,
  PAYMENT_TIMEOUT_MS,
  runOrderLifecycle,
  runOrderLifecycleDemo,
  sortOutcomes,
  STRAY_EVENTS,
  type OrderEvent,
  type OrderOutcome,
} from '../../examples/order-lifecycle.ts';
import {
  byDevice,
  deviceMachine,
  expectedDeviceOutput,
  generateDeviceMessages,
  runDeviceProtocol,
  runDeviceProtocolDemo,
  UNHANDLED_MESSAGES,
  type DeviceMessage,
} from '../../examples/device-protocol.ts';
import { tempDirMaker, until } from '../support/example-test-support.ts';

const natsUrl = inject('natsUrl');

const tempDir = tempDirMaker('eddy-actor-examples-test-');

const env = (parallelism: number) => StreamEnvironment.create({ parallelism, nats: natsUrl, stateDir: tempDir(), autoWatermarkIntervalMs: 50 });

/** Subjects unique to one test, so tests sharing the server never see each other's messages. */
const namespace = (): string => `t${randomBytes(4).toString('hex')}`;


/** Polls `client.queryActor(FRAUD_OPERATOR, key)` until `cond` holds for the answer; returns that answer. */
async function queryUntil(client: JobClient, key: unknown, cond: (v: ActorStateView | undefined) => boolean, what: string): Promise<ActorStateView | undefined> {
  let last: ActorStateView | undefined;
  await until(async () => cond((last = await client.queryActor(FRAUD_OPERATOR, key))), () => `${what} (last answer: ${JSON.stringify(last)})`);
  return last;
}

function byKey<T>(xs: readonly T[], key: (x: T) => string): Record<string, T[]> {
  const m: Record<string, T[]> = {};
  for (const x of xs) (m[key(x)] ??= []).push(x);
  return m;
}

const byCard = (xs: readonly FraudAlert[]) => byKey(xs, (a) => a.card);

// ---------------------------------------------------------------------------------------------
// fraud detection
// ---------------------------------------------------------------------------------------------

describe('examples/fraud-detection.ts', () => {
  const transactions = generateTransactions(42, cardIds(12));
  const expected = expectedFraud(transactions);

  it('the generated transactions cover every case: alerts, a large charge after the minute, one exactly at its end, re-arming', () => {
    expect(generateTransactions(42, cardIds(12))).toEqual(transactions);
    expect(transactions.every((t, i) => i === 0 || transactions[i - 1]!.ts <= t.ts)).toBe(true);
    // Consecutive small -> large pairs of a card by gap: within, exactly at and after the minute.
    const gaps: number[] = [];
    for (const list of Object.values(byKey(transactions, (t) => t.card)))
      for (let i = 1; i < list.length; i++)
        if (chargeEvent(list[i - 1]!).type === 'small' && chargeEvent(list[i]!).type === 'large') gaps.push(list[i]!.ts - list[i - 1]!.ts);
    expect(gaps.some((g) => g < ARMED_MS)).toBe(true);
    expect(gaps.some((g) => g === ARMED_MS)).toBe(true);
    expect(gaps.some((g) => g > ARMED_MS)).toBe(true);
    // A small charge while armed re-arms: some alert names a small charge that came right after another one within the minute.
    const perCard = byKey(transactions, (t) => t.card);
    const rearmed = expected.alerts.filter((a) => {
      const list = perCard[a.card]!;
      const prev = list[list.findIndex((t) => t.ts === a.smallAt) - 1];
      return prev !== undefined && chargeEvent(prev).type === 'small' && a.smallAt - prev.ts < ARMED_MS;
    });
    expect(rearmed.length).toBeGreaterThan(0);
    // A small charge is always followed by another small or a large one: every alert is such a pair within the minute.
    expect(expected.alerts.length).toBe(gaps.filter((g) => g < ARMED_MS).length);
    expect(expected.alerts.length).toBeGreaterThan(10);
  });

  it('runs compiled, and both paths in the operator harness match the plain rule record by record, timeouts included', async () => {
    expect(createMachineRunner(fraudMachine).path).toBe('compiled');
    for (const path of ['auto', 'xstate'] as const) {
      const h = ProcessFunctionHarness.forActor(fraudMachine, (t: Transaction) => t.card, { toEvent: chargeEvent, input: (card) => ({ card }), path });
      await h.open();
      for (const t of transactions) h.processElement(t, t.ts);
      expect(h.getRecordOutput()).toEqual(expected.alerts.map((a) => ({ value: a, timestamp: a.at })));
      for (const [card, model] of expected.cards) expect(h.operator.query(card), `${path}: card ${card}`).toMatchObject({ value: model.value, context: model.context });
      // End of input: every armed card's minute runs out.
      h.processWatermark(Number.MAX_SAFE_INTEGER);
      for (const card of expected.cards.keys()) expect(h.operator.query(card)).toMatchObject({ value: 'idle', timers: [] });
      expect(h.getOutput()).toHaveLength(expected.alerts.length);
    }
  });

  for (const parallelism of [1, 2])
    it(`parallelism ${parallelism}: publishes exactly the expected alerts to alerts.<card>; queryActor reads an armed card, then sees its minute run out`, async () => {
      const ns = namespace();
      const alertPrefix = `${ns}.alerts`;
      const e = env(parallelism);
      buildFraudDetectionJob(e, { cardSubject: `${ns}.cards.*`, alertSubjectPrefix: alertPrefix });
      const client = await e.executeAsync(`fraud test p${parallelism}`);
      let nc: NatsConnection | undefined;
      try {
        nc = await connect({ ...natsConnectionOptions(natsUrl), name: 'actor-examples-test' });
        const alerts: { subject: string; alert: FraudAlert }[] = [];
        nc.subscribe(`${alertPrefix}.>`, { callback: (_e, m) => void alerts.push({ subject: m.subject, alert: m.json<FraudAlert>() }) });
        await nc.flush();

        // Phase 1: the transactions, then a probe card's small charge at the latest time: it stays armed
        // (the watermark stays behind the latest time), with its timer a minute later.
        const last = transactions.at(-1)!.ts;
        const probe: Transaction = { id: 'probe-1', card: 'probe', amount: 3.5, ts: last };
        await publishTransactions(nc, [...transactions, probe], `${ns}.cards`);
        const armed = await queryUntil(client, 'probe', (v) => v !== undefined, 'the probe card to have a machine');
        expect(armed).toEqual({
          value: 'armed',
          context: { card: 'probe', smalls: 1, alerts: 0, small: 3.5, smallAt: last },
          timers: [{ id: 'xstate.after.60000.fraud.armed', at: last + ARMED_MS }],
        });

        // Phase 2: per card a small then a large charge ten minutes later (a marker alert, the card's last):
        // once every marker arrived, every alert of that card did (same key, same path, in order).
        const markerAt = last + 10 * ARMED_MS;
        const markers = [...expected.cards.keys()].flatMap((card): Transaction[] => [
          { id: `${card}-m1`, card, amount: 1, ts: markerAt },
          { id: `${card}-m2`, card, amount: 999, ts: markerAt + 1_000 },
        ]);
        await publishTransactions(nc, markers, `${ns}.cards`);
        const all = [...transactions, probe, ...markers];
        const want = expectedAlerts(all);
        await until(
          () => [...expected.cards.keys()].every((card) => alerts.some(({ alert }) => alert.card === card && alert.at === markerAt + 1_000)),
          'every card\'s marker alert',
        );
        expect(byCard(alerts.map((a) => a.alert))).toEqual(byCard(want));
        expect(alerts).toHaveLength(want.length);
        for (const { subject, alert } of alerts) expect(subject).toBe(`${alertPrefix}.${alert.card}`);

        // The card with the most alerts, after its marker: idle, its counts as the plain model has them, no timer.
        const busiest = [...expectedFraud(all).cards.values()].reduce((a, b) => (b.context.alerts > a.context.alerts ? b : a));
        expect(await client.queryActor(FRAUD_OPERATOR, busiest.context.card)).toEqual({ value: 'idle', context: busiest.context, timers: [] });
        expect(busiest.context.alerts).toBeGreaterThan(1);

        // The markers moved the watermark past the probe's deadline: its minute ran out (a timer, not a record).
        const timedOut = await queryUntil(client, 'probe', (v) => v?.value === 'idle', 'the probe card\'s timeout');
        expect(timedOut).toEqual({ value: 'idle', context: { card: 'probe', smalls: 1, alerts: 0, small: 3.5, smallAt: last }, timers: [] });
        expect(await client.queryActor(FRAUD_OPERATOR, 'never-seen')).toBeUndefined();

        const result = await client.cancel();
        expect(result.status).toBe('canceled');
        expect(result.error).toBeUndefined();
      } finally {
        await client.cancel();
        await nc?.close();
      }
    });

  it('the demo publishes the transactions, reports every expected alert, queries a card and cancels the job', async () => {
    const ns = namespace();
    const lines: string[] = [];
    const { published, alerts, expected: want, queried, result } = await runFraudDetectionDemo({
      env: env(2),
      cards: 6,
      seed: 5,
      subjectPrefix: `${ns}.cards`,
      alertSubjectPrefix: `${ns}.alerts`,
      log: (l) => lines.push(l),
    });
    expect(published).toBe(generateTransactions(5, cardIds(6)).length);
    expect(want).toEqual(expectedAlerts(generateTransactions(5, cardIds(6))));
    expect(want.length).toBeGreaterThan(0);
    expect(byCard(alerts)).toEqual(byCard(want));
    expect(queried?.context).toMatchObject({ card: want[0]!.card });
    expect(result.status).toBe('canceled');
    expect(lines.filter((l) => l.startsWith(`ALERT ${ns}.alerts.`))).toHaveLength(want.length);
    expect(lines.at(-1)).toBe(`published ${published} transactions, received ${want.length} of ${want.length} expected alerts; job canceled`);
  });
});

// ---------------------------------------------------------------------------------------------
// order lifecycle
// ---------------------------------------------------------------------------------------------

describe('examples/order-lifecycle.ts', () => {
  const events = generateOrderEvents(3, 60);
  const expected = expectedOrderOutcomes(events);

  it('the generated orders cover every outcome, a payment exactly at the timeout and strays', () => {
    expect(generateOrderEvents(3, 60)).toEqual(events);
    const count = (type: OrderOutcome['type']) => [...expected.outcomes, ...expected.strays].filter((o) => o.type === type).length;
    for (const type of ['shipped', 'expired', 'unshipped', 'stray'] as const) expect(count(type), type).toBeGreaterThan(0);
    // Every order has exactly one outcome.
    expect(new Set(expected.outcomes.map((o) => o.order)).size).toBe(60);
    expect(expected.outcomes).toHaveLength(60);
    const created = new Map(events.filter((e) => e.type === 'created').map((e) => [e.order, e.ts]));
    expect(events.some((e) => e.type === 'paid' && e.ts === created.get(e.order)! + PAYMENT_TIMEOUT_MS)).toBe(true);
    expect(createMachineRunner(orderMachine).path).toBe('compiled');
  });

  for (const [parallelism, path] of [
    [1, 'auto'],
    [2, 'auto'],
    [1, 'xstate'],
  ] as const)
    it(`parallelism ${parallelism}, ${path === 'auto' ? 'compiled' : 'xstate'}: every order's outcome and the stray events (side output) are the plain rule's`, async () => {
      const got = await runOrderLifecycle(env(parallelism), events, { path });
      expect(sortOutcomes(got.outcomes)).toEqual(sortOutcomes(expected.outcomes));
      expect(sortOutcomes(got.strays)).toEqual(sortOutcomes(expected.strays));
    });

  it('a shorter payment timeout: more orders expire; outputs carry the deadline as timestamp and final states free the order', async () => {
    const options = { paymentTimeoutMs: 5_000 };
    const short = generateOrderEvents(8, 30, options);
    const want = expectedOrderOutcomes(short, options);
    expect(want.outcomes.filter((o) => o.type === 'expired').length).toBeGreaterThan(0);
    const got = await runOrderLifecycle(env(2), short, options);
    expect(sortOutcomes(got.outcomes)).toEqual(sortOutcomes(want.outcomes));
    expect(sortOutcomes(got.strays)).toEqual(sortOutcomes(want.strays));

    const h = ProcessFunctionHarness.forActor(createOrderMachine(5_000), (e: OrderEvent) => e.order, { input: (order) => ({ order }), emitTo: { stray: STRAY_EVENTS } });
    await h.open();
    for (const e of short) h.processElement(e, e.ts);
    h.processWatermark(Number.MAX_SAFE_INTEGER);
    expect(sortOutcomes(h.getRecordOutput().map((r) => ({ ...(r.value as OrderOutcome), ts: r.timestamp })))).toEqual(sortOutcomes(want.outcomes.map((o) => ({ ...o, ts: o.at }))));
    expect(sortOutcomes(h.getSideOutput(STRAY_EVENTS))).toEqual(sortOutcomes(want.strays));
    for (const order of new Set(short.map((e) => e.order))) expect(h.operator.query(order), order).toBeUndefined();
  });

  it('the demo prints one line per outcome and stray event, and a summary', async () => {
    const lines: string[] = [];
    const { outcomes, strays } = await runOrderLifecycleDemo({ env: env(1), orders: 10, seed: 4, log: (l) => lines.push(l) });
    const want = expectedOrderOutcomes(generateOrderEvents(4, 10));
    expect(outcomes).toEqual(sortOutcomes(want.outcomes));
    expect(strays).toEqual(sortOutcomes(want.strays));
    expect(lines).toHaveLength(1 + outcomes.length + strays.length + 1);
    expect(lines.at(-1)).toMatch(/^\d+ shipped, \d+ expired, \d+ unshipped, \d+ stray events$/);
  });
});

// ---------------------------------------------------------------------------------------------
// device protocol
// ---------------------------------------------------------------------------------------------

describe('examples/device-protocol.ts', () => {
  const messages = generateDeviceMessages(11, 8, 60);
  const expected = expectedDeviceOutput(messages);

  it('the generated log covers every timeout, the nested sleeping state and rejected messages', () => {
    expect(generateDeviceMessages(11, 8, 60)).toEqual(messages);
    const statuses = expected.statuses.map((s) => s.status.split(' ')[0]);
    for (const s of ['connecting', 'online', 'handshake-timeout', 'sleeping', 'awake', 'offline', 'downloading', 'stalled', 'verifying', 'installed', 'verify-failed'])
      expect(statuses, s).toContain(s);
    expect(expected.rejected.length).toBeGreaterThan(0);
    expect(expected.rejected.some((r) => typeof (r.state as { connection: unknown }).connection === 'object')).toBe(true);
    expect(createMachineRunner(deviceMachine).path).toBe('compiled');
  });

  for (const [parallelism, path] of [
    [1, 'auto'],
    [2, 'auto'],
    [1, 'xstate'],
  ] as const)
    it(`parallelism ${parallelism}, ${path === 'auto' ? 'compiled' : 'xstate'}: every device's statuses and rejected messages, in order, are the plain model's`, async () => {
      const got = await runDeviceProtocol(env(parallelism), messages, { path });
      expect(byDevice(got.statuses)).toEqual(byDevice(expected.statuses));
      expect(byDevice(got.rejected)).toEqual(byDevice(expected.rejected));
    });

  it('in the harness: a handshake timeout fires by the watermark, the state is parallel and nested, unhandled messages go to the side output', async () => {
    const h = ProcessFunctionHarness.forActor(deviceMachine, (m: DeviceMessage) => m.device, { input: (device) => ({ device }), onUnhandled: 'side-output', unhandledOutput: UNHANDLED_MESSAGES });
    await h.open();
    const m = (type: 'connect' | 'handshake' | 'heartbeat', ts: number): DeviceMessage => ({ type, device: 'd', ts });
    h.processElement(m('connect', 1_000), 1_000);
    expect(h.operator.query('d')).toMatchObject({ value: { connection: 'connecting', firmware: 'idle' }, timers: [{ at: 6_000 }] });
    h.processWatermark(6_000);
    expect(h.operator.query('d')).toMatchObject({ value: { connection: 'offline', firmware: 'idle' }, timers: [] });
    h.processElement(m('handshake', 7_000), 7_000);
    h.processElement(m('connect', 8_000), 8_000);
    h.processElement(m('handshake', 9_000), 9_000);
    expect(h.operator.query('d')).toMatchObject({ value: { connection: { online: 'active' }, firmware: 'idle' }, timers: [{ at: 39_000 }] });
    expect(h.getSideOutput(UNHANDLED_MESSAGES)).toEqual([{ key: 'd', event: m('handshake', 7_000), state: { connection: 'offline', firmware: 'idle' }, record: m('handshake', 7_000) }]);
    expect(h.getOutput().map((s) => s['status'])).toEqual(['connecting', 'handshake-timeout', 'connecting', 'online']);
    expect(h.getRecordOutput()[1]!.timestamp).toBe(6_000);
  });

  it('the demo prints every device\'s statuses and rejected messages and a summary', async () => {
    const lines: string[] = [];
    const { output } = await runDeviceProtocolDemo({ env: env(2), devices: 3, events: 20, seed: 2, log: (l) => lines.push(l) });
    const want = expectedDeviceOutput(generateDeviceMessages(2, 3, 20));
    expect(byDevice(output.statuses)).toEqual(byDevice(want.statuses));
    expect(byDevice(output.rejected)).toEqual(byDevice(want.rejected));
    expect(lines.at(-1)).toBe(`${want.statuses.length} status events, ${want.rejected.length} rejected messages`);
    expect(lines.filter((l) => /^dev\d+:$/.test(l))).toEqual(['dev1:', 'dev2:', 'dev3:']);
  });
});
