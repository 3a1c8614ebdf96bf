// Nexmark q2, selection: the bids on auctions whose id is a multiple of 123, as (auction, price).
import type { DataStream, StreamEnvironment } from '../../../index.ts';
import { BID, type NexmarkEvent } from '../model.ts';

/** q2's row: `SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0`. */
export interface Q2Row {
  auction: number;
  price: number;
}

/** The modulus of the reference query. */
export const Q2_MODULUS = 123;

/** q2: one filter on the event (kind and auction id), then the projection. */
export function q2(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q2Row> {
  return events
    .filter((e) => e.kind === BID && e.bid.auction % Q2_MODULUS === 0)
    .map((e) => {
      const b = (e as Extract<NexmarkEvent, { kind: typeof BID }>).bid;
      return { auction: b.auction, price: b.price };
    });
}
