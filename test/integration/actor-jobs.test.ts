// Actor operators in whole jobs on real NATS: a killed task, queries from outside, a savepoint restored at another parallelism, with a migrated machine, and refused before deployment without one.
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StreamEnvironment, type StreamEnvironmentConfig } from '../../index.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { systemClock } from '../../src/time/clock.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { subjects } from '../../src/transport/subjects.ts';
import type { ActorOptions } from '../../src/api/keyed-actor.ts';
import type { MachineMigration } from '../../src/machines/machine-version.ts';
import { fraudAlerts, gatedTxnSource, Gate, lines, referenceAlerts, referenceSmalls, type Txn } from '../fixtures/actor-fraud.ts';
import { collectAsync, completedCheckpoints, tmpDirs, waitFor } from '../fixtures/fault-tolerance-support.ts';
import { expectEddyError } from '../support/eddy-error.ts';

const nats = inject('natsUrl');
const dirs = tmpDirs('eddy-actor-jobs-');
afterEach(() => dirs.cleanup());

const N = 3000;
const HALF = 1500;
const reference = lines(referenceAlerts(N));

/** gated transactions -> the fraud actor (fraudAlerts) -> collected alerts. */
async function start(name: string, gate: Gate | { gate: Gate; seen: { read: number } }, config: StreamEnvironmentConfig, options: Partial<ActorOptions<Txn, string>> = {}, version: 'v1' | 'v2' = 'v1') {
  const env = StreamEnvironment.create({
    nats,
    stateDir: await dirs.make(),
    checkpointing: { intervalMs: 50 },
    restartPolicy: { kind: 'fixedDelay', delayMs: 10, maxAttempts: 3 },
    autoWatermarkIntervalMs: 20,
    ...config,
  });
  const source = gate instanceof Gate ? gatedTxnSource(N, gate) : gatedTxnSource(N, gate.gate, gate.seen);
  return collectAsync(env, [fraudAlerts(env, source, options, version)], name);
}

describe('actor operators in jobs', () => {
  it('a killed actor task restarts from the last checkpoint (pending timers included) and the alerts equal the reference; queryActor reads a key while the job runs', async () => {
    const gate = new Gate();
    gate.raise(HALF);
    const job = await start('actor-kill', gate, { parallelism: 2, testHooks: true });
    const before = completedCheckpoints(job.client);
    // Two checkpoints after the gate's records were read: the restart restores a state holding them.
    await waitFor('two checkpoints', () => completedCheckpoints(job.client) >= before + 2);
    // A card's machine as seen from outside: once the first half reached it, its context is the reference's.
    const card = referenceAlerts(HALF).at(-1)!.card;
    const smalls = referenceSmalls(HALF, card);
    let view = await job.client.queryActor('fraud', card);
    for (let i = 0; i < 3000 && (view?.context as { smalls?: number } | undefined)?.smalls !== smalls; i++) {
      await systemClock.sleep(10);
      view = await job.client.queryActor('fraud', card);
    }
    expect(view!.context).toEqual({ card, smalls });
    expect(['idle', 'armed']).toContain(view!.value);
    expect(await job.client.queryActor('fraud', 'no-such-card')).toBeUndefined();
    const nc = await connectNats(nats);
    const reached = (await nc.request(subjects.kill(job.client.jobId), new FrameCodec().encodeValue(['fraud -> Sink: Collect Sink', 1]))).data;
    await nc.close();
    expect(new FrameCodec().decodeValue(reached)).toBe(1);
    gate.raise(N);
    const { result, outputs } = await job.done;
    expect(result.status).toBe('finished');
    expect(result.restarts).toHaveLength(1);
    expect(result.restarts[0]!.cause).toMatchObject({ code: 'EDDY_TASK_DIED', subtask: 1 });
    expect(lines(outputs[0]!)).toEqual(reference);
  });

  it('a savepoint at parallelism 2 restored at parallelism 3, and restored with a changed machine: by migration, or refused before deployment', async () => {
    const gate = new Gate();
    const seen = { read: 0 };
    gate.raise(HALF);
    const first = await start('actor-sp', { gate, seen }, { parallelism: 2 });
    // The source stops at the gate: a savepoint taken once it read everything there holds position HALF.
    await waitFor('the first half read', () => seen.read === HALF);
    const sp = join(await dirs.make(), 'sp');
    await first.client.savepoint(sp);
    await first.client.cancel();
    const before = lines((await first.done).outputs[0]!);
    // A job restored from it emits the reference's alerts of the second half (state and timers come
    // from the first), and commits the savepoint's pending sink transactions: first-half alerts the
    // canceled job had not committed. Collect sinks of two jobs cannot deduplicate each other's
    // commits (a JetStream sink's message ids would): compared as sets, with no copy inside a job.
    const secondHalf = lines(referenceAlerts(N).filter((a) => a.ts >= HALF * 1_000));
    expect(secondHalf.length).toBeGreaterThan(20);
    const expectExact = (after: string[]): void => {
      expect(new Set(after).size, 'no alert twice within the restored job').toBe(after.length);
      for (const a of secondHalf) expect(after).toContain(a);
      expect([...new Set([...before, ...after])].sort()).toEqual(reference);
    };

    const full = new Gate();
    full.raise(N);
    const rescaled = await start('actor-sp-p3', full, { parallelism: 3, restore: { savepoint: sp } });
    const { result: r3, outputs: o3 } = await rescaled.done;
    expect(r3.status).toBe('finished');
    expectExact(lines(o3[0]!));

    // v2 renamed `armed`: without a migration the job is refused before it deploys, naming the state.
    const refused = await expectEddyError(() => start('actor-sp-v2', full, { parallelism: 2, restore: { savepoint: sp } }, {}, 'v2'), 'EDDY_STATE_MISMATCH');
    expect(refused.message).toMatch(/"fraud\.armed" no longer exist/);
    expect(refused.operator).toBe('fraud');

    const rename = (id: string) => id.replace('fraud.armed', 'fraud.watching');
    const migrate: MachineMigration = (a) =>
      a.value === 'armed' ? { value: 'watching', context: a.context, timers: a.timers.map((t) => ({ ...t, id: rename(t.id), event: { type: rename(t.event.type) } })) } : a;
    const migrated = await start('actor-sp-v2-migrated', full, { parallelism: 2, restore: { savepoint: sp } }, { migrate }, 'v2');
    const { result: rm, outputs: om } = await migrated.done;
    expect(rm.status).toBe('finished');
    expectExact(lines(om[0]!));
  });
});
