// Async I/O jobs on a real nats-server: exact output against a fake async database (ordered, unordered, p=1/2), capacity backpressure, and exactly-once across a restore with calls in flight.
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  AsyncDataStream,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type Collector,
  type DataStream,
  type ProcessWindowContext,
  type TimeWindow,
} from '../../index.ts';
import { createRandom } from '../../src/time/random.ts';
import { collectAsync, tmpDirs, waitFor } from '../fixtures/fault-tolerance-support.ts';

const nats = inject('natsUrl');
const dirs = tmpDirs('eddy-async-io-');
afterEach(() => dirs.cleanup());

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A "database" of `v<k>` values. A lookup of k settles after 1..8 event-loop turns, a number drawn
 * for k from a seeded generator: concurrent lookups complete out of order, the same way on every
 * run, and no wall-clock timer decides anything. It counts lookups per key and the lookups in flight
 * per group (a group is one subtask's keys). `hold(k)` keeps the lookups of k pending until `release()`.
 */
class FakeDb {
  readonly lookups = new Map<number, number>();
  maxInFlight = 0;
  private readonly turns: number[];
  private readonly inFlight: number[] = [];
  private held: number | undefined;
  private releaseHeld: (() => void) | undefined;
  private gate: Promise<void> | undefined;

  constructor(
    n: number,
    seed: number,
    private readonly groupOf: (k: number) => number = () => 0,
  ) {
    const r = createRandom(seed);
    this.turns = Array.from({ length: n }, () => 1 + Math.floor(r() * 8));
  }

  hold(k: number): void {
    this.held = k;
    this.gate = new Promise((resolve) => (this.releaseHeld = resolve));
  }

  release(): void {
    this.releaseHeld?.();
  }

  /** True once k was looked up (at least `times` times). */
  called(k: number, times = 1): boolean {
    return (this.lookups.get(k) ?? 0) >= times;
  }

  readonly get = async (k: number): Promise<string> => {
    this.lookups.set(k, (this.lookups.get(k) ?? 0) + 1);
    const g = this.groupOf(k);
    const now = (this.inFlight[g] = (this.inFlight[g] ?? 0) + 1);
    if (now > this.maxInFlight) this.maxInFlight = now;
    try {
      if (k === this.held) await this.gate;
      for (let t = this.turns[k]!; t > 0; t--) await turn();
      return `v${k}`;
    } finally {
      this.inFlight[g]!--;
    }
  };
}

const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => `v${i}`);

/** Splits `out` by generator subtask (index i is read by subtask i % p) and checks each part kept its input order. */
function expectInOrderPerSubtask(out: string[], p: number): void {
  for (let s = 0; s < p; s++) {
    const part = out.map((v) => Number(v.slice(1))).filter((i) => i % p === s);
    expect(part).toEqual([...part].sort((a, b) => a - b));
  }
}

describe('orderedWait / unorderedWait against an async database', () => {
  for (const p of [1, 2])
    it(`ordered: exact output, each subtask in input order, never more than capacity lookups in flight (p=${p})`, async () => {
      const n = 3000;
      const capacity = 8;
      const db = new FakeDb(n, 42, (k) => k % p);
      const env = StreamEnvironment.create({ nats, parallelism: p });
      const out = await AsyncDataStream.orderedWait(env.fromGenerator(n, (i) => i), db.get, { capacity, timeoutMs: 60_000 }).executeAndCollect(`async-ordered-p${p}`);
      expect([...out].sort()).toEqual(expected(n).sort());
      if (p === 1) expect(out).toEqual(expected(n));
      else expectInOrderPerSubtask(out, p);
      expect(db.maxInFlight).toBeLessThanOrEqual(capacity);
      expect(db.maxInFlight).toBeGreaterThan(1); // calls really overlapped
      expect([...db.lookups.values()].every((c) => c === 1)).toBe(true);
    });

  it('unordered: exact output as a set, in completion order (not input order) at p=1; asyncMap is the ordered shorthand', async () => {
    const n = 2000;
    const db = new FakeDb(n, 7);
    const env = StreamEnvironment.create({ nats, parallelism: 1 });
    const src = env.fromGenerator(n, (i) => i);
    const unordered = AsyncDataStream.unorderedWait(src, db.get, { capacity: 16 }).uid('unordered');
    const ordered = src.asyncMap(new FakeDb(n, 7).get, { capacity: 16 }).uid('ordered');
    const job = await collectAsync(env, [unordered, ordered], 'async-unordered');
    const { outputs } = await job.done;
    expect([...outputs[0]!].sort()).toEqual(expected(n).sort());
    expect(outputs[0]).not.toEqual(expected(n)); // the database reorders, and unorderedWait lets it
    expect(outputs[1]).toEqual(expected(n));
  });
});

