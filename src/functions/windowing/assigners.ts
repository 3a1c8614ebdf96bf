// Window assigners (Flink's): tumbling, sliding and session windows in event and processing time, global windows.
import { EddyError } from '../../errors.ts';
import { NO_TIMESTAMP } from '../../time/watermark.ts';
import { EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, type Trigger } from './triggers.ts';
import { GlobalWindow, TimeWindow, type Window } from './windows.ts';

/**
 * What an assigner may read: processing time (for processing-time windows).
 *
 * @example
 * ```ts
 * TumblingProcessingTimeWindows.of(10).assignWindows(null, 0, { getCurrentProcessingTime: () => 23 }); // [TimeWindow{start=20, end=30}]
 * ```
 */
export interface WindowAssignerContext {
  getCurrentProcessingTime(): number;
}

/**
 * A primitive naming one window among an assigner's windows (a state namespace).
 *
 * @example
 * ```ts
 * TumblingEventTimeWindows.of(10).windowId(new TimeWindow(-20, -10)); // -20
 * EventTimeSessionWindows.withGap(5).windowId(new TimeWindow(-7, 3)); // '-7:3'
 * ```
 */
export type WindowId = number | string;

/**
 * How windows of equal size and slide are laid out, when they are: what the per-slide (pane) path needs.
 *
 * @example
 * ```ts
 * SlidingEventTimeWindows.of(10_000, 2_000).slicedLayout(); // { size: 10000, slide: 2000, offset: 0 }
 * SlidingEventTimeWindows.of(10_000, 3_000).slicedLayout(); // undefined: 10 s is not a multiple of 3 s
 * ```
 */
export interface SlicedWindowLayout {
  readonly size: number;
  readonly slide: number;
  readonly offset: number;
}

/**
 * Assigns each element to zero or more windows. Subclass it for your own windows; a custom `Window`
 * type other than TimeWindow and GlobalWindow must also override `windowId` / `windowFromId`.
 *
 * @example
 * ```ts
 * // Windows of one calendar day in UTC+2: days start at 22:00 UTC.
 * const daily = TumblingEventTimeWindows.of(86_400_000, -7_200_000);
 * daily.assignWindows(null, 0, { getCurrentProcessingTime: () => 0 }); // [TimeWindow{start=-7200000, end=79200000}]
 * ```
 */
export abstract class WindowAssigner<T, W extends Window> {
  abstract assignWindows(element: T, timestamp: number, ctx: WindowAssignerContext): readonly W[];
  /** The trigger used when `.trigger(...)` is not called. */
  abstract getDefaultTrigger(): Trigger<T, W>;
  /** True for event-time windows (lateness and watermarks apply), false for processing time and global windows. */
  abstract isEventTime(): boolean;

  /** Identifies a window in state and timers. TimeWindow: `"start:end"`; GlobalWindow: `"global"`. */
  windowId(window: W): WindowId {
    if (window instanceof TimeWindow) return `${window.start}:${window.end}`;
    if (window instanceof GlobalWindow) return 'global';
    throw new EddyError('EDDY_CONFIG', `${this.toString()} assigns windows of a custom type; override windowId() and windowFromId() to name them`);
  }
  /** The window `windowId` named. */
  windowFromId(id: WindowId): W {
    if (id === 'global') return GlobalWindow.get() as unknown as W;
    const s = String(id);
    const colon = s.indexOf(':', 1);
    return new TimeWindow(Number(s.slice(0, colon)), Number(s.slice(colon + 1))) as unknown as W;
  }
  /** Windows of one size, sliding by one step (tumbling or sliding): the operator can aggregate per slide. */
  slicedLayout(): SlicedWindowLayout | undefined {
    return undefined;
  }
  toString(): string {
    return this.constructor.name;
  }
}

/**
 * An assigner whose windows merge (sessions): `mergeWindows` reports which windows become one.
 *
 * @example
 * ```ts
 * EventTimeSessionWindows.withGap(1_000) instanceof MergingWindowAssigner; // true
 * ```
 */
