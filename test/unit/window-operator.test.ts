// Window operators through the harness, Flink's documented behaviour case by case (every implementation path).
import { describe, expect, it } from 'vitest';
import {
  EventTimeSessionWindows,
  EventTimeTrigger,
  OutputTag,
  ProcessingTimeSessionWindows,
  ProcessingTimeTrigger,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  type AggregateFunction,
  type Collector,
  type DataStream,
  type ProcessWindowContext,
  type TimeWindow,
  type WindowedStream,
} from '../../index.ts';
import { Delegating, ev, openHarness, stateIsEmpty, windowOperator, type Ev } from '../support/window-harness.ts';

/** Collects the values of a window (merge keeps it usable for panes and sessions). */
const values: AggregateFunction<Ev, number[], number[]> = {
  createAccumulator: () => [],
  add: (e, acc) => [...acc, e.v],
  getResult: (acc) => acc,
  merge: (a, b) => [...a, ...b],
};
const show = (k: string, w: TimeWindow, vs: readonly number[]): string => `${k}[${w.start},${w.end}) ${[...vs].sort((a, b) => a - b).join(',')}`;

type Path = { name: string; apply: (w: WindowedStream<Ev, string, TimeWindow>) => DataStream<string> };

/** The same windows computed incrementally (pane / session operator) and from all elements (general operator). */
const paths: Path[] = [
  {
    name: 'incremental aggregate',
    apply: (w) => w.aggregate(values, (k: string, ctx: ProcessWindowContext<TimeWindow>, [vs]: readonly number[][], out: Collector<string>) => out.collect(show(k, ctx.window(), vs!))),
  },
  {
    name: 'process on the general operator',
    apply: (w) =>
      w
        .trigger(new Delegating(w.assigner.getDefaultTrigger()))
        .process((k: string, ctx: ProcessWindowContext<TimeWindow>, es: readonly Ev[], out: Collector<string>) => out.collect(show(k, ctx.window(), es.map((e) => e.v)))),
  },
];

