// Savepoints: take one from a running keyed job, restore it at other parallelisms (key groups move), and the restores that must be refused.
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { EddyError, StreamEnvironment, type DataStream, type StreamEnvironmentConfig } from '../../index.ts';
import { collectAsync, completedCheckpoints, tmpDirs, waitFor } from '../fixtures/fault-tolerance-support.ts';

const nats = inject('natsUrl');
const dirs = tmpDirs('eddy-sp-test-');
afterEach(() => dirs.cleanup());

const KEYS = 16;
const N = 3200;

/** Generator (parallelism 1, rate-limited) -> keyBy -> count and total per key; with `extra`, a second keyed operator with uid "extra". */
function job(env: StreamEnvironment, extra = false): DataStream<string> {
  const src = env
    .fromGenerator(N, (i) => ({ k: i % KEYS, n: 1, total: i }), { ratePerSecond: 3000 })
    .setParallelism(1)
    .uid('gen');
  const counts = src
    .keyBy((r) => r.k)
    .reduce((a, b) => ({ k: a.k, n: a.n + b.n, total: a.total + b.total }))
    .uid('count')
    .name('count')
    .map((r) => `${r.k} ${r.n} ${r.total}`)
    .uid('show');
  if (!extra) return counts;
  const other = src
    .keyBy((r) => r.k)
    .reduce((a, b) => ({ ...a, n: a.n + b.n }))
    .uid('extra')
    .name('extra-op')
    .map(() => '')
    .uid('extra-show')
    .filter(() => false)
    .uid('extra-none');
  return counts.union(other);
}

async function start(name: string, config: StreamEnvironmentConfig, extra = false) {
  const env = StreamEnvironment.create({ nats, stateDir: await dirs.make(), checkpointing: { intervalMs: 50 }, ...config });
  return collectAsync(env, [job(env, extra)], name);
}

/** Runs until a couple of checkpoints completed, takes a savepoint into a new directory, cancels. */
async function savepointAndCancel(name: string, config: StreamEnvironmentConfig, extra = false): Promise<string> {
  const j = await start(name, config, extra);
  await waitFor('two checkpoints', () => completedCheckpoints(j.client) >= 2);
  const dir = join(await dirs.make(), 'savepoint');
  expect(await j.client.savepoint(dir)).toBe(dir);
  const result = await j.client.cancel();
  expect(result.status).toBe('canceled');
  const { outputs } = await j.done;
  // Canceled before the end: the savepoint holds a position in the middle of the input.
  expect(outputs[0]!.length).toBeLessThan(N);
  expect(result.checkpoints!.history.some((c) => c.kind === 'savepoint' && c.status === 'completed')).toBe(true);
  return dir;
}

async function refusal(p: Promise<unknown>): Promise<EddyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EddyError);
    return e as EddyError;
  }
  throw new Error('expected the restore to be refused');
}

describe('savepoints', () => {
  it('parallelism 1 -> savepoint -> 3 -> savepoint -> 2 gives the totals of an uninterrupted run', async () => {
    const sp1 = await savepointAndCancel('sp-p1', { parallelism: 1 });
    const sp2 = await savepointAndCancel('sp-p3', { parallelism: 3, restore: { savepoint: sp1 } });
    const last = await start('sp-p2', { parallelism: 2, restore: { savepoint: sp2 } });
    const { result, outputs } = await last.done;
    expect(result.status).toBe('finished');
    // Per key: the counts of the last run continue the restored ones without a gap or a repeat, up to the full count and total.
    const byKey = new Map<number, { n: number; total: number }[]>();
    for (const line of outputs[0]!) {
      const [k, n, total] = line.split(' ').map(Number) as [number, number, number];
      byKey.set(k, [...(byKey.get(k) ?? []), { n, total }]);
    }
    expect(byKey.size).toBe(KEYS);
    for (let k = 0; k < KEYS; k++) {
      const ns = byKey.get(k)!.map((x) => x.n).sort((a, b) => a - b);
      const nk = N / KEYS;
      expect(ns[ns.length - 1]).toBe(nk);
      // The last run started from restored state, not from zero.
      expect(ns[0]).toBeGreaterThan(1);
      expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => ns[0]! + i));
      let total = 0;
      for (let i = k; i < N; i += KEYS) total += i;
      expect(byKey.get(k)!.find((x) => x.n === nk)!.total).toBe(total);
    }
  });

  it('state of an operator uid the new job lacks is refused with EDDY_STATE_MISMATCH naming it, unless allowNonRestoredState', async () => {
    const sp = await savepointAndCancel('sp-extra', { parallelism: 2 }, true);
    const e = await refusal(start('sp-missing', { parallelism: 2, restore: { savepoint: sp } }));
    expect(e.code).toBe('EDDY_STATE_MISMATCH');
    expect(e.operator).toBe('extra-op');
    expect(e.message).toContain('"extra"');
    expect(e.message).toContain('allowNonRestoredState');
    const ok = await start('sp-dropped', { parallelism: 2, restore: { savepoint: sp }, allowNonRestoredState: true });
    const { result, outputs } = await ok.done;
    expect(result.status).toBe('finished');
    const last = new Map<number, number>();
    for (const line of outputs[0]!) {
      const [k, n] = line.split(' ').map(Number) as [number, number];
      last.set(k, Math.max(last.get(k) ?? 0, n));
    }
    expect([...last.values()]).toEqual(Array(KEYS).fill(N / KEYS));
  });

  it('a changed maxParallelism is refused with EDDY_STATE_MISMATCH naming the keyed operator', async () => {
    const sp = await savepointAndCancel('sp-maxp', { parallelism: 2 });
    const e = await refusal(start('sp-maxp-changed', { parallelism: 2, maxParallelism: 64, restore: { savepoint: sp } }));
    expect(e.code).toBe('EDDY_STATE_MISMATCH');
    expect(e.operator).toBe('count');
    expect(e.message).toMatch(/maxParallelism 128.*64/);
  });
});
