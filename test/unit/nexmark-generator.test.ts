// The Nexmark generator: deterministic per event, the 1:3:46 mix, ids and hot ratios as nexmark.md states, and a source whose splits replay exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CITIES,
  FIRST_AUCTION_ID,
  FIRST_PERSON_ID,
  HOT_CHANNELS,
  STATES,
  eventDraws,
  eventSeed,
  eventTime,
  eventTimestamp,
  generateEvent,
  lastBase0AuctionId,
  lastBase0PersonId,
  nexmarkGenerator,
  nexmarkSource,
} from '../../bench/nexmark/generator.ts';
import { AUCTION, BID, PERSON, type Auction, type Bid, type NexmarkConfig, type NexmarkEvent, type Person } from '../../bench/nexmark/model.ts';
import type { OperatorContext } from '../../src/operators/operator.ts';
import type { SourceReader } from '../../src/connectors/source.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { createRandom } from '../../src/time/random.ts';

const N = 50_000;
const config: NexmarkConfig = { events: N, eventsPerSecond: 10_000, seed: 7 };
const events: NexmarkEvent[] = Array.from({ length: N }, (_, n) => generateEvent(config, n));
const persons = events.flatMap((e) => (e.kind === PERSON ? [e.person] : []));
const auctions = events.flatMap((e) => (e.kind === AUCTION ? [e.auction] : []));
const bids = events.flatMap((e, n) => (e.kind === BID ? [[n, e.bid] as const] : []));