describe.each(paths)('event-time windows ($name)', ({ apply }) => {
  const tumbling = windowOperator((k) => apply(k.window(TumblingEventTimeWindows.of(10))));

  it('a window [start, end) fires when the watermark reaches end - 1, not before; results carry end - 1', async () => {
    const h = await openHarness(tumbling);
    h.processElement(ev('a', 1), 0);
    h.processElement(ev('a', 2), 9);
    h.processElement(ev('a', 3), 10); // the next window: end is exclusive
    h.processElement(ev('b', 4), -1); // negative timestamps: [-10, 0)
    h.processWatermark(8);
    expect(h.getOutput()).toEqual(['b[-10,0) 4']);
    h.processWatermark(9);
    expect(h.getRecordOutput()).toEqual([
      { value: 'b[-10,0) 4', timestamp: -1 },
      { value: 'a[0,10) 1,2', timestamp: 9 },
    ]);
    expect(h.getWatermarks()).toEqual([8, 9]);
    h.processWatermark(19);
    expect(h.getOutput().at(-1)).toBe('a[10,20) 3');
    expect(stateIsEmpty(h)).toBe(true);
  });

  it('an offset shifts the windows; sliding windows fire once per window an element is in', async () => {
    const offset = await openHarness(windowOperator((k) => apply(k.window(TumblingEventTimeWindows.of(10, 3)))));
    offset.processElement(ev('a', 1), 2);
    offset.processElement(ev('a', 2), 3);
    offset.processWatermark(12);
    expect(offset.getRecordOutput()).toEqual([
      { value: 'a[-7,3) 1', timestamp: 2 },
      { value: 'a[3,13) 2', timestamp: 12 },
    ]);
    const sliding = await openHarness(windowOperator((k) => apply(k.window(SlidingEventTimeWindows.of(10, 5)))));
    sliding.processElement(ev('a', 1), 7);
    sliding.processElement(ev('a', 2), 12);
    sliding.processWatermark(Infinity);
    expect(sliding.getOutput()).toEqual(['a[0,10) 1', 'a[5,15) 1,2', 'a[10,20) 2']);
  });

  it('allowed lateness: a late element re-fires its window with the updated result, until maxTimestamp + lateness', async () => {
    const late = new OutputTag<Ev>('late');
    const h = await openHarness(windowOperator((k) => apply(k.window(TumblingEventTimeWindows.of(10)).allowedLateness(5).sideOutputLateData(late))));
    h.processElement(ev('a', 1), 3);
    h.processWatermark(9);
    expect(h.getOutput()).toEqual(['a[0,10) 1']);
    h.processWatermark(12);
    h.processElement(ev('a', 2), 4); // late, within the allowed lateness: fires again at once
    expect(h.getRecordOutput().at(-1)).toEqual({ value: 'a[0,10) 1,2', timestamp: 9 });
    h.processWatermark(13);
    h.processElement(ev('a', 3), 8);
    expect(h.getOutput().at(-1)).toBe('a[0,10) 1,2,3');
    h.processWatermark(14); // = maxTimestamp 9 + lateness 5: the window is gone
    expect(stateIsEmpty(h)).toBe(true);
    h.processElement(ev('a', 4), 9);
    expect(h.getOutput()).toHaveLength(3);
    expect(h.getSideRecordOutput(late)).toEqual([{ value: ev('a', 4), timestamp: 9 }]);
  });

  it('late elements go to the side output with their timestamp, or are dropped and counted', async () => {
    const late = new OutputTag<Ev>('late');
    const withTag = await openHarness(windowOperator((k) => apply(k.window(TumblingEventTimeWindows.of(10)).sideOutputLateData(late))));
    const withoutTag = await openHarness(tumbling);
    for (const h of [withTag, withoutTag]) {
      h.processElement(ev('a', 1), 5);
      h.processWatermark(9);
      h.processElement(ev('a', 2), 9); // 9 + 0 <= 9: late
      h.processElement(ev('a', 3), 10); // the next window is fine
      h.processWatermark(Infinity);
      expect(h.getOutput()).toEqual(['a[0,10) 1', 'a[10,20) 3']);
    }
    expect(withTag.getSideRecordOutput(late)).toEqual([{ value: ev('a', 2), timestamp: 9 }]);
    expect(withTag.metrics().get('numLateRecordsDropped')).toBeUndefined();
    expect(withoutTag.metrics().get('numLateRecordsDropped')).toBe(1);
  });

  it('with sliding windows an element is late only when every window it is in is late', async () => {
    const h = await openHarness(windowOperator((k) => apply(k.window(SlidingEventTimeWindows.of(10, 5)))));
    h.processElement(ev('a', 1), 6);
    h.processWatermark(9); // [0, 10) fires; [5, 15) is still open
    h.processElement(ev('a', 2), 7); // too late for [0, 10), in time for [5, 15)
    h.processElement(ev('a', 3), 4); // [-5, 5) and [0, 10) are both late
    h.processWatermark(Infinity);
    expect(h.getOutput()).toEqual(['a[0,10) 1', 'a[5,15) 1,2']);
    expect(h.metrics().get('numLateRecordsDropped')).toBe(1);
  });

  it('session windows merge: touching sessions become one, and a late element bridging two sessions merges them and their state', async () => {
    const h = await openHarness(windowOperator((k) => apply(k.window(EventTimeSessionWindows.withGap(10)).allowedLateness(100))));
    h.processElement(ev('a', 1), 0); // [0, 10)
    h.processElement(ev('a', 2), 10); // touches: [0, 20)
    h.processElement(ev('a', 3), 28); // [28, 38)
    h.processElement(ev('b', 9), 1);
    h.processWatermark(30);
    // Windows fire in the order of their end (timers in timestamp order).
    expect(h.getOutput()).toEqual(['b[1,11) 9', 'a[0,20) 1,2']);
    // ts 20 is behind the watermark: its window [20, 30) touches both sessions of a, which merge.
    h.processElement(ev('a', 4), 20);
    expect(h.getOutput()).toHaveLength(2); // [0, 38) ends after the watermark: no firing yet
    h.processWatermark(37);
    expect(h.getRecordOutput().at(-1)).toEqual({ value: 'a[0,38) 1,2,3,4', timestamp: 37 });
    // Within the allowed lateness the merged session keeps taking elements, firing again each time.
    h.processElement(ev('a', 5), 12);
    expect(h.getOutput().at(-1)).toBe('a[0,38) 1,2,3,4,5');
    h.processWatermark(136);
    expect(stateIsEmpty(h)).toBe(false);
    h.processWatermark(137); // maxTimestamp 37 + lateness 100
    expect(stateIsEmpty(h)).toBe(true);
  });

  it('end of input (watermark +Infinity) fires every pending window of every key', async () => {
    for (const assigner of [TumblingEventTimeWindows.of(10), SlidingEventTimeWindows.of(20, 10), EventTimeSessionWindows.withGap(5)]) {
      const h = await openHarness(windowOperator((k) => apply(k.window(assigner))));
      h.processElement(ev('a', 1), 3);
      h.processElement(ev('b', 2), 1_000_000);
      h.processElement(ev('c', 3), -50);
      await h.endInput();
      expect(h.getWatermarks()).toEqual([Infinity]);
      expect(h.getOutput().map((s) => s[0]).sort()).toEqual(assigner instanceof SlidingEventTimeWindows ? ['a', 'a', 'b', 'b', 'c', 'c'] : ['a', 'b', 'c']);
      expect(stateIsEmpty(h)).toBe(true);
    }
  });
});

