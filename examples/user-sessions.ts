// User sessions with event-time session windows: JSON clicks from NATS `clicks.<user>` -> validate ->
// timestamps -> keyBy(user) -> EventTimeSessionWindows(gap) -> a summary per session -> NATS `sessions.<user>`.
//
//   eddy run examples/user-sessions.ts [-- --seconds 20 --users 4 --gap 2 --seed 7]
//   npx tsx examples/user-sessions.ts --seconds 0      (0: until Ctrl-C)
//
// When run, it starts the job (on a private nats-server unless --nats/NATS_URL is given), publishes
// simulated clicks (users browse in bursts with pauses longer than the gap), prints each session as
// the job closes it, then cancels the job and exits.
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  EddyError,
  EventTimeSessionWindows,
  isMainModule,
  natsSink,
  OutputTag,
  ProcessFunction,
  ProcessWindowFunction,
  StreamEnvironment,
  WatermarkStrategy,
  type Collector,
  type DataStream,
  type JobResult,
  type ProcessContext,
  type ProcessWindowContext,
  type TimeWindow,
  natsConnectionOptions,
  redactNatsUrl,
} from 'eddy';
import { mulberry32 } from './sensor-alerts.ts';

/** What users' browsers publish to `clicks.<user>`. */
export interface Click {
  user: string;
  page: string;
  /** Epoch milliseconds. */
  ts: number;
}

/** What the job publishes to `sessions.<user>` when a session ends (no click for `gap` ms of event time). */
export interface Session {
  user: string;
  /** The first click's time. */
  start: number;
  /** The last click's time. */
  lastClick: number;
  /** The session window's end: last click + gap. */
  end: number;
  clicks: number;
  /** Distinct pages, in order of first visit. */
  pages: string[];
}

export interface UserSessionsOptions {
  /** Subject the clicks arrive on (default `clicks.*`). */
  clickSubject?: string;
  /** Sessions go to `<sessionSubjectPrefix>.<user>` (default `sessions`). */
  sessionSubjectPrefix?: string;
  /** Clicks that are not well-formed go here (default `invalid.clicks`). */
  invalidSubject?: string;
  /** A session ends after this many ms without a click (default 2 000). */
  gapMs?: number;
  /** How far out of order clicks may arrive (default 500 ms). */
  outOfOrdernessMs?: number;
}

export const USER_SESSIONS_DEFAULTS = {
  clickSubject: 'clicks.*',
  sessionSubjectPrefix: 'sessions',
  invalidSubject: 'invalid.clicks',
  gapMs: 2_000,
  outOfOrdernessMs: 500,
} as const satisfies Required<UserSessionsOptions>;

export const INVALID_CLICKS = new OutputTag<{ reason: string; value: unknown }>('invalid-clicks');

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Passes on well-formed clicks; the rest goes to INVALID_CLICKS. */
export class ValidateClicks extends ProcessFunction<unknown, Click> {
  processElement(value: unknown, ctx: ProcessContext, out: Collector<Click>): void {
    const c = value as Partial<Click> | null;
    let reason: string | undefined;
    if (c === null || typeof c !== 'object') reason = 'a click must be an object {user, page, ts}';
    else if (typeof c.user !== 'string' || !USER_ID.test(c.user)) reason = 'user must be 1-64 letters, digits, _ or -';
    else if (typeof c.page !== 'string') reason = 'page must be a string';
    else if (typeof c.ts !== 'number' || !Number.isFinite(c.ts)) reason = 'ts must be a number (epoch ms)';
    if (reason !== undefined) ctx.output(INVALID_CLICKS, { reason, value });
    else out.collect({ user: c!.user!, page: c!.page!, ts: c!.ts! });
  }
}

/** Summarizes the clicks of one session window. */
export class SummarizeSession extends ProcessWindowFunction<Click, Session, string, TimeWindow> {
  process(user: string, ctx: ProcessWindowContext<TimeWindow>, clicks: readonly Click[], out: Collector<Session>): void {
    const sorted = [...clicks].sort((a, b) => a.ts - b.ts);
    const pages: string[] = [];
    for (const c of sorted) if (!pages.includes(c.page)) pages.push(c.page);
    const w = ctx.window();
    out.collect({ user, start: w.start, lastClick: sorted.at(-1)!.ts, end: w.end, clicks: clicks.length, pages });
  }
}

