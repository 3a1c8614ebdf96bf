// The broadcast state pattern through the two-input harness: read-only vs writable broadcast state, the keyed side.
import { describe, expect, it } from 'vitest';
import { TwoInputOperatorHarness } from 'eddy/testing';
import {
  BroadcastProcessFunction,
  KeyedBroadcastProcessFunction,
  type BroadcastContext,
  type BroadcastReadOnlyContext,
  type KeyedBroadcastContext,
  type KeyedBroadcastOnTimerContext,
  type KeyedBroadcastReadOnlyContext,
} from '../../src/functions/broadcast-functions.ts';
import type { Collector, RuntimeContext } from '../../src/functions/functions.ts';
import { BroadcastProcessOperator } from '../../src/operators/broadcast-process-operator.ts';
import { BroadcastStateStore, type BroadcastState, type ReadOnlyBroadcastState } from '../../src/state/broadcast-state.ts';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor, type ValueState } from '../../src/state/descriptors.ts';
import { expectEddyError } from '../support/eddy-error.ts';

interface Reading {
  sensor: string;
  value: number;
}

const thresholds = new MapStateDescriptor<string, number>('thresholds');

/** Emits readings above their sensor's threshold; counts readings per sensor in keyed state. */
class Alert extends KeyedBroadcastProcessFunction<string, Reading, [string, number], Reading> {
  private seen!: ValueState<number>;
  override open(ctx: RuntimeContext): void {
    this.seen = ctx.getState(new ValueStateDescriptor('seen', 0));
  }
  processElement(r: Reading, ctx: KeyedBroadcastReadOnlyContext<string>, out: Collector<Reading>): void {
    this.seen.update(this.seen.value() + 1);
    if (r.value > (ctx.getBroadcastState(thresholds).get(ctx.getCurrentKey()) ?? Infinity)) out.collect(r);
  }
  processBroadcastElement([sensor, t]: [string, number], ctx: KeyedBroadcastContext<string>): void {
    ctx.getBroadcastState(thresholds).put(sensor, t);
  }
}


describe('TSDoc examples', () => {
  it('BroadcastStateStore', () => {
    const desc = new MapStateDescriptor<string, number>('rules');
    const store = new BroadcastStateStore('Rules', [desc]);
    store.writable(desc).put('a', 1);
    expect(store.readOnly(desc).get('a')).toBe(1);
    expect(() => (store.readOnly(desc) as BroadcastState<string, number>).put('a', 2)).toThrow(/read-only/);
  });

  it('BroadcastProcessOperator', async () => {
    const limits = new MapStateDescriptor<string, number>('limits');
    const op = new BroadcastProcessOperator<number, number, number>(
      'Limit',
      {
        processElement: (n, ctx, out) => {
          if (n <= (ctx.getBroadcastState(limits).get('max') ?? Infinity)) out.collect(n);
        },
        processBroadcastElement: (max, ctx) => ctx.getBroadcastState(limits).put('max', max),
      },
      [limits],
    );
    const h = new TwoInputOperatorHarness(op);
    await h.open();
    h.processElement2(10);
    h.processElements1([5, 50]);
    expect(h.getOutput()).toEqual([5]);
  });

  it('TwoInputOperatorHarness.forBroadcastProcessFunction', async () => {
    const max = new MapStateDescriptor<string, number>('max');
    const h = TwoInputOperatorHarness.forBroadcastProcessFunction<number, number, number>(
      {
        processElement: (n, ctx, out) => {
          if (n <= (ctx.getBroadcastState(max).get('max') ?? 0)) out.collect(n);
        },
        processBroadcastElement: (m, ctx) => ctx.getBroadcastState(max).put('max', m),
      },
      [max],
    );
    await h.open();
    h.processElement1(3);
    h.processElement2(5);
    h.processElement1(4);
    expect(h.getOutput()).toEqual([4]);
  });

  it('TwoInputOperatorHarness.forKeyedBroadcastProcessFunction', async () => {
    const limit = new MapStateDescriptor<string, number>('limit');
    const h = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction<string, [string, number], string, string>(
      {
        processElement: (s, ctx, out) => {
          if (ctx.getBroadcastState(limit).contains(ctx.getCurrentKey())) out.collect(s);
        },
        processBroadcastElement: ([k, v], ctx) => ctx.getBroadcastState(limit).put(k, v),
      },
      (s) => s,
      [limit],
    );
    await h.open();
    h.processElement2(['a', 1]);
    h.processElements1(['a', 'b']);
    expect(h.getOutput()).toEqual(['a']);
  });

  it('BroadcastProcessFunction and KeyedBroadcastProcessFunction (class forms), ReadOnlyBroadcastState and BroadcastState', async () => {
    const limits = new MapStateDescriptor<string, number>('limits');
    class Limit extends BroadcastProcessFunction<number, [string, number], number> {
      processElement(n: number, ctx: BroadcastReadOnlyContext, out: Collector<number>) {
        const state: ReadOnlyBroadcastState<string, number> = ctx.getBroadcastState(limits);
        if (n <= (state.get('max') ?? Infinity)) out.collect(n);
      }
      processBroadcastElement([k, v]: [string, number], ctx: BroadcastContext) {
        const state: BroadcastState<string, number> = ctx.getBroadcastState(limits);
        state.put(k, v);
      }
    }
    const h = TwoInputOperatorHarness.forBroadcastProcessFunction(new Limit(), [limits]);
    await h.open();
    h.processElements1([1, 100]);
    h.processElement2(['max', 10]);
    h.processElements1([5, 50]);
    expect(h.getOutput()).toEqual([1, 100, 5]);

    const k = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction(new Alert(), (r: Reading) => r.sensor, [thresholds]);
    await k.open();
    k.processElement2(['s1', 10]);
    k.processElements1([
      { sensor: 's1', value: 12 },
      { sensor: 's2', value: 12 },
      { sensor: 's1', value: 8 },
    ]);
    expect(k.getOutput()).toEqual([{ sensor: 's1', value: 12 }]);
  });
});

