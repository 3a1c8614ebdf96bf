// Nexmark q11, user sessions: per bidder, session windows with a 10 s gap, the bid count of each session with its start and end.
import { EventTimeSessionWindows, type DataStream, type StreamEnvironment } from '../../../index.ts';
import type { NexmarkEvent } from '../model.ts';
import { bidderWindowCounts, type BidderWindowCount } from './common.ts';

/**
 * q11's row:
 * ```sql
 * SELECT B.bidder, count(*) AS bid_count,
 *   SESSION_START(B.dateTime, INTERVAL '10' SECOND) AS starttime,
 *   SESSION_END(B.dateTime, INTERVAL '10' SECOND) AS endtime
 * FROM bid B GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND)
 * ```
 * `starttime` is the first bid's dateTime, `endtime` the last bid's dateTime + the gap.
 */
export type Q11Row = BidderWindowCount;

/** Session gap of the reference query (ms). */
export const Q11_GAP = 10_000;

/** q11: bidders keyed, `EventTimeSessionWindows.withGap(10 s)`, COUNT(*) with the session's bounds. */
export function q11(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q11Row> {
  return bidderWindowCounts(events, EventTimeSessionWindows.withGap(Q11_GAP), 'q11', 'sessions');
}
