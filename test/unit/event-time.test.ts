// Watermark strategies and keyed timers through the harness: Flink's documented behaviour, case by case.
import { describe, expect, it } from 'vitest';
import { KeyedProcessFunction, ValueStateDescriptor, WatermarkStrategy, type Collector, type KeyedProcessContext, type OnTimerContext, type RuntimeContext, type ValueState } from '../../index.ts';
import { TimestampsAndWatermarksOperator } from '../../src/operators/timestamps-and-watermarks-operator.ts';
import { OperatorHarness, ProcessFunctionHarness } from '../../src/testing/index.ts';
import { expectEddyError } from '../support/eddy-error.ts';

interface Ev {
  k: string;
  ts: number;
}

function watermarkHarness(strategy: WatermarkStrategy<Ev>, interval = 100) {
  return new OperatorHarness(new TimestampsAndWatermarksOperator<Ev>('wm', strategy), { autoWatermarkIntervalMs: interval });
}

describe('watermark strategies', () => {
  it('forBoundedOutOfOrderness emits max timestamp - bound - 1 on every period, never going back', async () => {
    const h = watermarkHarness(WatermarkStrategy.forBoundedOutOfOrderness<Ev>(50).withTimestampAssigner((e) => e.ts));
    await h.open();
    h.processElement({ k: 'a', ts: 1000 });
    h.processElement({ k: 'a', ts: 900 });
    expect(h.getWatermarks()).toEqual([]); // periodic, not per record
    h.advanceProcessingTime(100);
    expect(h.getWatermarks()).toEqual([949]);
    h.processElement({ k: 'a', ts: 800 }); // older: no change
    h.advanceProcessingTime(100);
    h.processElement({ k: 'a', ts: 2000 });
    h.advanceProcessingTime(100);
    expect(h.getWatermarks()).toEqual([949, 1949]);
    expect(h.getRecordOutput().map((r) => r.timestamp)).toEqual([1000, 900, 800, 2000]);
  });

  it('forMonotonousTimestamps trails the largest timestamp by 1 ms', async () => {
    const h = watermarkHarness(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts));
    await h.open();
    h.processElement({ k: 'a', ts: 10 });
    h.advanceProcessingTime(100);
    expect(h.getWatermarks()).toEqual([9]);
  });

  it('noWatermarks assigns timestamps but emits no watermark until end of input', async () => {
    const h = watermarkHarness(WatermarkStrategy.noWatermarks<Ev>().withTimestampAssigner((e) => e.ts));
    await h.open();
    h.processElement({ k: 'a', ts: 10 });
    h.advanceProcessingTime(1000);
    expect(h.getWatermarks()).toEqual([]);
    await h.endInput();
    expect(h.getWatermarks()).toEqual([Infinity]);
  });

  it('upstream watermarks are replaced by the generated ones, except end of input', async () => {
    const h = watermarkHarness(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.ts));
    await h.open();
    h.processWatermark(5000);
    h.processWatermarkStatus(true);
    expect(h.getWatermarks()).toEqual([]);
    expect(h.getWatermarkStatuses()).toEqual([]);
    h.processWatermark(Infinity);
    expect(h.getWatermarks()).toEqual([Infinity]);
  });

  it('a custom generator can emit per event (punctuated watermarks)', async () => {
    const h = watermarkHarness(
      WatermarkStrategy.forGenerator<Ev>(() => ({
        onEvent: (e, ts, out) => e.k === 'tick' && out.emitWatermark(ts),
        onPeriodicEmit: () => undefined,
      })).withTimestampAssigner((e) => e.ts),
    );
    await h.open();
    h.processElement({ k: 'x', ts: 5 });
    h.processElement({ k: 'tick', ts: 7 });
    h.processElement({ k: 'tick', ts: 6 }); // lower: a watermark never goes back
    expect(h.getWatermarks()).toEqual([7]);
  });

  it('withIdleness marks the stream idle after the timeout and active again with the next record', async () => {
    const h = watermarkHarness(WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner((e) => e.ts).withIdleness(300));
    await h.open();
    h.processElement({ k: 'a', ts: 100 });
    h.advanceProcessingTime(200);
    expect(h.getWatermarkStatuses()).toEqual([]);
    h.advanceProcessingTime(200); // 400 ms without records
    expect(h.getWatermarkStatuses()).toEqual([true]);
    h.processElement({ k: 'a', ts: 500 });
    expect(h.getWatermarkStatuses()).toEqual([true, false]);
    h.advanceProcessingTime(100);
    expect(h.getWatermarks()).toEqual([99, 499]);
  });

  it('a timestamp assigner that returns no number fails naming the operator', async () => {
    const h = watermarkHarness(WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => (e as unknown as { time: number }).time));
    await h.open();
    const e = await expectEddyError(() => h.processElement({ k: 'a', ts: 1 }), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toMatch(/timestamp assigner returned undefined/);
  });

  it('bad arguments are rejected up front', () => {
    expect(() => WatermarkStrategy.forBoundedOutOfOrderness(-1)).toThrow(/non-negative/);
    expect(() => WatermarkStrategy.forMonotonousTimestamps().withIdleness(Number.NaN)).toThrow(/non-negative/);
  });
});

