// Supervision in jobs: restart policies (fixedDelay, failureRate, exponentialDelay, none), OTP strategies over pipelined regions, restart intensity.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StreamEnvironment, type DataStream, type StreamEnvironmentConfig } from '../../index.ts';
import { resolveConfig } from '../../src/api/config.ts';
import { collectAsync, tmpDirs } from '../fixtures/fault-tolerance-support.ts';

const nats = inject('natsUrl');
const dirs = tmpDirs('eddy-sup-test-');
afterEach(() => dirs.cleanup());

const KEYS = 4;

/** Per pipeline: how many more times its map throws at record `at`, and how often its map was opened. */
interface Fault {
  at: number;
  left: number;
}
let faults: Fault[] = [];
let opens: number[] = [];

/** One independent pipeline (a pipelined region): generator -> map (may throw) -> keyBy -> running count. */
function pipeline(env: StreamEnvironment, p: number, n: number, rate: number): DataStream<string> {
  return env
    .fromGenerator(n, (i) => i, { ratePerSecond: rate })
    .uid(`gen-${p}`)
    .map({
      open() {
        opens[p]!++;
      },
      map(i: number) {
        const f = faults[p]!;
        if (i === f.at && f.left > 0) {
          f.left--;
          throw new Error(`pipeline ${p} fails at record ${i}`);
        }
        return { k: i % KEYS, n: 1 };
      },
    })
    .name(`faulty-${p}`)
    .uid(`faulty-${p}`)
    .keyBy((r) => r.k)
    .sum('n')
    .uid(`count-${p}`)
    .map((r) => `${p}:${r.k}:${r.n}`)
    .uid(`show-${p}`);
}

/** The running counts a pipeline emits without failures (each key counts 1..n_k). */
function expected(p: number, n: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < KEYS; k++) {
    const nk = Math.floor(n / KEYS) + (k < n % KEYS ? 1 : 0);
    for (let j = 1; j <= nk; j++) out.push(`${p}:${k}:${j}`);
  }
  return out.sort();
}

async function run(name: string, pipelines: number, config: StreamEnvironmentConfig, n = 1500, rate = 6000) {
  opens = Array(pipelines).fill(0);
  if (faults.length !== pipelines) faults = Array.from({ length: pipelines }, () => ({ at: -1, left: 0 }));
  const env = StreamEnvironment.create({ nats, stateDir: await dirs.make(), checkpointing: { intervalMs: 50 }, parallelism: 1, ...config });
  const streams = Array.from({ length: pipelines }, (_, p) => pipeline(env, p, n, rate));
  const job = await collectAsync(env, streams, name);
  return job.done;
}

const fail = (p: number, pipelines: number, at: number, times: number) => {
  faults = Array.from({ length: pipelines }, () => ({ at: -1, left: 0 }));
  faults[p] = { at, left: times };
};