describe('generateEvent', () => {
  it('is a pure function of (config, event number): same values for an equal config, in any order; another seed differs', () => {
    const copy: NexmarkConfig = { ...config };
    for (const n of [49_999, 0, 1, 17, 12_345, 4]) expect(generateEvent(copy, n)).toEqual(events[n]);
    expect(nexmarkGenerator(config)(777)).toEqual(events[777]);
    const other = Array.from({ length: 200 }, (_, n) => generateEvent({ ...config, seed: 8 }, n));
    expect(other.filter((e, n) => JSON.stringify(e) === JSON.stringify(events[n])).length).toBeLessThan(5);
  });

  it("draws from the repo's mulberry32 seeded per event", () => {
    for (const n of [0, 1, 2 ** 40 + 3]) {
      const r = createRandom(eventSeed(7, n));
      expect(eventDraws(7, n, 5)).toEqual([r(), r(), r(), r(), r()]);
    }
    expect(eventSeed(7, 1)).not.toBe(eventSeed(7, 2));
    expect(eventSeed(7, 1)).not.toBe(eventSeed(7, 1 + 2 ** 32));
  });

  it('mixes persons, auctions and bids 1:3:46 by n % 50', () => {
    expect(events.filter((e, n) => e.kind !== (n % 50 < 1 ? PERSON : n % 50 < 4 ? AUCTION : BID))).toEqual([]);
    expect([persons.length, auctions.length, bids.length]).toEqual([N / 50, (3 * N) / 50, (46 * N) / 50]);
  });

  it('numbers persons and auctions consecutively from 1000; timestamps follow the event rate', () => {
    expect(persons.map((p) => p.id)).toEqual(persons.map((_, i) => FIRST_PERSON_ID + i));
    expect(auctions.map((a) => a.id)).toEqual(auctions.map((_, i) => FIRST_AUCTION_ID + i));
    expect(events.filter((e, n) => eventTime(e) !== eventTimestamp(config, n))).toEqual([]);
    // 10,000 events/s: event n at baseTime + floor(n / 10) ms.
    expect(eventTime(events[49_999]!) - eventTime(events[0]!)).toBe(4999);
    // The rate 1e7/s (interEventDelayUs 0.1) has no rounding drift: 10,000 events per ms exactly.
    const fast: NexmarkConfig = { events: 1, eventsPerSecond: 10_000_000, baseTime: 0 };
    expect([9_999, 10_000, 29_999_999, 30_000_000].map((n) => eventTimestamp(fast, n))).toEqual([0, 1, 2_999, 3_000]);
  });

  it('keeps every field in its documented range', () => {
    const okPerson = (p: Person) =>
      CITIES.includes(p.city) && STATES.includes(p.state) && /^[a-z]{7}@[a-z]{5}\.com$/.test(p.emailAddress) && /^(\d{4} ){3}\d{4}$/.test(p.creditCard) && /^[A-Z][a-z]+ [A-Z][a-z]+$/.test(p.name) && typeof p.extra === 'string';
    expect(persons.filter((p) => !okPerson(p))).toEqual([]);
    const okAuction = (a: Auction, i: number) =>
      a.category >= 10 && a.category <= 14 && a.expires > a.dateTime && a.reserve > a.initialBid && a.initialBid >= 100 && a.itemName.length >= 3 && a.itemName.length < 20 &&
      a.description.length < 100 && typeof a.extra === 'string' && a.seller >= FIRST_PERSON_ID && a.seller <= FIRST_PERSON_ID + Math.floor((i * 50) / 50 / 3) + 10;
    expect(auctions.filter((a, i) => !okAuction(a, i))).toEqual([]);
    const badBid = ([n, b]: readonly [number, Bid]) => {
      const last = lastBase0AuctionId(n) + FIRST_AUCTION_ID;
      return (
        b.auction < Math.max(FIRST_AUCTION_ID, last - 100) ||
        b.auction > last + 10 ||
        b.bidder < FIRST_PERSON_ID ||
        b.bidder > lastBase0PersonId(n) + FIRST_PERSON_ID + 10 ||
        !Number.isInteger(b.price) ||
        b.price < 100 ||
        b.price > 1e8 ||
        typeof b.extra !== 'string'
      );
    };
    expect(bids.filter(badBid)).toEqual([]);
    // Every category and state occurs; prices are log-uniform (median about 10^3 * 100).
    expect(new Set(auctions.map((a) => a.category)).size).toBe(5);
    expect(new Set(persons.map((p) => p.state)).size).toBe(6);
    const prices = bids.map(([, b]) => b.price).sort((x, y) => x - y);
    expect(prices[prices.length >> 1]).toBeGreaterThan(70_000);
    expect(prices[prices.length >> 1]).toBeLessThan(140_000);
  });

  it('sends about half the bids to the hot auction, 3/4 to hot bidders, half to the 4 hot channels; 3/4 of auctions to hot sellers', () => {
    const share = <T>(xs: readonly T[], p: (x: T) => boolean) => xs.filter(p).length / xs.length;
    // A hot pick is exact; a uniform pick lands on the hot id too now and then (about 1 in 100).
    expect(share(bids, ([n, b]) => b.auction === Math.floor(lastBase0AuctionId(n) / 100) * 100 + FIRST_AUCTION_ID)).toBeCloseTo(0.5, 1);
    expect(share(bids, ([n, b]) => b.bidder === Math.floor(lastBase0PersonId(n) / 100) * 100 + 1 + FIRST_PERSON_ID)).toBeCloseTo(0.75, 1);
    expect(share(auctions, (a) => a.seller === Math.floor((a.id - FIRST_AUCTION_ID) / 3 / 100) * 100 + FIRST_PERSON_ID)).toBeCloseTo(0.75, 1);
    expect(share(bids, ([, b]) => HOT_CHANNELS.includes(b.channel))).toBeCloseTo(0.5, 1);
    for (const c of HOT_CHANNELS) expect(share(bids, ([, b]) => b.channel === c)).toBeCloseTo(0.125, 1);
    // A hot channel always has the same url; ordinary channels are "channel-i".
    const urls = new Map<string, Set<string>>();
    for (const [, b] of bids) urls.set(b.channel, (urls.get(b.channel) ?? new Set()).add(b.url));
    for (const c of HOT_CHANNELS) expect(urls.get(c)!.size).toBe(1);
    expect(bids.every(([, b]) => HOT_CHANNELS.includes(b.channel) || /^channel-\d{1,4}$/.test(b.channel))).toBe(true);
  });

  it('pads events to the average sizes of nexmark.md (person ~200, auction ~500, bid ~100 bytes of fields)', () => {
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(avg(bids.map(([, b]: readonly [number, Bid]) => 32 + b.extra.length))).toBeCloseTo(100, -1);
    expect(avg(auctions.map((a) => 48 + 8 + a.itemName.length + a.description.length + a.extra.length))).toBeCloseTo(500, -1);
    expect(avg(persons.map((p) => 8 + p.name.length + p.emailAddress.length + p.creditCard.length + p.city.length + p.state.length + p.extra.length))).toBeCloseTo(200, -1);
  });

  it('lets auctions run for about the event time of the next 100 auctions', () => {
    // 100 auctions = 1666 events = 166.6 ms at 10,000 events/s; expiry is uniform in (0, 2 * horizon].
    const lengths = auctions.map((a) => a.expires - a.dateTime);
    const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    expect(mean).toBeGreaterThan(150);
    expect(mean).toBeLessThan(185);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(2 * 167);
  });
});

