// The public operator test harness (`eddy/testing`): lifecycle, outputs, time, snapshots, errors, and its TSDoc examples.
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  OperatorHarness,
  ProcessFunctionHarness,
  type OperatorContext,
  type OperatorHarnessOptions,
  type Output,
  type StreamOperator,
  type TimestampedValue,
} from 'eddy/testing';
import { KeyedProcessFunction, type Collector, type KeyedProcessContext, type RuntimeContext } from '../../src/functions/functions.ts';
import { OutputTag } from '../../src/functions/output-tag.ts';
import { AbstractStreamOperator } from '../../src/operators/abstract-operator.ts';
import { MapOperator } from '../../src/operators/map-operator.ts';
import type { OperatorSnapshot } from '../../src/operators/operator.ts';
import { ReduceOperator } from '../../src/operators/reduce-operator.ts';
import { SinkOperator } from '../../src/operators/sink-operator.ts';
import { ListStateDescriptor, ValueStateDescriptor, type ValueState } from '../../src/state/descriptors.ts';
import { keyGroupOf, keyGroupRange } from '../../src/state/key-group.ts';
import { expectEddyError } from '../support/eddy-error.ts';


describe('TSDoc examples', () => {
  it('OperatorHarness', async () => {
    const op = new MapOperator<number, number>('Double', (x) => x * 2);
    const h = new OperatorHarness(op);
    await h.open();
    h.processElement(1, 100);
    h.processElement(2);
    h.processWatermark(100);
    expect(h.getOutput()).toEqual([2, 4]);
    expect(h.getRecordOutput()).toEqual([
      { value: 2, timestamp: 100 },
      { value: 4, timestamp: undefined },
    ]);
    expect(h.getWatermarks()).toEqual([100]);
    await h.close();
  });

  it('OperatorHarness.restore', async () => {
    const sum = () => new ReduceOperator<number>('Sum', (a, b) => a + b, () => 'all');
    const first = new OperatorHarness(sum(), { keySelector: () => 'all' });
    await first.open();
    first.processElement(1);
    first.processElement(2);
    const snap = first.snapshot();
    const second = await OperatorHarness.restore(sum(), snap, { keySelector: () => 'all' });
    second.processElement(3);
    expect(second.getOutput()).toEqual([6]);
  });

  it('OperatorHarness.mergeSnapshots', async () => {
    const count = () => new ReduceOperator<string>('Count', (a) => a + '+', (s) => s[0]!);
    const keySelector = (s: string) => s[0]!;
    const [a, b] = [0, 1].map((i) => new OperatorHarness(count(), { keySelector, parallelism: 2, subtaskIndex: i }));
    await a!.open();
    await b!.open();
    for (const w of ['x', 'y', 'z']) (a!.keyGroups.end >= keyGroupOf(w, 128) ? a! : b!).processElement(w);
    const merged = OperatorHarness.mergeSnapshots([a!.snapshot(), b!.snapshot()]);
    const one = await OperatorHarness.restore(count(), merged, { keySelector });
    one.processElements(['x', 'y', 'z']);
    expect(one.getOutput()).toEqual(['x+', 'y+', 'z+']);
  });

  it('TimestampedValue', async () => {
    const h = ProcessFunctionHarness.forMap((n: number) => n + 1);
    await h.open();
    h.processElement(1, 1_000);
    const [first]: TimestampedValue<number>[] = h.getRecordOutput();
    expect(first).toEqual({ value: 2, timestamp: 1_000 });
  });

  it('OperatorHarnessOptions', async () => {
    type Click = { user: string };
    const options: OperatorHarnessOptions<Click> = { keySelector: (c) => c.user, parallelism: 2, subtaskIndex: 1, clock: new ManualClock(1_000) };
    const h = new OperatorHarness(new ReduceOperator<Click>('Last', (_a, b) => b, (c) => c.user), options);
    await h.open();
    expect(h.keyGroups).toEqual({ start: 64, end: 127 });
    expect(h.currentProcessingTime()).toBe(1_000);
  });

  it('FunctionHarnessOptions', async () => {
    const h = ProcessFunctionHarness.forMap({ map: (s: string) => s.trim() }, { name: 'Trim', parallelism: 4, subtaskIndex: 3 });
    await h.open();
    expect(h.operatorContext).toMatchObject({ operatorName: 'Trim', subtaskIndex: 3, parallelism: 4 });
  });

  it('ProcessFunctionHarness', async () => {
    class Numbered {
      n = 0;
      map(s: string) {
        return `${++this.n}:${s}`;
      }
    }
    const fn = new Numbered();
    const [a, b] = [ProcessFunctionHarness.forMap(fn), ProcessFunctionHarness.forMap(fn)];
    await a.open();
    await b.open();
    a.processElements(['x', 'y']);
    b.processElement('z');
    expect([a.getOutput(), b.getOutput(), fn.n]).toEqual([['1:x', '2:y'], ['1:z'], 0]);
  });

  it('ProcessFunctionHarness.forProcessFunction', async () => {
    const errors = new OutputTag<string>('errors');
    const h = ProcessFunctionHarness.forProcessFunction<string, number>({
      processElement(s, ctx, out) {
        const n = Number(s);
        if (Number.isNaN(n)) ctx.output(errors, s);
        else out.collect(n);
      },
    });
    await h.open();
    h.processElements(['1', 'x', '3']);
    expect(h.getOutput()).toEqual([1, 3]);
    expect(h.getSideOutput(errors)).toEqual(['x']);
  });

  it('ProcessFunctionHarness.forKeyedProcessFunction', async () => {
    class Count extends KeyedProcessFunction<string, string, [string, number]> {
      private n!: ValueState<number>;
      override open(ctx: RuntimeContext) {
        this.n = ctx.getState(new ValueStateDescriptor('n', 0));
      }
      processElement(w: string, ctx: KeyedProcessContext<string>, out: Collector<[string, number]>) {
        this.n.update(this.n.value() + 1);
        out.collect([ctx.getCurrentKey(), this.n.value()]);
      }
    }
    const h = ProcessFunctionHarness.forKeyedProcessFunction(new Count(), (w: string) => w);
    await h.open();
    h.processElements(['a', 'b', 'a']);
    expect(h.getOutput()).toEqual([['a', 1], ['b', 1], ['a', 2]]);
  });

  it('ProcessFunctionHarness.forMap', async () => {
    const h = ProcessFunctionHarness.forMap((s: string) => s.length);
    await h.open();
    h.processElement('four', 7);
    expect(h.getRecordOutput()).toEqual([{ value: 4, timestamp: 7 }]);
  });

  it('ProcessFunctionHarness.forFilter', async () => {
    const h = ProcessFunctionHarness.forFilter((n: number) => n % 2 === 0);
    await h.open();
    h.processElements([1, 2, 3, 4]);
    expect(h.getOutput()).toEqual([2, 4]);
  });

  it('ProcessFunctionHarness.forFlatMap', async () => {
    const h = ProcessFunctionHarness.forFlatMap((line: string) => line.split(' '));
    await h.open();
    h.processElement('to be or', 3);
    expect(h.getOutput()).toEqual(['to', 'be', 'or']);
    expect(h.getRecordOutput().every((r) => r.timestamp === 3)).toBe(true);
  });
});

