// Triggers (Flink's): when a window fires and/or purges; EventTime, ProcessingTime, Count, Purging, Never.
import { EddyError } from '../../errors.ts';
import { ReducingStateDescriptor, type AggregatingStateDescriptor, type ListStateDescriptor, type StateDescriptor, type StateOf } from '../../state/descriptors.ts';
import type { Window } from './windows.ts';

/**
 * What a trigger decides: `FIRE` evaluates the window (its contents stay), `PURGE` drops its contents,
 * `FIRE_AND_PURGE` does both, `CONTINUE` nothing.
 *
 * @example
 * ```ts
 * TriggerResult.isFire(TriggerResult.FIRE_AND_PURGE); // true
 * TriggerResult.isPurge(TriggerResult.FIRE); // false
 * ```
 */
export const TriggerResult = {
  CONTINUE: 'CONTINUE',
  FIRE: 'FIRE',
  PURGE: 'PURGE',
  FIRE_AND_PURGE: 'FIRE_AND_PURGE',
  isFire: (r: TriggerResult): boolean => r === 'FIRE' || r === 'FIRE_AND_PURGE',
  isPurge: (r: TriggerResult): boolean => r === 'PURGE' || r === 'FIRE_AND_PURGE',
} as const;
export type TriggerResult = 'CONTINUE' | 'FIRE' | 'PURGE' | 'FIRE_AND_PURGE';

/**
 * What a trigger may do for the window it is called for: read time, set timers, keep per-window state.
 *
 * @example
 * ```ts
 * // In Trigger.onElement: fire at the window's end, and count elements per window.
 * ctx.registerEventTimeTimer(window.maxTimestamp());
 * ctx.getPartitionedState(new ReducingStateDescriptor<number>('n', (a, b) => a + b)).add(1);
 * ```
 */
export interface TriggerContext {
  getCurrentProcessingTime(): number;
  getCurrentWatermark(): number;
  /** Calls `onProcessingTime` for this key and window once processing time reaches `time`. */
  registerProcessingTimeTimer(time: number): void;
  /** Calls `onEventTime` for this key and window once the watermark reaches `time`. */
  registerEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  /** State scoped to the current key and window (cleared by the trigger's `clear`). */
  getPartitionedState<D extends StateDescriptor>(descriptor: D): StateOf<D>;
}

/**
 * What `onMerge` sees: also merges per-window state of the merged windows into the new one.
 *
 * @example
 * ```ts
 * // CountTrigger.onMerge: the merged session's count is the sum of the merged ones'.
 * ctx.mergePartitionedState(new ReducingStateDescriptor<number>('count', (a, b) => a + b));
 * ```
 */
export interface OnMergeContext extends TriggerContext {
  mergePartitionedState(descriptor: ReducingStateDescriptor<any> | AggregatingStateDescriptor<any, any, any> | ListStateDescriptor<any>): void;
}

/**
 * Decides when a window is evaluated. One trigger object serves every key and window: keep state in
 * `ctx.getPartitionedState(...)`, never in fields. `clear` must delete the timers and state it set.
 *
 * @example
 * ```ts
 * // Fires every second element of a window, and at the window's end.
 * class EverySecond extends Trigger<unknown, TimeWindow> {
 *   private readonly count = new ReducingStateDescriptor<number>('n', (a, b) => a + b);
 *   onElement(_e: unknown, _ts: number, w: TimeWindow, ctx: TriggerContext): TriggerResult {
 *     ctx.registerEventTimeTimer(w.maxTimestamp());
 *     const n = ctx.getPartitionedState(this.count);
 *     n.add(1);
 *     return n.get()! % 2 === 0 ? TriggerResult.FIRE : TriggerResult.CONTINUE;
 *   }
 *   onEventTime(time: number, w: TimeWindow): TriggerResult {
 *     return time === w.maxTimestamp() ? TriggerResult.FIRE : TriggerResult.CONTINUE;
 *   }
 *   onProcessingTime(): TriggerResult {
 *     return TriggerResult.CONTINUE;
 *   }
 *   clear(w: TimeWindow, ctx: TriggerContext): void {
 *     ctx.deleteEventTimeTimer(w.maxTimestamp());
 *     ctx.getPartitionedState(this.count).clear();
 *   }
 * }
 * ```
 */
