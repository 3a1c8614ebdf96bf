// Nexmark q3, local item suggestion: an incremental join of category-10 auctions with their sellers from OR, ID or CA.
import {
  KeyedCoProcessFunction,
  ListStateDescriptor,
  ValueStateDescriptor,
  type Collector,
  type DataStream,
  type KeyedProcessContext,
  type ListState,
  type RuntimeContext,
  type StreamEnvironment,
  type ValueState,
} from '../../../index.ts';
import { AUCTION, PERSON, type NexmarkEvent } from '../model.ts';

/**
 * q3's row:
 * `SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id
 *  WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')`.
 */
export interface Q3Row {
  name: string;
  city: string;
  state: string;
  id: number;
}

/** The category and states of the reference query. */
export const Q3_CATEGORY = 10;
export const Q3_STATES: ReadonlySet<string> = new Set(['OR', 'ID', 'CA']);

/** What the join needs of an auction and of a person (projected before the shuffle). */
interface AuctionKey {
  id: number;
  seller: number;
}
interface Seller {
  id: number;
  name: string;
  city: string;
  state: string;
}

/**
 * Keyed by seller id = person id. Invariant per key: `seller` holds the person once it arrived;
 * `pending` holds the ids of the auctions that arrived before it, and is empty once it arrived.
 * Every person is kept (not only those of the three states), so an auction whose seller lives
 * elsewhere is dropped when the seller is known instead of waiting forever: pending state stays
 * bounded by the auctions whose seller has not been generated yet (the generator names sellers
 * at most 10 persons ahead). Person state grows with the number of persons, as the SQL join's does.
 */
class Q3Join extends KeyedCoProcessFunction<number, AuctionKey, Seller, Q3Row> {
  private seller!: ValueState<Seller | undefined>;
  private pending!: ListState<number>;

  override open(ctx: RuntimeContext): void {
    this.seller = ctx.getState(new ValueStateDescriptor<Seller | undefined>('seller', undefined));
    this.pending = ctx.getState(new ListStateDescriptor<number>('pending-auctions'));
  }

  processElement1(a: AuctionKey, _ctx: KeyedProcessContext<number>, out: Collector<Q3Row>): void {
    const p = this.seller.value();
    if (p === undefined) this.pending.add(a.id);
    else if (Q3_STATES.has(p.state)) out.collect({ name: p.name, city: p.city, state: p.state, id: a.id });
  }

  processElement2(p: Seller, _ctx: KeyedProcessContext<number>, out: Collector<Q3Row>): void {
    this.seller.update(p);
    const waiting = this.pending.get();
    if (waiting.length === 0) return;
    if (Q3_STATES.has(p.state)) for (const id of waiting) out.collect({ name: p.name, city: p.city, state: p.state, id });
    this.pending.clear();
  }
}

/** q3: category-10 auctions and all persons, connected by seller = id, joined as they come (no windows, no timers). */
export function q3(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q3Row> {
  const auctions = events
    .filter((e) => e.kind === AUCTION && e.auction.category === Q3_CATEGORY)
    .map((e): AuctionKey => {
      const a = (e as Extract<NexmarkEvent, { kind: typeof AUCTION }>).auction;
      return { id: a.id, seller: a.seller };
    })
    .name('q3 auctions');
  const persons = events
    .filter((e) => e.kind === PERSON)
    .map((e): Seller => {
      const p = (e as Extract<NexmarkEvent, { kind: typeof PERSON }>).person;
      return { id: p.id, name: p.name, city: p.city, state: p.state };
    })
    .name('q3 persons');
  return auctions
    .connect(persons)
    .keyBy(
      (a) => a.seller,
      (p) => p.id,
    )
    .process(new Q3Join())
    .name('q3 join');
}