describe('broadcast state is read-only on the non-broadcast side', () => {
  for (const write of ['put', 'putAll', 'remove', 'clear'] as const)
    it(`${write}() in processElement throws a clear EddyError`, async () => {
      const h = TwoInputOperatorHarness.forBroadcastProcessFunction<number, number, never>(
        {
          processElement: (n, ctx) => {
            const s = ctx.getBroadcastState(thresholds) as BroadcastState<string, number>;
            if (write === 'put') s.put('x', n);
            else if (write === 'putAll') s.putAll([['x', n]]);
            else if (write === 'remove') s.remove('x');
            else s.clear();
          },
          processBroadcastElement: (n, ctx) => ctx.getBroadcastState(thresholds).put('x', n),
        },
        [thresholds],
      );
      await h.open();
      h.processElement2(1);
      const e = await expectEddyError(() => h.processElement1(2), 'EDDY_USER_FUNCTION');
      expect(e.operator).toBe('Co-Process-Broadcast');
      expect(e.message).toContain('broadcast state "thresholds" is read-only');
      expect(e.message).toContain(`${write}()`);
      expect(e.message).toContain('processBroadcastElement');
    });

  it('the read-only view sees every write of processBroadcastElement', async () => {
    const seen: unknown[] = [];
    const h = TwoInputOperatorHarness.forBroadcastProcessFunction<string, [string, number | undefined], never>(
      {
        processElement: (_s, ctx) => {
          const s = ctx.getBroadcastState(thresholds);
          seen.push([[...s.entries()], [...s.keys()], [...s.values()], s.size, s.isEmpty(), s.contains('a')]);
        },
        processBroadcastElement: ([k, v], ctx) => {
          const s = ctx.getBroadcastState(thresholds);
          if (v === undefined) s.remove(k);
          else s.put(k, v);
        },
      },
      [thresholds],
    );
    await h.open();
    h.processElement1('?');
    h.processElements2([
      ['a', 1],
      ['b', 2],
    ]);
    h.processElement1('?');
    h.processElement2(['a', undefined]);
    h.processElement1('?');
    expect(seen).toEqual([
      [[], [], [], 0, true, false],
      [[['a', 1], ['b', 2]], ['a', 'b'], [1, 2], 2, false, true],
      [[['b', 2]], ['b'], [2], 1, false, false],
    ]);
  });

  it('onTimer sees read-only broadcast state too', async () => {
    const h = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction<string, number, string, never>(
      {
        processElement: (_s, ctx) => ctx.timerService().registerEventTimeTimer(5),
        processBroadcastElement: () => {},
        onTimer: (_ts, ctx) => (ctx.getBroadcastState(thresholds) as BroadcastState<string, number>).put('x', 1),
      },
      (s) => s,
      [thresholds],
    );
    await h.open();
    h.processElement1('k', 1);
    await expectEddyError(() => h.processWatermark(5), 'EDDY_USER_FUNCTION');
  });

  it('a descriptor not passed to broadcast(...) is a clear error', async () => {
    const other = new MapStateDescriptor<string, number>('other');
    const h = TwoInputOperatorHarness.forBroadcastProcessFunction<number, number, never>(
      { processElement: () => {}, processBroadcastElement: (_n, ctx) => ctx.getBroadcastState(other).put('a', 1) },
      [thresholds],
    );
    await h.open();
    const e = await expectEddyError(() => h.processElement2(1), 'EDDY_CONFIG');
    expect(e.message).toContain('broadcast state "other" was not declared');
    expect(e.message).toContain('"thresholds"');
  });

  it('timers need the keyed variant', async () => {
    const h = TwoInputOperatorHarness.forBroadcastProcessFunction<number, number, never>(
      {
        processElement: (_n, ctx) => (ctx as unknown as KeyedBroadcastReadOnlyContext<string>).timerService().registerEventTimeTimer(1),
        processBroadcastElement: () => {},
      },
      [thresholds],
    );
    await h.open();
    await expectEddyError(() => h.processElement1(1), 'EDDY_CONFIG');
  });
});

