// Tumbling and sliding windows aggregated per slide (panes): O(1) per record and (amortized) per firing.
import type { OutputTag } from '../functions/output-tag.ts';
import type { SlicedWindowLayout } from '../functions/windowing/assigners.ts';
import { TimeWindow } from '../functions/windowing/windows.ts';
import { EddyError } from '../errors.ts';
import { ValueStateDescriptor, type AggregateFunction, type ReduceFunction, type ValueState } from '../state/descriptors.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import { denormalizeKey, type NormalizedKey } from '../state/key-group.ts';
import type { Cancelable } from '../time/clock.ts';
import { closeFunction, openFunction } from './abstract-operator.ts';
import type { OperatorSnapshot } from './operator.ts';
import { WindowOperatorBase } from './window-common.ts';
import type { WindowFunctionContext, WindowFunctionObject } from './window-functions.ts';
import { dropOldest, firstPaneFrom, lowerBound, newPaneState, PaneCombiner, windowAccumulator, WindowSchedule, type PaneState } from './window-panes.ts';
import { NamespacedStateStore } from './window-state.ts';

/** What the pane operator is built from (functions already copied for this instance). */
export interface PaneWindowSpec<IN, K> {
  layout: SlicedWindowLayout;
  eventTime: boolean;
  allowedLateness: number;
  lateTag: OutputTag<IN> | undefined;
  keySelector: (value: IN) => K;
  /** Exactly one of reduce / aggregate. */
  reduce: ReduceFunction<IN> | undefined;
  aggregate: AggregateFunction<IN, any, any> | undefined;
  windowFn: WindowFunctionObject<any, any, K, TimeWindow> | undefined;
}

/**
 * Windows of `size = n * slide` (tumbling: n = 1) with the default event- or processing-time trigger,
 * computed from per-slide partial results ("panes", `[k * slide + offset, (k + 1) * slide + offset)`):
 * a record updates the one pane its timestamp falls in, and window `j` (panes `j - n + 1 .. j`, ending
 * at `(j + 1) * slide + offset`) is combined when it fires. Firings per key come in window order, so
 * the combination keeps a two-stack sliding aggregate: a few `merge`/`reduce` calls per firing
 * whatever n is. Observable behaviour is that of Flink's WindowOperator with EventTimeTrigger /
 * ProcessingTimeTrigger (lateness, late firings, side output, cleanup at `maxTimestamp + lateness`),
 * provided `reduce` and `merge` are associative and commutative.
 *
 * Instead of a timer per key and window, each key is listed under its next window to fire and under
 * the window whose cleanup drops its oldest pane (WindowSchedule); the lists are rebuilt from keyed
 * state on restore, so snapshots hold keyed state only.
 */
export class PaneWindowOperator<IN, OUT, K> extends WindowOperatorBase<IN, OUT> {
  private readonly size: number;
  private readonly slide: number;
  private readonly offset: number;
  private readonly n: number;
  private readonly combiner: PaneCombiner<IN, any>;
  private readonly fires = new WindowSchedule();
  private readonly cleanups = new WindowSchedule();
  private backend!: KeyedStateBackend;
  private state!: ValueState<PaneState<any> | undefined>;
  private fnCtx: WindowFunctionContext<TimeWindow> | undefined;
  private perWindow: NamespacedStateStore | undefined;
  private scheduled: { at: number; handle: Cancelable } | undefined;
  private restored = false;

  constructor(
    name: string,
    private readonly spec: PaneWindowSpec<IN, K>,
  ) {
    // Processing time: cleanup at maxTimestamp (Flink ignores allowed lateness there).
    super(name, spec.eventTime, spec.allowedLateness, spec.lateTag);
    ({ size: this.size, slide: this.slide, offset: this.offset } = spec.layout);
    this.n = this.size / this.slide;
    this.combiner = new PaneCombiner<IN, any>(spec.reduce, spec.aggregate);
    if (!Number.isInteger(this.n) || (this.n > 1 && !this.combiner.canCombine()))
      throw new EddyError('EDDY_INTERNAL', `operator "${name}": panes need size % slide === 0 and a combinable function`);
  }

  override initializeState(snapshot: OperatorSnapshot | undefined): void {
    super.initializeState(snapshot);
    this.restored = snapshot?.keyed !== undefined;
  }

