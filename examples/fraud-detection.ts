// Card fraud with an actor operator: JSON transactions from NATS `cards.<card>` -> event-time timestamps -> keyBy(card) -> one xstate machine per card (a small charge arms the card for a minute, a large one within it alerts) -> JSON alerts to NATS `alerts.<card>`.
//
//   eddy run examples/fraud-detection.ts [-- --cards 20 --seed 42 --xstate]   (--xstate: run the machine on xstate, not compiled)
//   npx tsx examples/fraud-detection.ts --cards 50 --seed 7
//
// When run, it starts the job (on a private nats-server unless --nats/NATS_URL is given), publishes a
// deterministic set of simulated transactions (per seed), prints the alerts the job publishes until
// all the expected ones arrived, reads one card's machine from outside the job (queryActor), then
// cancels the job and exits. The runtime says on stderr whether the machine runs compiled or on xstate.
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { assign, emit, setup } from 'xstate';
import {
  EddyError,
  isMainModule,
  natsConnectionOptions,
  natsSink,
  redactNatsUrl,
  StreamEnvironment,
  WatermarkStrategy,
  type ActorStateView,
  type DataStream,
  type JobResult,
} from 'eddy';
import { mulberry32 } from './sensor-alerts.ts';

/** What card terminals publish to `cards.<card>`. */
export interface Transaction {
  /** `<card>-<n>`: unique per transaction. */
  id: string;
  card: string;
  /** In the card's currency, two decimals. */
  amount: number;
  /** Event time, epoch milliseconds. */
  ts: number;
}

/** What the job publishes to `alerts.<card>`: a small charge followed within a minute by a large one. */
export type FraudAlert = {
  type: 'alert';
  card: string;
  /** The small charge that armed the card, and when. */
  small: number;
  smallAt: number;
  /** The large charge, and when. */
  large: number;
  at: number;
};

/** A card's machine context. */
export type FraudContext = {
  card: string;
  /** Small charges seen so far. */
  smalls: number;
  /** Alerts raised so far. */
  alerts: number;
  /** The last small charge and its time (meaningful while armed). */
  small: number;
  smallAt: number;
};

/** The machine's events: what `toEvent` makes of a transaction. */
export type ChargeEvent = { type: 'small' | 'large' | 'charge'; amount: number; ts: number };

/** A charge below this arms the card. */
export const SMALL_BELOW = 10;
/** A charge of at least this while armed raises an alert. */
export const LARGE_FROM = 500;
/** How long a small charge keeps the card armed (event time). */
export const ARMED_MS = 60_000;

/**
 * The per-card machine. `idle --small--> armed`; in `armed`, another small charge re-arms (the minute
 * starts again: `reenter` restarts the `after` timer), a large charge emits an alert and goes back to
 * `idle`, and a minute without one goes back to `idle` (a durable event-time timer of the card).
 * Medium charges (`charge`) are handled by no state and ignored.
 */
export const fraudMachine = setup({
  types: {} as { context: FraudContext; events: ChargeEvent; input: { card: string }; emitted: FraudAlert },
  actions: {
    arm: assign({
      smalls: ({ context }) => context.smalls + 1,
      small: ({ event }) => event.amount,
      smallAt: ({ event }) => event.ts,
    }),
    alert: emit(({ context, event }): FraudAlert => ({ type: 'alert', card: context.card, small: context.small, smallAt: context.smallAt, large: event.amount, at: event.ts })),
  },
}).createMachine({
  id: 'fraud',
  context: ({ input }) => ({ card: input.card, smalls: 0, alerts: 0, small: 0, smallAt: 0 }),
  initial: 'idle',
  states: {
    idle: {
      on: { small: { target: 'armed', actions: 'arm' } },
    },
    armed: {
      after: { [ARMED_MS]: 'idle' },
      on: {
        small: { target: 'armed', reenter: true, actions: 'arm' },
        large: { target: 'idle', actions: [assign({ alerts: ({ context }) => context.alerts + 1 }), 'alert'] },
      },
    },
  },
});

/** A transaction as the machine's event. */
export function chargeEvent(t: Transaction): ChargeEvent {
  return { type: t.amount < SMALL_BELOW ? 'small' : t.amount >= LARGE_FROM ? 'large' : 'charge', amount: t.amount, ts: t.ts };
}

/** Where the job reads and writes, and the machine's path. */
export interface FraudDetectionOptions {
  /** Subject the transactions arrive on (default `cards.*`). */
  cardSubject?: string;
  /** Alerts go to `<alertSubjectPrefix>.<card>` (default `alerts`). */
  alertSubjectPrefix?: string;
  /** How far out of order transactions may arrive across cards (default 1 000 ms). */
  outOfOrdernessMs?: number;
  /** `'xstate'` runs the machine on xstate itself instead of compiled (default `'auto'`). */
  path?: 'auto' | 'xstate';
}