export abstract class Trigger<T, W extends Window> {
  abstract onElement(element: T, timestamp: number, window: W, ctx: TriggerContext): TriggerResult;
  abstract onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  abstract onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult;
  abstract clear(window: W, ctx: TriggerContext): void;
  /** True when the trigger can be used with merging (session) windows: it implements `onMerge`. */
  canMerge(): boolean {
    return false;
  }
  /** Windows were merged into `window`: set up timers and state for it (the merged ones are cleared after). */
  onMerge(_window: W, _ctx: OnMergeContext): void {
    throw new EddyError('EDDY_CONFIG', `${this.toString()} does not support merging windows`);
  }
  toString(): string {
    return `${this.constructor.name}()`;
  }
}

/**
 * The default trigger of event-time windows: fires once the watermark reaches `window.maxTimestamp()`,
 * and again for every element that arrives after that within the allowed lateness.
 *
 * @example
 * ```ts
 * keyed.window(TumblingEventTimeWindows.of(1_000)).trigger(EventTimeTrigger.create());
 * ```
 */
export class EventTimeTrigger extends Trigger<unknown, Window> {
  private constructor() {
    super();
  }
  static create(): EventTimeTrigger {
    return new EventTimeTrigger();
  }
  onElement(_e: unknown, _ts: number, window: Window, ctx: TriggerContext): TriggerResult {
    // The watermark is already past the window (a late element within the allowed lateness): fire now.
    if (window.maxTimestamp() <= ctx.getCurrentWatermark()) return TriggerResult.FIRE;
    ctx.registerEventTimeTimer(window.maxTimestamp());
    return TriggerResult.CONTINUE;
  }
  onEventTime(time: number, window: Window): TriggerResult {
    return time === window.maxTimestamp() ? TriggerResult.FIRE : TriggerResult.CONTINUE;
  }
  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  clear(window: Window, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }
  override canMerge(): boolean {
    return true;
  }
  override onMerge(window: Window, ctx: OnMergeContext): void {
    // Only a window that can still fire on time gets a timer (a late merge fires from onElement).
    if (window.maxTimestamp() > ctx.getCurrentWatermark()) ctx.registerEventTimeTimer(window.maxTimestamp());
  }
  override toString(): string {
    return 'EventTimeTrigger()';
  }
}

/**
 * The default trigger of processing-time windows: fires once processing time reaches `window.maxTimestamp()`.
 *
 * @example
 * ```ts
 * keyed.window(TumblingProcessingTimeWindows.of(1_000)).trigger(ProcessingTimeTrigger.create());
 * ```
 */
export class ProcessingTimeTrigger extends Trigger<unknown, Window> {
  private constructor() {
    super();
  }
  static create(): ProcessingTimeTrigger {
    return new ProcessingTimeTrigger();
  }
  onElement(_e: unknown, _ts: number, window: Window, ctx: TriggerContext): TriggerResult {
    ctx.registerProcessingTimeTimer(window.maxTimestamp());
    return TriggerResult.CONTINUE;
  }
  onEventTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  onProcessingTime(): TriggerResult {
    return TriggerResult.FIRE;
  }
  clear(window: Window, ctx: TriggerContext): void {
    ctx.deleteProcessingTimeTimer(window.maxTimestamp());
  }
  override canMerge(): boolean {
    return true;
  }
  override onMerge(window: Window, ctx: OnMergeContext): void {
    if (window.maxTimestamp() > ctx.getCurrentProcessingTime()) ctx.registerProcessingTimeTimer(window.maxTimestamp());
  }
  override toString(): string {
    return 'ProcessingTimeTrigger()';
  }
}

