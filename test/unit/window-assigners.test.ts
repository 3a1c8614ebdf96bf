// Windows, assigners, triggers and evictors on their own: Flink's boundaries and rules, and the TSDoc examples.
import { describe, expect, it } from 'vitest';
import {
  CountEvictor,
  CountTrigger,
  DynamicEventTimeSessionWindows,
  EventTimeSessionWindows,
  EventTimeTrigger,
  GlobalWindow,
  GlobalWindows,
  MergingWindowAssigner,
  ProcessingTimeSessionWindows,
  ProcessingTimeTrigger,
  PurgingTrigger,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  TimeEvictor,
  TimeWindow,
  TriggerResult,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  type Evictor,
  type TimestampedElement,
} from '../../index.ts';
import { expectEddyError } from '../support/eddy-error.ts';

const at = (now: number) => ({ getCurrentProcessingTime: () => now });
const bounds = (ws: readonly TimeWindow[]) => ws.map((w) => [w.start, w.end]);

describe('TimeWindow', () => {
  it('is [start, end): maxTimestamp is end - 1 (TSDoc example)', () => {
    const w = new TimeWindow(0, 10);
    expect(w.maxTimestamp()).toBe(9);
    expect(TimeWindow.getWindowStartWithOffset(-3, 0, 10)).toBe(-10);
    expect(String(w)).toBe('TimeWindow{start=0, end=10}');
    expect(w.equals(new TimeWindow(0, 10))).toBe(true);
    expect(w.equals(new TimeWindow(0, 11))).toBe(false);
  });

  it('getWindowStartWithOffset takes the remainder towards -infinity, with offsets of either sign', () => {
    const cases: [number, number, number, number][] = [
      // timestamp, offset, size, start
      [0, 0, 10, 0],
      [9, 0, 10, 0],
      [10, 0, 10, 10],
      [-1, 0, 10, -10],
      [-10, 0, 10, -10],
      [-11, 0, 10, -20],
      [2, 3, 10, -7],
      [3, 3, 10, 3],
      [12, 3, 10, 3],
      [13, 3, 10, 13],
      [6, -3, 10, -3],
      [7, -3, 10, 7],
      [-4, -3, 10, -13],
    ];
    for (const [ts, offset, size, start] of cases) expect([ts, offset, size, TimeWindow.getWindowStartWithOffset(ts, offset, size)]).toEqual([ts, offset, size, start]);
  });

  it('touching windows intersect (sessions [0, 10) and [10, 20) merge), disjoint ones do not', () => {
    expect(new TimeWindow(0, 10).intersects(new TimeWindow(10, 20))).toBe(true);
    expect(new TimeWindow(0, 10).intersects(new TimeWindow(11, 20))).toBe(false);
    expect(new TimeWindow(5, 10).cover(new TimeWindow(0, 7))).toEqual(new TimeWindow(0, 10));
    const merges: [number[][], number[]][] = [];
    TimeWindow.mergeWindows([new TimeWindow(20, 30), new TimeWindow(0, 10), new TimeWindow(40, 45), new TimeWindow(8, 20)], (ws, r) => merges.push([bounds(ws), [r.start, r.end]]));
    expect(merges).toEqual([
      [
        [
          [0, 10],
          [8, 20],
          [20, 30],
        ],
        [0, 30],
      ],
    ]);
  });

  it('GlobalWindow is a singleton that never ends (TSDoc example)', () => {
    expect(GlobalWindow.get() === GlobalWindow.get()).toBe(true);
    expect(GlobalWindow.get().maxTimestamp()).toBe(Infinity);
  });
});