/** A reader of `nexmarkSource(cfg)` as subtask `i` of `p`, outside any job. */
async function reader(cfg: NexmarkConfig, i: number, p: number, clock = new ManualClock()): Promise<SourceReader<NexmarkEvent>> {
  const ctx = { subtaskIndex: i, parallelism: p, clock } as unknown as OperatorContext;
  return nexmarkSource(cfg).createReader(ctx);
}

describe('nexmarkSource', () => {
  it('splits, snapshots and restores at another parallelism without losing or repeating an event', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1500 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 400 }),
        async (count, p, q, polls, after) => {
          const cfg: NexmarkConfig = { events: count, eventsPerSecond: 1000, seed: 3 };
          const gen = nexmarkGenerator(cfg);
          const emitted: string[] = [];
          const collect = (into: number[]) => ({
            collect(e: NexmarkEvent) {
              // Each split's events come in event-time order (the stream assigns timestamps from it).
              const ts = eventTime(e);
              if (into.length > 0) expect(ts).toBeGreaterThanOrEqual(into[into.length - 1]!);
              into.push(ts);
              emitted.push(JSON.stringify(e));
            },
          });
          // Phase 1: p subtasks poll a few times, then snapshot.
          const snapshots: unknown[] = [];
          for (let i = 0; i < p; i++) {
            const r = await reader(cfg, i, p);
            const seen: number[] = [];
            for (const max of polls) r.poll(collect(seen), max);
            snapshots.push(...r.snapshotState!());
          }
          // Phase 2: the splits dealt round-robin to q subtasks, read to the end (restored splits interleave, so no order check).
          for (let j = 0; j < q; j++) {
            const r = await reader(cfg, j, q);
            r.restoreState!(snapshots.filter((_, k) => k % q === j));
            const out = { collect: (e: NexmarkEvent) => void emitted.push(JSON.stringify(e)) };
            let guard = 0;
            while (r.poll(out, after) === 'more') expect(guard++).toBeLessThan(count + 10);
          }
          const expected = Array.from({ length: count }, (_, n) => JSON.stringify(gen(n)));
          expect(emitted.sort()).toEqual(expected.sort());
        },
      ),
      { numRuns: 60 },
    );
  });

  it('limits the processing-time rate to ratePerSecond over all subtasks when asked', async () => {
    const clock = new ManualClock(1000);
    // 2,000 events/s over 2 subtasks: 1 event per ms for this one.
    const r = await reader({ events: 100, eventsPerSecond: 1, ratePerSecond: 2000 }, 0, 2, clock);
    const got: number[] = [];
    const out = { collect: (e: NexmarkEvent) => got.push(eventTime(e)) };
    expect(r.poll(out, 10)).toBe('wait');
    clock.advance(5);
    expect(r.poll(out, 10)).toBe('more');
    expect(got.length).toBe(5);
    expect(r.poll(out, 10)).toBe('wait');
    clock.advance(1000);
    while (r.poll(out, 10) === 'more');
    expect(got.length).toBe(50);
  });

  it('rejects bad configs and bad restored state', async () => {
    expect(() => nexmarkSource({ events: -1, eventsPerSecond: 1 })).toThrow(/events/);
    expect(() => nexmarkSource({ events: 10, eventsPerSecond: 0 })).toThrow(/eventsPerSecond/);
    const r = await reader({ events: 10, eventsPerSecond: 1 }, 0, 1);
    expect(() => r.restoreState!([{ next: -1, step: 1 }])).toThrow(/split #0/);
  });
});