/** A hand-written operator that records its lifecycle calls and exposes its context. */
class Recorder extends AbstractStreamOperator<string, string> {
  readonly calls: string[] = [];
  seen: OperatorSnapshot | undefined;
  context!: OperatorContext;
  override setup(ctx: OperatorContext, output: Output<string>): void {
    super.setup(ctx, output);
    this.context = ctx;
    this.calls.push('setup');
  }
  override initializeState(snapshot: OperatorSnapshot | undefined): void {
    this.calls.push('initializeState');
    this.seen = snapshot;
    super.initializeState(snapshot);
  }
  override open(): void {
    this.calls.push('open');
  }
  processElement(value: string, timestamp: number): void {
    this.calls.push(`element:${value}`);
    this.ctx.metrics.inc('seen');
    if (value.startsWith('side:')) this.out.collectSide(new OutputTag<string>('side'), value.slice(5), timestamp);
    else this.out.collect(value.toUpperCase(), timestamp);
  }
  override processWatermark(watermark: number): void {
    this.calls.push(`watermark:${watermark}`);
    super.processWatermark(watermark);
  }
  override endInput(): void {
    this.calls.push('endInput');
    this.out.collect('flushed', Number.NEGATIVE_INFINITY);
  }
  override snapshotState(): OperatorSnapshot {
    return { ...super.snapshotState(), operator: { calls: this.calls.length } };
  }
  override close(): void {
    this.calls.push('close');
  }
}

