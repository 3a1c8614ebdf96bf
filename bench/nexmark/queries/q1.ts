// Nexmark q1, currency conversion: every bid with its price in euros (0.908 * price).
import type { DataStream, StreamEnvironment } from '../../../index.ts';
import { BID, type NexmarkEvent } from '../model.ts';

/** q1's row: `SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid`. */
export interface Q1Row {
  auction: number;
  bidder: number;
  /** 0.908 * the bid's price, a double (the reference SQL's DECIMAL is not rounded here). */
  price: number;
  dateTime: number;
  extra: string;
}

/** The dollar-to-euro rate of the reference query. */
export const DOLLAR_TO_EURO = 0.908;

/** q1: the bids with converted prices. */
export function q1(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q1Row> {
  return events
    .filter((e) => e.kind === BID)
    .map((e) => {
      const b = (e as Extract<NexmarkEvent, { kind: typeof BID }>).bid;
      return { auction: b.auction, bidder: b.bidder, price: DOLLAR_TO_EURO * b.price, dateTime: b.dateTime, extra: b.extra };
    });
}
