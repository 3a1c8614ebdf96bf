// The broadcast state pattern over NATS: a rules stream sets per-sensor thresholds that filter keyed events.
import { describe, expect, inject, it } from 'vitest';
import {
  BroadcastProcessFunction,
  KeyedBroadcastProcessFunction,
  ListStateDescriptor,
  MapStateDescriptor,
  StreamEnvironment,
  WatermarkStrategy,
  type BroadcastContext,
  type BroadcastReadOnlyContext,
  type BroadcastStream,
  type Collector,
  type KeyedBroadcastContext,
  type KeyedBroadcastOnTimerContext,
  type KeyedBroadcastReadOnlyContext,
  type ListState,
  type RuntimeContext,
} from '../../index.ts';

const nats = inject('natsUrl');

interface Rule {
  sensor: string;
  threshold: number;
  ts: number;
}
interface Reading {
  sensor: string;
  value: number;
  ts: number;
}

const DEFAULT_THRESHOLD = 50;
/** sensor -> [ts, threshold] versions, sorted by ts. */
const rulesState = new MapStateDescriptor<string, [number, number][]>('rules');

function thresholdAt(versions: readonly [number, number][] | undefined, ts: number): number {
  let t = DEFAULT_THRESHOLD;
  for (const [from, threshold] of versions ?? []) if (from <= ts) t = threshold;
  return t;
}

/**
 * Emits the readings above their sensor's threshold as of the reading's event time. Rules may reach
 * a subtask after readings they apply to, so readings wait in keyed state until the watermark (the
 * minimum over both inputs) passes them: by then every rule up to that time has arrived.
 */
class ThresholdFilter extends KeyedBroadcastProcessFunction<string, Reading, Rule, Reading> {
  private pending!: ListState<Reading>;
  override open(ctx: RuntimeContext): void {
    this.pending = ctx.getState(new ListStateDescriptor<Reading>('pending'));
  }
  processElement(r: Reading, ctx: KeyedBroadcastReadOnlyContext<string>): void {
    this.pending.add(r);
    ctx.timerService().registerEventTimeTimer(r.ts);
  }
  processBroadcastElement(rule: Rule, ctx: KeyedBroadcastContext<string>): void {
    const state = ctx.getBroadcastState(rulesState);
    const versions = [...(state.get(rule.sensor) ?? []), [rule.ts, rule.threshold] as [number, number]];
    state.put(
      rule.sensor,
      versions.sort((a, b) => a[0] - b[0]),
    );
  }
  override onTimer(ts: number, ctx: KeyedBroadcastOnTimerContext<string>, out: Collector<Reading>): void {
    const versions = ctx.getBroadcastState(rulesState).get(ctx.getCurrentKey());
    const later: Reading[] = [];
    for (const r of this.pending.get()) {
      if (r.ts > ts) later.push(r);
      else if (r.value > thresholdAt(versions, r.ts)) out.collect(r);
    }
    this.pending.update(later);
  }
}

function data(): { rules: Rule[]; readings: Reading[] } {
  const sensors = ['s0', 's1', 's2', 's3', 's4', 's5', 's6'];
  const rules: Rule[] = [];
  for (let i = 0; i < 40; i++) rules.push({ sensor: sensors[(i * 3) % sensors.length]!, threshold: (i * 17) % 100, ts: i * 25 });
  const readings: Reading[] = [];
  for (let i = 0; i < 700; i++) readings.push({ sensor: sensors[i % sensors.length]!, value: (i * 31) % 100, ts: i * 1.5 });
  return { rules, readings };
}

function reference({ rules, readings }: ReturnType<typeof data>): Reading[] {
  const versions = new Map<string, [number, number][]>();
  for (const r of rules) versions.set(r.sensor, [...(versions.get(r.sensor) ?? []), [r.ts, r.threshold]]);
  return readings.filter((r) => r.value > thresholdAt(versions.get(r.sensor), r.ts));
}

const key = (r: Reading) => `${r.sensor}@${r.ts}`;

async function thresholdJob(parallelism: number): Promise<Reading[]> {
  const { rules, readings } = data();
  const env = StreamEnvironment.create({ parallelism, nats, autoWatermarkIntervalMs: 20 });
  const ruleStream: BroadcastStream<Rule> = env
    .fromCollection(rules)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Rule>().withTimestampAssigner((r) => r.ts))
    .broadcast(rulesState);
  const out = await env
    .fromCollection(readings)
    .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<Reading>().withTimestampAssigner((r) => r.ts))
    .keyBy((r) => r.sensor)
    .connect(ruleStream)
    .process(new ThresholdFilter())
    .executeAndCollect(`thresholds-p${parallelism}`);
  return out.sort((a, b) => key(a).localeCompare(key(b)));
}