describe('assigners', () => {
  it('TumblingEventTimeWindows: one window [k * size + offset, ...) per element, negative timestamps included', () => {
    expect(bounds(TumblingEventTimeWindows.of(10).assignWindows(null, 0, at(0)))).toEqual([[0, 10]]);
    expect(bounds(TumblingEventTimeWindows.of(10).assignWindows(null, 9, at(0)))).toEqual([[0, 10]]);
    expect(bounds(TumblingEventTimeWindows.of(10).assignWindows(null, 10, at(0)))).toEqual([[10, 20]]);
    expect(bounds(TumblingEventTimeWindows.of(10).assignWindows(null, -1, at(0)))).toEqual([[-10, 0]]);
    expect(bounds(TumblingEventTimeWindows.of(10, 3).assignWindows(null, 2, at(0)))).toEqual([[-7, 3]]);
    expect(bounds(TumblingEventTimeWindows.of(10, -3).assignWindows(null, 7, at(0)))).toEqual([[7, 17]]);
    // TSDoc example: calendar days in UTC+2 start at 22:00 UTC.
    const daily = TumblingEventTimeWindows.of(86_400_000, -7_200_000);
    expect(daily.assignWindows(null, 0, at(0))).toEqual([new TimeWindow(-7_200_000, 79_200_000)]);
    expect(TumblingEventTimeWindows.of(10).isEventTime()).toBe(true);
    expect(TumblingEventTimeWindows.of(10).getDefaultTrigger()).toBeInstanceOf(EventTimeTrigger);
    expect(String(TumblingEventTimeWindows.of(10))).toBe('TumblingEventTimeWindows(10)');
  });

  it('SlidingEventTimeWindows: size / slide windows per element, latest first', () => {
    expect(bounds(SlidingEventTimeWindows.of(10, 5).assignWindows(null, 7, at(0)))).toEqual([
      [5, 15],
      [0, 10],
    ]);
    expect(bounds(SlidingEventTimeWindows.of(10, 5, 2).assignWindows(null, 1, at(0)))).toEqual([
      [-3, 7],
      [-8, 2],
    ]);
    expect(bounds(SlidingEventTimeWindows.of(10, 3).assignWindows(null, 0, at(0)))).toEqual([
      [0, 10],
      [-3, 7],
      [-6, 4],
      [-9, 1],
    ]);
    expect(SlidingEventTimeWindows.of(10, 3).assignWindows(null, 0, at(0))).toHaveLength(4);
  });

  it('processing-time assigners use the clock, not the record timestamp', () => {
    expect(bounds(TumblingProcessingTimeWindows.of(10).assignWindows(null, 999, at(23)))).toEqual([[20, 30]]);
    expect(bounds(SlidingProcessingTimeWindows.of(10, 5).assignWindows(null, 999, at(23)))).toEqual([
      [20, 30],
      [15, 25],
    ]);
    expect(bounds(ProcessingTimeSessionWindows.withGap(5).assignWindows(null, 999, at(23)))).toEqual([[23, 28]]);
    expect(TumblingProcessingTimeWindows.of(10).isEventTime()).toBe(false);
    expect(TumblingProcessingTimeWindows.of(10).getDefaultTrigger()).toBeInstanceOf(ProcessingTimeTrigger);
  });

  it('session assigners: [t, t + gap) per element, merging; a dynamic gap per element', () => {
    const s = EventTimeSessionWindows.withGap(10);
    expect(s).toBeInstanceOf(MergingWindowAssigner);
    expect(bounds(s.assignWindows(null, 5, at(0)))).toEqual([[5, 15]]);
    const dyn = EventTimeSessionWindows.withDynamicGap((e: { gap: number }) => e.gap);
    expect(dyn).toBeInstanceOf(DynamicEventTimeSessionWindows);
    expect(bounds(dyn.assignWindows({ gap: 3 }, 5, at(0)))).toEqual([[5, 8]]);
    expect(() => dyn.assignWindows({ gap: 0 }, 5, at(0))).toThrow(/gap must be a number > 0/);
  });

  it('GlobalWindows: the one window, and a trigger that never fires', () => {
    const g = GlobalWindows.create();
    expect(g.assignWindows(null, 5, at(0))).toEqual([GlobalWindow.get()]);
    expect(g.isEventTime()).toBe(false);
    expect(String(g.getDefaultTrigger())).toBe('NeverTrigger()');
  });

  it('rejects bad parameters as Flink does', async () => {
    await expectEddyError(() => TumblingEventTimeWindows.of(0), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => TumblingEventTimeWindows.of(10, 10), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => TumblingEventTimeWindows.of(10, -10), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => SlidingEventTimeWindows.of(10, 0), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => SlidingEventTimeWindows.of(10, 5, 5), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => SlidingEventTimeWindows.of(1.5, 1), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => EventTimeSessionWindows.withGap(0), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => CountTrigger.of(0), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => CountEvictor.of(-1), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => TimeEvictor.of(-1), 'EDDY_INVALID_ARGUMENT');
    // An event-time window needs timestamps.
    await expectEddyError(() => TumblingEventTimeWindows.of(10).assignWindows(null, -Infinity, at(0)), 'EDDY_CONFIG');
  });

  it('sliced layouts: what the pane path needs (TSDoc example)', () => {
    expect(SlidingEventTimeWindows.of(10_000, 2_000).slicedLayout()).toEqual({ size: 10000, slide: 2000, offset: 0 });
    expect(SlidingEventTimeWindows.of(10_000, 3_000).slicedLayout()).toBeUndefined();
    expect(TumblingProcessingTimeWindows.of(10, 4).slicedLayout()).toEqual({ size: 10, slide: 10, offset: 4 });
    expect(EventTimeSessionWindows.withGap(10).slicedLayout()).toBeUndefined();
    // A subclass may assign windows differently: it does not get panes.
    class Shifted extends TumblingEventTimeWindows {}
    expect(Object.setPrototypeOf(TumblingEventTimeWindows.of(10), Shifted.prototype).slicedLayout()).toBeUndefined();
  });

  it('window ids name windows in state: a number for fixed sizes, "start:end" otherwise', () => {
    const t = TumblingEventTimeWindows.of(10);
    expect(t.windowId(new TimeWindow(-20, -10))).toBe(-20);
    expect(t.windowFromId(-20)).toEqual(new TimeWindow(-20, -10));
    const s = EventTimeSessionWindows.withGap(5);
    expect(s.windowId(new TimeWindow(-7, 3))).toBe('-7:3');
    expect(s.windowFromId('-7:3')).toEqual(new TimeWindow(-7, 3));
    expect(GlobalWindows.create().windowFromId(GlobalWindows.create().windowId(GlobalWindow.get()))).toBe(GlobalWindow.get());
  });
});

