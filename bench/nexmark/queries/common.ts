// Pieces several Nexmark queries share: COUNT(*) as an AggregateFunction, and per-bidder window counts (q11, q12).
import type { AggregateFunction, Collector, DataStream, ProcessWindowContext, TimeWindow, WindowAssigner } from '../../../index.ts';
import { BID, type NexmarkEvent } from '../model.ts';

/** COUNT(*): a number accumulator; `merge` lets sliding panes and merging sessions combine counts. */
export const COUNT: AggregateFunction<unknown, number, number> = {
  createAccumulator: () => 0,
  add: (_e, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};

/** A bidder's bid count in one window, with the window's bounds (q11's and q12's row). */
export interface BidderWindowCount {
  bidder: number;
  bidCount: number;
  starttime: number;
  endtime: number;
}

/** Bids keyed by bidder, windowed by `assigner`, COUNT(*) with the window's bounds. */
export function bidderWindowCounts(events: DataStream<NexmarkEvent>, assigner: WindowAssigner<number, TimeWindow>, query: string, what: string): DataStream<BidderWindowCount> {
  return events
    .filter((e) => e.kind === BID)
    .map((e) => (e as Extract<NexmarkEvent, { kind: typeof BID }>).bid.bidder)
    .name(`${query} bidders`)
    .keyBy((bidder) => bidder)
    .window(assigner)
    .aggregate(COUNT, (bidder: number, ctx: ProcessWindowContext<TimeWindow>, [n]: readonly number[], out: Collector<BidderWindowCount>) => {
      const w = ctx.window();
      out.collect({ bidder, bidCount: n!, starttime: w.start, endtime: w.end });
    })
    .name(`${query} ${what}`);
}