  override async open(): Promise<void> {
    const backend = this.keyedBackend();
    this.backend = backend;
    this.state = backend.getState(new ValueStateDescriptor<PaneState<any> | undefined>('_window-panes', undefined));
    if (this.restored) await this.rebuildSchedules();
    const fn = this.spec.windowFn;
    if (fn !== undefined) {
      this.perWindow = new NamespacedStateStore(backend, '_window-state:', this.name);
      this.fnCtx = this.windowFunctionContext<TimeWindow>(this.perWindow);
      await openFunction(fn, this.runtimeContext());
    }
  }

  override async close(): Promise<void> {
    await super.close();
    this.scheduled?.handle.cancel();
    this.scheduled = undefined;
    if (this.spec.windowFn !== undefined) await closeFunction(this.spec.windowFn);
  }

  /** The last timestamp of window j (panes j - n + 1 .. j). */
  private maxTs(j: number): number {
    return (j + 1) * this.slide + this.offset - 1;
  }

  processElement(value: IN, timestamp: number): void {
    this.backend.setCurrentKey(this.spec.keySelector(value));
    const t = this.elementTime(timestamp);
    const p = Math.floor((t - this.offset) / this.slide);
    const n = this.n;
    const wm = this.watermark;
    // Every window of the pane is past its allowed lateness: the element is late (t <= the last window's end).
    if (this.eventTime && this.maxTs(p + n - 1) + this.lateness <= wm) {
      this.emitLate(value, timestamp);
      return;
    }
    let st = this.state.value();
    if (st === undefined) this.state.update((st = newPaneState()));
    const idx = st.idx;
    const last = idx.length - 1;
    const pos = last >= st.h && idx[last] === p ? last : lowerBound(idx, p, st.h);
    if (pos < idx.length && idx[pos] === p) st.acc[pos] = this.combiner.add(st.acc[pos], value);
    else {
      if (pos === idx.length) {
        idx.push(p);
        st.acc.push(this.combiner.add(undefined, value));
      } else {
        idx.splice(pos, 0, p);
        st.acc.splice(pos, 0, this.combiner.add(undefined, value));
      }
      this.schedulePane(st, p, wm);
    }
    // A pane already folded into the running result changed: recompute the next firing from the panes.
    if (p < st.be) st.dirty = true;
    if (this.eventTime) {
      // Windows of this pane that already fired but are within the allowed lateness fire again now
      // (EventTimeTrigger.onElement), latest window first as Flink lists them.
      if (this.maxTs(p) <= wm)
        for (let j = p + n - 1; j >= p; j--) if (this.maxTs(j) <= wm && this.maxTs(j) + this.lateness > wm) this.fire(this.backend.getCurrentKey(), st, j, false);
    } else if (p <= st.lf) this.addToRefiredWindow(st, p, value);
    // `st` was changed in place: write it back, or incremental checkpoints (and the LevelDB backend) miss the change.
    this.state.update(st);
  }

  /** A new pane: list the key under its first unfired window and under its oldest pane's cleanup. */
  private schedulePane(st: PaneState<any>, p: number, wm: number): void {
    const key = this.backend.getCurrentKey();
    // The first window holding p that has not fired: by the watermark, or (processing time) after the last fired.
    const first = Math.max(p, this.eventTime ? Math.floor((wm + 1 - this.offset) / this.slide) : st.lf + 1);
    if (first <= p + this.n - 1 && first < st.nj) {
      st.nj = first;
      this.fires.add(first, key);
    }
    const oldest = st.idx[st.h]! + this.n - 1;
    if (oldest < st.cj) {
      st.cj = oldest;
      this.cleanups.add(oldest, key);
    }
    if (!this.eventTime) this.scheduleClock();
  }

  /**
   * Processing time, in the millisecond a window of this pane fired and was cleared: as in Flink, the
   * window starts afresh and fires once more with what arrives now.
   */
  private addToRefiredWindow(st: PaneState<any>, j: number, value: IN): void {
    const extra = (st.extra ??= []);
    const e = extra.find((x) => x[0] === j);
    if (e !== undefined) e[1] = this.combiner.add(e[1], value);
    else {
      extra.push([j, this.combiner.add(undefined, value)]);
      this.fires.add(j, this.backend.getCurrentKey());
      this.scheduleClock();
    }
  }

  override processWatermark(watermark: number): void {
    this.watermark = watermark;
    if (this.eventTime) this.runDue(watermark);
    super.processWatermark(watermark);
  }