describe('OperatorHarness lifecycle', () => {
  it('calls setup -> initializeState -> open -> elements/watermarks -> endInput -> close in order', async () => {
    const op = new Recorder('rec');
    const h = new OperatorHarness(op);
    await h.open();
    h.processElement('a', 1);
    h.processWatermark(5);
    await h.endInput();
    await h.close();
    expect(op.calls).toEqual(['setup', 'initializeState', 'open', 'element:a', 'watermark:5', 'watermark:Infinity', 'endInput', 'close']);
    expect(op.seen).toBeUndefined();
  });

  it('end of input moves the watermark to +Infinity first (as the runtime does), but only once', async () => {
    const op = new Recorder('rec');
    const h = new OperatorHarness(op);
    await h.open();
    h.processWatermark(Number.POSITIVE_INFINITY);
    await h.endInput();
    expect(op.calls.filter((c) => c.startsWith('watermark'))).toEqual(['watermark:Infinity']);
    expect(h.getWatermarks()).toEqual([Number.POSITIVE_INFINITY]);
    expect(h.getOutput()).toEqual(['flushed']);
  });

  it('hands the operator a context with the harness options', async () => {
    const op = new Recorder('rec');
    const clock = new ManualClock(1_000);
    const h = new OperatorHarness(op, { keySelector: (s: string) => s, parallelism: 4, subtaskIndex: 3, maxParallelism: 16, clock, jobName: 'j', uid: 'u-1' });
    await h.open();
    expect(op.context).toMatchObject({ jobName: 'j', operatorName: 'rec', uid: 'u-1', subtaskIndex: 3, parallelism: 4, maxParallelism: 16, nats: undefined });
    expect(op.context.clock).toBe(clock);
    expect(op.context.keyedState).toBe(h.stateBackend);
    expect(h.operatorContext).toBe(op.context);
    expect(h.keyGroups).toEqual(keyGroupRange(3, 4, 16));
  });

  it('defaults: parallelism 1, subtask 0, maxParallelism 128, a ManualClock at 0, no keyed state', async () => {
    const op = new Recorder('rec');
    const h = new OperatorHarness(op);
    await h.open();
    expect(op.context).toMatchObject({ subtaskIndex: 0, parallelism: 1, maxParallelism: 128, keyedState: undefined, uid: 'rec' });
    expect(h.clock).toBeInstanceOf(ManualClock);
    expect(h.currentProcessingTime()).toBe(0);
    expect(h.stateBackend).toBeUndefined();
  });

  it('refuses input before open and after end of input or close', async () => {
    const h = new OperatorHarness(new Recorder('rec'));
    await expectEddyError(() => h.processElement('a'), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => h.snapshot(), 'EDDY_INVALID_ARGUMENT');
    await h.open();
    await expectEddyError(() => h.open(), 'EDDY_INVALID_ARGUMENT');
    await h.endInput();
    await expectEddyError(() => h.processElement('a'), 'EDDY_INVALID_ARGUMENT');
    await expectEddyError(() => h.processWatermark(1), 'EDDY_INVALID_ARGUMENT');
    expect(h.snapshot()).toBeDefined();
    await h.close();
    await h.close(); // idempotent
    await expectEddyError(() => h.processElement('a'), 'EDDY_INVALID_ARGUMENT');
  });

  it('rejects bad options with EDDY_CONFIG', async () => {
    const op = () => new Recorder('rec');
    await expectEddyError(() => new OperatorHarness(op(), { parallelism: 0 }), 'EDDY_CONFIG');
    await expectEddyError(() => new OperatorHarness(op(), { parallelism: 2, subtaskIndex: 2 }), 'EDDY_CONFIG');
    await expectEddyError(() => new OperatorHarness(op(), { subtaskIndex: -1 }), 'EDDY_CONFIG');
    await expectEddyError(() => new OperatorHarness(op(), { parallelism: 8, maxParallelism: 4 }), 'EDDY_CONFIG');
    await expectEddyError(() => new OperatorHarness(op(), { parallelism: 1.5 }), 'EDDY_CONFIG');
    await expectEddyError(() => new OperatorHarness({} as StreamOperator<string, string>), 'EDDY_CONFIG');
    await expectEddyError(() => ProcessFunctionHarness.forProcessFunction((() => 1) as never), 'EDDY_CONFIG');
    await expectEddyError(() => ProcessFunctionHarness.forMap({} as never), 'EDDY_CONFIG');
    await expectEddyError(() => ProcessFunctionHarness.forKeyedProcessFunction({ processElement() {} }, 'k' as never), 'EDDY_CONFIG');
  });
});

