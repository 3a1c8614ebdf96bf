// Every built-in operator through the public harness: map, filter, flatMap, process, keyed process, reduce/sum/min/max, rich functions.
import { describe, expect, it } from 'vitest';
import { OperatorHarness, ProcessFunctionHarness } from 'eddy/testing';
import {
  KeyedProcessFunction,
  ProcessFunction,
  type Collector,
  type KeyedProcessContext,
  type ProcessContext,
  type RuntimeContext,
} from '../../src/functions/functions.ts';
import { OutputTag } from '../../src/functions/output-tag.ts';
import { isEddyError } from '../../src/errors.ts';
import { ListStateDescriptor } from '../../src/state/descriptors.ts';
import { fieldAggregator, ReduceOperator, type FieldRef } from '../../src/operators/reduce-operator.ts';

async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, nothing was thrown');
}

describe('map', () => {
  it('maps with a plain function, keeping timestamps and forwarding watermarks', async () => {
    const h = ProcessFunctionHarness.forMap((x: number) => `#${x}`);
    await h.open();
    h.processElement(1, 10);
    h.processWatermark(10);
    h.processElement(2);
    expect(h.getRecordOutput()).toEqual([
      { value: '#1', timestamp: 10 },
      { value: '#2', timestamp: undefined },
    ]);
    expect(h.getWatermarks()).toEqual([10]);
  });

  it('maps with an object whose map method uses its own fields', async () => {
    class Scale {
      factor = 3;
      map(x: number): number {
        return x * this.factor;
      }
    }
    const h = ProcessFunctionHarness.forMap(new Scale());
    await h.open();
    h.processElements([1, 2]);
    expect(h.getOutput()).toEqual([3, 6]);
  });
});

describe('filter', () => {
  it('keeps what the predicate accepts, with timestamps', async () => {
    const h = ProcessFunctionHarness.forFilter((s: string) => s.length > 1);
    await h.open();
    h.processElement('a', 1);
    h.processElement('bb', 2);
    h.processElement('ccc');
    expect(h.getRecordOutput()).toEqual([
      { value: 'bb', timestamp: 2 },
      { value: 'ccc', timestamp: undefined },
    ]);
  });

  it('accepts an object with a filter method', async () => {
    const h = ProcessFunctionHarness.forFilter({ filter: (n: number) => n > 0 });
    await h.open();
    h.processElements([-1, 0, 1, 2]);
    expect(h.getOutput()).toEqual([1, 2]);
    h.processWatermark(3);
    expect(h.getWatermarks()).toEqual([3]);
  });
});

