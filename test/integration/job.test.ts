// Whole jobs on a real nats-server: correctness independent of parallelism, state types, scale, exchanges.
import fc from 'fast-check';
import { describe, expect, expectTypeOf, inject, it } from 'vitest';
import {
  AggregatingStateDescriptor,
  KeyedProcessFunction,
  ListStateDescriptor,
  MapStateDescriptor,
  OutputTag,
  ReducingStateDescriptor,
  StreamEnvironment,
  ValueStateDescriptor,
  type AggregatingState,
  type DataStream,
  type KeyedStream,
  type Collector,
  type KeyedProcessContext,
  type ListState,
  type MapState,
  type ReducingState,
  type RuntimeContext,
  type ValueState,
} from '../../index.ts';

const nats = inject('natsUrl');
const env = (parallelism: number, extra: object = {}) => StreamEnvironment.create({ parallelism, nats, ...extra });

/** Waits until `cond()` holds; fails naming `what` after a generous deadline (it only bounds a hang, it proves nothing). */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function plainWordCount(lines: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) for (const w of l.split(/\s+/)) if (w !== '') m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

async function eddyWordCount(lines: string[], parallelism: number): Promise<Map<string, number>> {
  const out = await env(parallelism)
    .fromCollection(lines)
    .flatMap((l) => l.split(/\s+/).filter((w) => w !== ''))
    .map((w) => ({ word: w, n: 1 }))
    .keyBy((p) => p.word)
    .sum('n')
    .executeAndCollect();
  // A rolling sum emits every update; the largest count per word is its final count.
  const m = new Map<string, number>();
  for (const { word, n } of out) m.set(word, Math.max(m.get(word) ?? 0, n));
  return m;
}

