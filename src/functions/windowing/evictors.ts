// Evictors (Flink's): remove elements from a window before and/or after its function runs; Count and Time.
import { EddyError } from '../../errors.ts';
import type { Window } from './windows.ts';

/**
 * An element of a window with its event timestamp (`undefined` when the record carries none).
 *
 * @example
 * ```ts
 * const e: TimestampedElement<number> = { value: 20.5, timestamp: 1_000 };
 * ```
 */
export interface TimestampedElement<T> {
  value: T;
  timestamp: number | undefined;
}

/**
 * What an evictor may read.
 *
 * @example
 * ```ts
 * // In Evictor.evictBefore: drop what the watermark has passed by more than a minute.
 * const cutoff = ctx.getCurrentWatermark() - 60_000;
 * ```
 */
export interface EvictorContext {
  getCurrentProcessingTime(): number;
  getCurrentWatermark(): number;
}

/**
 * Removes elements from a firing window: `evictBefore` runs before the window function, `evictAfter`
 * after it; both remove in place (e.g. `elements.splice(...)`), and what remains stays in the window.
 * A window with an evictor keeps every element (no incremental aggregation).
 *
 * @example
 * ```ts
 * // Keeps only elements with an even value.
 * const evenOnly: Evictor<number, TimeWindow> = {
 *   evictBefore: (elements) => {
 *     for (let i = elements.length - 1; i >= 0; i--) if (elements[i]!.value % 2 !== 0) elements.splice(i, 1);
 *   },
 *   evictAfter: () => {},
 * };
 * ```
 */
export interface Evictor<T, W extends Window> {
  evictBefore(elements: TimestampedElement<T>[], size: number, window: W, ctx: EvictorContext): void;
  evictAfter(elements: TimestampedElement<T>[], size: number, window: W, ctx: EvictorContext): void;
}

/**
 * Keeps at most `maxCount` elements, dropping the oldest (first added) ones; before the function by
 * default, after it with `doEvictAfter`.
 *
 * @example
 * ```ts
 * // The last 5 elements, recomputed every element.
 * keyed.window(GlobalWindows.create()).trigger(CountTrigger.of(1)).evictor(CountEvictor.of(5)).process(lastFive);
 * ```
 */
export class CountEvictor implements Evictor<unknown, Window> {
  private constructor(
    readonly maxCount: number,
    readonly doEvictAfter: boolean,
  ) {}
  static of(maxCount: number, doEvictAfter = false): CountEvictor {
    if (!Number.isInteger(maxCount) || maxCount < 0) throw new EddyError('EDDY_INVALID_ARGUMENT', `CountEvictor.of needs an integer >= 0, got ${String(maxCount)}`);
    return new CountEvictor(maxCount, doEvictAfter);
  }
  evictBefore(elements: TimestampedElement<unknown>[], _size?: number, _window?: Window, _ctx?: EvictorContext): void {
    if (!this.doEvictAfter) this.evict(elements);
  }
  evictAfter(elements: TimestampedElement<unknown>[], _size?: number, _window?: Window, _ctx?: EvictorContext): void {
    if (this.doEvictAfter) this.evict(elements);
  }
  private evict(elements: TimestampedElement<unknown>[]): void {
    if (elements.length > this.maxCount) elements.splice(0, elements.length - this.maxCount);
  }
  toString(): string {
    return `CountEvictor(${this.maxCount})`;
  }
}

/**
 * Keeps the elements within `windowSize` ms of the newest one: drops those with
 * `timestamp <= max(timestamp) - windowSize`. Does nothing for elements without timestamps.
 *
 * @example
 * ```ts
 * keyed.window(GlobalWindows.create()).trigger(CountTrigger.of(1)).evictor(TimeEvictor.of(10_000)).process(lastTenSeconds);
 * ```
 */
export class TimeEvictor implements Evictor<unknown, Window> {
  private constructor(
    readonly windowSize: number,
    readonly doEvictAfter: boolean,
  ) {}
  static of(windowSize: number, doEvictAfter = false): TimeEvictor {
    if (typeof windowSize !== 'number' || !(windowSize >= 0)) throw new EddyError('EDDY_INVALID_ARGUMENT', `TimeEvictor.of needs a number of ms >= 0, got ${String(windowSize)}`);
    return new TimeEvictor(windowSize, doEvictAfter);
  }
  evictBefore(elements: TimestampedElement<unknown>[], _size?: number, _window?: Window, _ctx?: EvictorContext): void {
    if (!this.doEvictAfter) this.evict(elements);
  }
  evictAfter(elements: TimestampedElement<unknown>[], _size?: number, _window?: Window, _ctx?: EvictorContext): void {
    if (this.doEvictAfter) this.evict(elements);
  }
  private evict(elements: TimestampedElement<unknown>[]): void {
    // Flink looks at the first element: without a timestamp, nothing is evicted.
    if (elements.length === 0 || elements[0]!.timestamp === undefined) return;
    let max = Number.NEGATIVE_INFINITY;
    for (const e of elements) if (e.timestamp !== undefined && e.timestamp > max) max = e.timestamp;
    const cutoff = max - this.windowSize;
    let w = 0;
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i]!;
      if (!(e.timestamp !== undefined && e.timestamp <= cutoff)) elements[w++] = e;
    }
    elements.length = w;
  }
  toString(): string {
    return `TimeEvictor(${this.windowSize})`;
  }
}
