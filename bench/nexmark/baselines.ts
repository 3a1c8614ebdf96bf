// Hand-written plain-loop versions of the Nexmark queries over generateEvent (one thread, no framework): the bench's in-run baselines.
import { generateEvent } from './generator.ts';
import { AUCTION, BID, PERSON, type Auction, type Bid, type NexmarkConfig } from './model.ts';
import { DOLLAR_TO_EURO } from './queries/q1.ts';
import { Q2_MODULUS } from './queries/q2.ts';
import { Q3_CATEGORY, Q3_STATES } from './queries/q3.ts';
import { Q5_SIZE, Q5_SLIDE } from './queries/q5.ts';
import { Q7_SIZE } from './queries/q7.ts';
import { Q8_SIZE } from './queries/q8.ts';
import { Q11_GAP } from './queries/q11.ts';
import { Q12_SIZE } from './queries/q12.ts';

/**
 * Where every result row goes, in eddy's bench sink and in the loops alike: it counts rows and adds
 * up one integer field per query (see {@link DIGESTS}), so both sides can be compared without
 * keeping the rows.
 */
export class RowCounter {
  rows = 0;
  digest = 0;
  constructor(private readonly field: (row: never) => number) {}
  add(row: unknown): void {
    this.rows++;
    this.digest += (this.field as (r: unknown) => number)(row);
  }
}

/**
 * The integer field each query's rows are summed over. Integers keep the sum exact (below 2^53 for
 * 10^8 rows of prices under 10^8), whatever the order rows arrive in.
 */
export const DIGESTS: Record<string, (row: never) => number> = {
  q0: (r: { price: number }) => r.price,
  q1: (r: { auction: number }) => r.auction,
  q2: (r: { price: number }) => r.price,
  q3: (r: { id: number }) => r.id,
  q4: (r: { category: number }) => r.category,
  q5: (r: { auction: number; num: number }) => r.auction + r.num,
  q7: (r: { price: number }) => r.price,
  q8: (r: { id: number }) => r.id,
  q11: (r: { bidCount: number }) => r.bidCount,
  q12: (r: { bidCount: number }) => r.bidCount,
};

/** A plain-loop query: generates events 0..config.events-1 in order and sends its rows to `out`. */
export type Baseline = (config: NexmarkConfig, out: RowCounter) => void;

function q0(config: NexmarkConfig, out: RowCounter): void {
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind !== BID) continue;
    const b = e.bid;
    out.add({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra });
  }
}

function q1(config: NexmarkConfig, out: RowCounter): void {
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind !== BID) continue;
    const b = e.bid;
    out.add({ auction: b.auction, bidder: b.bidder, price: DOLLAR_TO_EURO * b.price, dateTime: b.dateTime, extra: b.extra });
  }
}

function q2(config: NexmarkConfig, out: RowCounter): void {
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind === BID && e.bid.auction % Q2_MODULUS === 0) out.add({ auction: e.bid.auction, price: e.bid.price });
  }
}

/** q3 as eddy's q3 computes it: every person kept, category-10 auctions wait for a seller not seen yet. */
function q3(config: NexmarkConfig, out: RowCounter): void {
  const persons = new Map<number, { name: string; city: string; state: string }>();
  const pending = new Map<number, number[]>();
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind === AUCTION) {
      const a = e.auction;
      if (a.category !== Q3_CATEGORY) continue;
      const p = persons.get(a.seller);
      if (p === undefined) {
        const waiting = pending.get(a.seller);
        if (waiting === undefined) pending.set(a.seller, [a.id]);
        else waiting.push(a.id);
      } else if (Q3_STATES.has(p.state)) out.add({ name: p.name, city: p.city, state: p.state, id: a.id });
    } else if (e.kind === PERSON) {
      const p = e.person;
      persons.set(p.id, { name: p.name, city: p.city, state: p.state });
      const waiting = pending.get(p.id);
      if (waiting === undefined) continue;
      pending.delete(p.id);
      if (Q3_STATES.has(p.state)) for (const id of waiting) out.add({ name: p.name, city: p.city, state: p.state, id });
    }
  }
}

