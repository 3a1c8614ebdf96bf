// Flink's everyday methods on the real runtime: fromSequence, windowed field aggregations, count windows, enableCheckpointing, executeAndCollect's and execute()'s guards.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SlidingEventTimeWindows, StreamEnvironment, Time, TumblingEventTimeWindows, WatermarkStrategy, type DataStream, type KeyedStream } from '../../index.ts';
import { expectEddyError } from '../support/eddy-error.ts';
import { countReference, flinkReduce, sliding, tumbling, windowReference, type Rec } from '../support/flink-aggregations.ts';

const nats = inject('natsUrl');
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-flink-api-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('fromSequence', () => {
  for (const parallelism of [2, 3])
    it(`emits from..to inclusive, each number once, at parallelism ${parallelism}`, async () => {
      const env = StreamEnvironment.create({ parallelism, nats });
      const seq = env.fromSequence(-5, 2_000);
      const got = await seq.executeAndCollect(`sequence p${parallelism}`);
      expect(got.sort((a, b) => a - b)).toEqual(range(-5, 2_000));
      // The source really ran in parallel: each subtask emitted its own share.
      expect(env.getParallelism()).toBe(parallelism);
    });

  it('is exact up to Number.MAX_SAFE_INTEGER (through the network and msgpack)', async () => {
    const env = StreamEnvironment.create({ parallelism: 3, nats });
    const top = Number.MAX_SAFE_INTEGER;
    const got = await env.fromSequence(top - 9, top).executeAndCollect('sequence top');
    expect(got.sort((a, b) => a - b)).toEqual(range(0, 9).map((i) => top - 9 + i));
  });
});

/** Records of 5 keys with ties in `v` and timestamps disordered by up to 30 ms, in one deterministic order. */
function records(n: number): [Rec, number][] {
  return Array.from({ length: n }, (_, i): [Rec, number] => [{ k: `k${(i * 7) % 5}`, v: (i * 13) % 6, tag: i }, i * 10 - ((i * 7919) % 31)]);
}

describe('windowed field aggregations over NATS equal plain loops (p = 2)', () => {
  const elements = records(400);
  /**
   * One chain at parallelism 1 (a collection, timestamps, map) keeps every key's records in collection
   * order on their way to the window subtasks (one channel each), so "first" and ties are
   * deterministic, as in the reference. No record is late: disorder is below the bound.
   */
  const keyed = (env: StreamEnvironment): KeyedStream<Rec, string> =>
    env
      .fromCollection(elements)
      .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<[Rec, number]>(40).withTimestampAssigner(([, ts]) => ts))
      .setParallelism(1)
      .map(([r]) => r)
      .setParallelism(1)
      .keyBy((r) => r.k);
  const cases: { name: string; build: (k: KeyedStream<Rec, string>) => DataStream<Rec>; expected: string[] }[] = [
    { name: 'tumbling sum', build: (k) => k.window(TumblingEventTimeWindows.of(Time.milliseconds(100))).sum('v'), expected: windowReference(elements, tumbling(100), Infinity, flinkReduce('sum', true)) },
    { name: 'tumbling minBy', build: (k) => k.window(TumblingEventTimeWindows.of(100)).minBy('v'), expected: windowReference(elements, tumbling(100), Infinity, flinkReduce('minBy', true)) },
    { name: 'tumbling maxBy (last)', build: (k) => k.window(TumblingEventTimeWindows.of(100)).maxBy('v', false), expected: windowReference(elements, tumbling(100), Infinity, flinkReduce('maxBy', false)) },
    { name: 'sliding min', build: (k) => k.window(SlidingEventTimeWindows.of(200, 50)).min('v'), expected: windowReference(elements, sliding(200, 50), Infinity, flinkReduce('min', true)) },
    { name: 'sliding maxBy', build: (k) => k.window(SlidingEventTimeWindows.of(200, 50)).maxBy('v'), expected: windowReference(elements, sliding(200, 50), Infinity, flinkReduce('maxBy', true)) },
  ];

  it('tumbling sum/minBy/maxBy, sliding min/maxBy: every window, its timestamp, its chosen element', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats, autoWatermarkIntervalMs: 20 });
    const k = keyed(env);
    const tagged = cases.map((c) => c.build(k).map((r) => `${c.name}|${JSON.stringify(r)}`));
    const got = await tagged[0]!.union(...tagged.slice(1)).executeAndCollect('windowed field aggregations');
    for (const c of cases) {
      const mine = got.filter((s) => s.startsWith(`${c.name}|`)).map((s) => s.slice(c.name.length + 1));
      // The reference carries window timestamps; the records themselves are compared here.
      expect(mine.sort(), c.name).toEqual(c.expected.map((l) => l.slice(l.indexOf(' ') + 1)).sort());
    }
  });

  it('countWindow(4) sum, countWindow(5, 2) maxBy, countWindowAll(7) max: what the count reference says', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, nats });
    const plain = elements.map(([r]) => r);
    const k = env.fromCollection(plain).keyBy((r) => r.k);
    const tumblingCounts = k.countWindow(4).sum('v').map((r) => `t|${JSON.stringify(r)}`);
    const slidingCounts = k.countWindow(5, 2).maxBy('v').map((r) => `s|${JSON.stringify(r)}`);
    const all = env.fromCollection(plain).countWindowAll(7).max('v').map((r) => `a|${JSON.stringify(r)}`);
    const got = await tumblingCounts.union(slidingCounts, all).executeAndCollect('count windows');
    const part = (p: string) => got.filter((s) => s.startsWith(p)).map((s) => s.slice(2)).sort();
    expect(part('t|')).toEqual(countReference(plain, 4, 4, flinkReduce('sum', true)));
    expect(part('s|')).toEqual(countReference(plain, 5, 2, flinkReduce('maxBy', true)));
    expect(part('a|')).toEqual(expectedAll(plain));
  });
});

