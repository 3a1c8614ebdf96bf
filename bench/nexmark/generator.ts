// The Nexmark generator (nexmark.md): each event a pure function of (config, event number), and a splittable, replayable Source of them.
import { EddyError } from '../../src/errors.ts';
import { generatorSource, type Source } from '../../index.ts';
import { AUCTION as AUCTION_KIND, BID as BID_KIND, DEFAULT_BASE_TIME, PERSON as PERSON_KIND, type Auction, type Bid, type NexmarkConfig, type NexmarkEvent, type Person } from './model.ts';

// Local copies of the kinds: an imported binding may be read through a getter (tsx), a const is inlined.
const PERSON = PERSON_KIND;
const AUCTION = AUCTION_KIND;
const BID = BID_KIND;

// ---- Constants of the reference generator (nexmark/nexmark GeneratorConfig) ----

/** Event kinds by `n % TOTAL_PROPORTION`: [0, 1) person, [1, 4) auction, [4, 50) bid. */
const PERSON_PROPORTION = 1;
const AUCTION_PROPORTION = 3;
const TOTAL_PROPORTION = 50;
/** First ids. */
export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
export const NUM_CATEGORIES = 5;
/** 1 - 1/ratio of bids go to the hot auction / hot bidder; of auctions to the hot seller. */
const HOT_AUCTION_RATIO = 2;
const HOT_BIDDERS_RATIO = 4;
const HOT_SELLERS_RATIO = 4;
/** Hot ids are the last id rounded down to a multiple of this. */
const HOT_ROUNDING = 100;
const NUM_IN_FLIGHT_AUCTIONS = 100;
const NUM_ACTIVE_PEOPLE = 1000;
/** Bids and sellers may name ids this far ahead of the last generated one. */
const AUCTION_ID_LEAD = 10;
const PERSON_ID_LEAD = 10;
/** Events until `NUM_IN_FLIGHT_AUCTIONS` more auctions exist: the auction-length horizon. */
const EVENTS_FOR_IN_FLIGHT_AUCTIONS = Math.floor((NUM_IN_FLIGHT_AUCTIONS * TOTAL_PROPORTION) / AUCTION_PROPORTION);
const AVG_PERSON_BYTES = 200;
const AVG_AUCTION_BYTES = 500;
const AVG_BID_BYTES = 100;
const HOT_CHANNELS_RATIO = 2;
const NUM_CHANNELS = 10_000;

/** The 4 hot channels; half of all bids use one of them, each with its fixed url. */
export const HOT_CHANNELS: readonly string[] = ['Google', 'Facebook', 'Baidu', 'Apple'];
const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter'];
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris'];
/** Cities and states are drawn independently, as in the reference. */
export const CITIES: readonly string[] = ['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne'];
export const STATES: readonly string[] = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];

// ---- The per-event PRNG: mulberry32 (src/time/random.ts) inlined on a module-level state ----
// Inlined because `nextRandom` returns a tuple and `createRandom` a closure: garbage per draw or per
// event. `generateEvent` is synchronous and never re-entered, so one shared state is safe: it is
// reset from (seed, event number) at the start of every event. The test checks that the draws
// equal `createRandom(eventSeed(seed, n))` (see `eventDraws`).
let rs = 0;

