// Flink's count windows (countWindow, countWindowAll): GlobalWindows with a count trigger, and a count evictor when sliding.
import { EddyError } from '../../errors.ts';
import { CountEvictor, type Evictor } from './evictors.ts';
import { CountTrigger, PurgingTrigger, type Trigger } from './triggers.ts';
import type { GlobalWindow } from './windows.ts';

/** What `countWindows` configures: a WindowedStream or an AllWindowedStream over GlobalWindows. */
interface CountWindowable<T> {
  trigger(trigger: Trigger<T, GlobalWindow>): unknown;
  evictor(evictor: Evictor<T, GlobalWindow>): unknown;
}

/**
 * Flink's count windows on GlobalWindows: `size` alone fires and purges every `size` elements
 * (`PurgingTrigger.of(CountTrigger.of(size))`); with `slide`, fires every `slide` elements over the
 * last `size` (`CountTrigger.of(slide)` + `CountEvictor.of(size)`, so the first firings see fewer).
 * Elements of a window that never fills are never emitted, also at end of input (Flink's rule).
 * Returns `windowed`.
 *
 * @example
 * ```ts
 * countWindows(keyed.window(GlobalWindows.create()), 100, 10, 'countWindow').sum('v');
 * ```
 */
export function countWindows<S extends CountWindowable<any>>(windowed: S, size: number, slide: number | undefined, method: string): S {
  const check = (n: unknown, what: string): void => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new EddyError('EDDY_INVALID_ARGUMENT', `${method} ${what} must be an integer >= 1, got ${String(n)}`);
  };
  check(size, 'size');
  if (slide === undefined) {
    windowed.trigger(PurgingTrigger.of(CountTrigger.of(size)));
    return windowed;
  }
  check(slide, 'slide');
  windowed.evictor(CountEvictor.of(size));
  windowed.trigger(CountTrigger.of(slide));
  return windowed;
}