/** A binary min-heap of [expires, auction id] pairs in two parallel arrays. */
class ExpiryHeap {
  private readonly at: number[] = [];
  private readonly ids: number[] = [];
  get size(): number {
    return this.at.length;
  }
  peek(): number {
    return this.at[0]!;
  }
  push(t: number, id: number): void {
    const { at, ids } = this;
    let i = at.length;
    at.push(t);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at[parent]! <= t) break;
      at[i] = at[parent]!;
      ids[i] = ids[parent]!;
      i = parent;
    }
    at[i] = t;
    ids[i] = id;
  }
  /** Removes the smallest entry and returns its id. */
  pop(): number {
    const { at, ids } = this;
    const top = ids[0]!;
    const t = at.pop()!;
    const id = ids.pop()!;
    const n = at.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && at[c + 1]! < at[c]!) c++;
        if (at[c]! >= t) break;
        at[i] = at[c]!;
        ids[i] = ids[c]!;
        i = c;
      }
      at[i] = t;
      ids[i] = id;
    }
    return top;
  }
}

/**
 * q4 as eddy's q4 computes it: per auction the max price of bids with dateTime in
 * [auction.dateTime, expires]; an auction closes once time passed `expires` (in-order input: when an
 * event with a later timestamp comes, or at the end) and updates its category's running average.
 * A bid may name an auction generated a little later, in the same millisecond: such bids wait
 * until the millisecond is over.
 */
function q4(config: NexmarkConfig, out: RowCounter): void {
  const open = new Map<number, { a: Auction; max: number }>();
  const heap = new ExpiryHeap();
  const sums = new Map<number, { sum: number; count: number }>();
  let early: Bid[] = [];
  let now = -Infinity;
  const close = (id: number): void => {
    const s = open.get(id)!;
    open.delete(id);
    if (s.max < 0) return;
    let c = sums.get(s.a.category);
    if (c === undefined) sums.set(s.a.category, (c = { sum: 0, count: 0 }));
    c.sum += s.max;
    c.count++;
    out.add({ category: s.a.category, avg: c.sum / c.count });
  };
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    const ts = e.kind === BID ? e.bid.dateTime : e.kind === AUCTION ? e.auction.dateTime : e.person.dateTime;
    if (ts > now) {
      now = ts;
      early = [];
      while (heap.size > 0 && heap.peek() < ts) close(heap.pop());
    }
    if (e.kind === AUCTION) {
      const a = e.auction;
      let max = -1;
      for (const b of early) if (b.auction === a.id && b.dateTime >= a.dateTime && b.dateTime <= a.expires && b.price > max) max = b.price;
      open.set(a.id, { a, max });
      heap.push(a.expires, a.id);
    } else if (e.kind === BID) {
      const b = e.bid;
      const s = open.get(b.auction);
      if (s === undefined) early.push(b);
      else if (b.dateTime >= s.a.dateTime && b.dateTime <= s.a.expires && b.price > s.max) s.max = b.price;
    }
  }
  while (heap.size > 0) close(heap.pop());
}

/**
 * q5: bid counts per auction in 2 s panes; when time enters a new pane, every 10 s window that
 * ended fires: its 5 panes are added up and the auctions with the highest count emitted.
 */
function q5(config: NexmarkConfig, out: RowCounter): void {
  const panesPerWindow = Q5_SIZE / Q5_SLIDE;
  const panes = new Map<number, Map<number, number>>();
  let firstPane = Infinity;
  /** Windows ending at or before this pane index * slide have fired. */
  let firedUpTo = -Infinity;
  const fire = (endPane: number): void => {
    const total = new Map<number, number>();
    for (let p = endPane - panesPerWindow; p < endPane; p++) {
      const pane = panes.get(p);
      if (pane !== undefined) for (const [auction, c] of pane) total.set(auction, (total.get(auction) ?? 0) + c);
    }
    panes.delete(endPane - panesPerWindow);
    if (total.size === 0) return;
    let max = 0;
    for (const c of total.values()) if (c > max) max = c;
    const endtime = endPane * Q5_SLIDE;
    for (const [auction, num] of total) if (num === max) out.add({ auction, num, starttime: endtime - Q5_SIZE, endtime });
  };
  let current = -Infinity;
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind !== BID) continue;
    const p = Math.floor(e.bid.dateTime / Q5_SLIDE);
    if (p !== current) {
      if (firstPane === Infinity) firedUpTo = firstPane = p;
      // Windows ending at panes (firedUpTo, p] are complete: input is in time order.
      for (let end = firedUpTo + 1; end <= p; end++) fire(end);
      firedUpTo = Math.max(firedUpTo, p);
      current = p;
    }
    let pane = panes.get(p);
    if (pane === undefined) panes.set(p, (pane = new Map()));
    pane.set(e.bid.auction, (pane.get(e.bid.auction) ?? 0) + 1);
  }
  if (current !== -Infinity) for (let end = firedUpTo + 1; end <= current + panesPerWindow; end++) fire(end);
}

