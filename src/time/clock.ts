// Clocks: the only place the runtime reads wall time or schedules callbacks (system and manual).
import { EddyError } from '../errors.ts';

/** A cancel handle for a scheduled callback. */
export interface Cancelable {
  cancel(): void;
}

/**
 * Processing time and delayed callbacks. The runtime never calls `Date.now` or `setTimeout`
 * directly: it asks a Clock, so tests and the operator harness can drive time by hand.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A monotonic high-resolution reading in milliseconds, for measuring durations. */
  monotonic(): number;
  /** Calls `fn` once after `delayMs`. */
  schedule(delayMs: number, fn: () => void): Cancelable;
  /** Resolves after `delayMs`. */
  sleep(delayMs: number): Promise<void>;
}

class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  schedule(delayMs: number, fn: () => void): Cancelable {
    const t = setTimeout(fn, Math.max(0, delayMs));
    // A pending timer must never keep a finished job's process alive.
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  }
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, delayMs)));
  }
}

/**
 * The wall clock.
 *
 * @example
 * ```ts
 * const t = systemClock.now(); // ms since epoch
 * ```
 */
export const systemClock: Clock = new SystemClock();

/**
 * A clock that moves only when told to: `advance(ms)` / `setTime(t)` fire due callbacks in time order.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * const fired: number[] = [];
 * clock.schedule(10, () => fired.push(clock.now()));
 * clock.advance(15); // fired = [10]
 * ```
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private pending: { at: number; seq: number; fn: () => void; canceled: boolean }[] = [];

  constructor(start = 0) {
    this.time = start;
  }
  now(): number {
    return this.time;
  }
  monotonic(): number {
    return this.time;
  }
  schedule(delayMs: number, fn: () => void): Cancelable {
    const entry = { at: this.time + Math.max(0, delayMs), seq: this.seq++, fn, canceled: false };
    this.pending.push(entry);
    return { cancel: () => (entry.canceled = true) };
  }
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.schedule(delayMs, resolve));
  }
  /** Moves time forward by `ms`, running every callback that falls due, earliest first. */
  advance(ms: number): void {
    this.setTime(this.time + ms);
  }
  /** Moves time to `t` (never backwards), running every callback that falls due, earliest first. */
  setTime(t: number): void {
    if (t < this.time) throw new EddyError('EDDY_INVALID_ARGUMENT', `ManualClock cannot go back from ${this.time} to ${t}: time only moves forward, so pass a time >= ${this.time} (or a delay >= 0 to advance)`);
    for (;;) {
      let next: (typeof this.pending)[number] | undefined;
      for (const p of this.pending) {
        if (p.canceled || p.at > t) continue;
        if (next === undefined || p.at < next.at || (p.at === next.at && p.seq < next.seq)) next = p;
      }
      if (next === undefined) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      this.time = next.at;
      next.fn();
    }
    this.pending = this.pending.filter((p) => !p.canceled);
    this.time = t;
  }
}