const sum = (a: number, b: number): number => a + b;

/**
 * Fires every `maxCount` elements of a window (the count restarts after each firing); the contents
 * stay unless wrapped in `PurgingTrigger`.
 *
 * @example
 * ```ts
 * stream.windowAll(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(100))).process(batch);
 * ```
 */
export class CountTrigger extends Trigger<unknown, Window> {
  private readonly count = new ReducingStateDescriptor<number>('count', sum);
  private constructor(readonly maxCount: number) {
    super();
  }
  static of(maxCount: number): CountTrigger {
    if (!Number.isInteger(maxCount) || maxCount < 1) throw new EddyError('EDDY_INVALID_ARGUMENT', `CountTrigger.of needs an integer >= 1, got ${String(maxCount)}`);
    return new CountTrigger(maxCount);
  }
  onElement(_e: unknown, _ts: number, _w: Window, ctx: TriggerContext): TriggerResult {
    const count = ctx.getPartitionedState(this.count);
    count.add(1);
    if (count.get()! >= this.maxCount) {
      count.clear();
      return TriggerResult.FIRE;
    }
    return TriggerResult.CONTINUE;
  }
  onEventTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  clear(_w: Window, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.count).clear();
  }
  override canMerge(): boolean {
    return true;
  }
  override onMerge(_w: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.count);
  }
  override toString(): string {
    return `CountTrigger(${this.maxCount})`;
  }
}

/**
 * Turns every FIRE of the wrapped trigger into FIRE_AND_PURGE: each firing sees only what arrived since
 * the previous one.
 *
 * @example
 * ```ts
 * keyed.window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(3))).reduce((a, b) => a + b);
 * ```
 */
export class PurgingTrigger<T, W extends Window> extends Trigger<T, W> {
  private constructor(readonly nested: Trigger<T, W>) {
    super();
  }
  static of<T, W extends Window>(nested: Trigger<T, W>): PurgingTrigger<T, W> {
    if (!(nested instanceof Trigger)) throw new EddyError('EDDY_INVALID_ARGUMENT', 'PurgingTrigger.of needs a Trigger');
    return new PurgingTrigger(nested);
  }
  private static purging(r: TriggerResult): TriggerResult {
    return TriggerResult.isFire(r) ? TriggerResult.FIRE_AND_PURGE : r;
  }
  onElement(element: T, timestamp: number, window: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.purging(this.nested.onElement(element, timestamp, window, ctx));
  }
  onEventTime(time: number, window: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.purging(this.nested.onEventTime(time, window, ctx));
  }
  onProcessingTime(time: number, window: W, ctx: TriggerContext): TriggerResult {
    return PurgingTrigger.purging(this.nested.onProcessingTime(time, window, ctx));
  }
  clear(window: W, ctx: TriggerContext): void {
    this.nested.clear(window, ctx);
  }
  override canMerge(): boolean {
    return this.nested.canMerge();
  }
  override onMerge(window: W, ctx: OnMergeContext): void {
    this.nested.onMerge(window, ctx);
  }
  override toString(): string {
    return `PurgingTrigger(${this.nested.toString()})`;
  }
}

/**
 * The default trigger of GlobalWindows: never fires (set a CountTrigger or your own).
 *
 * @example
 * ```ts
 * String(GlobalWindows.create().getDefaultTrigger()); // 'NeverTrigger()'
 * ```
 */
export class NeverTrigger extends Trigger<unknown, Window> {
  onElement(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  onEventTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  onProcessingTime(): TriggerResult {
    return TriggerResult.CONTINUE;
  }
  clear(): void {}
  override canMerge(): boolean {
    return true;
  }
  override onMerge(): void {}
  override toString(): string {
    return 'NeverTrigger()';
  }
}
