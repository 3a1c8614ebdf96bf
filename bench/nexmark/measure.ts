// Helpers of the Nexmark bench: a counting sink with event-to-output latency, a source wrapper that notes when readers start, peak RSS from /proc.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Sink, Source } from '../../index.ts';
import type { RowCounter } from './baselines.ts';
import { DEFAULT_BASE_TIME, type NexmarkConfig } from './model.ts';

/**
 * A latency histogram with logarithmic buckets 1% apart from 0.01 ms up (values below go to the
 * first bucket), so quantiles are exact to ~1% with fixed memory whatever the number of samples.
 */
export class LatencyHistogram {
  private static readonly MIN_MS = 0.01;
  private static readonly LOG_STEP = Math.log(1.01);
  private readonly buckets = new Float64Array(2048);
  count = 0;
  max = -Infinity;

  record(ms: number): void {
    const i = ms <= LatencyHistogram.MIN_MS ? 0 : Math.min(this.buckets.length - 1, Math.ceil(Math.log(ms / LatencyHistogram.MIN_MS) / LatencyHistogram.LOG_STEP));
    this.buckets[i]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /** The upper bound of the bucket holding quantile `q` (0..1), in ms; NaN without samples. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return Math.min(this.max, LatencyHistogram.MIN_MS * Math.exp(i * LatencyHistogram.LOG_STEP));
    }
    return this.max;
  }
}

/**
 * When each source reader started, by subtask: the Nexmark reader's rate limit counts from its
 * construction (`clock.monotonic()`, i.e. `performance.now()`), so with `ratePerSecond` R over p
 * readers, event n is due at `starts[n % p] + (floor(n / p) + 1) * p * 1000 / R`.
 */
export interface ReaderStarts {
  starts: number[];
}

/**
 * `inner` with its readers' start times noted in `into`. The reader itself is returned unchanged,
 * so the source keeps its fused loop.
 */
export function timedSource<T>(inner: Source<T>, into: ReaderStarts): Source<T> {
  return {
    name: inner.name,
    bounded: inner.bounded,
    ...(inner.maxParallelism === undefined ? {} : { maxParallelism: inner.maxParallelism }),
    createReader: (ctx) => {
      into.starts[ctx.subtaskIndex] = performance.now();
      return inner.createReader(ctx);
    },
  };
}

/**
 * How a result row's timestamp maps back to the moment its input was generated:
 * - 'event': the row's timestamp is event time (an event's dateTime, or a window's max timestamp);
 *   the reference is the due time of the last event with a timestamp at or before it, the newest
 *   input the row can depend on (for a window: what closes it, before the watermark delay);
 * - 'processing': the row's timestamp is the max timestamp of a processing-time window (epoch ms);
 *   the reference is the window's end.
 */
export type LatencyMode = 'event' | 'processing';

/** Records event-to-output latency per result row; needs a rate-limited source (see {@link ReaderStarts}). */
export class LatencyRecorder {
  readonly histogram = new LatencyHistogram();
  private readonly base: number;
  private readonly msPerEventPerReader: number;

  constructor(
    private readonly config: NexmarkConfig & { ratePerSecond: number },
    private readonly readers: ReaderStarts,
    private readonly parallelism: number,
    private readonly mode: LatencyMode,
  ) {
    this.base = config.baseTime ?? DEFAULT_BASE_TIME;
    this.msPerEventPerReader = (parallelism * 1000) / config.ratePerSecond;
  }

  /** A row with record timestamp `ts` reached the sink now. Rows without a timestamp are skipped. */
  record(ts: number): void {
    if (!Number.isFinite(ts)) return;
    const now = performance.now();
    if (this.mode === 'processing') {
      this.histogram.record(performance.timeOrigin + now - (ts + 1));
      return;
    }
    // The last event n with base + floor(n * 1000 / eps) <= ts, i.e. n < (ts - base + 1) * eps / 1000.
    const { events, eventsPerSecond } = this.config;
    const n = Math.min(events - 1, Math.max(0, Math.ceil(((ts - this.base + 1) * eventsPerSecond) / 1000) - 1));
    const p = this.parallelism;
    const start = this.readers.starts[n % p];
    if (start === undefined) return;
    this.histogram.record(now - (start + (Math.floor(n / p) + 1) * this.msPerEventPerReader));
  }
}

/** A sink that counts (and digests) rows and drops them; with a recorder, it also records their latency. */
export function countingSink(counter: RowCounter, latency: LatencyRecorder | undefined): Sink<unknown> {
  return {
    name: 'Nexmark counting sink',
    createWriter: () =>
      latency === undefined
        ? { invoke: (row: unknown): void => counter.add(row) }
        : {
            invoke: (row: unknown, ts: number): void => {
              counter.add(row);
              latency.record(ts);
            },
          },
  };
}

/**
 * Resets this process's peak RSS (VmHWM) to its current RSS (writing 5 to /proc/self/clear_refs,
 * Linux >= 4.0), so a later {@link peakRssMB} covers one run only. False where that is unavailable.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS of this process in MB since the last reset (VmHWM), or since it started (maxRSS) without /proc. */
export function peakRssMB(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}
