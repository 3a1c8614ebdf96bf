// Seeded chaos: a keyed event-time window job from JetStream to the exactly-once JetStream sink survives throws, task kills, SIGKILL + --resume, savepoints, failing sink commits and a nats-server restart, with output identical to the reference.
import { describe, expect, inject, it } from 'vitest';
import { runChaosSeed, type ChaosRunReport } from '../support/chaos-driver.ts';
import { chaosPlan, DEFAULT_FAULTS, DEFAULT_SHAPE, describeFaults, expectedChaosOutput, soakFaults, SOAK_KINDS, type ChaosFaults } from '../fixtures/chaos-plan.ts';

const natsUrl = inject('natsUrl');
/** Streams and subjects are named per process and seed: the nats-server is shared by every test file. */
const tag = (seed: number, what: string) => `${process.pid}_${seed}_${what}`;
/**
 * A job process that runs longer is killed and its seed fails (a hang is a bug). Generous: in `npm test`
 * the seeds share 2 cores with every other test file (the package test builds and installs beside them),
 * where a seed that takes 10 s alone has taken 40 s.
 */
const PROCESS_TIMEOUT_MS = 120_000;
/** Per test: the processes of a seed (two for SIGKILL + --resume) within their bound, plus the checks. */
const SEED_TEST_TIMEOUT_MS = 2 * PROCESS_TIMEOUT_MS + 30_000;

function summary(r: ChaosRunReport): string {
  return (
    `seed ${r.seed} (${describeFaults(r.faults)}): ${r.ok ? 'ok' : 'FAIL'}, ${r.lost} lost, ${r.twice} twice, ${r.restarts} restarts (${r.causes.join(', ')}), ` +
    `kills ${r.killsLanded}/${r.killsDue}, savepoint failovers ${r.postSavepointFailures} (${r.savepointsTaken} taken), commit faults ${r.commitFaultsFired}, ` +
    `server restarts ${r.serverRestarts} (reconnects ${r.reconnects}), ${r.durationMs} ms${r.problem ? `: ${r.problem}` : ''}`
  );
}

/** What every seed must show: the job finished and its output is the reference, nothing lost, nothing twice. */
function expectExactlyOnce(r: ChaosRunReport): void {
  expect(r.problem).toBeUndefined();
  expect({ lost: r.lost, twice: r.twice, wrong: r.wrong }).toEqual({ lost: 0, twice: 0, wrong: 0 });
  expect(r.got).toBe(r.expected);
  expect(r.ok).toBe(true);
}

describe('chaos: exactly-once under failures', () => {
  it('the reference has a result for every key and window, and a seed always plans the same faults', () => {
    const ref = expectedChaosOutput(DEFAULT_SHAPE);
    expect(ref.length).toBe(DEFAULT_SHAPE.keys * (DEFAULT_SHAPE.records / DEFAULT_SHAPE.windowMs));
    expect(ref.reduce((n, w) => n + w.count, 0)).toBe(DEFAULT_SHAPE.records);
    const all: ChaosFaults = { ...DEFAULT_FAULTS, savepoints: 1, commitFaults: 1, serverRestarts: 1, sigkill: true };
    // The same seed gives the same faults; another seed gives others.
    expect(chaosPlan(11, DEFAULT_SHAPE, all, 3, 2)).toEqual(chaosPlan(11, DEFAULT_SHAPE, all, 3, 2));
    expect(chaosPlan(11, DEFAULT_SHAPE, all, 3, 2)).not.toEqual(chaosPlan(12, DEFAULT_SHAPE, all, 3, 2));
    // Every fault kind is planned at a record id or a checkpoint count inside the run (nothing at a time).
    const p = chaosPlan(11, DEFAULT_SHAPE, all, 3, 2);
    expect(p.kills).toHaveLength(DEFAULT_FAULTS.kills);
    for (const k of p.kills) {
      expect(k.atRecord).toBeGreaterThan(0);
      expect(k.atRecord).toBeLessThan(DEFAULT_SHAPE.records);
    }
    expect(p.savepoints[0]!.atRecord).toBeLessThan(DEFAULT_SHAPE.records);
    expect(p.commitFaults[0]!.fromCheckpoint).toBeGreaterThanOrEqual(2);
    expect(p.serverRestarts[0]!.afterCheckpoints).toBeGreaterThanOrEqual(2);
    expect(p.sigkill!.afterCheckpoints).toBeGreaterThanOrEqual(2);
    // The soak cycles through every kind, as a function of the seed alone.
    expect(new Set(Array.from({ length: SOAK_KINDS.length }, (_, i) => soakFaults(1000 + i).kind))).toEqual(new Set(SOAK_KINDS));
    expect(soakFaults(1005)).toEqual(soakFaults(1005));
  });

  it('seed 11: throws and task kills restart regions, the process is SIGKILLed and `eddy run --resume` completes it; the sink holds exactly the reference', async () => {
    const r = await runChaosSeed({ natsUrl, seed: 11, tag: tag(11, 'kills'), processTimeoutMs: PROCESS_TIMEOUT_MS, faults: { ...DEFAULT_FAULTS, sigkill: true } });
    console.log(summary(r));
    expectExactlyOnce(r);
    // The faults really happened: throws at record ids, kills that reached a task (a due kill always does:
    // the job cannot end before), the SIGKILL.
    expect(r.causes).toContain('EDDY_USER_FUNCTION');
    expect(r.killsLanded).toBeGreaterThan(0);
    expect(r.killsGivenUp).toBe(0);
    expect(r.causes).toContain('EDDY_TASK_DIED');
    expect(r.sigkilled).toBe(true);
    expect(r.results[0]).toBeNull();
    // The resumed job continues the checkpointed one (same job id, so the sink's transaction ids repeat).
    expect(r.jobIds[1]).toBeDefined();
    expect(r.jobIds[1]).toBe(r.jobIds[0]);
  }, SEED_TEST_TIMEOUT_MS);

  it('seed 12: a savepoint mid-run followed by a failover, and a sink commit that stalls until a later checkpoint completed and then fails; the sink holds exactly the reference', async () => {
    const r = await runChaosSeed({ natsUrl, seed: 12, tag: tag(12, 'savepoint'), processTimeoutMs: PROCESS_TIMEOUT_MS, faults: { ...DEFAULT_FAULTS, savepoints: 1, commitFaults: 1 } });
    console.log(summary(r));
    expectExactlyOnce(r);
    // A savepoint whose sink transaction was empty is taken again (it could not show a wrong commit): at least one.
    expect(r.savepointsTaken).toBeGreaterThanOrEqual(1);
    expect(r.postSavepointFailures).toBe(1);
    expect(r.commitFaultsFired).toBe(1);
    expect(r.killsLanded).toBe(r.killsDue);
    expect(r.killsGivenUp).toBe(0);
  }, SEED_TEST_TIMEOUT_MS);

  it('seed 13: the nats-server restarts (same port and store) under the running job; the sink holds exactly the reference', async () => {
    const r = await runChaosSeed({ natsUrl, seed: 13, tag: tag(13, 'restart'), processTimeoutMs: PROCESS_TIMEOUT_MS, faults: { ...DEFAULT_FAULTS, serverRestarts: 1 } });
    console.log(summary(r));
    expectExactlyOnce(r);
    expect(r.serverRestarts).toBe(1);
    // The job process lost its connection and got it back (it cannot end before it has).
    expect(r.reconnects).toBeGreaterThan(0);
    expect(r.killsLanded).toBe(r.killsDue);
    expect(r.killsGivenUp).toBe(0);
  }, SEED_TEST_TIMEOUT_MS);
});
