// The Nexmark queries by name, their common signature, and the event stream they all read (timestamps + watermarks).
//
// Contract for every query (q0..q12):
//
//   export const qN: NexmarkQuery<Out> = (env, events) => DataStream<Out>
//
// - `events` is `nexmarkEvents(env, config)`: the generator source with each record's timestamp =
//   its event's `dateTime`, and bounded-out-of-orderness watermarks (events are in order per
//   split, so a small bound suffices). A query must not assign timestamps again.
// - `env` is there for queries that need more than one input or side state (e.g. a second source);
//   most ignore it.
// - The returned stream is the query's result; the caller adds the sink (`executeAndCollect()`
//   in tests, a counting sink in the bench). Operators set their own parallelism only if the
//   query needs it (e.g. a global max); otherwise the environment's applies.
// - Register the query in `QUERIES` below.
import { WatermarkStrategy, type DataStream, type StreamEnvironment } from '../../../index.ts';
import { eventTime, nexmarkSource } from '../generator.ts';
import type { NexmarkConfig, NexmarkEvent } from '../model.ts';
import { q0 } from './q0.ts';
import { q1 } from './q1.ts';
import { q2 } from './q2.ts';
import { q3 } from './q3.ts';
import { q4 } from './q4.ts';
import { q5 } from './q5.ts';
import { q7 } from './q7.ts';
import { q8 } from './q8.ts';
import { q11 } from './q11.ts';
import { q12 } from './q12.ts';

/** A Nexmark query: the result stream of `events`. See the contract above. */
export type NexmarkQuery<Out> = (env: StreamEnvironment, events: DataStream<NexmarkEvent>) => DataStream<Out>;

/** Options of {@link nexmarkEvents}. */
export interface NexmarkEventsOptions {
  /** Watermark bound in ms. Default 100: splits are in order, so only a rescaled reader (several splits) disorders. */
  outOfOrdernessMs?: number;
}

/**
 * The Nexmark event stream every query reads: `nexmarkSource(config)`, timestamps assigned from
 * each event's `dateTime`, watermarks `maxTimestamp - outOfOrdernessMs - 1`.
 *
 * @example
 * ```ts
 * const out = QUERIES.q1!(env, nexmarkEvents(env, { events: 1_000_000, eventsPerSecond: 10_000_000 }));
 * ```
 */
export function nexmarkEvents(env: StreamEnvironment, config: NexmarkConfig, options: NexmarkEventsOptions = {}): DataStream<NexmarkEvent> {
  return env
    .fromSource(nexmarkSource(config), 'Nexmark Source')
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<NexmarkEvent>(options.outOfOrdernessMs ?? 100).withTimestampAssigner(eventTime));
}

/**
 * Every query by its name ('q0', 'q1', ...). Rows are typed `any` here because DataStream is
 * invariant in its element type; import a query by name for its row type.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const QUERIES: Record<string, NexmarkQuery<any>> = { q0, q1, q2, q3, q4, q5, q7, q8, q11, q12 };
