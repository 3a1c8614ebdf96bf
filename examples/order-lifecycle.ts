// Order lifecycle with an actor operator: order events (created, paid, shipped) -> event-time timestamps -> keyBy(order) -> one xstate machine per order with payment and shipping deadlines -> one outcome per order (shipped, expired, unshipped), stray events to a side output.
//
//   eddy run examples/order-lifecycle.ts [-- --orders 40 --seed 3 --payment-timeout 30 --xstate]   (--xstate: run the machine on xstate, not compiled)
//   npx tsx examples/order-lifecycle.ts --orders 10
//
// A bounded job: it generates a deterministic set of order events (per seed), runs them through the
// machine, prints each order's outcome and the stray events, and finishes by itself. An order not paid
// within the payment timeout (event time) expires; a paid order not shipped within the shipping
// deadline ends `unshipped`; both are top-level final states, which free the order's state. At the
// end of input every pending deadline fires, so every order gets an outcome.
import { parseArgs } from 'node:util';
import { assign, emit, setup } from 'xstate';
import { EddyError, isMainModule, OutputTag, StreamEnvironment, WatermarkStrategy, type DataStream } from 'eddy';
import { mulberry32 } from './sensor-alerts.ts';

/** What the shop publishes: already machine events (a string `type`), so no `toEvent` is needed. */
export type OrderEvent = {
  type: 'created' | 'paid' | 'shipped';
  order: string;
  /** On `created`. */
  amount?: number;
  /** Event time, epoch milliseconds. */
  ts: number;
};

/** What the machine emits: one final outcome per order life, or a stray event. */
export type OrderOutcome =
  | { type: 'shipped'; order: string; amount: number; createdAt: number; paidAt: number; at: number }
  | { type: 'expired'; order: string; amount: number; createdAt: number; at: number }
  | { type: 'unshipped'; order: string; amount: number; paidAt: number; at: number }
  /** A `paid` or `shipped` event for an order that is not open (it expired, or was never created): the side output. */
  | { type: 'stray'; order: string; event: 'created' | 'paid' | 'shipped'; at: number };

/** An order machine's context. */
export type OrderContext = { order: string; amount: number; createdAt: number; paidAt: number };

/** Default payment timeout: 30 s of event time after `created`. */
export const PAYMENT_TIMEOUT_MS = 30_000;
/** Default shipping deadline: 10 minutes of event time after `paid`. */
export const SHIPPING_DEADLINE_MS = 600_000;

/** Stray events (`emit`ted with type 'stray') go here instead of the main output (`emitTo`). */
export const STRAY_EVENTS = new OutputTag<Extract<OrderOutcome, { type: 'stray' }>>('stray-order-events');

/**
 * The order machine: `new --created--> awaitingPayment --paid--> paid --shipped--> shipped` (final),
 * `awaitingPayment` after `paymentTimeoutMs` -> `expired` (final), `paid` after `shippingDeadlineMs`
 * -> `unshipped` (final). A first event other than `created` (e.g. a payment after the order
 * expired: the expired order's state was freed, so the payment meets a new machine) -> `stray` (final).
 */
