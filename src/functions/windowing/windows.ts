// Windows (Flink's names): TimeWindow [start, end) with maxTimestamp = end - 1, and the single GlobalWindow.
import { MAX_WATERMARK } from '../../time/watermark.ts';

/**
 * A group of elements a window function sees together; `maxTimestamp()` is the latest timestamp it holds.
 *
 * @example
 * ```ts
 * const w: Window = new TimeWindow(0, 10);
 * w.maxTimestamp(); // 9: the window's results carry this timestamp
 * ```
 */
export interface Window {
  maxTimestamp(): number;
}

/**
 * A window of event or processing time, `[start, end)`: it holds timestamps `start <= t < end`, its
 * `maxTimestamp()` is `end - 1`, and its results carry that timestamp.
 *
 * @example
 * ```ts
 * const w = new TimeWindow(0, 10);
 * w.maxTimestamp(); // 9
 * TimeWindow.getWindowStartWithOffset(-3, 0, 10); // -10: windows tile the whole time line
 * ```
 */
export class TimeWindow implements Window {
  constructor(
    readonly start: number,
    readonly end: number,
  ) {}

  maxTimestamp(): number {
    return this.end - 1;
  }

  /** True when the windows overlap or touch (`[0, 10)` and `[10, 20)` do): sessions merge then. */
  intersects(other: TimeWindow): boolean {
    return this.start <= other.end && this.end >= other.start;
  }

  /** The smallest window that covers both. */
  cover(other: TimeWindow): TimeWindow {
    return new TimeWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }

  equals(other: unknown): boolean {
    return other instanceof TimeWindow && other.start === this.start && other.end === this.end;
  }

  toString(): string {
    return `TimeWindow{start=${this.start}, end=${this.end}}`;
  }

  /**
   * The start of the window of length `windowSize` that holds `timestamp`, for windows that start at
   * `offset` modulo `windowSize` (negative timestamps included: the remainder is taken towards -infinity).
   */
  static getWindowStartWithOffset(timestamp: number, offset: number, windowSize: number): number {
    const remainder = (timestamp - offset) % windowSize;
    return remainder < 0 ? timestamp - (remainder + windowSize) : timestamp - remainder;
  }

  /**
   * Merges overlapping (or touching) windows, as session windows do: windows are sorted by start and
   * every run that overlaps is reported to `merge` with the window that covers it (runs of one are not).
   */
  static mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void {
    const sorted = windows.slice().sort((a, b) => a.start - b.start);
    let cover: TimeWindow | undefined;
    let run: TimeWindow[] = [];
    for (const w of sorted) {
      if (cover !== undefined && cover.intersects(w)) {
        cover = cover.cover(w);
        run.push(w);
        continue;
      }
      if (cover !== undefined && run.length > 1) merge(run, cover);
      cover = w;
      run = [w];
    }
    if (cover !== undefined && run.length > 1) merge(run, cover);
  }
}

/**
 * The one window of `GlobalWindows`: it never ends (`maxTimestamp()` is +Infinity, eddy's end of time),
 * so only a trigger such as `CountTrigger` makes it fire.
 *
 * @example
 * ```ts
 * GlobalWindow.get() === GlobalWindow.get(); // true
 * ```
 */
export class GlobalWindow implements Window {
  private static readonly instance = new GlobalWindow();
  private constructor() {}
  static get(): GlobalWindow {
    return GlobalWindow.instance;
  }
  maxTimestamp(): number {
    return MAX_WATERMARK;
  }
  equals(other: unknown): boolean {
    return other instanceof GlobalWindow;
  }
  toString(): string {
    return 'GlobalWindow';
  }
}
