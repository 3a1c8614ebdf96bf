// Nexmark q8, monitor new users: persons who opened an auction in the same tumbling 10 s window they registered in (a window join).
import {
  TimeWindow,
  TumblingEventTimeWindows,
  type DataStream,
  type StreamEnvironment,
} from '../../../index.ts';
import { AUCTION, PERSON, type NexmarkEvent } from '../model.ts';

/**
 * q8's row:
 * ```sql
 * SELECT P.id, P.name, P.starttime FROM
 *   (SELECT id, name, window_start AS starttime, window_end AS endtime
 *    FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *    GROUP BY id, name, window_start, window_end) P
 * JOIN
 *   (SELECT seller, window_start AS starttime, window_end AS endtime
 *    FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
 *    GROUP BY seller, window_start, window_end) A
 * ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime
 * ```
 */
export interface Q8Row {
  id: number;
  name: string;
  starttime: number;
}

/** Window size of the reference query (ms). */
export const Q8_SIZE = 10_000;

interface NewPerson {
  id: number;
  name: string;
  dateTime: number;
}

/**
 * q8: the sellers of each window are first made distinct (the SQL's `GROUP BY seller, window`: one
 * row per seller and window, timestamped with the window's max timestamp, so it stays in that
 * window), then window-joined with the persons on `person.id = seller` in the same tumbling windows.
 * Person ids are unique, so the person side needs no GROUP BY: each (person, window) joins at most once.
 */
export function q8(_env: StreamEnvironment, events: DataStream<NexmarkEvent>): DataStream<Q8Row> {
  const persons = events
    .filter((e) => e.kind === PERSON)
    .map((e): NewPerson => {
      const p = (e as Extract<NexmarkEvent, { kind: typeof PERSON }>).person;
      return { id: p.id, name: p.name, dateTime: p.dateTime };
    })
    .name('q8 persons');
  const sellers = events
    .filter((e) => e.kind === AUCTION)
    .map((e) => (e as Extract<NexmarkEvent, { kind: typeof AUCTION }>).auction.seller)
    .name('q8 sellers')
    .keyBy((seller) => seller)
    .window(TumblingEventTimeWindows.of(Q8_SIZE))
    .reduce((a) => a)
    .name('q8 distinct sellers');
  return persons
    .join(sellers)
    .where((p) => p.id)
    .equalTo((seller) => seller)
    .window(TumblingEventTimeWindows.of(Q8_SIZE))
    .apply((p, _seller): Q8Row => ({ id: p.id, name: p.name, starttime: TimeWindow.getWindowStartWithOffset(p.dateTime, 0, Q8_SIZE) }))
    .name('q8 join');
}
