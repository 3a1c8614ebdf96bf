// What a harnessed operator emitted: timestamped values, and the Output that records them.
import type { OutputTag } from '../functions/output-tag.ts';
import type { Output } from '../operators/operator.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';

/**
 * A record an operator emitted: its value and event timestamp (`undefined` when it carries none).
 *
 * @example
 * ```ts
 * const h = ProcessFunctionHarness.forMap((n: number) => n + 1);
 * await h.open();
 * h.processElement(1, 1_000);
 * const [first]: TimestampedValue<number>[] = h.getRecordOutput();
 * expect(first).toEqual({ value: 2, timestamp: 1_000 });
 * ```
 */
export interface TimestampedValue<T> {
  value: T;
  timestamp: number | undefined;
}

/** An Output that appends what the operator emits to the given arrays and map (side outputs by tag id); NO_TIMESTAMP becomes `undefined`. */
export function recordingOutput<OUT>(
  records: TimestampedValue<OUT>[],
  watermarks: number[],
  statuses: boolean[],
  sides: Map<string, TimestampedValue<unknown>[]>,
): Output<OUT> {
  return {
    collect(value: OUT, timestamp: number): void {
      records.push({ value, timestamp: timestamp === NO_TIMESTAMP ? undefined : timestamp });
    },
    emitWatermark(watermark: number): void {
      watermarks.push(watermark);
    },
    emitWatermarkStatus(idle: boolean): void {
      statuses.push(idle);
    },
    collectSide<X>(tag: OutputTag<X>, value: X, timestamp: number): void {
      let list = sides.get(tag.id);
      if (list === undefined) sides.set(tag.id, (list = []));
      list.push({ value, timestamp: timestamp === NO_TIMESTAMP ? undefined : timestamp });
    },
  };
}