  /** Fires every window whose end `time` passed, then drops the panes past their cleanup time. */
  private runDue(time: number): void {
    const n = this.n;
    const backend = this.backend;
    const saved = backend.getCurrentKey();
    while (this.fires.peek() !== Infinity && this.maxTs(this.fires.peek()) <= time) {
      const j = this.fires.peek();
      for (const key of this.fires.take()) {
        backend.setCurrentNormalizedKey(key);
        const st = this.state.value();
        if (st === undefined) continue;
        if (st.extra !== undefined) this.fireRefired(key, st, j);
        if (st.nj !== j) continue;
        this.fire(key, st, j, true);
        st.lf = j;
        // The next window with panes: the first pane not older than window j + 1's start.
        const next = Math.max(j + 1, firstPaneFrom(st, j - n + 2));
        st.nj = next;
        if (next !== Infinity) this.fires.add(next, key);
        this.state.update(st);
      }
    }
    while (this.cleanups.peek() !== Infinity && this.maxTs(this.cleanups.peek()) + this.lateness <= time) {
      const j = this.cleanups.peek();
      for (const key of this.cleanups.take()) {
        backend.setCurrentNormalizedKey(key);
        const st = this.state.value();
        if (st === undefined || st.cj !== j) continue;
        let k = st.h;
        while (k < st.idx.length && this.maxTs(st.idx[k]! + n - 1) + this.lateness <= time) k++;
        dropOldest(st, k - st.h);
        if (st.h === st.idx.length && st.extra === undefined) {
          this.state.clear();
          continue;
        }
        st.cj = st.h < st.idx.length ? st.idx[st.h]! + n - 1 : Infinity;
        if (st.cj !== Infinity) this.cleanups.add(st.cj, key);
        this.state.update(st);
      }
    }
    backend.setCurrentNormalizedKey(saved);
  }

  private fireRefired(key: NormalizedKey, st: PaneState<any>, j: number): void {
    const at = st.extra!.findIndex((x) => x[0] === j);
    if (at < 0) return;
    const [, acc] = st.extra!.splice(at, 1)[0]!;
    if (st.extra!.length === 0) st.extra = undefined;
    this.emit(key, j, acc);
    if (st.extra === undefined && st.h === st.idx.length) this.state.clear();
    else this.state.update(st);
  }

  /** Emits window j: `ordered` firings go through the two-stack aggregate, late ones combine their panes directly. */
  private fire(key: NormalizedKey, st: PaneState<any>, j: number, ordered: boolean): void {
    const a = j - this.n + 1;
    const acc = ordered && this.n > 1 ? windowAccumulator(st, this.combiner, a, j + 1) : this.combiner.combineRange(st, a, j + 1);
    if (acc !== undefined) this.emit(key, j, acc);
  }

  private emit(key: NormalizedKey, j: number, acc: unknown): void {
    const result = this.combiner.result(acc);
    this.emitTs = this.maxTs(j);
    const fn = this.spec.windowFn;
    if (fn === undefined) {
      this.out.collect(result as OUT, this.emitTs);
      return;
    }
    const start = (j - this.n + 1) * this.slide + this.offset;
    this.fnCtx!.current = new TimeWindow(start, start + this.size);
    this.perWindow!.ns = start;
    fn.process(denormalizeKey(key) as K, this.fnCtx!, [result], this);
  }

  /** Processing time: one clock callback at the earliest due window end. */
  private scheduleClock(): void {
    const at = Math.min(this.maxTs(this.fires.peek()), this.maxTs(this.cleanups.peek()));
    if (at === Infinity) return;
    if (this.scheduled !== undefined) {
      if (this.scheduled.at <= at) return;
      this.scheduled.handle.cancel();
    }
    const clock = this.ctx.clock;
    this.scheduled = {
      at,
      handle: clock.schedule(at - clock.now(), () => {
        this.scheduled = undefined;
        try {
          this.runDue(clock.now());
        } catch (e) {
          this.ctx.failTask(e);
          return;
        }
        this.scheduleClock();
      }),
    };
  }

  /** After a restore: list every key again under its next firing and cleanup (and re-firings). */
  private async rebuildSchedules(): Promise<void> {
    const backend = this.backend as KeyedStateBackend & { keysAsync?(stateName: string): Promise<NormalizedKey[]> };
    // The LevelDB backend lists keys only asynchronously (its keys() throws).
    const keys = backend.keysAsync !== undefined ? await backend.keysAsync('_window-panes') : backend.keys('_window-panes');
    for (const key of keys) {
      backend.setCurrentNormalizedKey(key);
      const st = this.state.value()!;
      if (st.nj !== Infinity) this.fires.add(st.nj, key);
      if (st.cj !== Infinity) this.cleanups.add(st.cj, key);
      for (const [j] of st.extra ?? []) this.fires.add(j, key);
    }
    if (!this.eventTime) this.scheduleClock();
  }
}