export abstract class MergingWindowAssigner<T, W extends Window> extends WindowAssigner<T, W> {
  abstract mergeWindows(windows: readonly W[], merge: (toBeMerged: W[], mergeResult: W) => void): void;
}

function invalid(msg: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', msg);
}

function checkMs(v: number, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(`${what} must be an integer number of ms >= ${min}, got ${String(v)}`);
  return v;
}

function eventTimestamp(timestamp: number, assigner: string): number {
  if (timestamp === NO_TIMESTAMP || typeof timestamp !== 'number' || Number.isNaN(timestamp))
    throw new EddyError(
      'EDDY_CONFIG',
      `${assigner} needs event timestamps but a record has none; call assignTimestampsAndWatermarks(...) before the window, or use a processing-time assigner`,
    );
  return timestamp;
}

/** Tumbling and sliding windows: one size, starting every `slide` ms at `offset`. */
abstract class SlidingLayoutAssigner extends WindowAssigner<unknown, TimeWindow> {
  protected constructor(
    readonly size: number,
    readonly slide: number,
    readonly offset: number,
  ) {
    super();
  }
  protected windowsAt(t: number): TimeWindow[] {
    const { size, slide } = this;
    if (size === slide) {
      const start = TimeWindow.getWindowStartWithOffset(t, this.offset, size);
      return [new TimeWindow(start, start + size)];
    }
    const windows: TimeWindow[] = [];
    // Latest window first, as Flink lists them.
    for (let start = TimeWindow.getWindowStartWithOffset(t, this.offset, slide); start > t - size; start -= slide) windows.push(new TimeWindow(start, start + size));
    return windows;
  }
  override windowId(w: TimeWindow): WindowId {
    return w.start;
  }
  override windowFromId(id: WindowId): TimeWindow {
    return new TimeWindow(id as number, (id as number) + this.size);
  }
  override slicedLayout(): SlicedWindowLayout | undefined {
    // Only the built-in classes: a subclass may assign windows differently.
    if (!SLICED.has(this.constructor)) return undefined;
    return this.size % this.slide === 0 ? { size: this.size, slide: this.slide, offset: this.offset } : undefined;
  }
}

/** Checks the arguments of `<assigner>.of(size, offset)`: `|offset| < size`. */
function checkTumbling(assigner: string, size: number, offset: number): void {
  checkMs(size, `${assigner} size`, 1);
  checkMs(offset, `${assigner} offset`, -Infinity);
  if (Math.abs(offset) >= size) throw invalid(`${assigner} needs |offset| < size, got size ${size} and offset ${offset}`);
}

/** Checks the arguments of `<assigner>.of(size, slide, offset)`: `|offset| < slide`. */
function checkSliding(assigner: string, size: number, slide: number, offset: number): void {
  checkMs(size, `${assigner} size`, 1);
  checkMs(slide, `${assigner} slide`, 1);
  checkMs(offset, `${assigner} offset`, -Infinity);
  if (Math.abs(offset) >= slide) throw invalid(`${assigner} needs |offset| < slide, got slide ${slide} and offset ${offset}`);
}

/** Tumbling and sliding windows of event time: an element goes to the windows of its timestamp. */
abstract class EventTimeLayoutAssigner extends SlidingLayoutAssigner {
  /** The assigner's name, for the error about a record without a timestamp. */
  protected abstract readonly assignerName: string;
  assignWindows(_e: unknown, timestamp: number, _ctx?: WindowAssignerContext): readonly TimeWindow[] {
    return this.windowsAt(eventTimestamp(timestamp, this.assignerName));
  }
  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }
  isEventTime(): boolean {
    return true;
  }
}

/** Tumbling and sliding windows of processing time: an element goes to the windows of the moment it arrives. */
abstract class ProcessingTimeLayoutAssigner extends SlidingLayoutAssigner {
  assignWindows(_e: unknown, _ts: number, ctx: WindowAssignerContext): readonly TimeWindow[] {
    return this.windowsAt(ctx.getCurrentProcessingTime());
  }
  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }
  isEventTime(): boolean {
    return false;
  }
}

