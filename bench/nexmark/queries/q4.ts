// Nexmark q4, average price per category: per auction the max bid within [dateTime, expires], then the running average of those maxima per category.
import {
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  ListStateDescriptor,
  ValueStateDescriptor,
  type Collector,
  type DataStream,
  type KeyedProcessContext,
  type ListState,
  type OnTimerContext,
  type RuntimeContext,
  type StreamEnvironment,
  type ValueState,
} from '../../../index.ts';
import { AUCTION, BID, type NexmarkEvent } from '../model.ts';

/**
 * q4's row, an update of an ever-refined result (the last row per category is the answer):
 * ```sql
 * SELECT Q.category, AVG(Q.final) FROM (
 *   SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
 *   WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
 *   GROUP BY A.id, A.category) Q
 * GROUP BY Q.category
 * ```
 * `avg` is `sum / count` over the closed auctions of the category that had a bid in time: a
 * double (the reference SQL's AVG of BIGINT truncates; this does not).
 */
export interface Q4Row {
  category: number;
  avg: number;
}

/** One closed auction's winning price. */
export interface Q4Final {
  auction: number;
  category: number;
  final: number;
}

interface AuctionInfo {
  id: number;
  dateTime: number;
  expires: number;
  category: number;
}
interface BidInfo {
  auction: number;
  price: number;
  dateTime: number;
}

/**
 * Keyed by auction id. Invariants per key:
 * - before the auction arrives, `pending` holds the bids that did (the two kinds come from
 *   different source splits, so a bid may overtake its auction), each with an event-time timer at
 *   its dateTime; when that timer fires and the auction is still unknown, the bid can no longer
 *   match (an auction arriving later is not late, so its dateTime exceeds the watermark, which
 *   passed the bid's dateTime) and is dropped;
 * - once it arrived, `auction` is set, `pending` is empty and `max` is the highest price of the
 *   bids seen with dateTime in [auction.dateTime, auction.expires];
 * - the timer at `expires` closes the auction: no bid in the range can come after the watermark
 *   passed `expires`, so `max` is final; it is emitted (when a bid matched) and the key's state
 *   cleared. Bids for a closed auction then go the "unknown auction" way and are dropped.
 */
class MaxBidPerAuction extends KeyedCoProcessFunction<number, AuctionInfo, BidInfo, Q4Final> {
  private auction!: ValueState<AuctionInfo | undefined>;
  private max!: ValueState<number | undefined>;
  private pending!: ListState<BidInfo>;

  override open(ctx: RuntimeContext): void {
    this.auction = ctx.getState(new ValueStateDescriptor<AuctionInfo | undefined>('auction', undefined));
    this.max = ctx.getState(new ValueStateDescriptor<number | undefined>('max', undefined));
    this.pending = ctx.getState(new ListStateDescriptor<BidInfo>('early-bids'));
  }

  processElement1(a: AuctionInfo, ctx: KeyedProcessContext<number>): void {
    this.auction.update(a);
    const early = this.pending.get();
    if (early.length > 0) {
      let max = this.max.value();
      for (const b of early) if (b.dateTime >= a.dateTime && b.dateTime <= a.expires && (max === undefined || b.price > max)) max = b.price;
      if (max !== undefined) this.max.update(max);
      this.pending.clear();
    }
    ctx.timerService().registerEventTimeTimer(a.expires);
  }

  processElement2(b: BidInfo, ctx: KeyedProcessContext<number>): void {
    const a = this.auction.value();
    if (a === undefined) {
      this.pending.add(b);
      ctx.timerService().registerEventTimeTimer(b.dateTime);
      return;
    }
    if (b.dateTime < a.dateTime || b.dateTime > a.expires) return;
    const max = this.max.value();
    if (max === undefined || b.price > max) this.max.update(b.price);
  }

  override onTimer(timestamp: number, ctx: OnTimerContext<number>, out: Collector<Q4Final>): void {
    const a = this.auction.value();
    if (a === undefined) {
      // A pending bid's deadline: drop the bids that can no longer meet their auction.
      const early = this.pending.get();
      const keep = early.filter((b) => b.dateTime > timestamp);
      if (keep.length === 0) this.pending.clear();
      else if (keep.length < early.length) this.pending.update(keep);
      return;
    }
    // Timers fire in timestamp order, so the first one at or after `expires` is the closing one.
    if (timestamp < a.expires) return;
    const max = this.max.value();
    if (max !== undefined) out.collect({ auction: ctx.getCurrentKey(), category: a.category, final: max });
    this.auction.clear();
    this.max.clear();
  }
}

/** Keyed by category: the running sum and count of the winning prices; emits the new average on each. */
class AveragePerCategory extends KeyedProcessFunction<number, Q4Final, Q4Row> {
  private sum!: ValueState<number>;
  private count!: ValueState<number>;

  override open(ctx: RuntimeContext): void {
    this.sum = ctx.getState(new ValueStateDescriptor<number>('sum', 0));
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', 0));
  }

  processElement(f: Q4Final, ctx: KeyedProcessContext<number>, out: Collector<Q4Row>): void {
    // Prices are integers, so the sum is exact (below 2^53) whatever the order of arrival.
    const sum = this.sum.value() + f.final;
    const count = this.count.value() + 1;
    this.sum.update(sum);
    this.count.update(count);
    out.collect({ category: ctx.getCurrentKey(), avg: sum / count });
  }
}

/** q4: auctions and bids connected by auction id (max per auction at expiry), then averaged per category. */
export function q4(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q4Row> {
  const auctions = events
    .filter((e) => e.kind === AUCTION)
    .map((e): AuctionInfo => {
      const a = (e as Extract<NexmarkEvent, { kind: typeof AUCTION }>).auction;
      return { id: a.id, dateTime: a.dateTime, expires: a.expires, category: a.category };
    })
    .name('q4 auctions');
  const bids = events
    .filter((e) => e.kind === BID)
    .map((e): BidInfo => {
      const b = (e as Extract<NexmarkEvent, { kind: typeof BID }>).bid;
      return { auction: b.auction, price: b.price, dateTime: b.dateTime };
    })
    .name('q4 bids');
  return auctions
    .connect(bids)
    .keyBy(
      (a) => a.id,
      (b) => b.auction,
    )
    .process(new MaxBidPerAuction())
    .name('q4 max per auction')
    .keyBy((f) => f.category)
    .process(new AveragePerCategory())
    .name('q4 average per category');
}