/** countWindowAll(7).max('v') over `plain`: the first record of each full 7-record batch with v = the batch's maximum. */
function expectedAll(plain: readonly Rec[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 7 <= plain.length; i += 7) {
    const batch = plain.slice(i, i + 7);
    out.push(JSON.stringify({ ...batch[0]!, v: Math.max(...batch.map((r) => r.v)) }));
  }
  return out.sort();
}

describe('enableCheckpointing', () => {
  it('makes a job take checkpoints (result.checkpoints), as the checkpointing option does; without it there are none', async () => {
    const run = async (enable: boolean) => {
      const env = StreamEnvironment.create({ parallelism: 2, nats, stateDir: tempDir() });
      if (enable) env.enableCheckpointing(Time.seconds(60));
      env
        .fromSequence(1, 100)
        .keyBy((n) => n % 3)
        .sum()
        .sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
      return env.execute(`checkpointed ${enable}`);
    };
    const on = await run(true);
    // End of bounded input is a (final) checkpoint: it completes even though the interval never elapsed.
    expect(on.checkpoints?.completed).toBeGreaterThanOrEqual(1);
    const off = await run(false);
    expect(off.checkpoints).toBeUndefined();
  });
});

describe('executeAndCollect on an unbounded source', () => {
  it('rejects at once with EDDY_CONFIG naming the source, before anything runs', async () => {
    const env = StreamEnvironment.create({ nats });
    const e = await expectEddyError(() => env.fromNats<string>({ subject: 'flink-api.never' }).executeAndCollect('unbounded collect'), 'EDDY_CONFIG');
    expect(e.message).toMatch(/executeAndCollect needs bounded sources; source ".*" is unbounded/);
    expect(e.message).toContain('use execute()/executeAsync() with a sink');
  });
});

describe('a job script that never calls execute()', () => {
  /** Runs `eddy run test/fixtures/unexecuted-job.ts [-- args]` against the shared server. */
  function eddyRun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: nats };
    for (const k of ['EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_JOB_FILE', 'EDDY_DEBUG']) delete env[k];
    env['EDDY_STATE_DIR'] = tempDir();
    const child = spawn(process.execPath, [join(repoRoot, 'bin/eddy.mjs'), 'run', 'test/fixtures/unexecuted-job.ts', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  }

  it('ends `eddy run` with exit code 1 and EDDY_NOT_EXECUTED naming what it built; an executed one does not', async () => {
    const forgot = await eddyRun([]);
    expect(forgot.code).toBe(1);
    expect(forgot.stderr).toContain('eddy: EDDY_NOT_EXECUTED: the job script ended without running the job it built');
    expect(forgot.stderr).toContain('sources: "Sequence Source"; sinks: "Sink: Print to Std. Out"');
    expect(forgot.stdout).toBe('');
    const ran = await eddyRun(['--', 'execute']);
    expect(ran.stderr).not.toContain('EDDY_NOT_EXECUTED');
    expect(ran.code).toBe(0);
    expect(ran.stdout.trim().split('\n').map((l) => Number(l.replace(/^\d+> /, ''))).sort()).toEqual([2, 4, 6]);
  });
});
