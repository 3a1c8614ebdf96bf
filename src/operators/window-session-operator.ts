// Session windows with their default trigger: a key's sessions as sorted arrays, timers moved lazily.
import type { OutputTag } from '../functions/output-tag.ts';
import type { WindowAssigner, WindowAssignerContext } from '../functions/windowing/assigners.ts';
import { TimeWindow } from '../functions/windowing/windows.ts';
import { EddyError } from '../errors.ts';
import { ValueStateDescriptor, type ValueState } from '../state/descriptors.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import { denormalizeKey } from '../state/key-group.ts';
import { closeFunction, openFunction } from './abstract-operator.ts';
import type { TimeDomain } from '../functions/functions.ts';
import { WindowOperatorBase } from './window-common.ts';
import { createInternalWindowFunction, type WindowFunctionContext, type InternalWindowFunction, type WindowFunctionSpec } from './window-functions.ts';

/** What the session operator is built from (functions already copied for this instance). */
export interface SessionWindowSpec<IN, K> {
  /** A built-in session assigner: `[t, t + gap)` per element. */
  assigner: WindowAssigner<IN, TimeWindow>;
  /** The fixed gap, or undefined when the assigner computes one per element. */
  gap: number | undefined;
  allowedLateness: number;
  lateTag: OutputTag<IN> | undefined;
  keySelector: (value: IN) => K;
  fn: WindowFunctionSpec;
}

/**
 * A key's in-flight sessions, sorted by start and disjoint (plain data: it is keyed state). `pend[i]`:
 * the session still fires when the watermark (or clock) passes its end; `tm[i]`: a timer of this key
 * known to be set at or before the session's next deadline (its firing, or its cleanup).
 */
interface Sessions<ACC> {
  s: number[];
  e: number[];
  acc: ACC[];
  pend: boolean[];
  tm: number[];
}

/**
 * Flink's WindowOperator + MergingWindowSet + EventTimeTrigger (or ProcessingTimeTrigger) for session
 * windows, observably the same: an element opens `[t, t + gap)`, which merges with every session it
 * overlaps or touches; a session fires when the watermark passes `end - 1` (and again for each element
 * it gets within the allowed lateness), and is dropped at `end - 1 + allowedLateness`; an element
 * whose new session is past that and merges with nothing is late.
 *
 * Unlike Flink, timers are not moved on every merge: each session keeps a timer at or before its
 * next deadline, and when a timer fires, the key's sessions are checked and given a new timer if their
 * end moved on. With in-order input that is a timer per watermark step, not one per element.
 */
export class SessionWindowOperator<IN, OUT, K> extends WindowOperatorBase<IN, OUT> implements WindowAssignerContext {
  private readonly fn: InternalWindowFunction<IN, any, OUT, K, TimeWindow>;
  private backend!: KeyedStateBackend;
  private state!: ValueState<Sessions<any> | undefined>;
  private fnCtx!: WindowFunctionContext<TimeWindow>;

  constructor(
    name: string,
    private readonly spec: SessionWindowSpec<IN, K>,
  ) {
    super(name, spec.assigner.isEventTime(), spec.allowedLateness, spec.lateTag);
    this.fn = createInternalWindowFunction(spec.fn, undefined);
    if (this.fn.merge === undefined) throw new EddyError('EDDY_CONFIG', `session windows merge their contents: the AggregateFunction needs a merge(a, b) method`);
  }

