// Durations as millisecond numbers: Flink's `Time.seconds(5)` (1.x) and `Duration.ofSeconds(5)` (2.x) spellings.
import { EddyError } from '../errors.ts';

/**
 * `amount` units in ms. A product within 1e-6 of a whole number of ms is that whole number, so
 * `Time.seconds(1.1)` is exactly 1100 (the float product is 1100.0000000000002); other fractions stay
 * as they are, and whoever takes the duration (a window assigner, say) rejects what it cannot use.
 */
function toMs(amount: number, unitMs: number, what: string): number {
  if (typeof amount !== 'number' || !Number.isFinite(amount))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `${what} needs a finite number, got ${typeof amount === 'number' ? String(amount) : typeof amount}`);
  const ms = amount * unitMs;
  const whole = Math.round(ms);
  return Math.abs(ms - whole) < 1e-6 ? whole : ms;
}

/**
 * Durations for window sizes, lateness, gaps, timeouts and checkpoint intervals, in Flink's words.
 * Each returns a plain number of milliseconds, so it fits wherever eddy takes `ms`.
 *
 * @example
 * ```ts
 * keyed.window(TumblingEventTimeWindows.of(Time.seconds(5))).allowedLateness(Time.minutes(1));
 * env.enableCheckpointing(Time.seconds(10));
 * Time.hours(1); // 3_600_000
 * ```
 */
export const Time = {
  milliseconds: (ms: number): number => toMs(ms, 1, 'Time.milliseconds'),
  seconds: (s: number): number => toMs(s, 1_000, 'Time.seconds'),
  minutes: (m: number): number => toMs(m, 60_000, 'Time.minutes'),
  hours: (h: number): number => toMs(h, 3_600_000, 'Time.hours'),
  days: (d: number): number => toMs(d, 86_400_000, 'Time.days'),
} as const;

/**
 * The same durations in the spelling of Flink 2 (`java.time.Duration`), as millisecond numbers.
 *
 * @example
 * ```ts
 * WatermarkStrategy.forBoundedOutOfOrderness<Reading>(Duration.ofSeconds(5));
 * Duration.ofMinutes(2); // 120_000
 * ```
 */
export const Duration = {
  ofMillis: (ms: number): number => toMs(ms, 1, 'Duration.ofMillis'),
  ofSeconds: (s: number): number => toMs(s, 1_000, 'Duration.ofSeconds'),
  ofMinutes: (m: number): number => toMs(m, 60_000, 'Duration.ofMinutes'),
  ofHours: (h: number): number => toMs(h, 3_600_000, 'Duration.ofHours'),
  ofDays: (d: number): number => toMs(d, 86_400_000, 'Duration.ofDays'),
} as const;