describe('keyed broadcast process function', () => {
  it('keyed state and timers per key; onTimer reads the broadcast state of its time', async () => {
    class Delayed extends KeyedBroadcastProcessFunction<string, Reading, [string, number], string> {
      private pending!: ValueState<number>;
      override open(ctx: RuntimeContext): void {
        this.pending = ctx.getState(new ValueStateDescriptor('pending', 0));
      }
      processElement(r: Reading, ctx: KeyedBroadcastReadOnlyContext<string>): void {
        this.pending.update(Math.max(this.pending.value(), r.value));
        ctx.timerService().registerEventTimeTimer(ctx.timestamp()!);
      }
      processBroadcastElement([s, t]: [string, number], ctx: KeyedBroadcastContext<string>): void {
        ctx.getBroadcastState(thresholds).put(s, t);
      }
      override onTimer(ts: number, ctx: KeyedBroadcastOnTimerContext<string>, out: Collector<string>): void {
        const t = ctx.getBroadcastState(thresholds).get(ctx.getCurrentKey()) ?? Infinity;
        out.collect(`${ctx.getCurrentKey()}@${ts} ${ctx.timeDomain()} max=${this.pending.value()} over=${this.pending.value() > t}`);
        this.pending.clear();
      }
    }
    const h = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction(new Delayed(), (r: Reading) => r.sensor, [thresholds]);
    await h.open();
    h.processElement1({ sensor: 'a', value: 5 }, 10);
    h.processElement1({ sensor: 'b', value: 7 }, 10);
    h.processElement1({ sensor: 'a', value: 9 }, 10);
    h.processElement2(['a', 8], 3);
    h.processWatermark(10);
    expect(h.getRecordOutput()).toEqual([
      { value: 'a@10 EVENT_TIME max=9 over=true', timestamp: 10 },
      { value: 'b@10 EVENT_TIME max=7 over=false', timestamp: 10 },
    ]);
  });

  it('applyToKeyedState visits every key with state, with that key current, and may clear it', async () => {
    const seen = new ValueStateDescriptor('seen', 0);
    const visited: [unknown, number][] = [];
    const h = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction<Reading, string, string, number>(
      {
        processElement: (_r, ctx, out) => {
          const s = ctx.getState(seen);
          s.update(s.value() + 1);
          out.collect(s.value());
        },
        processBroadcastElement: (command, ctx) =>
          ctx.applyToKeyedState(seen, (key, state) => {
            visited.push([key, state.value()]);
            if (command === 'reset' && key !== 'keep') state.clear();
          }),
      },
      (r) => r.sensor,
      [thresholds],
    );
    await h.open();
    for (const sensor of ['a', 'b', 'a', 'keep']) h.processElement1({ sensor, value: 0 });
    h.processElement2('reset');
    expect(visited.sort()).toEqual([
      ['a', 2],
      ['b', 1],
      ['keep', 1],
    ]);
    h.processElement1({ sensor: 'a', value: 0 });
    h.processElement1({ sensor: 'keep', value: 0 });
    expect(h.getOutput().slice(4)).toEqual([1, 2]);
    visited.length = 0;
    h.processElement2('look');
    expect(visited.sort()).toEqual([
      ['a', 1],
      ['keep', 2],
    ]);
  });

  it('applyToKeyedState works with tuple keys', async () => {
    const items = new ListStateDescriptor<number>('items');
    const h = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction<[string, number], string, [string, number], number>(
      {
        processElement: ([, n], ctx, out) => {
          ctx.getState(items).add(n);
          out.collect(ctx.getState(items).get().length);
        },
        processBroadcastElement: (_c, ctx) => ctx.applyToKeyedState(items, (_key, state) => state.update(state.get().map((x) => x * 10))),
      },
      (t) => t,
      [thresholds],
    );
    await h.open();
    h.processElement1(['x', 1]);
    h.processElement2('times ten');
    h.processElement1(['x', 1]);
    const state = h.stateBackend!.getState(items);
    h.stateBackend!.setCurrentKey(['x', 1]);
    expect(state.get()).toEqual([10, 1]);
  });

  it('applyToKeyedState outside processBroadcastElement is an error', async () => {
    const h = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction<string, string, string, never>(
      {
        processElement: (_s, ctx) => (ctx as unknown as KeyedBroadcastContext<string>).applyToKeyedState(thresholds, () => {}),
        processBroadcastElement: () => {},
      },
      (s) => s,
      [thresholds],
    );
    await h.open();
    await expectEddyError(() => h.processElement1('a'), 'EDDY_USER_FUNCTION');
  });
});