describe('flatMap', () => {
  it('emits every element of a returned array, generator or Set with the input timestamp', async () => {
    const arr = ProcessFunctionHarness.forFlatMap((s: string) => s.split(''));
    await arr.open();
    arr.processElement('ab', 5);
    arr.processElement('');
    expect(arr.getRecordOutput()).toEqual([
      { value: 'a', timestamp: 5 },
      { value: 'b', timestamp: 5 },
    ]);

    const gen = ProcessFunctionHarness.forFlatMap(function* (n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    await gen.open();
    gen.processElement(3, 7);
    expect(gen.getRecordOutput()).toEqual([0, 1, 2].map((value) => ({ value, timestamp: 7 })));

    const set = ProcessFunctionHarness.forFlatMap((s: string) => new Set(s));
    await set.open();
    set.processElement('abba');
    expect(set.getOutput()).toEqual(['a', 'b']);
  });

  it('emits through the collector of an object flatMap (collector form), with the input timestamp', async () => {
    const h = ProcessFunctionHarness.forFlatMap({
      flatMap(line: string, out: Collector<[string, number]>) {
        for (const w of line.split(' ')) if (w) out.collect([w, 1]);
      },
    });
    await h.open();
    h.processElement('to be  or', 9);
    h.processElement('not');
    expect(h.getRecordOutput()).toEqual([
      { value: ['to', 1], timestamp: 9 },
      { value: ['be', 1], timestamp: 9 },
      { value: ['or', 1], timestamp: 9 },
      { value: ['not', 1], timestamp: undefined },
    ]);
  });

  it.each([
    ['a number', 42, 'number'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a plain object', { a: 1 }, 'object'],
  ])('returning %s fails with EDDY_USER_FUNCTION naming the operator', async (_label, result, shown) => {
    const h = ProcessFunctionHarness.forFlatMap((() => result) as unknown as (v: number) => Iterable<number>, { name: 'Tokenize' });
    await h.open();
    const e = await thrown(() => h.processElement(1));
    expect(isEddyError(e, 'EDDY_USER_FUNCTION')).toBe(true);
    expect((e as { operator: string }).operator).toBe('Tokenize');
    expect((e as Error).message).toContain('"Tokenize"');
    expect((e as Error).message).toContain(`got ${shown}`);
    expect(h.getOutput()).toEqual([]);
  });
});

describe('process', () => {
  const small = new OutputTag<number>('small');
  const odd = new OutputTag<string>('odd');

  class Route extends ProcessFunction<number, string> {
    processElement(n: number, ctx: ProcessContext, out: Collector<string>): void {
      if (n < 10) ctx.output(small, n);
      else out.collect(`big:${n}@${ctx.timestamp() ?? 'none'}`);
      if (n % 2 === 1) ctx.output(odd, `odd:${n}`);
    }
  }

  it('emits to the main output and to several side outputs, with the record timestamp', async () => {
    const h = ProcessFunctionHarness.forProcessFunction(new Route());
    await h.open();
    h.processElement(3, 1);
    h.processElement(12, 2);
    h.processElement(15);
    expect(h.getOutput()).toEqual(['big:12@2', 'big:15@none']);
    expect(h.getSideRecordOutput(small)).toEqual([{ value: 3, timestamp: 1 }]);
    expect(h.getSideRecordOutput(odd)).toEqual([
      { value: 'odd:3', timestamp: 1 },
      { value: 'odd:15', timestamp: undefined },
    ]);
  });

  it('ctx.timestamp() is the record timestamp, including 0, and undefined when the record has none', async () => {
    const h = ProcessFunctionHarness.forProcessFunction<string, number | undefined>({
      processElement(_v, ctx, out) {
        out.collect(ctx.timestamp());
      },
    });
    await h.open();
    h.processElement('a', 0);
    h.processElement('b');
    h.processElement('c', 1_700_000_000_000);
    expect(h.getOutput()).toEqual([0, undefined, 1_700_000_000_000]);
  });

  it('the timer service reports the current watermark and processing time', async () => {
    const h = ProcessFunctionHarness.forProcessFunction<string, [number, number]>({
      processElement(_v, ctx, out) {
        out.collect([ctx.timerService().currentWatermark(), ctx.timerService().currentProcessingTime()]);
      },
    });
    await h.open();
    h.processElement('a');
    h.processWatermark(100);
    h.advanceProcessingTime(7);
    h.processElement('b');
    expect(h.getOutput()).toEqual([
      [Number.NEGATIVE_INFINITY, 0],
      [100, 7],
    ]);
    expect(h.getWatermarks()).toEqual([100]);
  });
});

describe('keyed process', () => {
  it('getCurrentKey is the key of the record being processed (tuple keys stay tuples)', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction<{ a: string; b: number }, [string, number], string>(
      {
        processElement(v, ctx, out) {
          const [a, b] = ctx.getCurrentKey();
          out.collect(`${a}/${b}:${v.a === a && v.b === b}`);
        },
      },
      (v) => [v.a, v.b],
    );
    await h.open();
    h.processElements([
      { a: 'x', b: 1 },
      { a: 'y', b: 2 },
    ]);
    expect(h.getOutput()).toEqual(['x/1:true', 'y/2:true']);
  });

  it('keeps state per key and emits side outputs', async () => {
    const firstSeen = new OutputTag<string>('first-seen');
    type Visit = { user: string; page: string };
    class Pages extends KeyedProcessFunction<string, Visit, string> {
      processElement(v: Visit, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
        const pages = ctx.getState(new ListStateDescriptor<string>('pages'));
        if (pages.get().length === 0) ctx.output(firstSeen, ctx.getCurrentKey());
        pages.add(v.page);
        out.collect(`${ctx.getCurrentKey()}:${pages.get().join(',')}`);
      }
    }
    const h = ProcessFunctionHarness.forKeyedProcessFunction(new Pages(), (v: Visit) => v.user);
    await h.open();
    h.processElement({ user: 'u1', page: 'home' }, 1);
    h.processElement({ user: 'u2', page: 'cart' }, 2);
    h.processElement({ user: 'u1', page: 'buy' }, 3);
    expect(h.getOutput()).toEqual(['u1:home', 'u2:cart', 'u1:home,buy']);
    expect(h.getSideRecordOutput(firstSeen)).toEqual([
      { value: 'u1', timestamp: 1 },
      { value: 'u2', timestamp: 2 },
    ]);
  });
});

describe('reduce / sum / min / max', () => {
  type Row = { k: string; v: number; tag: string };
  const reduceHarness = <T>(name: string, fn: (a: T, b: T) => T, key: (v: T) => unknown) =>
    new OperatorHarness(new ReduceOperator<T>(name, fn, key), { keySelector: key });

  it('reduce emits the key’s rolling value after every record, per key, with the record timestamp', async () => {
    const h = reduceHarness<[string, number]>('Keyed Reduce', (a, b) => [a[0], a[1] * b[1]], (t) => t[0]);
    await h.open();
    h.processElement(['a', 2], 1);
    h.processElement(['b', 5], 2);
    h.processElement(['a', 3], 3);
    h.processElement(['a', 4]);
    expect(h.getRecordOutput()).toEqual([
      { value: ['a', 2], timestamp: 1 },
      { value: ['b', 5], timestamp: 2 },
      { value: ['a', 6], timestamp: 3 },
      { value: ['a', 24], timestamp: undefined },
    ]);
    h.processWatermark(4);
    expect(h.getWatermarks()).toEqual([4]);
  });

  const agg = <T>(kind: 'sum' | 'min' | 'max', field: FieldRef, key: (v: T) => unknown) =>
    reduceHarness<T>(kind, fieldAggregator<T>(kind, field), key);

  it('sum/min/max over a stream of numbers', async () => {
    const expected = { sum: [5, 3, 6, 7, 9], min: [5, 3, 3, 1, 4], max: [5, 3, 3, 3, 5] };
    for (const kind of ['sum', 'min', 'max'] as const) {
      const h = agg<number>(kind, undefined, (n) => (n >= 4 ? 'hi' : 'lo'));
      await h.open();
      h.processElements([5, 3, 3, 1, 4]);
      expect(h.getOutput()).toEqual(expected[kind]);
    }
  });

  it('sum/min/max of an object field: other fields keep the key’s first record', async () => {
    const rows: Row[] = [
      { k: 'a', v: 5, tag: 'first-a' },
      { k: 'b', v: 1, tag: 'first-b' },
      { k: 'a', v: 2, tag: 'second-a' },
      { k: 'a', v: 9, tag: 'third-a' },
    ];
    const run = async (kind: 'sum' | 'min' | 'max') => {
      const h = agg<Row>(kind, 'v', (r) => r.k);
      await h.open();
      h.processElements(rows);
      return h.getOutput();
    };
    expect(await run('sum')).toEqual([
      { k: 'a', v: 5, tag: 'first-a' },
      { k: 'b', v: 1, tag: 'first-b' },
      { k: 'a', v: 7, tag: 'first-a' },
      { k: 'a', v: 16, tag: 'first-a' },
    ]);
    expect(await run('min')).toEqual([
      { k: 'a', v: 5, tag: 'first-a' },
      { k: 'b', v: 1, tag: 'first-b' },
      { k: 'a', v: 2, tag: 'first-a' },
      { k: 'a', v: 2, tag: 'first-a' },
    ]);
    expect(await run('max')).toEqual([
      { k: 'a', v: 5, tag: 'first-a' },
      { k: 'b', v: 1, tag: 'first-b' },
      { k: 'a', v: 5, tag: 'first-a' },
      { k: 'a', v: 9, tag: 'first-a' },
    ]);
    // the input records are not mutated
    expect(rows[0]).toEqual({ k: 'a', v: 5, tag: 'first-a' });
  });

  it('sum/min/max of a tuple index: other positions keep the key’s first record', async () => {
    type T3 = [string, number, string];
    const input: T3[] = [
      ['w', 1, 'x'],
      ['w', 4, 'y'],
      ['v', 2, 'z'],
      ['w', -3, 'q'],
    ];
    const run = async (kind: 'sum' | 'min' | 'max') => {
      const h = agg<T3>(kind, 1, (t) => t[0]);
      await h.open();
      h.processElements(input);
      return h.getOutput();
    };
    expect(await run('sum')).toEqual([
      ['w', 1, 'x'],
      ['w', 5, 'x'],
      ['v', 2, 'z'],
      ['w', 2, 'x'],
    ]);
    expect(await run('min')).toEqual([
      ['w', 1, 'x'],
      ['w', 1, 'x'],
      ['v', 2, 'z'],
      ['w', -3, 'x'],
    ]);
    expect(await run('max')).toEqual([
      ['w', 1, 'x'],
      ['w', 4, 'x'],
      ['v', 2, 'z'],
      ['w', 4, 'x'],
    ]);
    expect(input[0]).toEqual(['w', 1, 'x']);
  });

  it('sum works on bigints', async () => {
    const h = agg<{ k: number; n: bigint }>('sum', 'n', (r) => r.k);
    await h.open();
    h.processElements([
      { k: 1, n: 2n ** 60n },
      { k: 1, n: 2n ** 60n },
    ]);
    expect(h.getOutput().map((r) => r.n)).toEqual([2n ** 60n, 2n ** 61n]);
  });

  it('an error in the reduce function names the operator', async () => {
    const h = reduceHarness<number>(
      'Fragile',
      () => {
        throw new Error('nope');
      },
      () => 'k',
    );
    await h.open();
    h.processElement(1);
    const e = await thrown(() => h.processElement(2));
    expect(isEddyError(e, 'EDDY_USER_FUNCTION')).toBe(true);
    expect((e as { operator: string }).operator).toBe('Fragile');
  });
});

describe('rich functions', () => {
  class Tagger {
    prefix = '';
    opened: RuntimeContext | undefined;
    closed = 0;
    seen: string[] = [];
    open(ctx: RuntimeContext): void {
      this.opened = ctx;
      this.prefix = `${ctx.jobName}/${ctx.operatorName}[${ctx.subtaskIndex}/${ctx.parallelism}|${ctx.maxParallelism}]`;
    }
    map(v: string): string {
      this.seen.push(v);
      return `${this.prefix}:${v}`;
    }
    close(): void {
      this.closed++;
    }
  }

  it('open() receives a RuntimeContext describing the subtask; close() runs at close', async () => {
    const h = ProcessFunctionHarness.forMap(new Tagger(), { parallelism: 4, subtaskIndex: 2, maxParallelism: 32, jobName: 'job', name: 'Tag' });
    await h.open();
    h.processElement('x');
    expect(h.getOutput()).toEqual(['job/Tag[2/4|32]:x']);
    await h.close();
  });

  it('the same holds for filter, flatMap, process and keyed process functions', async () => {
    const indexes: number[] = [];
    const open = (ctx: RuntimeContext) => void indexes.push(ctx.subtaskIndex);
    const options = { parallelism: 3, subtaskIndex: 1 };
    const hs = [
      ProcessFunctionHarness.forFilter({ open, filter: () => true }, options),
      ProcessFunctionHarness.forFlatMap({ open, flatMap: () => {} }, options),
      ProcessFunctionHarness.forProcessFunction({ open, processElement: () => {} }, options),
      ProcessFunctionHarness.forKeyedProcessFunction({ open, processElement: () => {} }, (v: string) => v, options),
    ];
    for (const h of hs) await h.open();
    expect(indexes).toEqual([1, 1, 1, 1]);
  });

  it('a function object is copied per operator instance: two harnesses of one instance do not share fields', async () => {
    const shared = new Tagger();
    const a = ProcessFunctionHarness.forMap(shared, { subtaskIndex: 0, parallelism: 2 });
    const b = ProcessFunctionHarness.forMap(shared, { subtaskIndex: 1, parallelism: 2 });
    await a.open();
    await b.open();
    a.processElements(['1', '2']);
    b.processElement('3');
    expect(a.getOutput()).toEqual(['harness/Map[0/2|128]:1', 'harness/Map[0/2|128]:2']);
    expect(b.getOutput()).toEqual(['harness/Map[1/2|128]:3']);
    await a.close();
    // the original was never opened, used or closed
    expect(shared.opened).toBeUndefined();
    expect(shared.seen).toEqual([]);
    expect(shared.closed).toBe(0);
  });

  it('a function object with an ES #private field still works after the per-instance copy', async () => {
    class Private {
      #n = 0;
      map(s: string): string {
        return `${++this.#n}:${s}`;
      }
    }
    const h = ProcessFunctionHarness.forMap(new Private());
    await h.open();
    h.processElement('x');
    expect(h.getOutput()).toEqual(['1:x']);
  });

  it('copies process function objects too (keyed and not)', async () => {
    class Counting extends ProcessFunction<string, number> {
      n = 0;
      processElement(_v: string, _ctx: ProcessContext, out: Collector<number>): void {
        out.collect(++this.n);
      }
    }
    const fn = new Counting();
    const a = ProcessFunctionHarness.forProcessFunction(fn);
    const b = ProcessFunctionHarness.forKeyedProcessFunction(fn, (s: string) => s);
    await a.open();
    await b.open();
    a.processElements(['x', 'y']);
    b.processElement('z');
    expect(a.getOutput()).toEqual([1, 2]);
    expect(b.getOutput()).toEqual([1]);
    expect(fn.n).toBe(0);
  });
});