describe('word count equals a plain count (fast-check)', () => {
  const word = fc.constantFrom('a', 'b', 'c', 'to', 'be', 'or', 'not', 'ü', '数', 'x-y');
  const line = fc.array(word, { maxLength: 12 }).map((ws) => ws.join(' '));
  for (const p of [1, 2, 4])
    it(`at parallelism ${p}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(line, { maxLength: 40 }), async (lines) => {
          expect(await eddyWordCount(lines, p)).toEqual(plainWordCount(lines));
        }),
        { numRuns: 8 },
      );
    });
});

describe('exchanges', () => {
  it('rebalance, broadcast, union and setParallelism route every record as documented', async () => {
    const e = env(3);
    const base = e.fromGenerator(300, (i) => i);
    const rebalanced = base.rebalance().map((i) => i * 2).setParallelism(2);
    const broadcasted = e.fromCollection([1000, 2000]).broadcast().map((x) => x + 1).setParallelism(3);
    const out = await rebalanced.union(broadcasted).executeAndCollect();
    const expected = [...Array(300).keys()].map((i) => i * 2).concat([1001, 1001, 1001, 2001, 2001, 2001]);
    expect(out.sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
  });

  it('side outputs cross the network to their own consumers', async () => {
    const odd = new OutputTag<number>('odd');
    const e = env(2);
    const main = e.fromGenerator(100, (i) => i).process<number>({
      processElement(v, ctx, out) {
        if (v % 2 === 1) ctx.output(odd, v);
        else out.collect(v);
      },
    });
    const odds = main.getSideOutput(odd).rebalance().map((v) => -v).setParallelism(3);
    const out = await main.union(odds).executeAndCollect();
    const expected = [...Array(100).keys()].map((i) => (i % 2 === 1 ? -i : i));
    expect(out.sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
  });

  it('a keyed rolling max/min/sum gives the same result at parallelism 1 and 4', async () => {
    const run = async (p: number) =>
      (
        await env(p)
          .fromGenerator(5000, (i) => ({ k: `k${i % 37}`, v: (i * 7919) % 1000 }))
          .keyBy((r) => r.k)
          .max('v')
          .executeAndCollect()
      ).reduce((m, r) => m.set(r.k, Math.max(m.get(r.k) ?? -1, r.v)), new Map<string, number>());
    const one = await run(1);
    expect(one.size).toBe(37);
    expect(await run(4)).toEqual(one);
  });
});

interface Ev {
  user: string;
  amount: number;
}

/** Uses every state type; emits one summary per record so the final summary per user can be checked. */
class AllStates extends KeyedProcessFunction<string, Ev, string> {
  private count!: ValueState<number>;
  private recent!: ListState<number>;
  private byAmount!: MapState<number, number>;
  private total!: ReducingState<number>;
  private avg!: AggregatingState<number, number>;
  subtask = -1;

  override open(ctx: RuntimeContext): void {
    this.subtask = ctx.subtaskIndex;
    this.count = ctx.getState(new ValueStateDescriptor('count', 0));
    this.recent = ctx.getState(new ListStateDescriptor<number>('recent'));
    this.byAmount = ctx.getState(new MapStateDescriptor<number, number>('byAmount'));
    this.total = ctx.getState(new ReducingStateDescriptor<number>('total', (a, b) => a + b));
    this.avg = ctx.getState(
      new AggregatingStateDescriptor<number, [number, number], number>('avg', {
        createAccumulator: () => [0, 0],
        add: (v, [s, n]) => [s + v, n + 1],
        getResult: ([s, n]) => s / n,
      }),
    );
  }

  processElement(e: Ev, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    this.count.update(this.count.value() + 1);
    this.recent.add(e.amount);
    if (this.recent.get().length > 3) this.recent.update(this.recent.get().slice(-3));
    this.byAmount.put(e.amount, (this.byAmount.get(e.amount) ?? 0) + 1);
    this.total.add(e.amount);
    this.avg.add(e.amount);
    out.collect(
      JSON.stringify({
        user: ctx.getCurrentKey(),
        count: this.count.value(),
        recent: this.recent.get(),
        distinct: [...this.byAmount.keys()].sort((a, b) => a - b),
        total: this.total.get(),
        avg: this.avg.get(),
      }),
    );
  }
}

describe('keyed state over NATS', () => {
  it('every state type keeps per-key values, at parallelism 1 and 3 alike', async () => {
    const events: Ev[] = Array.from({ length: 600 }, (_, i) => ({ user: `u${(i * 7) % 11}`, amount: (i % 5) + 1 }));
    const run = async (p: number) => {
      const out = await env(p).fromCollection(events).keyBy((e) => e.user).process(new AllStates()).executeAndCollect();
      const last = new Map<string, { count: number }>();
      for (const s of out.map((x) => JSON.parse(x))) if ((last.get(s.user)?.count ?? 0) < s.count) last.set(s.user, s);
      return last;
    };
    const expected = new Map<string, unknown>();
    for (const u of new Set(events.map((e) => e.user))) {
      const mine = events.filter((e) => e.user === u).map((e) => e.amount);
      const total = mine.reduce((a, b) => a + b, 0);
      expected.set(u, { user: u, count: mine.length, recent: mine.slice(-3), distinct: [...new Set(mine)].sort((a, b) => a - b), total, avg: total / mine.length });
    }
    expect(await run(1)).toEqual(expected);
    expect(await run(3)).toEqual(expected);
  });
});

describe('scale', () => {
  it('a bounded job of 1,000,000 records completes with every record counted', async () => {
    const e = env(2);
    let seen = 0;
    let sum = 0;
    e.fromGenerator(1_000_000, (i) => ({ k: i % 1000, v: i }))
      .keyBy((r) => r.k)
      .map((r) => r.v)
      .sinkTo({ name: 'count', createWriter: () => ({ invoke: (v) => ((seen += 1), (sum += v)) }) });
    const result = await e.execute('million');
    expect(result.status).toBe('finished');
    expect(seen).toBe(1_000_000);
    expect(sum).toBe((999_999 * 1_000_000) / 2);
    expect(result.metrics['recordsIn']).toBe(2_000_000);
  });
});

describe('unbounded jobs', () => {
  it('an unbounded generator runs until cancelled', async () => {
    const e = env(2);
    let seen = 0;
    e.fromGenerator(Infinity, (i) => i, { ratePerSecond: 20_000 })
      .rebalance()
      .sinkTo({ name: 'count', createWriter: () => ({ invoke: () => void seen++ }) });
    const client = await e.executeAsync('forever');
    // Running: records flow through the exchange into the sinks (more than the generator's first batch).
    await until(() => seen >= 2_000, 'the sinks to see 2000 records');
    const result = await client.cancel();
    expect(result.status).toBe('canceled');
    expect(seen).toBeGreaterThanOrEqual(2_000);
  });

  it('execute() of an unbounded job can be cancelled and resolves as canceled', async () => {
    const e = env(1);
    e.fromGenerator(Infinity, (i) => i, { ratePerSecond: 5000 }).sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
    const execution = e.execute('forever-too');
    await execution.client;
    const [viaCancel, viaAwait] = await Promise.all([execution.cancel(), execution]);
    expect(viaCancel.status).toBe('canceled');
    expect(viaAwait.status).toBe('canceled');
  });

  it('the rate limit holds the generator back', async () => {
    const t0 = performance.now();
    const out = await env(1).fromGenerator(300, (i) => i, { ratePerSecond: 1000 }).executeAndCollect();
    expect(out).toHaveLength(300);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });
});

describe('functions and types', () => {
  it('a function object given once is copied per subtask: what open() sets belongs to that subtask', async () => {
    class Tagger {
      subtask = -1;
      seen = 0;
      open(ctx: RuntimeContext): void {
        this.subtask = ctx.subtaskIndex;
      }
      map(x: number): { x: number; subtask: number; nth: number } {
        return { x, subtask: this.subtask, nth: ++this.seen };
      }
    }
    const fn = new Tagger();
    const out = await env(3).fromGenerator(300, (i) => i).map(fn).executeAndCollect();
    const bySubtask = new Map<number, number[]>();
    for (const r of out) bySubtask.set(r.subtask, [...(bySubtask.get(r.subtask) ?? []), r.nth]);
    expect([...bySubtask.keys()].sort()).toEqual([0, 1, 2]);
    // Each copy counts its own records from 1: no shared field between subtasks, the original untouched.
    for (const nths of bySubtask.values()) expect(nths.sort((a, b) => a - b)).toEqual([...Array(100).keys()].map((i) => i + 1));
    expect(fn.seen).toBe(0);
    expect(fn.subtask).toBe(-1);
  });

  it('types flow through the API without casts', async () => {
    const e = env(1);
    const words = e.fromCollection(['a', 'bb']);
    const lengths = words.map((w) => w.length);
    const pairs = lengths.map((n) => [String(n), n] as [string, number]);
    const keyed = pairs.keyBy((p) => p[0]);
    expectTypeOf(words).toEqualTypeOf<DataStream<string>>();
    expectTypeOf(lengths).toEqualTypeOf<DataStream<number>>();
    expectTypeOf(keyed).toEqualTypeOf<KeyedStream<[string, number], string>>();
    expectTypeOf(keyed.sum(1)).toEqualTypeOf<DataStream<[string, number]>>();
    const collected = await keyed.sum(1).executeAndCollect();
    expectTypeOf(collected).toEqualTypeOf<[string, number][]>();
    expect(collected).toEqual([
      ['1', 1],
      ['2', 2],
    ]);
  });
});

describe('state backends', () => {
  it("stateBackend: 'level' gives the heap backend's results, and leaves no state behind", async () => {
    const { mkdtempSync, readdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const stateDir = mkdtempSync(join(tmpdir(), 'eddy-level-job-'));
    const run = async (stateBackend: 'heap' | 'level') => {
      const e = StreamEnvironment.create({ nats, parallelism: 2, stateBackend, stateDir });
      const last = new Map<number, number>();
      e.fromGenerator(200_000, (i) => ({ k: i % 20_000, v: i % 7 }))
        .keyBy((r) => r.k)
        .sum('v')
        .sinkTo({ name: 'last', createWriter: () => ({ invoke: (r: { k: number; v: number }) => void last.set(r.k, r.v) }) });
      expect((await e.execute(`backend-${stateBackend}`)).status).toBe('finished');
      return last;
    };
    const heap = await run('heap');
    const level = await run('level');
    expect(level.size).toBe(20_000);
    expect(level).toEqual(heap);
    expect(readdirSync(join(stateDir, 'jobs'))).toEqual([]);
  });

  it('an unknown state backend is a config error', () => {
    expect(() => StreamEnvironment.create({ stateBackend: 'rocks' as 'heap' })).toThrow(/stateBackend must be 'heap' or 'level'/);
  });
});