/**
 * Event-time windows of `size` ms that do not overlap: `[k * size + offset, (k + 1) * size + offset)`.
 *
 * @example
 * ```ts
 * readings.keyBy((r) => r.sensor).window(TumblingEventTimeWindows.of(60_000)).aggregate(average);
 * ```
 */
export class TumblingEventTimeWindows extends EventTimeLayoutAssigner {
  protected readonly assignerName = 'TumblingEventTimeWindows';
  /** `offset` shifts the windows (e.g. for time zones); `|offset| < size`. */
  static of(size: number, offset = 0): TumblingEventTimeWindows {
    checkTumbling('TumblingEventTimeWindows', size, offset);
    return new TumblingEventTimeWindows(size, size, offset);
  }
  override toString(): string {
    return `TumblingEventTimeWindows(${this.size})`;
  }
}

/**
 * Event-time windows of `size` ms starting every `slide` ms: each element belongs to `size / slide` windows.
 *
 * @example
 * ```ts
 * // 10-second averages, updated every 2 seconds.
 * readings.keyBy((r) => r.sensor).window(SlidingEventTimeWindows.of(10_000, 2_000)).aggregate(average);
 * ```
 */
export class SlidingEventTimeWindows extends EventTimeLayoutAssigner {
  protected readonly assignerName = 'SlidingEventTimeWindows';
  /** `|offset| < slide`. */
  static of(size: number, slide: number, offset = 0): SlidingEventTimeWindows {
    checkSliding('SlidingEventTimeWindows', size, slide, offset);
    return new SlidingEventTimeWindows(size, slide, offset);
  }
  override toString(): string {
    return `SlidingEventTimeWindows(${this.size}, ${this.slide})`;
  }
}

/**
 * Tumbling windows of processing time: an element goes to the window of the moment it arrives.
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.page).window(TumblingProcessingTimeWindows.of(5_000)).reduce((a, b) => a + b);
 * ```
 */
export class TumblingProcessingTimeWindows extends ProcessingTimeLayoutAssigner {
  static of(size: number, offset = 0): TumblingProcessingTimeWindows {
    checkTumbling('TumblingProcessingTimeWindows', size, offset);
    return new TumblingProcessingTimeWindows(size, size, offset);
  }
  override toString(): string {
    return `TumblingProcessingTimeWindows(${this.size})`;
  }
}

/**
 * Sliding windows of processing time.
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.page).window(SlidingProcessingTimeWindows.of(60_000, 10_000)).aggregate(count);
 * ```
 */
export class SlidingProcessingTimeWindows extends ProcessingTimeLayoutAssigner {
  static of(size: number, slide: number, offset = 0): SlidingProcessingTimeWindows {
    checkSliding('SlidingProcessingTimeWindows', size, slide, offset);
    return new SlidingProcessingTimeWindows(size, slide, offset);
  }
  override toString(): string {
    return `SlidingProcessingTimeWindows(${this.size}, ${this.slide})`;
  }
}

/** The assigners whose windows the pane path may compute (filled once the classes exist). */
const SLICED = new Set<unknown>();

/** Session windows: each element opens `[t, t + gap)`, and windows that overlap or touch merge. */
abstract class SessionAssigner<T> extends MergingWindowAssigner<T, TimeWindow> {
  mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void {
    TimeWindow.mergeWindows(windows, merge);
  }
}

/**
 * Event-time sessions: a key's session ends after `gap` ms without elements.
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.user).window(EventTimeSessionWindows.withGap(30 * 60_000)).process(summarizeSession);
 * ```
 */
export class EventTimeSessionWindows extends SessionAssigner<unknown> {
  private constructor(readonly gap: number) {
    super();
  }
  static withGap(gap: number): EventTimeSessionWindows {
    return new EventTimeSessionWindows(checkMs(gap, 'EventTimeSessionWindows gap', 1));
  }
  /** The gap per element, from `extractor` (each must be > 0). */
  static withDynamicGap<T>(extractor: (element: T) => number): DynamicEventTimeSessionWindows<T> {
    return DynamicEventTimeSessionWindows.withDynamicGap(extractor);
  }
  assignWindows(_e: unknown, timestamp: number, _ctx?: WindowAssignerContext): readonly TimeWindow[] {
    const t = eventTimestamp(timestamp, 'EventTimeSessionWindows');
    return [new TimeWindow(t, t + this.gap)];
  }
  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }
  isEventTime(): boolean {
    return true;
  }
  override toString(): string {
    return `EventTimeSessionWindows(${this.gap})`;
  }
}