describe('restart policies in a job', () => {
  it('fixedDelay: restarts maxAttempts times, then the job fails with the original cause', async () => {
    fail(0, 1, 600, Infinity);
    const { result } = await run('fixed-delay', 1, { restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 2 } });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty-0' });
    expect(result.error!.message).toContain('pipeline 0 fails at record 600');
    expect(result.restarts).toHaveLength(2);
    for (const r of result.restarts) expect(r.cause).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty-0' });
    // Three attempts ran the map: the first and two restarts.
    expect(opens[0]).toBe(3);
  });

  it('fixedDelay within its attempts: the job finishes with the exact result', async () => {
    fail(0, 1, 600, 2);
    const { result, outputs } = await run('fixed-delay-ok', 1, { restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 2 } });
    expect(result.status).toBe('finished');
    expect(result.restarts).toHaveLength(2);
    expect(outputs[0]!.sort()).toEqual(expected(0, 1500));
  });

  it('failureRate: more than maxFailures failures within intervalMs fail the job with the original cause', async () => {
    fail(0, 1, 600, Infinity);
    const { result } = await run('failure-rate', 1, { restartPolicy: { kind: 'failureRate', maxFailures: 2, intervalMs: 60_000, delayMs: 10 } });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty-0' });
    expect(result.restarts).toHaveLength(2);
  });

  it('failureRate: failures up to maxFailures are restarted and the result is exact', async () => {
    fail(0, 1, 600, 2);
    const { result, outputs } = await run('failure-rate-ok', 1, { restartPolicy: { kind: 'failureRate', maxFailures: 2, intervalMs: 60_000, delayMs: 10 } });
    expect(result.status).toBe('finished');
    expect(result.restarts).toHaveLength(2);
    expect(outputs[0]!.sort()).toEqual(expected(0, 1500));
  });

  it('exponentialDelay: each restart waits longer (initial * multiplier^n) and the result is exact', async () => {
    fail(0, 1, 600, 3);
    const { result, outputs } = await run('exp-delay', 1, {
      restartPolicy: { kind: 'exponentialDelay', initialMs: 40, maxMs: 1000, multiplier: 2, jitter: 0, resetAfterMs: 60_000 },
    });
    expect(result.status).toBe('finished');
    expect(outputs[0]!.sort()).toEqual(expected(0, 1500));
    const at = result.restarts.map((r) => r.atMs);
    expect(at).toHaveLength(3);
    // Restart n+1 happens after failure n+1 (which follows restart n) plus a delay of 40 * 2^n ms.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(80);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(160);
  });

  it('exponentialDelay is the default with checkpointing (1 s initial delay)', async () => {
    expect(resolveConfig({ checkpointing: 50 }).restartPolicy).toMatchObject({ kind: 'exponentialDelay', initialMs: 1000 });
    fail(0, 1, 600, 1);
    const { result, outputs } = await run('exp-default', 1, {});
    expect(result.status).toBe('finished');
    expect(result.restarts).toHaveLength(1);
    expect(outputs[0]!.sort()).toEqual(expected(0, 1500));
    // 1000 ms +/- 10% jitter between the failure and the restart.
    expect(result.durationMs).toBeGreaterThanOrEqual(900);
  });

  it('none: the first failure fails the job with its cause, with or without checkpointing', async () => {
    fail(0, 1, 600, 1);
    const a = await run('no-restart', 1, { restartPolicy: { kind: 'none' } });
    expect(a.result.status).toBe('failed');
    expect(a.result.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty-0' });
    expect(a.result.restarts).toEqual([]);
    expect(resolveConfig({}).restartPolicy).toEqual({ kind: 'none' });
    fail(0, 1, 600, 1);
    const b = await run('no-checkpoints', 1, { checkpointing: undefined });
    expect(b.result.status).toBe('failed');
    expect(b.result.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty-0' });
    expect(b.result.restarts).toEqual([]);
    expect(b.result.checkpoints).toBeUndefined();
  });
});

describe('supervision strategies over pipelined regions', () => {
  const policy = { restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 5 } } as const;

  it.each([
    ['one-for-one', [1], [2, 4, 2]],
    ['one-for-all', [0, 1, 2], [4, 4, 4]],
    ['rest-for-one', [1, 2], [2, 4, 4]],
  ] as const)('%s restarts regions %j when the middle one fails; the others keep running', async (strategy, regions, expectedOpens) => {
    fail(1, 3, 800, 1);
    const { result, outputs } = await run(strategy, 3, { ...policy, parallelism: 2, supervision: { strategy } });
    expect(result.status).toBe('finished');
    expect(result.restarts).toHaveLength(1);
    expect(result.restarts[0]!.regions).toEqual(regions);
    expect(result.restarts[0]!.cause).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty-1' });
    // Two subtasks per map: a region that did not restart opened its map twice in all.
    expect(opens).toEqual(expectedOpens);
    for (let p = 0; p < 3; p++) expect(outputs[p]!.sort()).toEqual(expected(p, 1500));
  });

  it('intensity: the (R+1)th failure within T escalates and the job fails with the original cause', async () => {
    fail(0, 2, 600, Infinity);
    const { result } = await run('intensity', 2, { ...policy, supervision: { strategy: 'one-for-one', intensity: { maxRestarts: 2, withinMs: 60_000 } } });
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'faulty-0' });
    expect(result.error!.message).toContain('pipeline 0 fails at record 600');
    expect(result.restarts).toHaveLength(2);
    expect(result.restarts.every((r) => r.regions.length === 1 && r.regions[0] === 0)).toBe(true);
  });
});