/** The next draw in [0, 1): exactly mulberry32's `nextRandom(rs)`. */
function rnd(): number {
  const s = (rs + 0x6d2b79f5) | 0;
  rs = s;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A uniform integer in [0, n). */
function nextInt(n: number): number {
  return Math.floor(rnd() * n);
}

/** murmur3's 32-bit finalizer: spreads nearby inputs (consecutive event numbers) over all bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The PRNG state event `n` starts from: a hash of the seed and both 32-bit halves of `n`, so
 * events are independent of each other and of the order they are generated in.
 */
export function eventSeed(seed: number, n: number): number {
  const h = fmix32((seed | 0) ^ 0x5bd1e995);
  return fmix32(fmix32(h ^ (n >>> 0)) ^ Math.floor(n / 4294967296));
}

/**
 * The first `count` draws event `n` of `seed` makes (for tests: they must equal mulberry32's
 * `createRandom(eventSeed(seed, n))`, the repo's PRNG, which this file inlines).
 */
export function eventDraws(seed: number, n: number, count: number): number[] {
  rs = eventSeed(seed, n) | 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(rnd());
  return out;
}

// ---- Precomputed strings (built once, from a fixed seed): events pick them by index ----

/** A fixed-seed mulberry32 for the tables, independent of the per-event state. */
function tableRandom(seed: number): () => number {
  let st = seed | 0;
  return () => {
    const s = (st + 0x6d2b79f5) | 0;
    st = s;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `len` lowercase letters, with a space instead about one time in 13 when `spaces` (the reference's nextString). */
function randomText(r: () => number, len: number, spaces: boolean): string {
  const codes = new Array<number>(len);
  for (let i = 0; i < len; i++) codes[i] = spaces && Math.floor(r() * 13) === 0 ? 32 : 97 + Math.floor(r() * 26);
  let s = '';
  for (let i = 0; i < len; i += 8192) s += String.fromCharCode(...codes.slice(i, i + 8192));
  return s;
}

/** Item names and descriptions are slices of this text (a slice is a cheap view in V8 from 13 chars on). */
const TEXT = randomText(tableRandom(1), 1 << 16, true);
/**
 * `PADDING[k]` is a string of length k: the `extra` fields. `nextExtra` asks for at most
 * 1.2 * (average - currentSize) < 1.2 * the largest average, so the table goes that far.
 */
const MAX_PADDING = Math.ceil(AVG_AUCTION_BYTES * 1.2);
const PADDING: readonly string[] = (() => {
  const pad = randomText(tableRandom(2), MAX_PADDING + 1, false);
  const out: string[] = [];
  for (let k = 0; k <= MAX_PADDING; k++) out.push(pad.slice(0, k));
  return out;
})();
/** Distinct emails and credit cards: fixed-width blocks of one string each, picked by index. */
const NUM_BLOCKS = 1 << 14;
const EMAIL_WIDTH = 17; // 7 letters, '@', 5 letters, '.com'
const CARD_WIDTH = 19; // 4 groups of 4 digits, space-separated
const EMAILS: readonly string[] = (() => {
  const r = tableRandom(3);
  const out: string[] = [];
  for (let i = 0; i < NUM_BLOCKS; i++) out.push(`${randomText(r, 7, false)}@${randomText(r, 5, false)}.com`);
  return out;
})();
const CARDS: readonly string[] = (() => {
  const r = tableRandom(4);
  const group = () => String(Math.floor(r() * 10000)).padStart(4, '0');
  const out: string[] = [];
  for (let i = 0; i < NUM_BLOCKS; i++) out.push(`${group()} ${group()} ${group()} ${group()}`);
  return out;
})();
/** All 99 "First Last" names. */
const NAMES: readonly string[] = FIRST_NAMES.flatMap((f) => LAST_NAMES.map((l) => `${f} ${l}`));
/** A url like the reference's base url: three random 5-char path parts. */
function baseUrl(r: () => number): string {
  return `https://www.nexmark.com/${randomText(r, 5, false)}/${randomText(r, 5, false)}/${randomText(r, 5, false)}/item.htm?query=1`;
}
const HOT_URLS: readonly string[] = (() => {
  const r = tableRandom(5);
  return HOT_CHANNELS.map(() => baseUrl(r));
})();
/** "channel-i" and its url for the 10,000 ordinary channels; a url carries the channel id one time in 10 (as the reference does). */
const CHANNELS: readonly string[] = Array.from({ length: NUM_CHANNELS }, (_, i) => `channel-${i}`);
const CHANNEL_URLS: readonly string[] = (() => {
  const r = tableRandom(6);
  return CHANNELS.map((_, i) => {
    const url = baseUrl(r);
    return Math.floor(r() * 10) === 0 ? `${url}&channel_id=${[...i.toString(2)].reverse().join('')}` : url;
  });
})();

// ---- Id arithmetic (pure; event number n = event id) ----

/** The base-0 id of the last person generated at or before event `n` (the person of event n itself if it is one). */
export function lastBase0PersonId(n: number): number {
  const epoch = Math.floor(n / TOTAL_PROPORTION);
  let offset = n % TOTAL_PROPORTION;
  if (offset >= PERSON_PROPORTION) offset = PERSON_PROPORTION - 1;
  return epoch * PERSON_PROPORTION + offset;
}

/** The base-0 id of the last auction generated at or before event `n` (-1 before the first). */
export function lastBase0AuctionId(n: number): number {
  let epoch = Math.floor(n / TOTAL_PROPORTION);
  let offset = n % TOTAL_PROPORTION;
  if (offset < PERSON_PROPORTION) {
    // A person: the last auction is the previous epoch's last.
    epoch--;
    offset = AUCTION_PROPORTION - 1;
  } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
    offset = AUCTION_PROPORTION - 1;
  } else {
    offset -= PERSON_PROPORTION;
  }
  return epoch * AUCTION_PROPORTION + offset;
}

/** An active person (among the last 1000, or up to 10 ahead), base 0. */
function nextBase0PersonId(n: number): number {
  const numPeople = lastBase0PersonId(n) + 1;
  const active = Math.min(numPeople, NUM_ACTIVE_PEOPLE);
  return numPeople - active + nextInt(active + PERSON_ID_LEAD);
}

/** An in-flight auction (among the last 100, or up to 10 ahead), base 0. */
function nextBase0AuctionId(n: number): number {
  const max = lastBase0AuctionId(n);
  const min = Math.max(max - NUM_IN_FLIGHT_AUCTIONS, 0);
  return min + nextInt(max - min + 1 + AUCTION_ID_LEAD);
}

/** 6 * ln(10): `exp(u * LN_10_6)` is 10^(u*6), and Math.exp is several times faster than Math.pow. */
const LN_10_6 = 6 * Math.LN10;

/** round(10^(u*6) * 100): prices from 100 to 10^8 cents, log-uniform. */
function nextPrice(): number {
  return Math.round(Math.exp(rnd() * LN_10_6) * 100);
}

/** A random slice of TEXT of length 3..maxLength-1 (the reference's nextString). */
function nextString(maxLength: number): string {
  const len = 3 + nextInt(maxLength - 3);
  const at = nextInt(TEXT.length - maxLength);
  return TEXT.slice(at, at + len);
}

/** Padding that brings an event of `currentSize` bytes to `average` on average (length uniform in desired ± 20 %). */
function nextExtra(currentSize: number, average: number): string {
  if (currentSize > average) return '';
  const desired = average - currentSize;
  const delta = Math.round(desired * 0.2);
  return PADDING[desired - delta + (delta === 0 ? 0 : nextInt(2 * delta))]!;
}

// ---- Events ----

/** Derived, per-config constants; `generateEvent` caches the last config's. */
interface Prepared {
  readonly config: NexmarkConfig;
  readonly seed: number;
  readonly baseTime: number;
  readonly eventsPerSecond: number;
}

function prepare(config: NexmarkConfig): Prepared {
  const { eventsPerSecond } = config;
  if (!(typeof eventsPerSecond === 'number' && eventsPerSecond > 0 && Number.isFinite(eventsPerSecond)))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `Nexmark eventsPerSecond must be a positive number, got ${String(eventsPerSecond)}`);
  return { config, seed: config.seed ?? 0, baseTime: config.baseTime ?? DEFAULT_BASE_TIME, eventsPerSecond };
}

let cached: Prepared | undefined;

/**
 * Event time of event `n` in ms: `baseTime + floor(n * interEventDelayUs / 1000)` with
 * `interEventDelayUs = 1e6 / eventsPerSecond`, computed as `floor(n * 1000 / eventsPerSecond)`
 * (one division of integers: no 0.1-style rounding drift). Never decreases with `n`.
 */
export function eventTimestamp(config: NexmarkConfig, n: number): number {
  return (config.baseTime ?? DEFAULT_BASE_TIME) + Math.floor((n * 1000) / config.eventsPerSecond);
}

function makePerson(n: number, ts: number): Person {
  const name = NAMES[nextInt(NAMES.length)]!;
  const emailAddress = EMAILS[nextInt(NUM_BLOCKS)]!;
  const creditCard = CARDS[nextInt(NUM_BLOCKS)]!;
  const city = CITIES[nextInt(CITIES.length)]!;
  const state = STATES[nextInt(STATES.length)]!;
  const size = 8 + name.length + EMAIL_WIDTH + CARD_WIDTH + city.length + state.length;
  return {
    id: lastBase0PersonId(n) + FIRST_PERSON_ID,
    name,
    emailAddress,
    creditCard,
    city,
    state,
    dateTime: ts,
    extra: nextExtra(size, AVG_PERSON_BYTES),
  };
}

function makeAuction(p: Prepared, n: number, ts: number): Auction {
  const id = lastBase0AuctionId(n) + FIRST_AUCTION_ID;
  const seller =
    (nextInt(HOT_SELLERS_RATIO) > 0 ? Math.floor(lastBase0PersonId(n) / HOT_ROUNDING) * HOT_ROUNDING : nextBase0PersonId(n)) + FIRST_PERSON_ID;
  const category = FIRST_CATEGORY_ID + nextInt(NUM_CATEGORIES);
  const initialBid = nextPrice();
  // The horizon: event time until the auction NUM_IN_FLIGHT_AUCTIONS ahead is generated.
  const horizon = p.baseTime + Math.floor(((n + EVENTS_FOR_IN_FLIGHT_AUCTIONS) * 1000) / p.eventsPerSecond) - ts;
  const expires = ts + 1 + nextInt(Math.max(horizon * 2, 1));
  const itemName = nextString(20);
  const description = nextString(100);
  const reserve = initialBid + nextPrice();
  return {
    id,
    itemName,
    description,
    initialBid,
    reserve,
    dateTime: ts,
    expires,
    seller,
    category,
    extra: nextExtra(8 + itemName.length + description.length + 8 * 6, AVG_AUCTION_BYTES),
  };
}

function makeBid(n: number, ts: number): Bid {
  const auction =
    (nextInt(HOT_AUCTION_RATIO) > 0 ? Math.floor(lastBase0AuctionId(n) / HOT_ROUNDING) * HOT_ROUNDING : nextBase0AuctionId(n)) + FIRST_AUCTION_ID;
  const bidder =
    (nextInt(HOT_BIDDERS_RATIO) > 0 ? Math.floor(lastBase0PersonId(n) / HOT_ROUNDING) * HOT_ROUNDING + 1 : nextBase0PersonId(n)) + FIRST_PERSON_ID;
  const price = nextPrice();
  let channel: string;
  let url: string;
  if (nextInt(HOT_CHANNELS_RATIO) > 0) {
    const i = nextInt(HOT_CHANNELS.length);
    channel = HOT_CHANNELS[i]!;
    url = HOT_URLS[i]!;
  } else {
    const i = nextInt(NUM_CHANNELS);
    channel = CHANNELS[i]!;
    url = CHANNEL_URLS[i]!;
  }
  return { auction, bidder, price, channel, url, dateTime: ts, extra: nextExtra(32, AVG_BID_BYTES) };
}

function generate(p: Prepared, n: number): NexmarkEvent {
  rs = eventSeed(p.seed, n) | 0;
  const ts = p.baseTime + Math.floor((n * 1000) / p.eventsPerSecond);
  const r = n % TOTAL_PROPORTION;
  if (r >= PERSON_PROPORTION + AUCTION_PROPORTION) return { kind: BID, bid: makeBid(n, ts) };
  if (r < PERSON_PROPORTION) return { kind: PERSON, person: makePerson(n, ts) };
  return { kind: AUCTION, auction: makeAuction(p, n, ts) };
}

/**
 * Event number `n` (0-based; also its event id) of the stream `config` describes: a pure function
 * of (config, n). Kind by `n % 50` (0 person, 1..3 auction, else bid); everything random comes
 * from mulberry32 seeded with `eventSeed(config.seed, n)`; `dateTime` is `eventTimestamp(config, n)`.
 * Allocates the event and its payload; all strings are precomputed or slices. The derived
 * constants of the last config are cached by object identity: do not mutate a config in use.
 *
 * @example
 * ```ts
 * const e = generateEvent({ events: 100, eventsPerSecond: 1000 }, 7);
 * if (e.kind === BID) console.log(e.bid.price);
 * ```
 */
export function generateEvent(config: NexmarkConfig, n: number): NexmarkEvent {
  let p = cached;
  if (p === undefined || p.config !== config) p = cached = prepare(config);
  return generate(p, n);
}

/**
 * `generateEvent` bound to one config (validated once): `(n) => event`. Treat `config` as
 * immutable afterwards.
 */
export function nexmarkGenerator(config: NexmarkConfig): (n: number) => NexmarkEvent {
  const p = prepare(config);
  return (n) => generate(p, n);
}

/** The event time of an event, whatever its kind. */
export function eventTime(e: NexmarkEvent): number {
  return e.kind === BID ? e.bid.dateTime : e.kind === AUCTION ? e.auction.dateTime : e.person.dateTime;
}

// ---- Source ----

/**
 * The Nexmark events of `config` as a bounded, parallel Source: subtask i of p generates event
 * numbers i, i + p, ... below `config.events` (the record's event time is its `dateTime`: assign it
 * with `eventTime`, as `nexmarkEvents` does). Its checkpoint state is the list of splits `{ next, step }` (replayable from any offset, and
 * rescalable). `config.ratePerSecond` optionally limits the processing-time rate over all subtasks.
 *
 * @example
 * ```ts
 * const events = env.fromSource(nexmarkSource({ events: 1_000_000, eventsPerSecond: 10_000_000 }));
 * ```
 */
export function nexmarkSource(config: NexmarkConfig): Source<NexmarkEvent> {
  const { events, ratePerSecond } = config;
  if (!(Number.isSafeInteger(events) && events >= 0)) throw new EddyError('EDDY_INVALID_ARGUMENT', `Nexmark events must be a non-negative integer, got ${String(events)}`);
  if (ratePerSecond !== undefined && !(ratePerSecond > 0 && Number.isFinite(ratePerSecond)))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `Nexmark ratePerSecond must be a positive number, got ${String(ratePerSecond)}`);
  // eddy's own generator source does the splitting, replay, rescaling and rate limit; it validates eventsPerSecond now, not in a task.
  const generate = nexmarkGenerator(config);
  return { ...generatorSource(events, generate, ratePerSecond === undefined ? {} : { ratePerSecond }), name: 'Nexmark Source' };
}