  override async open(): Promise<void> {
    const backend = this.keyedBackend();
    this.backend = backend;
    this.state = backend.getState(new ValueStateDescriptor<Sessions<any> | undefined>('_window-sessions', undefined));
    // No per-window state with merging windows (as in Flink).
    this.fnCtx = this.windowFunctionContext<TimeWindow>(undefined);
    if (this.fn.windowFn !== undefined) await openFunction(this.fn.windowFn, this.runtimeContext());
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.fn.windowFn !== undefined) await closeFunction(this.fn.windowFn);
  }

  /** Event time: the watermark; processing time: the clock. */
  private now(): number {
    return this.eventTime ? this.watermark : this.ctx.clock.now();
  }

  processElement(value: IN, timestamp: number): void {
    const key = this.spec.keySelector(value);
    this.backend.setCurrentKey(key);
    let start: number;
    let end: number;
    if (this.spec.gap !== undefined) {
      start = this.elementTime(timestamp);
      end = start + this.spec.gap;
    } else {
      const w = this.spec.assigner.assignWindows(value, timestamp, this)[0]!;
      start = w.start;
      end = w.end;
    }
    const now = this.now();
    let st = this.state.value();
    // The sessions the new one overlaps or touches: a run of consecutive ones (they are disjoint and sorted).
    let first = 0;
    let last = -1;
    if (st !== undefined) {
      const n = st.s.length;
      // In-order input: the newest session is the usual match.
      first = n > 0 && st.s[n - 1]! <= end ? n - 1 : 0;
      while (first > 0 && st.e[first - 1]! >= start) first--;
      while (first < n && st.e[first]! < start) first++;
      last = first - 1;
      while (last + 1 < n && st.s[last + 1]! <= end) last++;
    }
    if (last < first) {
      // Nothing to merge with: a new session, unless it is already past the allowed lateness.
      if (this.eventTime && end - 1 + this.lateness <= now) {
        this.emitLate(value, timestamp);
        return;
      }
      if (st === undefined) this.state.update((st = { s: [], e: [], acc: [], pend: [], tm: [] }));
      st.s.splice(first, 0, start);
      st.e.splice(first, 0, end);
      st.acc.splice(first, 0, this.fn.add(undefined, value, timestamp));
      st.pend.splice(first, 0, false);
      st.tm.splice(first, 0, Infinity);
      last = first;
    } else {
      const s = st!;
      s.s[first] = Math.min(start, s.s[first]!);
      s.e[first] = Math.max(end, s.e[last]!);
      if (last > first) {
        // The new session bridges several: they become one (contents merged in start order).
        let acc = s.acc[first];
        let tm = s.tm[first]!;
        for (let i = first + 1; i <= last; i++) {
          acc = this.fn.merge!(acc, s.acc[i]);
          tm = Math.min(tm, s.tm[i]!);
        }
        const k = last - first;
        s.s.splice(first + 1, k);
        s.e.splice(first + 1, k);
        s.acc.splice(first + 1, k);
        s.pend.splice(first + 1, k);
        s.tm.splice(first + 1, k);
        s.acc[first] = acc;
        s.tm[first] = tm;
      }
      s.acc[first] = this.fn.add(s.acc[first], value, timestamp);
    }
    const i = first;
    const s = st!;
    const maxTs = s.e[i]! - 1;
    if (this.eventTime && maxTs <= now) {
      // EventTimeTrigger.onElement: the watermark is past the session already (a late firing).
      s.pend[i] = false;
      this.emit(s, i);
    } else s.pend[i] = true;
    this.ensureTimer(s, i, now);
    // The sessions were changed in place: write them back so incremental checkpoints (and LevelDB) see the change.
    this.state.update(s);
  }

  /** Makes sure a timer of this key fires at or before session i's next deadline. */
  private ensureTimer(s: Sessions<unknown>, i: number, now: number): void {
    const deadline = s.pend[i] ? s.e[i]! - 1 : s.e[i]! - 1 + this.lateness;
    const tm = s.tm[i]!;
    if (tm > now && tm <= deadline) return;
    s.tm[i] = deadline;
    if (this.eventTime) this.timers().registerEventTimeTimer(deadline);
    else this.timers().registerProcessingTimeTimer(deadline);
  }

  protected override onTimer(ts: number, _domain: TimeDomain): void {
    const s = this.state.value();
    if (s === undefined) return;
    for (let i = 0; i < s.s.length; i++) {
      if (s.tm[i]! > ts) continue;
      const maxTs = s.e[i]! - 1;
      if (s.pend[i] && maxTs <= ts) {
        s.pend[i] = false;
        this.emit(s, i);
      }
      if (!s.pend[i] && maxTs + this.lateness <= ts) {
        s.s.splice(i, 1);
        s.e.splice(i, 1);
        s.acc.splice(i, 1);
        s.pend.splice(i, 1);
        s.tm.splice(i, 1);
        i--;
        continue;
      }
      s.tm[i] = Infinity;
      this.ensureTimer(s, i, ts);
    }
    if (s.s.length === 0) this.state.clear();
    else this.state.update(s);
  }

  private emit(s: Sessions<unknown>, i: number): void {
    const window = new TimeWindow(s.s[i]!, s.e[i]!);
    this.emitTs = window.end - 1;
    this.fnCtx.current = window;
    this.fn.emit(denormalizeKey(this.backend.getCurrentKey()) as K, s.acc[i], this.fnCtx, this);
  }
}
