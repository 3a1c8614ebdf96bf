// State TTL in a whole job on a real nats-server: the task hands the job's clock to both keyed state backends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  KeyedProcessFunction,
  ListStateDescriptor,
  StateTtlConfig,
  StreamEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type ListState,
  type RuntimeContext,
  type ValueState,
} from '../../index.ts';
import { systemClock, type Cancelable, type Clock } from '../../src/time/clock.ts';

const nats = inject('natsUrl');
const stateDir = mkdtempSync(join(tmpdir(), 'eddy-ttl-job-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/**
 * The system clock with a jump: `now()` is wall time plus `offset`, scheduling is the system's (so
 * network flushes and timeouts behave as usual). A record moves `offset` on, so processing time leaps
 * between two records of the same job without waiting.
 */
class JumpingClock implements Clock {
  offset = 0;
  now(): number {
    return systemClock.now() + this.offset;
  }
  monotonic(): number {
    return systemClock.monotonic();
  }
  schedule(delayMs: number, fn: () => void): Cancelable {
    return systemClock.schedule(delayMs, fn);
  }
  sleep(delayMs: number): Promise<void> {
    return systemClock.sleep(delayMs);
  }
}

type Cmd = { k: string; op: 'write' | 'read' | 'jump' };

/** One hour of TTL: only the clock's jump (two hours) can expire what a record wrote a moment earlier. */
const ttl = StateTtlConfig.newBuilder(3_600_000).build();

class Probe extends KeyedProcessFunction<string, Cmd, string> {
  private last!: ValueState<string>;
  private seen!: ListState<string>;
  constructor(private readonly clock: JumpingClock) {
    super();
  }
  override open(ctx: RuntimeContext): void {
    this.last = ctx.getState(new ValueStateDescriptor<string>('last', 'none').enableTimeToLive(ttl));
    this.seen = ctx.getState(new ListStateDescriptor<string>('seen').enableTimeToLive(ttl));
  }
  processElement(c: Cmd, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    if (c.op === 'jump') this.clock.offset += 7_200_000;
    else if (c.op === 'write') {
      this.last.update(`v-${ctx.getCurrentKey()}`);
      this.seen.add(ctx.getCurrentKey());
    } else out.collect(`${ctx.getCurrentKey()}:${this.last.value()}:${this.seen.get().length}`);
  }
}

describe('state TTL in a job', () => {
  for (const stateBackend of ['heap', 'level'] as const)
    it(`${stateBackend} backend: values expire on the job's processing-time clock`, async () => {
      const clock = new JumpingClock();
      const env = StreamEnvironment.create({ nats, parallelism: 1, stateBackend, stateDir, clock });
      // Parallelism 1 keeps the records in order: write, read (visible), jump two hours, read (expired).
      const cmds: Cmd[] = [
        { k: 'a', op: 'write' },
        { k: 'a', op: 'read' },
        { k: 'a', op: 'jump' },
        { k: 'a', op: 'read' },
        { k: 'b', op: 'write' },
        { k: 'b', op: 'read' },
      ];
      const out = await env
        .fromCollection(cmds)
        .keyBy((c) => c.k)
        .process(new Probe(clock))
        .executeAndCollect();
      expect(out).toEqual(['a:v-a:1', 'a:none:0', 'b:v-b:1']);
    });
});