describe('broadcast rules over NATS', () => {
  it('a rules stream updates per-sensor thresholds; keyed readings are filtered alike at parallelism 1 and 3', async () => {
    const [one, three] = await Promise.all([thresholdJob(1), thresholdJob(3)]);
    const expected = reference(data()).sort((a, b) => key(a).localeCompare(key(b)));
    expect(expected.length).toBeGreaterThan(100);
    expect(expected.length).toBeLessThan(600);
    expect(one).toEqual(expected);
    expect(three).toEqual(expected);
  });

  it('every broadcast record reaches every subtask (non-keyed BroadcastProcessFunction)', async () => {
    const seen = new MapStateDescriptor<string, number>('seen');
    class Echo extends BroadcastProcessFunction<number, string, string> {
      private subtask = -1;
      override open(ctx: RuntimeContext): void {
        this.subtask = ctx.subtaskIndex;
      }
      processElement(n: number, ctx: BroadcastReadOnlyContext, out: Collector<string>): void {
        if (ctx.getBroadcastState(seen).size > 3) throw new Error('more broadcast entries than were sent');
        out.collect(`event ${n}`);
      }
      processBroadcastElement(s: string, ctx: BroadcastContext, out: Collector<string>): void {
        ctx.getBroadcastState(seen).put(s, this.subtask);
        out.collect(`${this.subtask}:${s}`);
      }
    }
    const env = StreamEnvironment.create({ parallelism: 3, nats });
    const out = await env
      .fromGenerator(60, (i) => i)
      .connect(env.fromCollection(['a', 'b', 'c']).broadcast(seen))
      .process(new Echo())
      .executeAndCollect();
    const broadcastSeen = out.filter((s) => !s.startsWith('event')).sort();
    expect(broadcastSeen).toEqual(['0:a', '0:b', '0:c', '1:a', '1:b', '1:c', '2:a', '2:b', '2:c']);
    expect(out.filter((s) => s.startsWith('event')).length).toBe(60);
  });

  it('writing broadcast state from processElement fails the job with a clear error', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const job = env
      .fromCollection([1])
      .connect(env.fromCollection<string>([]).broadcast(rulesState))
      .process<never>({
        processElement: (_n, ctx) => (ctx.getBroadcastState(rulesState) as unknown as { put(k: string, v: unknown): void }).put('x', []),
        processBroadcastElement: () => {},
      })
      .executeAndCollect();
    await expect(job).rejects.toThrow(/broadcast state "rules" is read-only/);
  });
});

describe('TSDoc examples', () => {
  it('BroadcastStream, BroadcastConnectedStream, KeyedBroadcastConnectedStream', async () => {
    {
      const env = StreamEnvironment.create({ parallelism: 2, nats });
      const thresholds = new MapStateDescriptor<string, number>('thresholds');
      const rules: BroadcastStream<[string, number]> = env.fromCollection<[string, number]>([['s1', 10]]).broadcast(thresholds);
      expect(rules.descriptors).toEqual([thresholds]);
    }
    {
      const env = StreamEnvironment.create({ parallelism: 2, nats });
      const limits = new MapStateDescriptor<string, number>('limits');
      const capped = env
        .fromCollection([5, 50])
        .connect(env.fromCollection([10]).broadcast(limits))
        .process<number>({
          processElement(n, ctx, out) {
            if (n <= (ctx.getBroadcastState(limits).get('max') ?? Infinity)) out.collect(n);
          },
          processBroadcastElement(max, ctx) {
            ctx.getBroadcastState(limits).put('max', max);
          },
        });
      // 50 passes only if it arrives before the limit: broadcast and data inputs interleave freely.
      const out = await capped.executeAndCollect();
      expect(out).toContain(5);
      expect([[5], [5, 50]]).toContainEqual(out.sort((a, b) => a - b));
    }
    {
      const env = StreamEnvironment.create({ parallelism: 2, nats });
      const limits = new MapStateDescriptor<string, number>('limits');
      const alerts = env
        .fromCollection([{ sensor: 's1', value: 12 }])
        .keyBy((r) => r.sensor)
        .connect(env.fromCollection<[string, number]>([['s1', 10]]).broadcast(limits))
        .process<string>({
          processElement(r, ctx, out) {
            if (r.value > (ctx.getBroadcastState(limits).get(ctx.getCurrentKey()) ?? Infinity)) out.collect(r.sensor);
          },
          processBroadcastElement([s, max], ctx) {
            ctx.getBroadcastState(limits).put(s, max);
          },
        });
      expect([[], ['s1']]).toContainEqual(await alerts.executeAndCollect());
    }
  });

  it('BroadcastProcessFunction and KeyedBroadcastProcessFunction', async () => {
    {
      const env = StreamEnvironment.create({ parallelism: 2, nats });
      const numbers = env.fromCollection([1, 2, 3]);
      const settings = env.fromCollection<[string, number]>([['max', 2]]);
      const limits = new MapStateDescriptor<string, number>('limits');
      class Limit extends BroadcastProcessFunction<number, [string, number], number> {
        processElement(n: number, ctx: BroadcastReadOnlyContext, out: Collector<number>) {
          if (n <= (ctx.getBroadcastState(limits).get('max') ?? Infinity)) out.collect(n);
        }
        processBroadcastElement([k, v]: [string, number], ctx: BroadcastContext) {
          ctx.getBroadcastState(limits).put(k, v);
        }
      }
      const out = await numbers.connect(settings.broadcast(limits)).process(new Limit()).executeAndCollect();
      expect(out).toEqual(expect.arrayContaining([1, 2]));
    }
    {
      const env = StreamEnvironment.create({ parallelism: 2, nats });
      type Reading = { sensor: string; value: number };
      const readings = env.fromCollection<Reading>([{ sensor: 's', value: 1 }]);
      const rules = env.fromCollection<[string, number]>([['s', 0]]);
      const thresholds = new MapStateDescriptor<string, number>('thresholds');
      class Alert extends KeyedBroadcastProcessFunction<string, Reading, [string, number], Reading> {
        processElement(r: Reading, ctx: KeyedBroadcastReadOnlyContext<string>, out: Collector<Reading>) {
          if (r.value > (ctx.getBroadcastState(thresholds).get(ctx.getCurrentKey()) ?? Infinity)) out.collect(r);
        }
        processBroadcastElement([sensor, t]: [string, number], ctx: KeyedBroadcastContext<string>) {
          ctx.getBroadcastState(thresholds).put(sensor, t);
        }
      }
      const out = await readings.keyBy((r) => r.sensor).connect(rules.broadcast(thresholds)).process(new Alert()).executeAndCollect();
      expect(out.length).toBeLessThanOrEqual(1);
    }
  });
});
