// Nexmark q12, processing-time windows: per bidder, the bid count of each tumbling 10 s window of processing time.
import { TumblingProcessingTimeWindows, type DataStream, type StreamEnvironment } from '../../../index.ts';
import type { NexmarkEvent } from '../model.ts';
import { bidderWindowCounts, type BidderWindowCount } from './common.ts';

/**
 * q12's row:
 * ```sql
 * SELECT B.bidder, count(*) AS bid_count,
 *   TUMBLE_START(B.p_time, INTERVAL '10' SECOND) AS starttime,
 *   TUMBLE_END(B.p_time, INTERVAL '10' SECOND) AS endtime
 * FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
 * GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND)
 * ```
 * Windows are processing time (the job's clock, ms since the epoch) when the window operator
 * sees the bid: results depend on timing, and, as in Flink, a window still open when a bounded
 * input ends is dropped (processing-time windows are not flushed at end of input).
 */
export type Q12Row = BidderWindowCount;

/** Window size of the reference query (ms). */
export const Q12_SIZE = 10_000;

/** q12: bidders keyed, `TumblingProcessingTimeWindows(10 s)`, COUNT(*) with the window's bounds. */
export function q12(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q12Row> {
  return bidderWindowCounts(events, TumblingProcessingTimeWindows.of(Q12_SIZE), 'q12', 'bids per bidder');
}