function dynamicGap<T>(extractor: (e: T) => number, e: T): number {
  const gap = extractor(e);
  if (typeof gap !== 'number' || !(gap > 0)) throw invalid(`a dynamic session gap must be a number > 0, got ${String(gap)}`);
  return gap;
}

/**
 * Event-time sessions whose gap each element decides.
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.user).window(EventTimeSessionWindows.withDynamicGap((c: Click) => (c.premium ? 60_000 : 10_000)));
 * ```
 */
export class DynamicEventTimeSessionWindows<T> extends SessionAssigner<T> {
  private constructor(private readonly extractor: (element: T) => number) {
    super();
  }
  static withDynamicGap<T>(extractor: (element: T) => number): DynamicEventTimeSessionWindows<T> {
    if (typeof extractor !== 'function') throw invalid('withDynamicGap needs a function (element) => gap in ms');
    return new DynamicEventTimeSessionWindows(extractor);
  }
  assignWindows(element: T, timestamp: number, _ctx?: WindowAssignerContext): readonly TimeWindow[] {
    const t = eventTimestamp(timestamp, 'DynamicEventTimeSessionWindows');
    return [new TimeWindow(t, t + dynamicGap(this.extractor, element))];
  }
  getDefaultTrigger(): Trigger<T, TimeWindow> {
    return EventTimeTrigger.create();
  }
  isEventTime(): boolean {
    return true;
  }
}

/**
 * Processing-time sessions: a session ends after `gap` ms of processing time without elements.
 *
 * @example
 * ```ts
 * clicks.keyBy((c) => c.user).window(ProcessingTimeSessionWindows.withGap(60_000)).aggregate(count);
 * ```
 */
export class ProcessingTimeSessionWindows extends SessionAssigner<unknown> {
  private constructor(readonly gap: number) {
    super();
  }
  static withGap(gap: number): ProcessingTimeSessionWindows {
    return new ProcessingTimeSessionWindows(checkMs(gap, 'ProcessingTimeSessionWindows gap', 1));
  }
  assignWindows(_e: unknown, _ts: number, ctx: WindowAssignerContext): readonly TimeWindow[] {
    const now = ctx.getCurrentProcessingTime();
    return [new TimeWindow(now, now + this.gap)];
  }
  getDefaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }
  isEventTime(): boolean {
    return false;
  }
  override toString(): string {
    return `ProcessingTimeSessionWindows(${this.gap})`;
  }
}

/**
 * One window per key that never ends; its default trigger never fires, so set one (e.g. `CountTrigger`).
 *
 * @example
 * ```ts
 * // Sum of every 3 values per key.
 * keyed.window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(3))).reduce((a, b) => a + b);
 * ```
 */
export class GlobalWindows extends WindowAssigner<unknown, GlobalWindow> {
  private static readonly windows: readonly GlobalWindow[] = [GlobalWindow.get()];
  private constructor() {
    super();
  }
  static create(): GlobalWindows {
    return new GlobalWindows();
  }
  assignWindows(_e?: unknown, _ts?: number, _ctx?: WindowAssignerContext): readonly GlobalWindow[] {
    return GlobalWindows.windows;
  }
  getDefaultTrigger(): Trigger<unknown, GlobalWindow> {
    return new NeverTrigger();
  }
  isEventTime(): boolean {
    return false;
  }
  override toString(): string {
    return 'GlobalWindows()';
  }
}

SLICED.add(TumblingEventTimeWindows).add(SlidingEventTimeWindows).add(TumblingProcessingTimeWindows).add(SlidingProcessingTimeWindows);
