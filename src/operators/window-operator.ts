// Flink's WindowOperator (and EvictingWindowOperator): windows per key from an assigner, fired by a trigger.
import type { OutputTag } from '../functions/output-tag.ts';
import { MergingWindowAssigner, type WindowAssigner, type WindowAssignerContext, type WindowId } from '../functions/windowing/assigners.ts';
import type { Evictor } from '../functions/windowing/evictors.ts';
import { TriggerResult, type OnMergeContext, type Trigger } from '../functions/windowing/triggers.ts';
import type { Window } from '../functions/windowing/windows.ts';
import { EddyError } from '../errors.ts';
import { ValueStateDescriptor, type ReducingStateDescriptor, type AggregatingStateDescriptor, type ListStateDescriptor, type StateDescriptor, type StateOf } from '../state/descriptors.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import { denormalizeKey } from '../state/key-group.ts';
import { MAX_WATERMARK } from '../time/watermark.ts';
import { closeFunction, openFunction } from './abstract-operator.ts';
import type { TimeDomain } from '../functions/functions.ts';
import { WindowOperatorBase } from './window-common.ts';
import { createInternalWindowFunction, type WindowFunctionContext, type InternalWindowFunction, type WindowFunctionSpec } from './window-functions.ts';
import { MergingWindowSet } from './window-merging-set.ts';
import { NamespacedStateStore, NamespacedTable, WindowTimers } from './window-state.ts';

/** Everything a window operator is built from (user functions already copied for this instance). */
export interface WindowOperatorSpec<IN, K, W extends Window> {
  assigner: WindowAssigner<IN, W>;
  trigger: Trigger<IN, W>;
  evictor: Evictor<IN, W> | undefined;
  allowedLateness: number;
  lateTag: OutputTag<IN> | undefined;
  keySelector: (value: IN) => K;
  fn: WindowFunctionSpec;
}

/** The trigger context: the operator's current key and window, timers and per-window state. */
class TriggerCtx<W extends Window> implements OnMergeContext {
  window!: W;
  id: WindowId = 0;
  mergedWindows: WindowId[] = [];
  constructor(
    private readonly op: { now(): number; currentWatermark(): number },
    private readonly timers: WindowTimers,
    private readonly state: NamespacedStateStore,
  ) {}
  set(window: W, id: WindowId): this {
    this.window = window;
    this.id = id;
    this.state.ns = id;
    return this;
  }
  getCurrentProcessingTime(): number {
    return this.op.now();
  }
  getCurrentWatermark(): number {
    return this.op.currentWatermark();
  }
  registerProcessingTimeTimer(time: number): void {
    this.timers.register('PROCESSING_TIME', this.id, time);
  }
  registerEventTimeTimer(time: number): void {
    this.timers.register('EVENT_TIME', this.id, time);
  }
  deleteProcessingTimeTimer(time: number): void {
    this.timers.delete('PROCESSING_TIME', this.id, time);
  }
  deleteEventTimeTimer(time: number): void {
    this.timers.delete('EVENT_TIME', this.id, time);
  }
  getPartitionedState<D extends StateDescriptor>(d: D): StateOf<D> {
    this.state.ns = this.id;
    return this.state.getState(d);
  }
  mergePartitionedState(d: ReducingStateDescriptor<any> | AggregatingStateDescriptor<any, any, any> | ListStateDescriptor<any>): void {
    if (this.mergedWindows.length > 0) this.state.merge(d, this.id, this.mergedWindows);
    this.state.ns = this.id;
  }
}

/**
 * The general window operator, Flink's semantics case by case: an element goes to every window the
 * assigner gives it that is not late (`window.maxTimestamp() + allowedLateness > watermark`); an element
 * with no such window and `timestamp + allowedLateness <= watermark` goes to the late-data side output or
 * is dropped and counted (`numLateRecordsDropped`). The trigger decides firing and purging; a window's
 * state is cleared at `maxTimestamp() + allowedLateness` (event time) or `maxTimestamp()` (processing
 * time). Session windows merge through a MergingWindowSet. Results carry `window.maxTimestamp()`.
 */
export class WindowOperator<IN, OUT, K, W extends Window> extends WindowOperatorBase<IN, OUT> implements WindowAssignerContext {
  private readonly assigner: WindowAssigner<IN, W>;
  private readonly trigger: Trigger<IN, W>;
  private readonly merging: MergingWindowAssigner<IN, W> | undefined;
  private readonly fn: InternalWindowFunction<IN, any, OUT, K, W>;
  private backend!: KeyedStateBackend;
  private contents!: NamespacedTable<any>;
  private windowTimers!: WindowTimers;
  private triggerCtx!: TriggerCtx<W>;
  private fnCtx!: WindowFunctionContext<W>;
  private perWindow: NamespacedStateStore | undefined;
  private mergingState: StateOf<ValueStateDescriptor<[WindowId, WindowId][] | undefined>> | undefined;

