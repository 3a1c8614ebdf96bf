// Keyed timers: event-time timers fire as the watermark passes them, processing-time ones on the clock.
import { keyGroupOfNormalized, type NormalizedKey } from '../state/key-group.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import type { Cancelable, Clock } from '../time/clock.ts';
import type { TimeDomain } from '../functions/functions.ts';

/** Timers as plain data: `[key, timestamp]` pairs per domain (part of keyed state). */
export interface TimerSnapshot {
  event: [NormalizedKey, number][];
  processing: [NormalizedKey, number][];
}

interface Entry {
  ts: number;
  seq: number;
  key: NormalizedKey;
}

/**
 * One domain's timers: at most one per (key, timestamp), firing in timestamp order (ties in
 * registration order). A binary heap with lazy deletion; `byKey` is the source of truth.
 */
class TimerQueue {
  private heap: Entry[] = [];
  private seq = 0;
  /** Each key's live timestamps: a number while it has one (most keys; no Set allocated), a Set for more. */
  private readonly byKey = new Map<NormalizedKey, number | Set<number>>();
  size = 0;

  add(key: NormalizedKey, ts: number): boolean {
    const cur = this.byKey.get(key);
    if (cur === undefined) this.byKey.set(key, ts);
    else if (typeof cur === 'number') {
      if (cur === ts) return false;
      this.byKey.set(key, new Set([cur, ts]));
    } else {
      if (cur.has(ts)) return false;
      cur.add(ts);
    }
    this.size++;
    this.push({ ts, seq: this.seq++, key });
    return true;
  }

  delete(key: NormalizedKey, ts: number): void {
    const cur = this.byKey.get(key);
    if (cur === undefined) return;
    if (typeof cur === 'number') {
      if (cur !== ts) return;
      this.byKey.delete(key);
    } else {
      if (!cur.delete(ts)) return;
      if (cur.size === 0) this.byKey.delete(key);
    }
    this.size--;
  }

  private has(key: NormalizedKey, ts: number): boolean {
    const cur = this.byKey.get(key);
    return cur === ts || (typeof cur === 'object' && cur.has(ts));
  }

  /** The earliest live timer's timestamp, or Infinity. */
  peek(): number {
    this.dropDeleted();
    return this.heap.length === 0 ? Infinity : this.heap[0]!.ts;
  }

  /** Removes and returns the earliest live timer if its timestamp is <= `upTo`. */
  pollUpTo(upTo: number): Entry | undefined {
    this.dropDeleted();
    const top = this.heap[0];
    if (top === undefined || top.ts > upTo) return undefined;
    this.pop();
    this.delete(top.key, top.ts);
    return top;
  }

  entries(): [NormalizedKey, number][] {
    const out: [NormalizedKey, number][] = [];
    for (const [k, v] of this.byKey) {
      if (typeof v === 'number') out.push([k, v]);
      else for (const ts of v) out.push([k, ts]);
    }
    return out;
  }

  private dropDeleted(): void {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.has(top.key, top.ts)) return;
      this.pop();
    }
  }

  private less(a: Entry, b: Entry): boolean {
    return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** Called for each due timer with the backend's current key already set to the timer's key. */
export type TimerCallback = (timestamp: number, domain: TimeDomain) => void;

/**
 * The timers of one keyed operator instance. Registration and deletion act on the backend's current
 * key. Event-time timers fire from `advanceWatermark`; processing-time timers from the clock, and
 * an error there goes to `onError` (it happens outside any record call).
 *
 * @example
 * ```ts
 * const timers = new InternalTimerService(backend, clock, (ts, domain) => fired.push([backend.getCurrentKey(), ts, domain]), fail);
 * backend.setCurrentKey('a');
 * timers.registerEventTimeTimer(10);
 * timers.advanceWatermark(10); // fires ('a', 10, 'EVENT_TIME')
 * ```
 */
export class InternalTimerService {
  private readonly event = new TimerQueue();
  private readonly processing = new TimerQueue();
  private scheduled: { at: number; handle: Cancelable } | undefined;
  private watermark = Number.NEGATIVE_INFINITY;
  private firing = false;

  constructor(
    private readonly backend: KeyedStateBackend,
    private readonly clock: Clock,
    private readonly onTimer: TimerCallback,
    private readonly onError: (e: unknown) => void,
  ) {}

  currentWatermark(): number {
    return this.watermark;
  }

  registerEventTimeTimer(ts: number): void {
    this.event.add(this.backend.getCurrentKey(), ts);
  }
  deleteEventTimeTimer(ts: number): void {
    this.event.delete(this.backend.getCurrentKey(), ts);
  }
  registerProcessingTimeTimer(ts: number): void {
    if (this.processing.add(this.backend.getCurrentKey(), ts)) this.reschedule();
  }
  deleteProcessingTimeTimer(ts: number): void {
    this.processing.delete(this.backend.getCurrentKey(), ts);
  }

  /** Number of live timers (both domains). */
  get size(): number {
    return this.event.size + this.processing.size;
  }

  /** Fires every event-time timer at or below `watermark`, in timestamp order. */
  advanceWatermark(watermark: number): void {
    this.watermark = watermark;
    const key = this.backend.getCurrentKey();
    for (let e = this.event.pollUpTo(watermark); e !== undefined; e = this.event.pollUpTo(watermark)) {
      this.backend.setCurrentNormalizedKey(e.key);
      this.onTimer(e.ts, 'EVENT_TIME');
    }
    this.backend.setCurrentNormalizedKey(key);
  }

  private reschedule(): void {
    const next = this.processing.peek();
    if (this.scheduled !== undefined) {
      if (this.scheduled.at <= next) return;
      this.scheduled.handle.cancel();
      this.scheduled = undefined;
    }
    if (next === Infinity || this.firing) return;
    this.scheduled = { at: next, handle: this.clock.schedule(next - this.clock.now(), () => this.fireProcessingTimers()) };
  }

  private fireProcessingTimers(): void {
    this.scheduled = undefined;
    this.firing = true;
    const key = this.backend.getCurrentKey();
    try {
      const now = this.clock.now();
      for (let e = this.processing.pollUpTo(now); e !== undefined; e = this.processing.pollUpTo(now)) {
        this.backend.setCurrentNormalizedKey(e.key);
        this.onTimer(e.ts, 'PROCESSING_TIME');
      }
    } catch (e) {
      this.onError(e);
      return;
    } finally {
      this.firing = false;
      this.backend.setCurrentNormalizedKey(key);
    }
    this.reschedule();
  }

  snapshot(): TimerSnapshot {
    return { event: this.event.entries(), processing: this.processing.entries() };
  }

  /** Loads the timers of `snapshots` whose key lies in the key-group range. */
  restore(snapshots: readonly TimerSnapshot[], range: { start: number; end: number }, maxParallelism: number): void {
    const inRange = (k: NormalizedKey): boolean => {
      const g = keyGroupOfNormalized(k, maxParallelism);
      return g >= range.start && g <= range.end;
    };
    for (const s of snapshots) {
      for (const [k, ts] of s.event) if (inRange(k)) this.event.add(k, ts);
      for (const [k, ts] of s.processing) if (inRange(k)) this.processing.add(k, ts);
    }
    this.reschedule();
  }

  close(): void {
    this.scheduled?.handle.cancel();
    this.scheduled = undefined;
  }
}