export function createOrderMachine(paymentTimeoutMs = PAYMENT_TIMEOUT_MS, shippingDeadlineMs = SHIPPING_DEADLINE_MS) {
  return setup({
    types: {} as { context: OrderContext; events: OrderEvent; input: { order: string }; emitted: OrderOutcome },
  }).createMachine({
    id: 'order',
    context: ({ input }) => ({ order: input.order, amount: 0, createdAt: 0, paidAt: 0 }),
    initial: 'new',
    states: {
      new: {
        on: {
          created: { target: 'awaitingPayment', actions: assign({ amount: ({ event }) => event.amount ?? 0, createdAt: ({ event }) => event.ts }) },
          paid: 'stray',
          shipped: 'stray',
        },
      },
      awaitingPayment: {
        after: { [paymentTimeoutMs]: 'expired' },
        on: { paid: { target: 'paid', actions: assign({ paidAt: ({ event }) => event.ts }) } },
      },
      paid: {
        after: { [shippingDeadlineMs]: 'unshipped' },
        on: { shipped: 'shipped' },
      },
      shipped: {
        type: 'final',
        entry: emit(({ context, event }) => ({ type: 'shipped' as const, order: context.order, amount: context.amount, createdAt: context.createdAt, paidAt: context.paidAt, at: event.ts })),
      },
      expired: {
        type: 'final',
        entry: emit(({ context }) => ({ type: 'expired' as const, order: context.order, amount: context.amount, createdAt: context.createdAt, at: context.createdAt + paymentTimeoutMs })),
      },
      unshipped: {
        type: 'final',
        entry: emit(({ context }) => ({ type: 'unshipped' as const, order: context.order, amount: context.amount, paidAt: context.paidAt, at: context.paidAt + shippingDeadlineMs })),
      },
      stray: {
        type: 'final',
        entry: emit(({ context, event }) => ({ type: 'stray' as const, order: context.order, event: event.type, at: event.ts })),
      },
    },
  });
}

/** The machine with the default deadlines. */
export const orderMachine = createOrderMachine();

/** Deadlines and the machine's path. */
export interface OrderLifecycleOptions {
  paymentTimeoutMs?: number;
  shippingDeadlineMs?: number;
  /** `'xstate'` runs the machine on xstate itself instead of compiled (default `'auto'`). */
  path?: 'auto' | 'xstate';
}

/**
 * Adds the order pipeline over `events` (in time order) to `env`: the outcomes stream (shipped,
 * expired, unshipped) and the stray events (the side output STRAY_EVENTS).
 */