/** Adds the user-sessions pipeline to `env` and returns the sessions stream (unbounded: `env.executeAsync`). */
export function buildUserSessionsJob(env: StreamEnvironment, options: UserSessionsOptions = {}): DataStream<Session> {
  const o = { ...USER_SESSIONS_DEFAULTS, ...options };
  if (!Number.isInteger(o.gapMs) || o.gapMs < 1) throw new EddyError('EDDY_CONFIG', `gapMs must be an integer >= 1, got ${o.gapMs}`);
  const clicks = env.fromNats<unknown>({ subject: o.clickSubject, format: 'json' }).setParallelism(1).process(new ValidateClicks()).name('Validate clicks').setParallelism(1);
  clicks.getSideOutput(INVALID_CLICKS).sinkTo(natsSink({ subject: o.invalidSubject, format: 'json' })).name('Invalid clicks to NATS').setParallelism(1);
  const sessions = clicks
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Click>(o.outOfOrdernessMs).withTimestampAssigner((c) => c.ts))
    .setParallelism(1)
    .keyBy((c) => c.user)
    .window(EventTimeSessionWindows.withGap(o.gapMs))
    .process(new SummarizeSession())
    .name('Sessions per user');
  sessions.sinkTo(natsSink<Session>({ subject: (s) => `${o.sessionSubjectPrefix}.${s.user}`, format: 'json' })).name('Sessions to NATS');
  return sessions;
}

const PAGES = ['home', 'search', 'product', 'cart', 'checkout', 'help'];

/**
 * Simulated users: each clicks every 100-400 ms (of wall time) for a burst of 3-12 clicks, then
 * pauses for 1.5-3.5 times the gap, so every burst is one session.
 */
export function clickSimulator(seed: number, users: readonly string[], gapMs: number): (now: number) => Click | undefined {
  const rand = mulberry32(seed);
  const state = users.map(() => ({ nextAt: 0, left: 0 }));
  let turn = 0;
  return (now) => {
    for (let k = 0; k < users.length; k++) {
      const i = (turn + k) % users.length;
      const s = state[i]!;
      if (s.nextAt > now) continue;
      if (s.left === 0) s.left = 3 + Math.floor(rand() * 10);
      s.left--;
      s.nextAt = now + (s.left === 0 ? gapMs * (1.5 + rand() * 2) : 100 + rand() * 300);
      turn = i + 1;
      return { user: users[i]!, page: PAGES[Math.floor(rand() * PAGES.length)]!, ts: now };
    }
    return undefined;
  };
}

export interface SessionsDemoOptions extends UserSessionsOptions {
  env?: StreamEnvironment;
  users?: readonly string[];
  durationMs?: number;
  seed?: number;
  subjectPrefix?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
  onClick?: (c: Click) => void;
}

/** Starts the job, publishes simulated clicks, prints sessions, cancels the job: what running this file does. */
export async function runUserSessionsDemo(options: SessionsDemoOptions = {}): Promise<{ published: number; sessions: Session[]; result: JobResult }> {
  const log = options.log ?? ((l: string) => console.log(l));
  const env = options.env ?? StreamEnvironment.create();
  const subjectPrefix = options.subjectPrefix ?? 'clicks';
  const o = { ...USER_SESSIONS_DEFAULTS, ...options, clickSubject: options.clickSubject ?? `${subjectPrefix}.*` };
  buildUserSessionsJob(env, o);
  const client = await env.executeAsync('user sessions');
  const sessions: Session[] = [];
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ ...natsConnectionOptions(client.natsUrl), name: 'user-sessions-demo' });
    nc.subscribe(`${o.sessionSubjectPrefix}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const s = msg.json<Session>();
        sessions.push(s);
        log(`SESSION ${s.user}: ${s.clicks} clicks over ${((s.lastClick - s.start) / 1000).toFixed(1)} s, pages ${s.pages.join(' > ')}`);
      },
    });
    await nc.flush();
    const duration = options.durationMs ?? 20_000;
    log(`job ${client.jobId} runs on ${redactNatsUrl(client.natsUrl)}; sessions end after ${o.gapMs} ms without clicks; ` + (duration === Infinity ? 'until Ctrl-C' : `publishing for ${(duration / 1000).toFixed(1)} s`));
    const next = clickSimulator(options.seed ?? 7, options.users ?? ['ann', 'bob', 'cy', 'dee'], o.gapMs);
    const start = Date.now();
    let published = 0;
    while (options.signal?.aborted !== true && Date.now() - start < duration) {
      const c = next(Date.now());
      if (c === undefined) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      nc.publish(`${subjectPrefix}.${c.user}`, JSON.stringify(c));
      options.onClick?.(c);
      published++;
    }
    await nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    const result = await client.cancel();
    log(`published ${published} clicks, received ${sessions.length} sessions; job ${result.status}`);
    return { published, sessions, result };
  } finally {
    await client.cancel();
    await nc?.close();
  }
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { seconds: { type: 'string' }, users: { type: 'string' }, gap: { type: 'string' }, seed: { type: 'string' } } });
  const num = (name: string, dflt: number, min: number): number => {
    const v = values[name as keyof typeof values];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new EddyError('EDDY_INVALID_ARGUMENT', `--${name} must be a number >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const seconds = num('seconds', 20, 0);
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    await runUserSessionsDemo({
      durationMs: seconds === 0 ? Infinity : seconds * 1000,
      users: Array.from({ length: Math.floor(num('users', 4, 1)) }, (_, i) => `user${i + 1}`),
      gapMs: Math.round(num('gap', 2, 0.001) * 1000),
      seed: num('seed', 7, 0),
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
