// Nexmark q7, highest bid: per tumbling 10 s window the maximum price, joined back to the window's bids that carry it.
import {
  TumblingEventTimeWindows,
  type AggregateFunction,
  type DataStream,
  type StreamEnvironment,
} from '../../../index.ts';
import { BID, type NexmarkEvent } from '../model.ts';

/**
 * q7's row, a bid whose price is the maximum of its 10 s tumbling window:
 * ```sql
 * SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra FROM bid B
 * JOIN (SELECT MAX(price) AS maxprice, window_end AS dateTime
 *       FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *       GROUP BY window_start, window_end) B1
 * ON B.price = B1.maxprice WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime
 * ```
 * Joined within the window [start, end), as nexmark.md states it; the SQL's BETWEEN also admits a
 * bid at exactly `end` that carries the previous window's maximum (the Beam/DataStream versions do not).
 */
export interface Q7Row {
  auction: number;
  price: number;
  bidder: number;
  dateTime: number;
  extra: string;
}

/** Window size of the reference query (ms). */
export const Q7_SIZE = 10_000;

/**
 * Buckets of the first (parallel) stage. A power of two below `maxParallelism` (128 key groups):
 * every subtask gets buckets, and the global stage sees at most this many rows per window.
 */
export const Q7_BUCKETS = 64;

/** The highest price seen and the bids that carry it. */
interface Highest {
  price: number;
  bids: Q7Row[];
}

/** MAX(price) keeping the rows with that price; accumulators are updated in place, `merge` leaves `b` alone. */
const highestBid: AggregateFunction<Q7Row, Highest, Highest> = {
  createAccumulator: () => ({ price: -1, bids: [] }),
  add: (b, acc) => {
    if (b.price > acc.price) {
      acc.price = b.price;
      acc.bids = [b];
    } else if (b.price === acc.price) acc.bids.push(b);
    return acc;
  },
  getResult: (acc) => acc,
  merge: (a, b) => {
    if (b.price > a.price) {
      a.price = b.price;
      a.bids = [...b.bids];
    } else if (b.price === a.price) a.bids.push(...b.bids);
    return a;
  },
};

/** Combines the first stage's partial maxima (each with its bids). */
const highestOfPartials: AggregateFunction<Highest, Highest, Highest> = {
  createAccumulator: highestBid.createAccumulator,
  add: (partial, acc) => highestBid.merge!(acc, partial),
  getResult: (acc) => acc,
  merge: highestBid.merge!,
};

/**
 * q7 as a two-phase aggregation (what Flink's planner does for a global MAX): the bids are spread
 * over {@link Q7_BUCKETS} keys (`auction % 64`), each keeps per window its highest price and the
 * bids with it; a `windowAll` of the same tumbling windows (parallelism 1) merges those partials
 * and emits the winning bids. A partial carries its window's max timestamp, so it lands in the same
 * window of the second stage, which fires after every partial of that window arrived.
 */
export function q7(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q7Row> {
  return events
    .filter((e) => e.kind === BID)
    .map((e): Q7Row => {
      const b = (e as Extract<NexmarkEvent, { kind: typeof BID }>).bid;
      return { auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime, extra: b.extra };
    })
    .name('q7 bids')
    .keyBy((b) => b.auction % Q7_BUCKETS)
    .window(TumblingEventTimeWindows.of(Q7_SIZE))
    .aggregate(highestBid)
    .name('q7 partial max')
    .windowAll(TumblingEventTimeWindows.of(Q7_SIZE))
    .aggregate(highestOfPartials)
    .name('q7 max')
    .flatMap((h) => h.bids)
    .name('q7 bids with the max');
}
