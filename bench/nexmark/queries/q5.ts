// Nexmark q5, hot items: per sliding 10 s window (every 2 s) the bid count of each auction, then the auctions with the window's highest count.
import {
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  type AggregateFunction,
  type Collector,
  type DataStream,
  type ProcessWindowContext,
  type StreamEnvironment,
  type TimeWindow,
} from '../../../index.ts';
import { BID, type NexmarkEvent } from '../model.ts';
import { COUNT as count } from './common.ts';

/**
 * q5's row: an auction whose bid count in the window [starttime, endtime) is the window's maximum
 * (ties: every auction with that count). The reference SQL selects `(auction, num)` from
 * ```sql
 * AuctionBids JOIN MaxBids ON AuctionBids.starttime = MaxBids.starttime
 *   AND AuctionBids.endtime = MaxBids.endtime AND AuctionBids.num >= MaxBids.maxn
 * ```
 * over `HOP(bid, dateTime, 2 s, 10 s)`; the window bounds are kept here so results are comparable.
 */
export interface Q5Row {
  auction: number;
  num: number;
  starttime: number;
  endtime: number;
}

/** Window size and slide of the reference query (ms). */
export const Q5_SIZE = 10_000;
export const Q5_SLIDE = 2_000;

/** The highest count of a window and the auctions that have it. */
interface Hottest {
  num: number;
  auctions: number[];
}

/**
 * MAX(num) with its ties. The accumulator belongs to its window, so it is updated in place;
 * `merge` leaves its second argument alone (the pane operator's contract).
 */
const hottest: AggregateFunction<Q5Row, Hottest, Hottest> = {
  createAccumulator: () => ({ num: 0, auctions: [] }),
  add: (c, acc) => {
    if (c.num > acc.num) {
      acc.num = c.num;
      acc.auctions = [c.auction];
    } else if (c.num === acc.num) acc.auctions.push(c.auction);
    return acc;
  },
  getResult: (acc) => acc,
  merge: (a, b) => {
    if (b.num > a.num) {
      a.num = b.num;
      a.auctions = [...b.auctions];
    } else if (b.num === a.num) a.auctions.push(...b.auctions);
    return a;
  },
};

/**
 * q5 in two keyed window stages:
 * 1. bids keyed by auction, `SlidingEventTimeWindows(10 s, 2 s)`, COUNT(*): one row per auction and
 *    window, with the window's bounds, timestamped `endtime - 1` (the window's max timestamp);
 * 2. those rows keyed by `endtime`, in `TumblingEventTimeWindows(2 s)`: since sliding windows end on
 *    multiples of the slide, the tumbling window [endtime - 2 s, endtime) holds exactly the rows of
 *    one sliding window, and it fires once the watermark passed `endtime - 1`, i.e. after every
 *    subtask of stage 1 emitted its rows for that window. It keeps the max count and its ties.
 */
export function q5(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q5Row> {
  return events
    .filter((e) => e.kind === BID)
    .map((e) => (e as Extract<NexmarkEvent, { kind: typeof BID }>).bid.auction)
    .name('q5 bids')
    .keyBy((auction) => auction)
    .window(SlidingEventTimeWindows.of(Q5_SIZE, Q5_SLIDE))
    .aggregate(count, (auction: number, ctx: ProcessWindowContext<TimeWindow>, [num]: readonly number[], out: Collector<Q5Row>) => {
      const w = ctx.window();
      out.collect({ auction, num: num!, starttime: w.start, endtime: w.end });
    })
    .name('q5 bids per auction')
    .keyBy((c) => c.endtime)
    .window(TumblingEventTimeWindows.of(Q5_SLIDE))
    .aggregate(hottest, (endtime: number, _ctx: ProcessWindowContext<TimeWindow>, [h]: readonly Hottest[], out: Collector<Q5Row>) => {
      for (const auction of h!.auctions) out.collect({ auction, num: h!.num, starttime: endtime - Q5_SIZE, endtime });
    })
    .name('q5 hottest per window');
}
