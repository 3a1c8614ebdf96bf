// Nexmark's data model (Person, Auction, Bid), the event envelope and the generator's configuration: shared by generator, queries and bench.

/**
 * A new user of the auction site. `id` starts at 1000 and grows by one per person event;
 * `dateTime` is the event time in ms since the epoch.
 */
export interface Person {
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  dateTime: number;
  /** Padding so that a person averages ~200 bytes (nexmark.md). */
  extra: string;
}

/**
 * A new auction. `id` starts at 1000; `seller` is a person id; `category` is 10..14;
 * `dateTime` and `expires` are ms since the epoch with `expires > dateTime`; `reserve >= initialBid`.
 */
export interface Auction {
  id: number;
  itemName: string;
  description: string;
  initialBid: number;
  reserve: number;
  dateTime: number;
  expires: number;
  seller: number;
  category: number;
  /** Padding so that an auction averages ~500 bytes. */
  extra: string;
}

/** A bid on `auction` (an auction id) by `bidder` (a person id); `price` is an integer in cents. */
export interface Bid {
  auction: number;
  bidder: number;
  price: number;
  channel: string;
  url: string;
  dateTime: number;
  /** Padding so that a bid averages ~100 bytes. */
  extra: string;
}

/** `NexmarkEvent.kind` of a person event. */
export const PERSON = 0;
/** `NexmarkEvent.kind` of an auction event. */
export const AUCTION = 1;
/** `NexmarkEvent.kind` of a bid event. */
export const BID = 2;

/**
 * One generated event: a tagged union on `kind` (0 person, 1 auction, 2 bid), so a query filters
 * with `e.kind === BID` and then reads `e.bid` with its type narrowed. The envelope is one extra
 * small object per event; it is what crosses NATS (msgpackr) between tasks, payload nested.
 */
export type NexmarkEvent =
  | { kind: typeof PERSON; person: Person }
  | { kind: typeof AUCTION; auction: Auction }
  | { kind: typeof BID; bid: Bid };

/** The generator's parameters. Every event is a pure function of (config, event number). */
export interface NexmarkConfig {
  /** Events in total (event numbers 0..events-1); the source is bounded by it. */
  events: number;
  /**
   * Event-time rate: event n gets `baseTime + floor(n * (1e6 / eventsPerSecond) / 1000)` ms.
   * The reference suite uses 10,000,000; report it with every result.
   */
  eventsPerSecond: number;
  /** Event time of event 0, ms since the epoch. Default {@link DEFAULT_BASE_TIME}. */
  baseTime?: number;
  /** Seed of the per-event PRNG. Default 0. */
  seed?: number;
  /**
   * Optional processing-time rate limit of the source, events per second over all subtasks
   * (absent: as fast as the job takes them).
   */
  ratePerSecond?: number;
}

/** Default `baseTime`: 2015-07-15T00:00:00Z, Nexmark's customary base (any fixed value would do). */
export const DEFAULT_BASE_TIME = 1_436_918_400_000;
