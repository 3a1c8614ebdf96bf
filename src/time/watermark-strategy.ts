// WatermarkStrategy (Flink's API): how records get event timestamps and how watermarks follow them.
import { EddyError } from '../errors.ts';
import type { Clock } from './clock.ts';

/** Where a WatermarkGenerator emits: watermarks, and whether its stream is idle. */
export interface WatermarkOutput {
  emitWatermark(watermark: number): void;
  /** No records for a while: downstream operators stop waiting for this stream's watermark. */
  markIdle(): void;
  markActive(): void;
}

/** Produces watermarks from the events it sees (`onEvent`) and on a processing-time period (`onPeriodicEmit`). */
export interface WatermarkGenerator<T> {
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void;
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** What a generator factory may use: the clock (for idleness and processing-time logic). */
export interface WatermarkGeneratorContext {
  readonly clock: Clock;
}

/** Extracts a record's event timestamp (ms); `recordTimestamp` is the one it already carries, if any. */
export type TimestampAssigner<T> = (event: T, recordTimestamp: number | undefined) => number;

/** Flink's BoundedOutOfOrdernessWatermarks: the watermark trails the largest timestamp by the bound (+1 ms). */
class BoundedOutOfOrderness<T> implements WatermarkGenerator<T> {
  private maxTimestamp: number;
  constructor(private readonly bound: number) {
    this.maxTimestamp = Number.NEGATIVE_INFINITY;
  }
  onEvent(_event: T, timestamp: number): void {
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }
  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.maxTimestamp !== Number.NEGATIVE_INFINITY) output.emitWatermark(this.maxTimestamp - this.bound - 1);
  }
}

class NoWatermarks<T> implements WatermarkGenerator<T> {
  onEvent(): void {}
  onPeriodicEmit(): void {}
}

/** Flink's WatermarksWithIdleness: no event for `timeoutMs` of processing time marks the stream idle. */
class WithIdleness<T> implements WatermarkGenerator<T> {
  private lastEvent: number;
  private idle = false;
  constructor(
    private readonly inner: WatermarkGenerator<T>,
    private readonly timeoutMs: number,
    private readonly clock: Clock,
  ) {
    this.lastEvent = clock.monotonic();
  }
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void {
    this.lastEvent = this.clock.monotonic();
    if (this.idle) {
      this.idle = false;
      output.markActive();
    }
    this.inner.onEvent(event, timestamp, output);
  }
  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.clock.monotonic() - this.lastEvent >= this.timeoutMs) {
      if (!this.idle) {
        this.idle = true;
        output.markIdle();
      }
      return;
    }
    this.inner.onPeriodicEmit(output);
  }
}

function checkMs(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new EddyError('EDDY_INVALID_ARGUMENT', `${what} must be a non-negative number of ms, got ${String(v)}`);
  return v;
}

/**
 * How a stream gets event timestamps and watermarks.
 *
 * @example
 * ```ts
 * const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Reading>(5_000)
 *   .withTimestampAssigner((r) => r.ts)
 *   .withIdleness(60_000);
 * readings.assignTimestampsAndWatermarks(strategy);
 * ```
 */
export class WatermarkStrategy<T> {
  private constructor(
    private readonly factory: (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>,
    readonly timestampAssigner: TimestampAssigner<T> | undefined,
    readonly idlenessMs: number | undefined,
  ) {}

  /** Timestamps never decrease: the watermark is the largest timestamp seen, minus 1 ms. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(() => new BoundedOutOfOrderness<T>(0), undefined, undefined);
  }

  /** Records may arrive up to `maxOutOfOrdernessMs` late: the watermark trails the largest timestamp by that. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    const bound = checkMs(maxOutOfOrdernessMs, 'forBoundedOutOfOrderness');
    return new WatermarkStrategy<T>(() => new BoundedOutOfOrderness<T>(bound), undefined, undefined);
  }

  /** Timestamps only, no watermarks (event-time windows then fire at end of input). */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(() => new NoWatermarks<T>(), undefined, undefined);
  }

  /** A custom generator, created once per parallel instance. */
  static forGenerator<T>(factory: (ctx: WatermarkGeneratorContext) => WatermarkGenerator<T>): WatermarkStrategy<T> {
    if (typeof factory !== 'function') throw new EddyError('EDDY_INVALID_ARGUMENT', 'forGenerator needs a function (ctx) => WatermarkGenerator');
    return new WatermarkStrategy<T>(factory, undefined, undefined);
  }

  /** Where each record's timestamp comes from. */
  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    if (typeof assigner !== 'function') throw new EddyError('EDDY_INVALID_ARGUMENT', 'withTimestampAssigner needs a function (event, recordTimestamp) => number');
    return new WatermarkStrategy<T>(this.factory, assigner, this.idlenessMs);
  }

  /** After `timeoutMs` of processing time without records, the stream is idle and holds no watermark back. */
  withIdleness(timeoutMs: number): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(this.factory, this.timestampAssigner, checkMs(timeoutMs, 'withIdleness'));
  }

  /** A generator for one parallel instance (idleness applied). */
  createGenerator(ctx: WatermarkGeneratorContext): WatermarkGenerator<T> {
    const g = this.factory(ctx);
    return this.idlenessMs === undefined ? g : new WithIdleness(g, this.idlenessMs, ctx.clock);
  }
}