describe.each(paths)('processing-time windows ($name)', ({ apply }) => {
  it('fire by the clock at end - 1, whatever the records carry as timestamps', async () => {
    const h = await openHarness(windowOperator((k) => apply(k.window(TumblingProcessingTimeWindows.of(10)))));
    h.setProcessingTime(3);
    h.processElement(ev('a', 1), 999_999);
    h.setProcessingTime(7);
    h.processElement(ev('a', 2));
    h.setProcessingTime(8);
    expect(h.getOutput()).toEqual([]);
    h.setProcessingTime(9);
    expect(h.getRecordOutput()).toEqual([{ value: 'a[0,10) 1,2', timestamp: 9 }]);
    h.setProcessingTime(12);
    h.processElement(ev('a', 3));
    h.processWatermark(1_000_000); // watermarks do not fire processing-time windows
    h.setProcessingTime(19);
    expect(h.getOutput()).toEqual(['a[0,10) 1,2', 'a[10,20) 3']);
    expect(stateIsEmpty(h)).toBe(true);
  });

  it('sliding and session windows of processing time', async () => {
    const sliding = await openHarness(windowOperator((k) => apply(k.window(SlidingProcessingTimeWindows.of(10, 5)))));
    sliding.setProcessingTime(6);
    sliding.processElement(ev('a', 1));
    sliding.setProcessingTime(100);
    expect(sliding.getOutput()).toEqual(['a[0,10) 1', 'a[5,15) 1']);
    const sessions = await openHarness(windowOperator((k) => apply(k.window(ProcessingTimeSessionWindows.withGap(5)))));
    sessions.processElement(ev('a', 1));
    sessions.setProcessingTime(3);
    sessions.processElement(ev('a', 2)); // [3, 8) overlaps [0, 5)
    sessions.setProcessingTime(6);
    sessions.processElement(ev('a', 3)); // [6, 11) extends it
    expect(sessions.getOutput()).toEqual([]);
    sessions.setProcessingTime(10);
    expect(sessions.getRecordOutput()).toEqual([{ value: 'a[0,11) 1,2,3', timestamp: 10 }]);
    // In the millisecond of a session's end, its timer has fired already: the element opens a new one.
    sessions.processElement(ev('a', 4));
    sessions.setProcessingTime(14);
    expect(sessions.getOutput()).toEqual(['a[0,11) 1,2,3', 'a[10,15) 4']);
  });

  it('are not flushed at end of input (as in Flink, pending processing-time timers are dropped)', async () => {
    const h = await openHarness(windowOperator((k) => apply(k.window(TumblingProcessingTimeWindows.of(10)))));
    h.processElement(ev('a', 1));
    await h.endInput();
    expect(h.getOutput()).toEqual([]);
  });
});

describe('default triggers set explicitly', () => {
  it('EventTimeTrigger / ProcessingTimeTrigger given by hand keep the incremental paths', async () => {
    const a = windowOperator((k) => k.window(TumblingEventTimeWindows.of(10)).trigger(EventTimeTrigger.create()).aggregate(values))();
    const b = windowOperator((k) => k.window(TumblingProcessingTimeWindows.of(10)).trigger(ProcessingTimeTrigger.create()).aggregate(values))();
    const c = windowOperator((k) => k.window(EventTimeSessionWindows.withGap(10)).trigger(EventTimeTrigger.create()).aggregate(values))();
    expect([a, b, c].map((o) => o.constructor.name)).toEqual(['PaneWindowOperator', 'PaneWindowOperator', 'SessionWindowOperator']);
  });
});