/** Emits `key@ts:domain:count` when a timer fires; registers timers as the records say. */
class Timers extends KeyedProcessFunction<string, { k: string; at: number; op?: 'del' | 'proc' }, string> {
  private count!: ValueState<number>;
  override open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor('count', 0));
  }
  processElement(e: { k: string; at: number; op?: 'del' | 'proc' }, ctx: KeyedProcessContext<string>): void {
    this.count.update(this.count.value() + 1);
    if (e.op === 'del') ctx.timerService().deleteEventTimeTimer(e.at);
    else if (e.op === 'proc') ctx.timerService().registerProcessingTimeTimer(e.at);
    else ctx.timerService().registerEventTimeTimer(e.at);
  }
  override onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    out.collect(`${ctx.getCurrentKey()}@${ts}:${ctx.timeDomain()}:${this.count.value()}`);
  }
}

describe('keyed timers', () => {
  const harness = () => ProcessFunctionHarness.forKeyedProcessFunction(new Timers(), (e: { k: string }) => e.k);

  it('event-time timers fire in timestamp order when the watermark passes them, with the key and its state in scope', async () => {
    const h = harness();
    await h.open();
    h.processElement({ k: 'b', at: 30 });
    h.processElement({ k: 'a', at: 20 });
    h.processElement({ k: 'a', at: 10 });
    h.processElement({ k: 'a', at: 10 }); // one timer per (key, timestamp)
    h.processWatermark(19);
    expect(h.getOutput()).toEqual(['a@10:EVENT_TIME:3']);
    h.processWatermark(30);
    expect(h.getOutput()).toEqual(['a@10:EVENT_TIME:3', 'a@20:EVENT_TIME:3', 'b@30:EVENT_TIME:1']);
    // Output of an event-time timer carries the timer's timestamp, and comes before the watermark.
    expect(h.getRecordOutput().map((r) => r.timestamp)).toEqual([10, 20, 30]);
    expect(h.getWatermarks()).toEqual([19, 30]);
  });

  it('a deleted timer does not fire', async () => {
    const h = harness();
    await h.open();
    h.processElement({ k: 'a', at: 10 });
    h.processElement({ k: 'a', at: 10, op: 'del' });
    h.processWatermark(100);
    expect(h.getOutput()).toEqual([]);
  });

  it('processing-time timers fire on the clock, without a timestamp', async () => {
    const h = harness();
    await h.open();
    h.setProcessingTime(1000);
    h.processElement({ k: 'a', at: 1500, op: 'proc' });
    h.processElement({ k: 'b', at: 1200, op: 'proc' });
    h.advanceProcessingTime(300);
    expect(h.getOutput()).toEqual(['b@1200:PROCESSING_TIME:1']);
    h.advanceProcessingTime(300);
    expect(h.getRecordOutput()).toEqual([
      { value: 'b@1200:PROCESSING_TIME:1', timestamp: undefined },
      { value: 'a@1500:PROCESSING_TIME:1', timestamp: undefined },
    ]);
  });

  it('timers are part of the snapshot and restore with their keys, also at another parallelism', async () => {
    const h = harness();
    await h.open();
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const k of keys) h.processElement({ k, at: 50 });
    h.setProcessingTime(0);
    h.processElement({ k: 'a', at: 70, op: 'proc' });
    const snap = h.snapshot();
    const fired: string[] = [];
    for (const s of [0, 1]) {
      const r = ProcessFunctionHarness.forKeyedProcessFunction(new Timers(), (e: { k: string }) => e.k, { parallelism: 2, subtaskIndex: s });
      await r.open(snap);
      r.processWatermark(60);
      r.advanceProcessingTime(100);
      fired.push(...r.getOutput());
    }
    // 'a' saw two records (the event-time and the processing-time registration): its state came along too.
    expect(fired.sort()).toEqual([...keys.map((k) => `${k}@50:EVENT_TIME:${k === 'a' ? 2 : 1}`), 'a@70:PROCESSING_TIME:2'].sort());
  });

  it('timers on a non-keyed stream are a clear error', async () => {
    const h = ProcessFunctionHarness.forProcessFunction<number, number>({
      processElement(_v, ctx) {
        ctx.timerService().registerEventTimeTimer(1);
      },
    });
    await h.open();
    const e = await expectEddyError(() => h.processElement(1), 'EDDY_CONFIG');
    expect(e.message).toMatch(/timers, which need a keyed stream/);
  });

  it('a timer without onTimer is a clear error naming the operator', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction<number, number, number>(
      {
        processElement(v, ctx) {
          ctx.timerService().registerEventTimeTimer(v);
        },
      },
      (v) => v,
      { name: 'forgetful' },
    );
    await h.open();
    h.processElement(5);
    const e = await expectEddyError(() => h.processWatermark(10), 'EDDY_USER_FUNCTION');
    expect(e.message).toMatch(/"forgetful" registered a timer but its function has no onTimer/);
  });
});

describe('timers of tuple keys', () => {
  it('onTimer sees the original tuple key and its state', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction<{ k: [string, number]; at: number }, [string, number], string>(
      {
        processElement(e, ctx) {
          ctx.getState(new ValueStateDescriptor('n', 0)).update(7);
          ctx.timerService().registerEventTimeTimer(e.at);
        },
        onTimer(ts, ctx, out) {
          out.collect(`${JSON.stringify(ctx.getCurrentKey())}@${ts}:${ctx.getState(new ValueStateDescriptor('n', 0)).value()}`);
        },
      },
      (e) => e.k,
    );
    await h.open();
    h.processElement({ k: ['a', 1], at: 5 });
    h.processElement({ k: ['\u0000x', 2], at: 6 });
    h.processWatermark(10);
    expect(h.getOutput()).toEqual(['["a",1]@5:7', '["\\u0000x",2]@6:7']);
  });
});