/** q7: per tumbling window the highest price and the bids with it, emitted when time leaves the window. */
function q7(config: NexmarkConfig, out: RowCounter): void {
  let window = -Infinity;
  let max = -1;
  let best: Bid[] = [];
  const flush = (): void => {
    for (const b of best) out.add({ auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime, extra: b.extra });
  };
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind !== BID) continue;
    const b = e.bid;
    const w = Math.floor(b.dateTime / Q7_SIZE);
    if (w !== window) {
      flush();
      window = w;
      max = -1;
      best = [];
    }
    if (b.price > max) {
      max = b.price;
      best = [b];
    } else if (b.price === max) best.push(b);
  }
  flush();
}

/** q8: per tumbling window the new persons and the set of sellers; at the window's end, the persons who sold. */
function q8(config: NexmarkConfig, out: RowCounter): void {
  let window = -Infinity;
  let persons: { id: number; name: string }[] = [];
  let sellers = new Set<number>();
  const flush = (): void => {
    const starttime = window * Q8_SIZE;
    for (const p of persons) if (sellers.has(p.id)) out.add({ id: p.id, name: p.name, starttime });
  };
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind === BID) continue;
    const ts = e.kind === PERSON ? e.person.dateTime : e.auction.dateTime;
    const w = Math.floor(ts / Q8_SIZE);
    if (w !== window) {
      if (window !== -Infinity) flush();
      window = w;
      persons = [];
      sellers = new Set();
    }
    if (e.kind === PERSON) persons.push({ id: e.person.id, name: e.person.name });
    else sellers.add(e.auction.seller);
  }
  if (window !== -Infinity) flush();
}

/** q11: per bidder the open session (in-order input): a bid more than the gap after the last one closes it. */
function q11(config: NexmarkConfig, out: RowCounter): void {
  const sessions = new Map<number, { start: number; last: number; count: number }>();
  const emit = (bidder: number, s: { start: number; last: number; count: number }): void =>
    out.add({ bidder, bidCount: s.count, starttime: s.start, endtime: s.last + Q11_GAP });
  for (let n = 0; n < config.events; n++) {
    const e = generateEvent(config, n);
    if (e.kind !== BID) continue;
    const { bidder, dateTime } = e.bid;
    const s = sessions.get(bidder);
    if (s === undefined) sessions.set(bidder, { start: dateTime, last: dateTime, count: 1 });
    else if (dateTime > s.last + Q11_GAP) {
      emit(bidder, s);
      s.start = s.last = dateTime;
      s.count = 1;
    } else {
      s.last = dateTime;
      s.count++;
    }
  }
  for (const [bidder, s] of sessions) emit(bidder, s);
}

/** Events between two readings of the clock in the q12 loop (a frame's worth, as eddy reads it per batch or record). */
const Q12_CLOCK_EVERY = 1024;

/**
 * q12: per bidder the bids of the current 10 s window of processing time (ms since the epoch as
 * `performance.timeOrigin + performance.now()`, read every {@link Q12_CLOCK_EVERY} events); a new
 * window emits the old one's counts. As in eddy, the window open at the end is dropped.
 */
function q12(config: NexmarkConfig, out: RowCounter): void {
  let counts = new Map<number, number>();
  let window = -Infinity;
  for (let n = 0; n < config.events; n++) {
    if (n % Q12_CLOCK_EVERY === 0) {
      const w = Math.floor((performance.timeOrigin + performance.now()) / Q12_SIZE);
      if (w !== window) {
        const starttime = window * Q12_SIZE;
        for (const [bidder, bidCount] of counts) out.add({ bidder, bidCount, starttime, endtime: starttime + Q12_SIZE });
        counts = new Map();
        window = w;
      }
    }
    const e = generateEvent(config, n);
    if (e.kind === BID) counts.set(e.bid.bidder, (counts.get(e.bid.bidder) ?? 0) + 1);
  }
}

/** Every query's plain loop, by query name. */
export const BASELINES: Record<string, Baseline> = { q0, q1, q2, q3, q4, q5, q7, q8, q11, q12 };