  constructor(
    name: string,
    private readonly spec: WindowOperatorSpec<IN, K, W>,
  ) {
    super(name, spec.assigner.isEventTime(), spec.allowedLateness, spec.lateTag);
    this.assigner = spec.assigner;
    this.trigger = spec.trigger;
    this.merging = spec.assigner instanceof MergingWindowAssigner ? spec.assigner : undefined;
    this.fn = createInternalWindowFunction(spec.fn, spec.evictor);
    if (this.merging !== undefined && !spec.trigger.canMerge())
      throw new EddyError('EDDY_CONFIG', `${spec.trigger.toString()} cannot be used with merging windows (${spec.assigner.toString()}); it does not implement onMerge`);
    if (this.merging !== undefined && this.fn.merge === undefined)
      throw new EddyError('EDDY_CONFIG', `session windows (${spec.assigner.toString()}) merge their contents: the AggregateFunction needs a merge(a, b) method`);
  }

  override async open(): Promise<void> {
    const backend = this.keyedBackend();
    this.backend = backend;
    this.contents = new NamespacedTable(backend, '_window-contents');
    this.windowTimers = new WindowTimers(backend, () => this.timers());
    const host = { now: () => this.ctx.clock.now(), currentWatermark: () => this.watermark };
    this.triggerCtx = new TriggerCtx<W>(host, this.windowTimers, new NamespacedStateStore(backend, '_window-trigger:', this.name));
    this.perWindow = this.merging === undefined ? new NamespacedStateStore(backend, '_window-state:', this.name) : undefined;
    this.fnCtx = this.windowFunctionContext<W>(this.perWindow);
    if (this.merging !== undefined) this.mergingState = backend.getState(new ValueStateDescriptor<[WindowId, WindowId][] | undefined>('_window-merging-set', undefined));
    if (this.fn.windowFn !== undefined) await openFunction(this.fn.windowFn, this.runtimeContext());
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.fn.windowFn !== undefined) await closeFunction(this.fn.windowFn);
  }

  processElement(value: IN, timestamp: number): void {
    const key = this.spec.keySelector(value);
    this.backend.setCurrentKey(key);
    const windows = this.assigner.assignWindows(value, timestamp, this);
    const skipped = this.merging !== undefined ? this.addToMergingWindows(key, value, timestamp, windows) : this.addToWindows(key, value, timestamp, windows);
    // Late: no window took it, and it is behind the watermark by more than the allowed lateness.
    if (skipped && this.eventTime && timestamp + this.lateness <= this.watermark) this.emitLate(value, timestamp);
  }

  private addToWindows(key: K, value: IN, timestamp: number, windows: readonly W[]): boolean {
    let skipped = true;
    for (const w of windows) {
      if (this.isWindowLate(w)) continue;
      skipped = false;
      const id = this.assigner.windowId(w);
      this.addToWindow(key, value, timestamp, w, id, id);
    }
    return skipped;
  }

  /** Adds the element to window `w` (contents under `stateId`), then fires, purges and sets the cleanup timer as the trigger decides. */
  private addToWindow(key: K, value: IN, timestamp: number, w: W, id: WindowId, stateId: WindowId): void {
    this.addContents(stateId, value, timestamp);
    const r = this.trigger.onElement(value, timestamp, w, this.triggerCtx.set(w, id));
    if (TriggerResult.isFire(r)) {
      const acc = this.contents.get(stateId);
      if (acc === undefined) return;
      this.emit(key, w, id, stateId, acc);
    }
    if (TriggerResult.isPurge(r)) this.contents.delete(stateId);
    this.registerCleanupTimer(w, id);
  }

  private addToMergingWindows(key: K, value: IN, timestamp: number, windows: readonly W[]): boolean {
    const set = new MergingWindowSet(this.merging!, this.mergingState!);
    let skipped = true;
    for (const w of windows) {
      const actual = set.addWindow(w, this.mergeWindows);
      const actualId = this.assigner.windowId(actual);
      if (this.isWindowLate(actual)) {
        set.retireWindow(actualId);
        continue;
      }
      skipped = false;
      this.addToWindow(key, value, timestamp, actual, actualId, set.getStateWindow(actualId)!);
    }
    set.persist();
    return skipped;
  }

  /** `mergedWindows` became `mergeResult`: move triggers, timers and contents over (Flink's merge function). */
  private readonly mergeWindows = (mergeResult: W, mergedWindows: W[], stateWindow: WindowId, mergedStateWindows: WindowId[]): void => {
    if (this.eventTime && mergeResult.maxTimestamp() + this.lateness <= this.watermark)
      throw new EddyError('EDDY_INTERNAL', `merging made event-time window ${String(mergeResult)} end before the watermark ${this.watermark}`);
    if (!this.eventTime && mergeResult.maxTimestamp() <= this.ctx.clock.now())
      throw new EddyError('EDDY_INTERNAL', `merging made processing-time window ${String(mergeResult)} end before the current time ${this.ctx.clock.now()}`);
    const tc = this.triggerCtx.set(mergeResult, this.assigner.windowId(mergeResult));
    tc.mergedWindows = mergedWindows.map((m) => this.assigner.windowId(m));
    this.trigger.onMerge(mergeResult, tc);
    const mergedIds = tc.mergedWindows;
    tc.mergedWindows = [];
    for (let i = 0; i < mergedWindows.length; i++) {
      this.trigger.clear(mergedWindows[i]!, this.triggerCtx.set(mergedWindows[i]!, mergedIds[i]!));
      this.deleteCleanupTimer(mergedWindows[i]!, mergedIds[i]!);
    }
    for (const s of mergedStateWindows) {
      const src = this.contents.get(s);
      if (src === undefined) continue;
      this.contents.delete(s);
      const cur = this.contents.get(stateWindow);
      this.contents.set(stateWindow, cur === undefined ? src : this.fn.merge!(cur, src));
    }
  };

  private addContents(id: WindowId, value: IN, timestamp: number): void {
    const prev = this.contents.get(id);
    const next = this.fn.add(prev, value, timestamp);
    if (next !== prev) this.contents.set(id, next);
  }

  private emit(key: unknown, window: W, id: WindowId, stateId: WindowId, acc: unknown): void {
    this.emitTs = window.maxTimestamp();
    this.fnCtx.current = window;
    if (this.perWindow !== undefined) this.perWindow.ns = id;
    this.fn.emit(key as K, acc, this.fnCtx, this);
    if (this.fn.isEmpty(acc)) this.contents.delete(stateId);
  }

  protected override onTimer(ts: number, domain: TimeDomain): void {
    const ids = this.windowTimers.take(domain, ts);
    if (ids === undefined) return;
    const key = denormalizeKey(this.backend.getCurrentKey());
    for (const id of ids) this.onWindowTimer(key, id, ts, domain);
  }

  private onWindowTimer(key: unknown, id: WindowId, ts: number, domain: TimeDomain): void {
    const window = this.assigner.windowFromId(id);
    let stateId = id;
    let set: MergingWindowSet<W> | undefined;
    if (this.merging !== undefined) {
      set = new MergingWindowSet(this.merging, this.mergingState!);
      const s = set.getStateWindow(id);
      // A timer of a window that no longer exists (a trigger that did not delete it): nothing to do.
      if (s === undefined) return;
      stateId = s;
    }
    const tc = this.triggerCtx.set(window, id);
    const r = domain === 'EVENT_TIME' ? this.trigger.onEventTime(ts, window, tc) : this.trigger.onProcessingTime(ts, window, tc);
    if (TriggerResult.isFire(r)) {
      const acc = this.contents.get(stateId);
      if (acc !== undefined) this.emit(key, window, id, stateId, acc);
    }
    if (TriggerResult.isPurge(r)) this.contents.delete(stateId);
    if (this.eventTime === (domain === 'EVENT_TIME') && ts === this.cleanupTime(window)) {
      // Clear everything of this window: contents, trigger state and timers, per-window function state.
      this.contents.delete(stateId);
      this.trigger.clear(window, this.triggerCtx.set(window, id));
      if (this.fn.windowFn?.clear !== undefined) {
        this.fnCtx.current = window;
        if (this.perWindow !== undefined) this.perWindow.ns = id;
        this.fn.windowFn.clear(this.fnCtx);
      }
      set?.retireWindow(id);
    }
    set?.persist();
  }

  /** `maxTimestamp + allowedLateness` in event time, `maxTimestamp` in processing time. */
  private cleanupTime(w: W): number {
    return w.maxTimestamp() + this.lateness;
  }

  private isWindowLate(w: W): boolean {
    return this.eventTime && this.cleanupTime(w) <= this.watermark;
  }

  private registerCleanupTimer(w: W, id: WindowId): void {
    const t = this.cleanupTime(w);
    // No cleanup timer at the end of time (GlobalWindow).
    if (t >= MAX_WATERMARK) return;
    this.windowTimers.register(this.eventTime ? 'EVENT_TIME' : 'PROCESSING_TIME', id, t);
  }

  private deleteCleanupTimer(w: W, id: WindowId): void {
    const t = this.cleanupTime(w);
    if (t >= MAX_WATERMARK) return;
    this.windowTimers.delete(this.eventTime ? 'EVENT_TIME' : 'PROCESSING_TIME', id, t);
  }
}
