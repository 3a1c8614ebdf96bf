// The "actors" suite: the fraud machine (examples/fraud-detection.ts) as an actor operator over 100 000 cards, on the
// compiled path and on xstate, next to a hand-written plain loop with the same per-card logic, in the same run.
//   generator -> timestamps (event time) -> keyBy(card) (NATS) -> actor(fraudMachine) -> counting sink,
//   parallelism 1, checkpointing every 1 s.
// The xstate path costs tens of microseconds per event, so it runs fewer events (200 000 x scale) than the compiled
// path and the plain loop (5 000 000 x scale); rates are per event, so they compare. Every implementation's alert
// count and alert checksum are verified against the plain loop over the same events (the compiled path at both sizes).
import { StreamEnvironment, WatermarkStrategy, type Sink } from '../index.ts';
import { onJobNotice, type JobNotice } from '../src/api/job-notices.ts';
import { createMachineRunner } from '../src/machines/machine-runner.ts';
import { ARMED_MS, fraudMachine, LARGE_FROM, SMALL_BELOW, type ChargeEvent, type FraudAlert } from '../examples/fraud-detection.ts';
import type { BenchContext, Measurement, SuiteResult } from './report.ts';
import { compare, fmtRate, measure, summarize } from './report.ts';

const KEYS = 100_000;
/** Events per millisecond of event time: a card's events are on average KEYS / 2 ms = 50 s apart, so some cards wait past the 60 s minute. */
const EVENTS_PER_MS = 2;

/** One card transaction (numbers only: the generator's cost is the same for every implementation). */
interface Charge {
  card: number;
  /** Cents. */
  cents: number;
  ts: number;
}