describe('triggers and evictors', () => {
  it('TriggerResult (TSDoc example)', () => {
    expect(TriggerResult.isFire(TriggerResult.FIRE_AND_PURGE)).toBe(true);
    expect(TriggerResult.isPurge(TriggerResult.FIRE)).toBe(false);
    expect(TriggerResult.isPurge(TriggerResult.PURGE)).toBe(true);
    expect(TriggerResult.isFire(TriggerResult.CONTINUE)).toBe(false);
  });

  it('names: as Flink prints them', () => {
    expect(String(EventTimeTrigger.create())).toBe('EventTimeTrigger()');
    expect(String(PurgingTrigger.of(CountTrigger.of(3)))).toBe('PurgingTrigger(CountTrigger(3))');
    expect(String(CountEvictor.of(2))).toBe('CountEvictor(2)');
    expect(EventTimeTrigger.create().canMerge()).toBe(true);
    expect(PurgingTrigger.of(CountTrigger.of(3)).canMerge()).toBe(true);
  });

  const els = (...ts: (number | undefined)[]): TimestampedElement<number>[] => ts.map((t, i) => ({ value: i, timestamp: t }));
  const ectx = { getCurrentProcessingTime: () => 0, getCurrentWatermark: () => 0 };
  const w = new TimeWindow(0, 10);

  it('CountEvictor keeps the last maxCount elements, before or (doEvictAfter) after the function', () => {
    const a = els(1, 2, 3, 4, 5);
    CountEvictor.of(2).evictBefore(a, a.length, w, ectx);
    expect(a.map((e) => e.value)).toEqual([3, 4]);
    const b = els(1, 2, 3);
    CountEvictor.of(2, true).evictBefore(b, b.length, w, ectx);
    expect(b).toHaveLength(3);
    CountEvictor.of(2, true).evictAfter(b, b.length, w, ectx);
    expect(b.map((e) => e.value)).toEqual([1, 2]);
  });

  it('TimeEvictor keeps what is within windowSize of the newest timestamp (cutoff exclusive), nothing without timestamps', () => {
    const a = els(0, 3, 6, 9);
    TimeEvictor.of(5).evictBefore(a, a.length, w, ectx);
    expect(a.map((e) => e.timestamp)).toEqual([6, 9]);
    const b = els(undefined, 3);
    TimeEvictor.of(1).evictBefore(b, b.length, w, ectx);
    expect(b).toHaveLength(2);
  });

  it('an Evictor object literal (TSDoc example)', () => {
    const evenOnly: Evictor<number, TimeWindow> = {
      evictBefore: (elements) => {
        for (let i = elements.length - 1; i >= 0; i--) if (elements[i]!.value % 2 !== 0) elements.splice(i, 1);
      },
      evictAfter: () => {},
    };
    const a = els(0, 0, 0, 0, 0);
    evenOnly.evictBefore(a, a.length, w, ectx);
    expect(a.map((e) => e.value)).toEqual([0, 2, 4]);
  });
});