describe('OperatorHarness outputs', () => {
  it('collects main output, side outputs, watermarks and metrics; clearOutput forgets outputs only', async () => {
    const h = new OperatorHarness(new Recorder('rec'));
    await h.open();
    h.processElement('a', 10);
    h.processElement('side:b', 11);
    h.processElement('c');
    h.processWatermark(11);
    const side = new OutputTag<string>('side');
    expect(h.getOutput()).toEqual(['A', 'C']);
    expect(h.getRecordOutput()).toEqual([
      { value: 'A', timestamp: 10 },
      { value: 'C', timestamp: undefined },
    ]);
    expect(h.getSideOutput(side)).toEqual(['b']);
    expect(h.getSideRecordOutput(side)).toEqual([{ value: 'b', timestamp: 11 }]);
    expect(h.getSideOutput(new OutputTag<string>('other'))).toEqual([]);
    expect(h.getWatermarks()).toEqual([11]);
    expect(h.metrics()).toEqual(new Map([['seen', 3]]));
    h.clearOutput();
    expect(h.getOutput()).toEqual([]);
    expect(h.getSideOutput(side)).toEqual([]);
    expect(h.getWatermarks()).toEqual([]);
    expect(h.metrics().get('seen')).toBe(3);
    h.processElement('d', 12);
    expect(h.getOutput()).toEqual(['D']);
  });

  it('returns copies: mutating what a getter returned does not change the harness', async () => {
    const h = new OperatorHarness(new Recorder('rec'));
    await h.open();
    h.processElement('a', 1);
    h.getOutput().push('x');
    h.getRecordOutput()[0]!.timestamp = 99;
    h.getWatermarks().push(1);
    h.metrics().set('seen', 100);
    expect(h.getRecordOutput()).toEqual([{ value: 'A', timestamp: 1 }]);
    expect(h.getWatermarks()).toEqual([]);
    expect(h.metrics().get('seen')).toBe(1);
  });

  it('a timestamp of 0 or a negative one is a timestamp; none is undefined', async () => {
    const h = ProcessFunctionHarness.forMap((x: number) => x);
    await h.open();
    h.processElement(1, 0);
    h.processElement(2, -5);
    h.processElement(3);
    expect(h.getRecordOutput().map((r) => r.timestamp)).toEqual([0, -5, undefined]);
  });
});