export function buildOrderLifecycleJob(
  env: StreamEnvironment,
  events: readonly OrderEvent[],
  options: OrderLifecycleOptions = {},
): { outcomes: DataStream<OrderOutcome>; strays: DataStream<Extract<OrderOutcome, { type: 'stray' }>> } {
  const payment = options.paymentTimeoutMs ?? PAYMENT_TIMEOUT_MS;
  const shipping = options.shippingDeadlineMs ?? SHIPPING_DEADLINE_MS;
  for (const [name, v] of [
    ['paymentTimeoutMs', payment],
    ['shippingDeadlineMs', shipping],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new EddyError('EDDY_CONFIG', `${name} must be an integer >= 1, got ${v}`);
  const machine = payment === PAYMENT_TIMEOUT_MS && shipping === SHIPPING_DEADLINE_MS ? orderMachine : createOrderMachine(payment, shipping);
  const outcomes = env
    .fromCollection(events)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<OrderEvent>().withTimestampAssigner((e) => e.ts))
    // With the source's parallelism (1): a wider assigner would get records round-robin and mix up each order's events.
    .setParallelism(1)
    .keyBy((e) => e.order)
    .actor<OrderOutcome>(machine, { input: (order) => ({ order }), emitTo: { stray: STRAY_EVENTS }, path: options.path ?? 'auto' })
    .uid('orders')
    .name('Order lifecycle');
  return { outcomes, strays: outcomes.getSideOutput(STRAY_EVENTS) };
}

/** Runs the job to its end and returns what it produced: outcomes (main output) and strays (side output), as collected (order across orders is not defined). */
export async function runOrderLifecycle(
  env: StreamEnvironment,
  events: readonly OrderEvent[],
  options: OrderLifecycleOptions = {},
): Promise<{ outcomes: OrderOutcome[]; strays: OrderOutcome[] }> {
  const { outcomes, strays } = buildOrderLifecycleJob(env, events, options);
  // One collected stream: each record tagged with the output it came from.
  type Tagged = { from: 'main' | 'side'; o: OrderOutcome };
  const all = await outcomes
    .map((o): Tagged => ({ from: 'main', o }))
    .union(strays.map((o): Tagged => ({ from: 'side', o })))
    .executeAndCollect();
  return { outcomes: all.filter((x) => x.from === 'main').map((x) => x.o), strays: all.filter((x) => x.from === 'side').map((x) => x.o) };
}

/**
 * Deterministic order events per seed, in time order (ties by order id, then created < paid <
 * shipped). Orders o001.. are created 0-10 minutes apart from `startTs`. Most are paid within the
 * timeout and shipped within the deadline; some are never paid (expire), paid exactly at the
 * timeout or later (expire, and the payment is stray), never shipped (unshipped), or shipped late
 * (unshipped, and the shipment is stray).
 */
export function generateOrderEvents(seed: number, orders: number, options: OrderLifecycleOptions & { startTs?: number } = {}): OrderEvent[] {
  const payment = options.paymentTimeoutMs ?? PAYMENT_TIMEOUT_MS;
  const shipping = options.shippingDeadlineMs ?? SHIPPING_DEADLINE_MS;
  const rand = mulberry32(seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const events: OrderEvent[] = [];
  for (let i = 0; i < orders; i++) {
    const order = `o${String(i + 1).padStart(3, '0')}`;
    const created = (options.startTs ?? Date.UTC(2026, 0, 1)) + between(0, 600_000);
    events.push({ type: 'created', order, amount: Math.round(rand() * 50_000) / 100, ts: created });
    const roll = rand();
    let paidAt: number | undefined;
    if (roll < 0.6) paidAt = created + between(1_000, payment - 1);
    else if (roll < 0.7) paidAt = created + payment;
    else if (roll < 0.85) paidAt = created + between(payment + 1, 3 * payment);
    if (paidAt === undefined) continue;
    events.push({ type: 'paid', order, ts: paidAt });
    const ship = rand();
    if (ship < 0.75) events.push({ type: 'shipped', order, ts: paidAt + between(1_000, shipping - 1) });
    else if (ship < 0.9) events.push({ type: 'shipped', order, ts: paidAt + between(shipping, 2 * shipping) });
  }
  const rank = { created: 0, paid: 1, shipped: 2 } as const;
  return events.sort((a, b) => a.ts - b.ts || (a.order < b.order ? -1 : a.order > b.order ? 1 : rank[a.type] - rank[b.type]));
}

/**
 * The order rule in plain code, for events in time order: every outcome and stray event, in the
 * order they happen per order. A deadline fires when an order's time reaches it (before an event
 * at that time), and at the end of input.
 */
export function expectedOrderOutcomes(events: readonly OrderEvent[], options: OrderLifecycleOptions = {}): { outcomes: OrderOutcome[]; strays: OrderOutcome[] } {
  const payment = options.paymentTimeoutMs ?? PAYMENT_TIMEOUT_MS;
  const shipping = options.shippingDeadlineMs ?? SHIPPING_DEADLINE_MS;
  type Open = { state: 'awaitingPayment' | 'paid'; amount: number; createdAt: number; paidAt: number; deadline: number };
  const open = new Map<string, Open>();
  const outcomes: OrderOutcome[] = [];
  const strays: OrderOutcome[] = [];
  const expire = (order: string, o: Open): void => {
    open.delete(order);
    if (o.state === 'awaitingPayment') outcomes.push({ type: 'expired', order, amount: o.amount, createdAt: o.createdAt, at: o.deadline });
    else outcomes.push({ type: 'unshipped', order, amount: o.amount, paidAt: o.paidAt, at: o.deadline });
  };
  for (const e of events) {
    const o = open.get(e.order);
    if (o !== undefined && e.ts >= o.deadline) expire(e.order, o);
    const cur = open.get(e.order);
    if (cur === undefined) {
      if (e.type === 'created') open.set(e.order, { state: 'awaitingPayment', amount: e.amount ?? 0, createdAt: e.ts, paidAt: 0, deadline: e.ts + payment });
      else strays.push({ type: 'stray', order: e.order, event: e.type, at: e.ts });
    } else if (cur.state === 'awaitingPayment' && e.type === 'paid') {
      cur.state = 'paid';
      cur.paidAt = e.ts;
      cur.deadline = e.ts + shipping;
    } else if (cur.state === 'paid' && e.type === 'shipped') {
      open.delete(e.order);
      outcomes.push({ type: 'shipped', order: e.order, amount: cur.amount, createdAt: cur.createdAt, paidAt: cur.paidAt, at: e.ts });
    }
  }
  for (const [order, o] of [...open]) expire(order, o);
  return { outcomes, strays };
}

/** Sorts outcomes by order, then time, then type: the order a test compares in (order across orders is not defined). */
export function sortOutcomes<T extends OrderOutcome>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : a.at - b.at || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)));
}

