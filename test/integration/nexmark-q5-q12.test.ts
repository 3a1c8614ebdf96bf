// Nexmark q5, q7, q8, q11 over NATS equal plain reference implementations of their SQL; q12 (processing time) keeps its invariants.
import { describe, expect, inject, it } from 'vitest';
import { StreamEnvironment, WatermarkStrategy, type DataStream, type PollResult, type Source, type SourceReader } from '../../index.ts';
import { eventTime, generateEvent, nexmarkSource } from '../../bench/nexmark/generator.ts';
import { AUCTION, BID, PERSON, type Bid, type NexmarkConfig, type NexmarkEvent } from '../../bench/nexmark/model.ts';
import { nexmarkEvents, QUERIES } from '../../bench/nexmark/queries/index.ts';
import { Q5_SIZE, Q5_SLIDE, type Q5Row } from '../../bench/nexmark/queries/q5.ts';
import { Q7_SIZE, type Q7Row } from '../../bench/nexmark/queries/q7.ts';
import { Q8_SIZE, type Q8Row } from '../../bench/nexmark/queries/q8.ts';
import { Q11_GAP, type Q11Row } from '../../bench/nexmark/queries/q11.ts';
import { q12, Q12_SIZE, type Q12Row } from '../../bench/nexmark/queries/q12.ts';

const nats = inject('natsUrl');

/**
 * 50k events at 500 events per second of event time: 100 s, so 10 tumbling windows, ~50 sliding
 * windows, sessions that open and close, and persons that sell in their first window.
 */
const CONFIG: NexmarkConfig = { events: 50_000, eventsPerSecond: 500 };
const PARALLELISM = 2;

const events: NexmarkEvent[] = Array.from({ length: CONFIG.events }, (_, n) => generateEvent(CONFIG, n));
const bids: Bid[] = events.flatMap((e) => (e.kind === BID ? [e.bid] : []));

async function runQuery<T>(name: string): Promise<T[]> {
  const env = StreamEnvironment.create({ parallelism: PARALLELISM, nats, autoWatermarkIntervalMs: 20 });
  const out = QUERIES[name]!(env, nexmarkEvents(env, CONFIG)) as DataStream<T>;
  return out.executeAndCollect(`nexmark-${name}`);
}

const sortedJson = (rows: readonly unknown[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

/** Groups `xs` by a string key. */
function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const g = m.get(k);
    if (g === undefined) m.set(k, [x]);
    else g.push(x);
  }
  return m;
}

const floorTo = (t: number, size: number): number => Math.floor(t / size) * size;

// ---- Reference implementations, written from the SQL (nexmark.md and the queries' TSDoc) ----