describe('OperatorHarness processing time', () => {
  it('setProcessingTime / advanceProcessingTime drive the clock the operator reads', async () => {
    const seen: number[] = [];
    const h = ProcessFunctionHarness.forProcessFunction<string, number>({
      processElement(_v, ctx, out) {
        out.collect(ctx.timerService().currentProcessingTime());
      },
    });
    await h.open();
    h.processElement('a');
    h.setProcessingTime(100);
    h.processElement('b');
    h.advanceProcessingTime(50);
    h.processElement('c');
    seen.push(...h.getOutput());
    expect(seen).toEqual([0, 100, 150]);
    expect(h.currentProcessingTime()).toBe(150);
    expect(() => h.setProcessingTime(10)).toThrow(/cannot go back/);
    await expectEddyError(() => h.advanceProcessingTime(-1), 'EDDY_INVALID_ARGUMENT');
  });

  it('callbacks an operator schedules on its clock fire when the harness moves time', async () => {
    class Delayed extends AbstractStreamOperator<string, string> {
      processElement(value: string): void {
        this.ctx.clock.schedule(10, () => this.out.collect(`${value}@${this.ctx.clock.now()}`, this.ctx.clock.now()));
      }
    }
    const h = new OperatorHarness(new Delayed('delayed'), { clock: new ManualClock(5) });
    await h.open();
    h.processElement('a');
    h.advanceProcessingTime(3);
    h.processElement('b');
    expect(h.getOutput()).toEqual([]);
    h.advanceProcessingTime(7);
    expect(h.getOutput()).toEqual(['a@15']);
    h.setProcessingTime(100);
    expect(h.getRecordOutput()).toEqual([
      { value: 'a@15', timestamp: 15 },
      { value: 'b@18', timestamp: 18 },
    ]);
  });

  it('a clock that is not a ManualClock is refused', async () => {
    await expectEddyError(() => new OperatorHarness(new Recorder('r'), { clock: { now: () => 0 } as unknown as ManualClock }), 'EDDY_CONFIG');
  });
});

describe('OperatorHarness errors', () => {
  it('reports a user function error as the runtime does: EDDY_USER_FUNCTION naming the operator, cause kept', async () => {
    const boom = new Error('boom');
    const h = ProcessFunctionHarness.forMap(
      (x: number) => {
        if (x > 1) throw boom;
        return x;
      },
      { name: 'Checked' },
    );
    await h.open();
    h.processElement(1);
    const e = await expectEddyError(() => h.processElement(2), 'EDDY_USER_FUNCTION');
    expect(e.operator).toBe('Checked');
    expect(e.message).toContain('boom');
    expect(e.cause).toBe(boom);
  });

  it('errors in open and close name the operator', async () => {
    const opening = ProcessFunctionHarness.forMap({
      open() {
        throw new Error('no config');
      },
      map: (x: number) => x,
    });
    const e = await expectEddyError(() => opening.open(), 'EDDY_USER_FUNCTION');
    expect(e.operator).toBe('Map');
    const closing = ProcessFunctionHarness.forFilter({
      close() {
        throw new Error('flush failed');
      },
      filter: () => true,
    });
    await closing.open();
    expect((await expectEddyError(() => closing.close(), 'EDDY_USER_FUNCTION')).message).toContain('flush failed');
  });

  it('an unhashable key fails with EDDY_UNHASHABLE_KEY naming the operator', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction({ processElement() {} }, (r: { k: unknown }) => r.k, { name: 'ByK' });
    await h.open();
    const e = await expectEddyError(() => h.processElement({ k: { nested: true } }), 'EDDY_UNHASHABLE_KEY');
    expect(e.operator).toBe('ByK');
  });
});

