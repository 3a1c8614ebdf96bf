// Nexmark q0, pass-through: every bid as (auction, bidder, price, dateTime, extra); measures the source and framework overhead.
import type { DataStream, StreamEnvironment } from '../../../index.ts';
import { BID, type NexmarkEvent } from '../model.ts';

/** q0's row: `SELECT auction, bidder, price, dateTime, extra FROM bid`. */
export interface Q0Row {
  auction: number;
  bidder: number;
  price: number;
  dateTime: number;
  extra: string;
}

/** q0: the bids, projected to {@link Q0Row}. */
export function q0(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q0Row> {
  return events
    .filter((e) => e.kind === BID)
    .map((e) => {
      // Only bids pass the filter above (the union's narrowing does not cross the operator).
      const b = (e as Extract<NexmarkEvent, { kind: typeof BID }>).bid;
      return { auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra };
    });
}