/** A 32-bit integer hash (murmur3's finalizer on i). */
function mix(i: number): number {
  let h = Math.imul(i ^ (i >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Event i: a card drawn by hash, 30% small charges (1.00-8.99), 20% large (500.00-1999.99), the rest medium; time advances EVENTS_PER_MS per ms. */
export function charge(i: number): Charge {
  const h = mix(i ^ 0x5bd1e995);
  const roll = h % 100;
  const r = h >>> 8;
  const cents = roll < 30 ? 100 + (r % 800) : roll < 50 ? LARGE_FROM * 100 + (r % 150_000) : SMALL_BELOW * 100 + (r % ((LARGE_FROM - SMALL_BELOW) * 100));
  return { card: mix(i) % KEYS, cents, ts: Math.floor(i / EVENTS_PER_MS) };
}

/** What the actor sees: the example's event shape (`chargeEvent`), from cents. */
function toEvent(c: Charge): ChargeEvent {
  const amount = c.cents / 100;
  return { type: amount < SMALL_BELOW ? 'small' : amount >= LARGE_FROM ? 'large' : 'charge', amount, ts: c.ts };
}

/** What every implementation reports: how many alerts, and the sum of their large charges in cents. */
interface FraudCheck {
  alerts: number;
  largeCents: number;
  /** Checkpoints the job completed (eddy only; not compared). */
  checkpoints?: number;
}

const fmtCheck = (c: FraudCheck): string => `${c.alerts} alerts, large charges ${c.largeCents} cents`;

/** The job on one path (`'auto'` is compiled for this machine): the alerts its sink counted, and its completed checkpoints. */
export async function fraudEddy(ctx: Pick<BenchContext, 'natsUrl' | 'stateDir'>, n: number, path: 'auto' | 'xstate'): Promise<FraudCheck> {
  const check: FraudCheck = { alerts: 0, largeCents: 0 };
  const sink: Sink<FraudAlert> = {
    name: 'count alerts',
    createWriter: () => ({
      invoke(a: FraudAlert): void {
        check.alerts++;
        check.largeCents += Math.round(a.large * 100);
      },
    }),
  };
  const env = StreamEnvironment.create({ parallelism: 1, nats: ctx.natsUrl, stateDir: ctx.stateDir, checkpointing: { intervalMs: 1000 } });
  env
    .fromGenerator(n, charge)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Charge>().withTimestampAssigner((c) => c.ts))
    .keyBy((c) => c.card)
    .actor<FraudAlert>(fraudMachine, { toEvent, input: (card) => ({ card: String(card) }), path })
    .sinkTo(sink);
  const r = await env.execute(`bench-actors-${path}`);
  if (r.status !== 'finished') throw new Error(`actors job (${path}) ended ${r.status}: ${r.error?.message ?? ''}`);
  check.checkpoints = r.checkpoints?.completed ?? 0;
  return check;
}

/**
 * The same per-card logic by hand: a Map from card to a small state object. A card's minute runs out
 * when its time reaches the deadline, before its next event (as the actor's timers fire before a
 * key's record); a small charge (re-)arms with a new deadline; a large charge while armed alerts.
 */
export function fraudLoop(n: number): FraudCheck {
  interface Card {
    armed: boolean;
    deadline: number;
    small: number;
    smallAt: number;
    smalls: number;
    alerts: number;
  }
  const cards = new Map<number, Card>();
  let alerts = 0;
  let largeCents = 0;
  for (let i = 0; i < n; i++) {
    const c = charge(i);
    let s = cards.get(c.card);
    if (s === undefined) cards.set(c.card, (s = { armed: false, deadline: 0, small: 0, smallAt: 0, smalls: 0, alerts: 0 }));
    if (s.armed && c.ts >= s.deadline) s.armed = false;
    const amount = c.cents / 100;
    if (amount < SMALL_BELOW) {
      s.armed = true;
      s.deadline = c.ts + ARMED_MS;
      s.small = amount;
      s.smallAt = c.ts;
      s.smalls++;
    } else if (amount >= LARGE_FROM && s.armed) {
      s.armed = false;
      s.alerts++;
      alerts++;
      largeCents += c.cents;
    }
  }
  return { alerts, largeCents };
}

const same = (a: FraudCheck, b: FraudCheck): boolean => a.alerts === b.alerts && a.largeCents === b.largeCents;

/** The suite: compiled, xstate and the plain loop per run (after a warm-up), each verified against the plain loop's result. */
export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const n = Math.max(10_000, Math.round(5_000_000 * ctx.scale));
  const nx = Math.max(2_000, Math.round(200_000 * ctx.scale));
  const runs = ctx.runs;
  const runner = createMachineRunner(fraudMachine);
  if (runner.path !== 'compiled') throw new Error(`the fraud machine must run compiled, but falls back to xstate: ${runner.fallbackReason}`);

  // The runtime announces each actor operator's path when a job starts: check every run ran where it should.
  const announced: JobNotice[] = [];
  const stop = onJobNotice((x) => void (x.kind === 'actor-path' && announced.push(x)));
  const expectPath = (want: 'compiled' | 'xstate'): void => {
    const got = announced.splice(0).map((x) => (x.kind === 'actor-path' ? x.path : x.kind));
    if (got.length !== 1 || got[0] !== want) throw new Error(`expected one actor-path notice "${want}", got ${JSON.stringify(got)}`);
  };

  try {
    ctx.log(
      `actors: generator -> timestamps -> keyBy (NATS) -> actor(fraudMachine) -> sink, parallelism 1, checkpoints every 1 s, ${KEYS.toLocaleString('en-US')} cards; ` +
        `compiled and plain loop ${n.toLocaleString('en-US')} events, xstate ${nx.toLocaleString('en-US')} events; warm-up + best of ${runs}`,
    );
    const expectN = fraudLoop(n);
    const expectNx = fraudLoop(nx);
    ctx.log(`  expected: ${fmtCheck(expectN)} over ${n.toLocaleString('en-US')} events; ${fmtCheck(expectNx)} over ${nx.toLocaleString('en-US')}`);
    if (expectNx.alerts === 0) throw new Error('the xstate-sized run raises no alert: nothing would be verified');
    const verify = (who: string, got: FraudCheck, want: FraudCheck): void => {
      if (!same(got, want)) throw new Error(`actors: ${who} produced ${fmtCheck(got)}, expected ${fmtCheck(want)}`);
    };
    const compiledRuns: Measurement[] = [];
    /** The compiled path on the xstate-sized input: same events, same share of first-seen cards (machine creation) as xstate; startup weighs more. */
    const compiledSmallRuns: Measurement[] = [];
    const xstateRuns: Measurement[] = [];
    const loopRuns: Measurement[] = [];
    const perCpu = (m: Measurement): string => `${fmtRate(m.eventsPerSecond)} ev/s (${fmtRate(m.eventsPerCpuSecond)} ev/CPU-s)`;
    for (let r = 0; r <= runs; r++) {
      const c = await measure(ctx, n, () => fraudEddy(ctx, n, 'auto'));
      verify('compiled', c.check, expectN);
      expectPath('compiled');
      const x = await measure(ctx, nx, () => fraudEddy(ctx, nx, 'xstate'));
      verify('xstate', x.check, expectNx);
      expectPath('xstate');
      // All three agree on the xstate-sized input too (the compiled path is checked at both sizes).
      const cs = await measure(ctx, nx, () => fraudEddy(ctx, nx, 'auto'));
      verify(`compiled (${nx} events)`, cs.check, expectNx);
      expectPath('compiled');
      const l = await measure(ctx, n, () => fraudLoop(n));
      verify('plain loop', l.check, expectN);
      const tag = r === 0 ? 'warm-up' : `run ${r}`;
      ctx.log(
        `  ${tag.padEnd(7)} compiled ${perCpu(c.m)}  xstate ${perCpu(x.m)}  loop ${perCpu(l.m)}  compiled on xstate's ${fmtRate(nx)} events ${perCpu(cs.m)}` +
          `  (checkpoints: compiled ${c.check.checkpoints}, xstate ${x.check.checkpoints})`,
      );
      if (r > 0) {
        compiledRuns.push(c.m);
        compiledSmallRuns.push(cs.m);
        xstateRuns.push(x.m);
        loopRuns.push(l.m);
      }
    }

    const compiled = summarize('eddy compiled', compiledRuns);
    const xstate = summarize('eddy xstate', xstateRuns);
    const loop = summarize('plain loop', loopRuns);
    const compiledSmall = summarize('eddy compiled (xstate-sized input)', compiledSmallRuns);
    const CPU_TARGET = 500_000;
    ctx.log(
      `  compiled/xstate: ${(compiled.bestEventsPerSecond / xstate.bestEventsPerSecond).toFixed(1)}x events/s, ` +
        `${(compiled.bestEventsPerCpuSecond / xstate.bestEventsPerCpuSecond).toFixed(1)}x events per CPU-second (target >= 25x); ` +
        `on the same ${fmtRate(nx)} events: ${(compiledSmall.bestEventsPerSecond / xstate.bestEventsPerSecond).toFixed(1)}x events/s, ` +
        `${(compiledSmall.bestEventsPerCpuSecond / xstate.bestEventsPerCpuSecond).toFixed(1)}x events per CPU-second`,
    );
    ctx.log(
      `  compiled: ${fmtRate(compiled.bestEventsPerCpuSecond)} events per CPU-second, nats-server included (target >= ${fmtRate(CPU_TARGET)}: ${compiled.bestEventsPerCpuSecond >= CPU_TARGET ? 'met' : 'MISSED'})`,
    );
    return {
      suite: 'actors',
      params: {
        keys: KEYS,
        compiledAndLoopEvents: n,
        xstateEvents: nx,
        note: 'xstate runs fewer events than the compiled path and the loop (it is ~25-50x slower); rates are per event',
        eventsPerMsOfEventTime: EVENTS_PER_MS,
        armedMs: ARMED_MS,
        checkpointIntervalMs: 1000,
        parallelism: 1,
        runs,
        alerts: expectN.alerts,
        compiledEventsPerCpuSecondTarget: CPU_TARGET,
      },
      comparisons: [
        compare({
          name: 'compiled-vs-loop',
          description: 'fraud machine, 100k cards: actor operator on the compiled path (keyBy over NATS, keyed state, event-time timers, checkpoints every 1 s) vs a plain Map loop',
          eddy: compiled,
          baseline: loop,
          // The loop is the logic alone in one tight loop (~7-8 M events/s here): no records, no NATS hop, no
          // keyed-state backend, no timer service, no watermarks, no checkpoints. 25% of it is out of reach for
          // any runtime that keeps durable per-key state and timers. The suite's absolute goal (500 k events per
          // CPU-second, nats-server included, at a little over one busy core) is about 6-8% of the loop's rate;
          // 10% is the goal this comparison holds the compiled path to, a bit beyond that.
          target: 0.1,
        }),
        compare({
          name: 'compiled-vs-xstate',
          description: 'the same job on the compiled path vs on xstate itself (path: xstate), per event',
          eddy: compiled,
          baseline: xstate,
          target: 25,
        }),
      ],
    };
  } finally {
    stop();
  }
}