/** One line per outcome. */
export function describeOutcome(o: OrderOutcome): string {
  const t = (ms: number): string => new Date(ms).toISOString().slice(11, 19);
  switch (o.type) {
    case 'shipped':
      return `${o.order} shipped at ${t(o.at)} (${o.amount.toFixed(2)}, created ${t(o.createdAt)}, paid ${t(o.paidAt)})`;
    case 'expired':
      return `${o.order} expired at ${t(o.at)}: not paid within the timeout (created ${t(o.createdAt)})`;
    case 'unshipped':
      return `${o.order} unshipped at ${t(o.at)}: paid ${t(o.paidAt)} but not shipped by the deadline`;
    case 'stray':
      return `${o.order} stray "${o.event}" at ${t(o.at)}: the order is not open`;
  }
}

/** What the demo runs: the environment (default: StreamEnvironment.create(), i.e. eddy run's flags), how many orders, the seed. */
export interface OrderDemoOptions extends OrderLifecycleOptions {
  env?: StreamEnvironment;
  orders?: number;
  seed?: number;
  log?: (line: string) => void;
}

/** Generates the events, runs the job to its end, prints each order's outcome and the strays: what running this file does. */
export async function runOrderLifecycleDemo(options: OrderDemoOptions = {}): Promise<{ events: OrderEvent[]; outcomes: OrderOutcome[]; strays: OrderOutcome[] }> {
  const log = options.log ?? ((l: string) => console.log(l));
  const env = options.env ?? StreamEnvironment.create();
  const events = generateOrderEvents(options.seed ?? 3, options.orders ?? 40, options);
  log(`running ${events.length} events of ${options.orders ?? 40} orders (payment timeout ${(options.paymentTimeoutMs ?? PAYMENT_TIMEOUT_MS) / 1000} s, shipping deadline ${(options.shippingDeadlineMs ?? SHIPPING_DEADLINE_MS) / 1000} s)`);
  const { outcomes, strays } = await runOrderLifecycle(env, events, options);
  for (const o of sortOutcomes([...outcomes, ...strays])) log(describeOutcome(o));
  const count = (type: OrderOutcome['type']): number => outcomes.filter((o) => o.type === type).length;
  log(`${count('shipped')} shipped, ${count('expired')} expired, ${count('unshipped')} unshipped, ${strays.length} stray events`);
  return { events, outcomes: sortOutcomes(outcomes), strays: sortOutcomes(strays) };
}

function integerArg(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new EddyError('EDDY_INVALID_ARGUMENT', `--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { orders: { type: 'string' }, seed: { type: 'string' }, 'payment-timeout': { type: 'string' }, xstate: { type: 'boolean' } } });
  const timeout = integerArg(values['payment-timeout'], 'payment-timeout', 1);
  await runOrderLifecycleDemo({
    orders: integerArg(values.orders, 'orders', 1) ?? 40,
    seed: integerArg(values.seed, 'seed', 0) ?? 3,
    ...(timeout === undefined ? {} : { paymentTimeoutMs: timeout * 1000 }),
    path: values.xstate === true ? 'xstate' : 'auto',
  });
}