/** The defaults of FraudDetectionOptions. */
export const FRAUD_DETECTION_DEFAULTS = {
  cardSubject: 'cards.*',
  alertSubjectPrefix: 'alerts',
  outOfOrdernessMs: 1_000,
  path: 'auto',
} as const satisfies Required<FraudDetectionOptions>;

/** The actor operator's uid: what `client.queryActor(FRAUD_OPERATOR, card)` names. */
export const FRAUD_OPERATOR = 'fraud';

/**
 * Adds the fraud pipeline to `env` and returns the alerts stream (unbounded: run it with
 * `env.executeAsync(...)`). The source and the timestamp assigner run at parallelism 1 (a card's
 * transactions enter in publish order); the actor operator runs at the environment's parallelism.
 */
export function buildFraudDetectionJob(env: StreamEnvironment, options: FraudDetectionOptions = {}): DataStream<FraudAlert> {
  const o = { ...FRAUD_DETECTION_DEFAULTS, ...options };
  if (!Number.isInteger(o.outOfOrdernessMs) || o.outOfOrdernessMs < 0) throw new EddyError('EDDY_CONFIG', `outOfOrdernessMs must be an integer >= 0, got ${o.outOfOrdernessMs}`);
  const alerts = env
    .fromNats<Transaction>({ subject: o.cardSubject, format: 'json' })
    .setParallelism(1)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Transaction>(o.outOfOrdernessMs).withTimestampAssigner((t) => t.ts))
    .setParallelism(1)
    .keyBy((t) => t.card)
    .actor<FraudAlert>(fraudMachine, { toEvent: chargeEvent, input: (card) => ({ card }), path: o.path })
    .uid(FRAUD_OPERATOR)
    .name('Fraud per card');
  alerts.sinkTo(natsSink<FraudAlert>({ subject: (a) => `${o.alertSubjectPrefix}.${a.card}`, format: 'json' })).name('Alerts to NATS');
  return alerts;
}

const cents = (x: number): number => Math.round(x * 100) / 100;

/** Card ids c01, c02, ... (subject tokens). */
export function cardIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
}

/**
 * Deterministic transactions per seed, sorted by time (ties by card). Each card makes 4-10 moves:
 * a small charge then a large one within the minute (fraud), a small charge then a large one after
 * more than a minute (no alert: the timeout fired first), a small charge then a large one exactly a
 * minute later (no alert: the deadline is reached before the charge), two small charges then a large
 * one (re-armed), or an ordinary charge. Moves of a card are 1-90 s apart.
 */