describe('OperatorHarness snapshots', () => {
  it('a snapshot is detached: later input and restores do not change it', async () => {
    const listed = () =>
      ProcessFunctionHarness.forKeyedProcessFunction<string, string, number>(
        {
          processElement(v, ctx, out) {
            const l = ctx.getState(new ListStateDescriptor<string>('l'));
            l.add(v);
            out.collect(l.get().length);
          },
        },
        (v) => v[0]!,
      );
    const h = listed();
    await h.open();
    h.processElements(['a1', 'a2']);
    const snap = h.snapshot();
    const copy = structuredClone(snap);
    h.processElement('a3');
    expect(snap).toEqual(copy);
    const r1 = listed();
    await r1.open(snap);
    r1.processElement('a4');
    const r2 = listed();
    await r2.open(snap);
    r2.processElement('a5');
    expect(snap).toEqual(copy);
    expect(r1.getOutput()).toEqual([3]);
    expect(r2.getOutput()).toEqual([3]);
  });

  it('passes the operator part of a snapshot to initializeState', async () => {
    const a = new Recorder('rec');
    const h = new OperatorHarness(a);
    await h.open();
    h.processElement('x');
    const snap = h.snapshot();
    expect(snap).toEqual({ operator: { calls: 4 } });
    const b = new Recorder('rec');
    await new OperatorHarness(b).open(snap);
    expect(b.seen).toEqual({ operator: { calls: 4 } });
  });

  it('state that cannot be serialized fails at snapshot with EDDY_UNSERIALIZABLE_RECORD', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction<number, number, number>(
      {
        processElement(v, ctx) {
          ctx.getState(new ValueStateDescriptor<unknown>('fn')).update({ callback: () => v });
        },
      },
      (v) => v,
      { name: 'Holder' },
    );
    await h.open();
    h.processElement(1);
    const e = await expectEddyError(() => h.snapshot(), 'EDDY_UNSERIALIZABLE_RECORD');
    expect(e.operator).toBe('Holder');
  });

  it('keyed state in a snapshot cannot be restored into a non-keyed harness (EDDY_STATE_MISMATCH)', async () => {
    const sum = () => new ReduceOperator<number>('Sum', (a, b) => a + b, () => 'k');
    const h = new OperatorHarness(sum(), { keySelector: () => 'k' });
    await h.open();
    h.processElement(1);
    const snap = h.snapshot();
    await expectEddyError(() => new OperatorHarness(new MapOperator<number, number>('Sum', (x) => x)).open(snap), 'EDDY_STATE_MISMATCH');
  });

  it('a different maxParallelism on restore fails with EDDY_STATE_MISMATCH', async () => {
    const sum = () => new ReduceOperator<number>('Sum', (a, b) => a + b, () => 'k');
    const h = new OperatorHarness(sum(), { keySelector: () => 'k', maxParallelism: 64 });
    await h.open();
    h.processElement(1);
    await expectEddyError(() => new OperatorHarness(sum(), { keySelector: () => 'k', maxParallelism: 128 }).open(h.snapshot()), 'EDDY_STATE_MISMATCH');
  });

  it('a keyed harness refuses a key that another subtask owns, naming the owner', async () => {
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const foreign = keys.find((k) => keyGroupOf(k, 128) > keyGroupRange(0, 2, 128).end)!;
    const h = ProcessFunctionHarness.forKeyedProcessFunction({ processElement() {} }, (s: string) => s, { parallelism: 2, subtaskIndex: 0 });
    await h.open();
    const e = await expectEddyError(() => h.processElement(foreign), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toContain('subtask 1 of 2');
  });
});

describe('sinks through the harness', () => {
  it('drives a sink writer: invoke per record, finish at end of input, close', async () => {
    const events: string[] = [];
    const op = new SinkOperator<string>('Lines', {
      name: 'lines',
      createWriter: ({ operator, runtime }) => {
        events.push(`create:${operator.subtaskIndex}/${runtime.parallelism}:${String(operator.nats)}`);
        return {
          invoke: (v, ts) => events.push(`${v}@${ts}`),
          finish: () => void events.push('finish'),
          close: () => void events.push('close'),
        };
      },
    });
    const h = new OperatorHarness(op, { parallelism: 3, subtaskIndex: 1 });
    await h.open();
    h.processElement('x', 4);
    await h.endInput();
    await h.close();
    expect(events).toEqual(['create:1/3:undefined', 'x@4', 'finish', 'close']);
    expect(h.getWatermarks()).toEqual([]); // a sink does not forward watermarks
  });
});