/** q5: HOP(2 s, 10 s) count per (auction, window); per window the rows with num >= max(num). */
function q5Reference(): Q5Row[] {
  const counts = new Map<string, number>(); // "start auction" -> count
  for (const b of bids)
    for (let start = floorTo(b.dateTime, Q5_SLIDE); start > b.dateTime - Q5_SIZE; start -= Q5_SLIDE) {
      const k = `${start} ${b.auction}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  const rows = [...counts].map(([k, num]) => {
    const [start, auction] = k.split(' ').map(Number) as [number, number];
    return { auction, num, starttime: start, endtime: start + Q5_SIZE };
  });
  const out: Q5Row[] = [];
  for (const group of groupBy(rows, (r) => String(r.starttime)).values()) {
    const max = Math.max(...group.map((r) => r.num));
    out.push(...group.filter((r) => r.num >= max));
  }
  return out;
}

/** q7: bids whose price equals the max price of their tumbling 10 s window. */
function q7Reference(): Q7Row[] {
  const out: Q7Row[] = [];
  for (const group of groupBy(bids, (b) => String(floorTo(b.dateTime, Q7_SIZE))).values()) {
    const max = Math.max(...group.map((b) => b.price));
    for (const b of group) if (b.price === max) out.push({ auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime, extra: b.extra });
  }
  return out;
}

/** q8: distinct (person, window) joined with distinct (seller, window) on id = seller and the window. */
function q8Reference(): Q8Row[] {
  const sellers = new Set<string>();
  for (const e of events) if (e.kind === AUCTION) sellers.add(`${e.auction.seller} ${floorTo(e.auction.dateTime, Q8_SIZE)}`);
  const out = new Map<string, Q8Row>();
  for (const e of events) {
    if (e.kind !== PERSON) continue;
    const p = e.person;
    const starttime = floorTo(p.dateTime, Q8_SIZE);
    if (sellers.has(`${p.id} ${starttime}`)) out.set(`${p.id} ${p.name} ${starttime}`, { id: p.id, name: p.name, starttime });
  }
  return [...out.values()];
}

/** q11: per bidder, bids in time order split where the next bid comes more than the gap after the last. */
function q11Reference(): Q11Row[] {
  const out: Q11Row[] = [];
  for (const group of groupBy(bids, (b) => String(b.bidder)).values()) {
    const times = group.map((b) => b.dateTime).sort((a, b) => a - b);
    const bidder = group[0]!.bidder;
    let start = times[0]!;
    let last = start;
    let n = 0;
    for (const t of times) {
      // A session is [first, last + gap); a bid at t joins it when [t, t + gap) touches it: t <= last + gap.
      if (t > last + Q11_GAP) {
        out.push({ bidder, bidCount: n, starttime: start, endtime: last + Q11_GAP });
        start = t;
        n = 0;
      }
      last = t;
      n++;
    }
    out.push({ bidder, bidCount: n, starttime: start, endtime: last + Q11_GAP });
  }
  return out;
}

/**
 * A source that, after `inner` ended, keeps the job alive until the processing-time window open at
 * that moment (plus `slackMs` for records still in flight) has fired: processing-time windows are
 * not flushed at end of input, so without this the last window's counts would be dropped.
 */
function lingering<T>(inner: Source<T>, windowMs: number, slackMs: number): Source<T> {
  return {
    name: inner.name,
    bounded: true,
    createReader: async (ctx) => {
      const reader: SourceReader<T> = await inner.createReader(ctx);
      let until: number | undefined;
      return {
        poll(out, max): PollResult {
          if (until === undefined) {
            const r = reader.poll(out, max);
            if (r !== 'end') return r;
            // The end of the window that holds now + slack, plus time for its timer to fire and flush.
            until = floorTo(ctx.clock.now() + slackMs, windowMs) + windowMs + slackMs;
          }
          return ctx.clock.now() >= until ? 'end' : 'wait';
        },
        available: () => (until === undefined ? reader.available() : ctx.clock.sleep(Math.max(1, until - ctx.clock.now()))),
        close: () => reader.close?.(),
      };
    },
  };
}

describe('Nexmark q5, q7, q8, q11 equal plain implementations of their SQL (50k events, parallelism 2)', () => {
  it('q5 hot items: sliding 10 s / 2 s bid counts, the auctions with each window max', async () => {
    const expected = q5Reference();
    const actual = await runQuery<Q5Row>('q5');
    expect(expected.length).toBeGreaterThan(40);
    expect(sortedJson(actual)).toEqual(sortedJson(expected));
  });

  it('q7 highest bid: the bids carrying the max price of their tumbling 10 s window', async () => {
    const expected = q7Reference();
    const actual = await runQuery<Q7Row>('q7');
    expect(expected.length).toBeGreaterThanOrEqual(CONFIG.events / CONFIG.eventsPerSecond / 10);
    expect(sortedJson(actual)).toEqual(sortedJson(expected));
  });

  it('q8 new users: persons selling in the tumbling 10 s window they registered in', async () => {
    const expected = q8Reference();
    const actual = await runQuery<Q8Row>('q8');
    expect(expected.length).toBeGreaterThan(20);
    expect(sortedJson(actual)).toEqual(sortedJson(expected));
  });

  it('q11 user sessions: per bidder, sessions with a 10 s gap, count, start and end', async () => {
    const expected = q11Reference();
    const actual = await runQuery<Q11Row>('q11');
    // Both long sessions (hot bidders) and many short ones.
    expect(expected.some((r) => r.bidCount > 100)).toBe(true);
    expect(expected.filter((r) => r.bidCount === 1).length).toBeGreaterThan(10);
    expect(sortedJson(actual)).toEqual(sortedJson(expected));
  });
});

describe('Nexmark q12 (processing-time windows)', () => {
  it('counts every bid once per bidder, in 10 s windows aligned to the clock', { timeout: 90_000 }, async () => {
    const env = StreamEnvironment.create({ parallelism: PARALLELISM, nats, autoWatermarkIntervalMs: 20 });
    const source = env
      .fromSource(lingering(nexmarkSource(CONFIG), Q12_SIZE, 1_000), 'Nexmark Source')
      .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<NexmarkEvent>(100).withTimestampAssigner(eventTime));
    const rows: Q12Row[] = await q12(env, source).executeAndCollect('nexmark-q12');
    const expected = new Map<number, number>();
    for (const b of bids) expected.set(b.bidder, (expected.get(b.bidder) ?? 0) + 1);
    const actual = new Map<number, number>();
    for (const r of rows) actual.set(r.bidder, (actual.get(r.bidder) ?? 0) + r.bidCount);
    expect(actual).toEqual(expected);
    for (const r of rows) {
      expect(r.starttime % Q12_SIZE).toBe(0);
      expect(r.endtime - r.starttime).toBe(Q12_SIZE);
      expect(r.bidCount).toBeGreaterThan(0);
    }
    // One row per bidder and window.
    expect(new Set(rows.map((r) => `${r.bidder} ${r.starttime}`)).size).toBe(rows.length);
  });
});