describe('event time through unorderedWait', () => {
  it('no result crosses a watermark: downstream event-time windows get every record, none late', async () => {
    const n = 3000;
    const db = new FakeDb(n, 13);
    // Watermarks as often as the clock allows, so many pass while lookups are in flight.
    const env = StreamEnvironment.create({ nats, parallelism: 1, autoWatermarkIntervalMs: 1 });
    const timed = env
      .fromGenerator(n, (i) => i)
      .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((i) => i));
    const counts = AsyncDataStream.unorderedWait(timed, db.get, { capacity: 32 })
      .map(() => 1)
      .keyBy(() => 0)
      .window(TumblingEventTimeWindows.of(100))
      .reduce(
        (a, b) => a + b,
        (_k: number, ctx: ProcessWindowContext<TimeWindow>, [count]: readonly number[], out: Collector<string>) => out.collect(`${ctx.window().start}:${count}`),
      )
      .name('Windows');
    const { result, outputs } = await (await collectAsync(env, [counts], 'async-event-time')).done;
    // A result emitted after a watermark above its timestamp would be late: its window short, the record dropped.
    expect(outputs[0]).toEqual(Array.from({ length: n / 100 }, (_, w) => `${w * 100}:100`));
    expect(result.metrics['Windows.numLateRecordsDropped'] ?? 0).toBe(0);
  });
});

describe('capacity is backpressure', () => {
  it('a source chained with the async operator reads only what fits: generated - emitted never exceeds capacity', async () => {
    const n = 3000;
    const capacity = 4;
    const db = new FakeDb(n, 3);
    let generated = 0;
    let passed = 0;
    let maxAhead = 0;
    const env = StreamEnvironment.create({ nats, parallelism: 1 });
    const out = await env
      .fromGenerator(n, (i) => {
        generated++;
        maxAhead = Math.max(maxAhead, generated - passed);
        return i;
      })
      .asyncMap(db.get, { capacity })
      .map((v) => {
        passed++;
        return v;
      })
      .executeAndCollect('async-backpressure-source');
    expect(out).toEqual(expected(n));
    expect(db.maxInFlight).toBeLessThanOrEqual(capacity);
    // Records taken by the chain and not yet out of the async operator: at most its capacity (no flatMap before it: no burst).
    expect(maxAhead).toBeLessThanOrEqual(capacity);
  });

  it('over the network the task reads no frame while the operator is full: queued records stay within capacity + one frame', async () => {
    const n = 4000;
    const capacity = 4;
    const batchSize = 50;
    const db = new FakeDb(n, 5);
    const env = StreamEnvironment.create({ nats, parallelism: 1, network: { batchSize } });
    const stream: DataStream<string> = env.fromGenerator(n, (i) => i).rebalance().asyncMap(db.get, { capacity }).name('Lookup');
    const job = await collectAsync(env, [stream], 'async-backpressure-network');
    const { result, outputs } = await job.done;
    expect(outputs[0]).toEqual(expected(n));
    expect(db.maxInFlight).toBeLessThanOrEqual(capacity);
    // The documented bound: a frame is one synchronous burst; after it the task pauses until a slot frees.
    const highWater = result.metrics['Lookup.queueHighWater']!;
    expect(highWater).toBeGreaterThan(capacity); // a frame did arrive whole
    expect(highWater).toBeLessThanOrEqual(capacity + batchSize);
  });
});

describe('checkpoints with calls in flight', () => {
  for (const p of [1, 2])
    it(`a failure after the async operator restores the calls in flight: output exact, nothing lost or twice (p=${p})`, async () => {
      const n = 3000;
      const HOLD = 1001;
      const db = new FakeDb(n, 11, (k) => k % p);
      db.hold(HOLD);
      let failures = 0;
      const env = StreamEnvironment.create({
        nats,
        parallelism: p,
        stateDir: await dirs.make(),
        checkpointing: { intervalMs: 50, maxConcurrent: 1 },
        restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 3 },
      });
      const stream = env
        .fromGenerator(n, (i) => i)
        .uid('gen')
        .asyncMap(db.get, { capacity: 16 })
        .uid('lookup')
        .map((v) => {
          // Fails once, on the result of the held lookup: the newest completed checkpoint then holds that call in flight.
          if (v === `v${HOLD}` && failures === 0) {
            failures++;
            throw new Error(`injected failure at ${v}`);
          }
          return v;
        })
        .name('after')
        .uid('after');
      const job = await collectAsync(env, [stream], `async-restore-p${p}`);
      await waitFor('the held lookup', () => db.called(HOLD));
      const completedAtHold = job.client.status().checkpoints?.completed ?? 0;
      // maxConcurrent 1: the second checkpoint completed from now was triggered after the held call started, so its snapshot has it in flight.
      await waitFor('two checkpoints while the lookup is held', () => (job.client.status().checkpoints?.completed ?? 0) >= completedAtHold + 2);
      db.release();
      const { result, outputs } = await job.done;
      expect(result.status).toBe('finished');
      expect(failures).toBe(1);
      expect(result.restarts).toHaveLength(1);
      expect(result.restarts[0]!.cause).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'after' });
      expect(result.restarts[0]!.checkpointId).not.toBeNull();
      // The source position in that checkpoint is past HOLD: only the operator's state can have called it again.
      expect(db.lookups.get(HOLD)).toBe(2);
      const out = outputs[0]!;
      expect([...out].sort()).toEqual(expected(n).sort());
      expect(new Set(out).size).toBe(n);
      expectInOrderPerSubtask(out, p);
    });
});
