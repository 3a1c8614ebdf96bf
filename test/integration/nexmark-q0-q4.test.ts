// Nexmark q0-q4 on a real nats-server at parallelism 2: each query's output equals a plain implementation of its SQL over the same events.
import { describe, expect, inject, it } from 'vitest';
import { StreamEnvironment } from '../../index.ts';
import { generateEvent } from '../../bench/nexmark/generator.ts';
import { AUCTION, PERSON, type Auction, type Bid, type NexmarkConfig, type Person } from '../../bench/nexmark/model.ts';
import { QUERIES, nexmarkEvents } from '../../bench/nexmark/queries/index.ts';
import { DOLLAR_TO_EURO } from '../../bench/nexmark/queries/q1.ts';
import { Q3_CATEGORY, Q3_STATES } from '../../bench/nexmark/queries/q3.ts';
import type { Q4Row } from '../../bench/nexmark/queries/q4.ts';

const nats = inject('natsUrl');
const N = 50_000;
/**
 * 10,000 events/s of event time: 50k events span 5 s and an auction runs ~170 ms (the horizon of
 * 100 auctions), so q4's bids meet their auctions often. `FAST` is the reference suite's rate,
 * where auctions last a millisecond or two.
 */
const SLOW: NexmarkConfig = { events: N, eventsPerSecond: 10_000, seed: 11 };
const FAST: NexmarkConfig = { events: N, eventsPerSecond: 10_000_000, seed: 12 };

function tables(cfg: NexmarkConfig): { persons: Person[]; auctions: Auction[]; bids: Bid[] } {
  const persons: Person[] = [];
  const auctions: Auction[] = [];
  const bids: Bid[] = [];
  for (let n = 0; n < cfg.events; n++) {
    const e = generateEvent(cfg, n);
    if (e.kind === PERSON) persons.push(e.person);
    else if (e.kind === AUCTION) auctions.push(e.auction);
    else bids.push(e.bid);
  }
  return { persons, auctions, bids };
}

/** Runs query `name` over the events of `cfg` at parallelism 2 and collects its output. */
async function run<T>(name: string, cfg: NexmarkConfig): Promise<T[]> {
  const env = StreamEnvironment.create({ parallelism: 2, nats, autoWatermarkIntervalMs: 20 });
  return (await QUERIES[name]!(env, nexmarkEvents(env, cfg)).executeAndCollect(`nexmark ${name}`)) as T[];
}

/** A multiset as a sorted list of JSON strings. */
const bag = (rows: readonly unknown[]) => rows.map((r) => JSON.stringify(r)).sort();

/** q4's SQL, plainly: max price per auction over bids in [dateTime, expires], averaged per category. */
function q4Reference(cfg: NexmarkConfig): Map<number, number> {
  const { auctions, bids } = tables(cfg);
  const byId = new Map(auctions.map((a) => [a.id, a]));
  const max = new Map<number, number>();
  for (const b of bids) {
    const a = byId.get(b.auction);
    if (a !== undefined && b.dateTime >= a.dateTime && b.dateTime <= a.expires) max.set(a.id, Math.max(max.get(a.id) ?? -Infinity, b.price));
  }
  const sum = new Map<number, [number, number]>();
  for (const [id, m] of max) {
    const c = byId.get(id)!.category;
    const [s, k] = sum.get(c) ?? [0, 0];
    sum.set(c, [s + m, k + 1]);
  }
  return new Map([...sum].map(([c, [s, k]]) => [c, s / k]));
}

/** The last row per category: an updating query's final result. */
const finalPerCategory = (rows: readonly Q4Row[]) => new Map(rows.map((r) => [r.category, r.avg]));

describe('Nexmark q0-q4 (50k events, parallelism 2) equal plain implementations of their SQL', () => {
  const slow = tables(SLOW);

  it('q0 passes every bid through as (auction, bidder, price, dateTime, extra)', async () => {
    const out = await run('q0', SLOW);
    expect(out.length).toBe((N * 46) / 50);
    expect(bag(out)).toEqual(bag(slow.bids.map((b) => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra }))));
  });

  it('q1 converts every price with 0.908 * price', async () => {
    const out = await run('q1', SLOW);
    expect(bag(out)).toEqual(bag(slow.bids.map((b) => ({ auction: b.auction, bidder: b.bidder, price: DOLLAR_TO_EURO * b.price, dateTime: b.dateTime, extra: b.extra }))));
  });

  it('q2 keeps (auction, price) of the bids with auction % 123 == 0', async () => {
    const out = await run('q2', SLOW);
    const expected = slow.bids.filter((b) => b.auction % 123 === 0).map((b) => ({ auction: b.auction, price: b.price }));
    expect(expected.length).toBeGreaterThan(100);
    expect(bag(out)).toEqual(bag(expected));
  });

  it('q3 joins category-10 auctions with their sellers from OR, ID, CA, each match once', async () => {
    const out = await run('q3', SLOW);
    const people = new Map(slow.persons.map((p) => [p.id, p]));
    const expected = slow.auctions.flatMap((a) => {
      const p = people.get(a.seller);
      return a.category === Q3_CATEGORY && p !== undefined && Q3_STATES.has(p.state) ? [{ name: p.name, city: p.city, state: p.state, id: a.id }] : [];
    });
    expect(expected.length).toBeGreaterThan(300);
    // Some sellers come after their auction (sellers are named up to 10 persons ahead): the join must wait for them.
    const auctionTime = new Map(slow.auctions.map((a) => [a.id, a.dateTime]));
    const sellerTime = new Map(slow.auctions.map((a) => [a.id, people.get(a.seller)?.dateTime]));
    expect(expected.filter((r) => sellerTime.get(r.id)! > auctionTime.get(r.id)!).length).toBeGreaterThan(0);
    expect(bag(out)).toEqual(bag(expected));
  });

  it('q4 ends with the average winning price per category, at 10k and 10M events/s of event time', async () => {
    const [slowOut, fastOut] = await Promise.all([run<Q4Row>('q4', SLOW), run<Q4Row>('q4', FAST)]);
    const slowRef = q4Reference(SLOW);
    const fastRef = q4Reference(FAST);
    expect(slowRef.size).toBe(5);
    expect(finalPerCategory(slowOut)).toEqual(slowRef);
    expect(finalPerCategory(fastOut)).toEqual(fastRef);
    // Updating: one row per closed auction that had a bid in time.
    const winners = (cfg: NexmarkConfig) => {
      const { auctions, bids } = tables(cfg);
      const byId = new Map(auctions.map((a) => [a.id, a]));
      const inTime = (b: Bid) => {
        const a = byId.get(b.auction);
        return a !== undefined && b.dateTime >= a.dateTime && b.dateTime <= a.expires;
      };
      return new Set(bids.filter(inTime).map((b) => b.auction)).size;
    };
    expect(slowOut.length).toBe(winners(SLOW));
    expect(fastOut.length).toBe(winners(FAST));
    expect(winners(FAST)).toBeGreaterThan(200);
  });
});