export function generateTransactions(seed: number, cards: readonly string[], startTs = Date.UTC(2026, 0, 1)): Transaction[] {
  const rand = mulberry32(seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const small = (): number => cents(1 + rand() * (SMALL_BELOW - 1.01));
  const large = (): number => cents(LARGE_FROM + rand() * 1500);
  const medium = (): number => cents(SMALL_BELOW + rand() * (LARGE_FROM - SMALL_BELOW - 0.01));
  const all: Transaction[] = [];
  for (const card of cards) {
    let ts = startTs + between(0, 30_000);
    let n = 0;
    const push = (amount: number): void => void all.push({ id: `${card}-${++n}`, card, amount, ts });
    const moves = between(4, 10);
    for (let m = 0; m < moves; m++) {
      const roll = rand();
      if (roll < 0.3) {
        push(small());
        ts += between(1_000, ARMED_MS - 1);
        push(large());
      } else if (roll < 0.45) {
        push(small());
        ts += between(ARMED_MS + 1, 2 * ARMED_MS);
        push(large());
      } else if (roll < 0.5) {
        push(small());
        ts += ARMED_MS;
        push(large());
      } else if (roll < 0.6) {
        push(small());
        ts += between(1_000, 40_000);
        push(small());
        ts += between(1_000, 40_000);
        push(large());
      } else {
        push(rand() < 0.7 ? medium() : large());
      }
      ts += between(1_000, 90_000);
    }
  }
  return all.sort((a, b) => a.ts - b.ts || (a.card < b.card ? -1 : a.card > b.card ? 1 : 0));
}

/** A card's machine as the plain model sees it after its transactions. */
export interface CardModel {
  value: 'idle' | 'armed';
  context: FraudContext;
}

/**
 * The fraud rule in plain code, for a list of transactions in time order per card: the alerts the
 * job must publish (in transaction order) and each card's state after its last transaction (before
 * any later timeout). A card's minute runs out when its time reaches `smallAt + ARMED_MS`: before a
 * transaction at that time or later.
 */
export function expectedFraud(transactions: readonly Transaction[]): { alerts: FraudAlert[]; cards: Map<string, CardModel> } {
  const cards = new Map<string, CardModel>();
  const alerts: FraudAlert[] = [];
  for (const t of transactions) {
    let c = cards.get(t.card);
    if (c === undefined) cards.set(t.card, (c = { value: 'idle', context: { card: t.card, smalls: 0, alerts: 0, small: 0, smallAt: 0 } }));
    if (c.value === 'armed' && t.ts >= c.context.smallAt + ARMED_MS) c.value = 'idle';
    const e = chargeEvent(t);
    if (e.type === 'small') {
      c.value = 'armed';
      c.context = { ...c.context, smalls: c.context.smalls + 1, small: t.amount, smallAt: t.ts };
    } else if (e.type === 'large' && c.value === 'armed') {
      c.value = 'idle';
      c.context = { ...c.context, alerts: c.context.alerts + 1 };
      alerts.push({ type: 'alert', card: t.card, small: c.context.small, smallAt: c.context.smallAt, large: t.amount, at: t.ts });
    }
  }
  return { alerts, cards };
}

/** The expected alerts alone (see expectedFraud). */
export function expectedAlerts(transactions: readonly Transaction[]): FraudAlert[] {
  return expectedFraud(transactions).alerts;
}

/** Publishes transactions as JSON to `<subjectPrefix>.<card>`, in the given order; resolves once the server has them. */
export async function publishTransactions(nc: NatsConnection, transactions: readonly Transaction[], subjectPrefix = 'cards'): Promise<void> {
  for (const t of transactions) nc.publish(`${subjectPrefix}.${t.card}`, JSON.stringify(t));
  await nc.flush();
}

/** What the demo runs (FraudDetectionOptions plus the environment, the data and the output). */
export interface FraudDemoOptions extends FraudDetectionOptions {
  /** The environment to run on (default: StreamEnvironment.create(), i.e. eddy run's flags). */
  env?: StreamEnvironment;
  /** How many cards (default 20). */
  cards?: number;
  seed?: number;
  /** Transactions go to `<subjectPrefix>.<card>` (default `cards`). */
  subjectPrefix?: string;
  /** How long to wait for the expected alerts (default 30 000 ms). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** Starts the job, publishes the transactions, prints alerts until the expected ones arrived, queries a card, cancels: what running this file does. */
export async function runFraudDetectionDemo(
  options: FraudDemoOptions = {},
): Promise<{ published: number; alerts: FraudAlert[]; expected: FraudAlert[]; queried: ActorStateView | undefined; result: JobResult }> {
  const log = options.log ?? ((l: string) => console.log(l));
  const env = options.env ?? StreamEnvironment.create();
  const subjectPrefix = options.subjectPrefix ?? 'cards';
  const alertPrefix = options.alertSubjectPrefix ?? FRAUD_DETECTION_DEFAULTS.alertSubjectPrefix;
  const transactions = generateTransactions(options.seed ?? 42, cardIds(options.cards ?? 20));
  const expected = expectedAlerts(transactions);
  buildFraudDetectionJob(env, { ...options, cardSubject: options.cardSubject ?? `${subjectPrefix}.*` });
  const client = await env.executeAsync('fraud detection');
  const alerts: FraudAlert[] = [];
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ ...natsConnectionOptions(client.natsUrl), name: 'fraud-detection-demo' });
    nc.subscribe(`${alertPrefix}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const a = msg.json<FraudAlert>();
        alerts.push(a);
        log(`ALERT ${msg.subject}  small ${a.small.toFixed(2)} at ${new Date(a.smallAt).toISOString()}, then ${a.large.toFixed(2)} ${((a.at - a.smallAt) / 1000).toFixed(0)} s later`);
      },
    });
    await nc.flush();
    log(`job ${client.jobId} runs on ${redactNatsUrl(client.natsUrl)}; publishing ${transactions.length} transactions to ${subjectPrefix}.<card>, expecting ${expected.length} alerts`);
    await publishTransactions(nc, transactions, subjectPrefix);
    const deadline = performance.now() + (options.timeoutMs ?? 30_000);
    while (alerts.length < expected.length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const card = expected[0]?.card ?? transactions[0]?.card;
    const queried = card === undefined ? undefined : await client.queryActor(FRAUD_OPERATOR, card);
    if (queried !== undefined) log(`card ${card} now: ${JSON.stringify(queried.value)} ${JSON.stringify(queried.context)}`);
    const result = await client.cancel();
    log(`published ${transactions.length} transactions, received ${alerts.length} of ${expected.length} expected alerts; job ${result.status}`);
    return { published: transactions.length, alerts, expected, queried, result };
  } finally {
    await client.cancel();
    await nc?.close();
  }
}

function integerArg(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new EddyError('EDDY_INVALID_ARGUMENT', `--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { cards: { type: 'string' }, seed: { type: 'string' }, xstate: { type: 'boolean' } } });
  await runFraudDetectionDemo({ cards: integerArg(values.cards, 'cards', 1) ?? 20, seed: integerArg(values.seed, 'seed', 0) ?? 42, path: values.xstate === true ? 'xstate' : 'auto' });
}
