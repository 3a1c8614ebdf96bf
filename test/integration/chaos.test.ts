// Seeded chaos: a keyed event-time window job from JetStream to the exactly-once JetStream sink survives user-code throws, task kills and a SIGKILL + --resume with output identical to the reference.
import { describe, expect, inject, it } from 'vitest';
import { runChaosSeed, type ChaosRunReport } from '../support/chaos-driver.ts';
import { chaosPlan, DEFAULT_FAULTS, DEFAULT_SHAPE, expectedChaosOutput } from '../fixtures/chaos-job.ts';

const natsUrl = inject('natsUrl');
/** Streams and subjects are named per process and seed: the nats-server is shared by every test file. */
const tag = (seed: number, what: string) => `${process.pid}_${seed}_${what}`;

function summary(r: ChaosRunReport): string {
  return `seed ${r.seed}: ${r.ok ? 'ok' : 'FAIL'}, ${r.restarts} restarts (${r.causes.join(', ')}), ${r.killsLanded} kills landed, ${r.durationMs} ms${r.problem ? `: ${r.problem}` : ''}`;
}

describe('chaos: exactly-once under failures', () => {
  it('the reference has a result for every key and window (the comparison is not vacuous)', () => {
    const ref = expectedChaosOutput(DEFAULT_SHAPE);
    expect(ref.length).toBe(DEFAULT_SHAPE.keys * (DEFAULT_SHAPE.records / DEFAULT_SHAPE.windowMs));
    expect(ref.reduce((n, w) => n + w.count, 0)).toBe(DEFAULT_SHAPE.records);
    // The same seed gives the same faults; another seed gives others.
    expect(chaosPlan(11, DEFAULT_SHAPE, DEFAULT_FAULTS, 3, 2)).toEqual(chaosPlan(11, DEFAULT_SHAPE, DEFAULT_FAULTS, 3, 2));
    expect(chaosPlan(11, DEFAULT_SHAPE, DEFAULT_FAULTS, 3, 2)).not.toEqual(chaosPlan(12, DEFAULT_SHAPE, DEFAULT_FAULTS, 3, 2));
  });

  for (const seed of [11, 12]) {
    it(`seed ${seed}: throws in user code and task kills restart regions; the sink holds exactly the reference`, async () => {
      const r = await runChaosSeed({ natsUrl, seed, tag: tag(seed, 'inproc') });
      console.log(summary(r));
      expect(r.problem).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(r.got).toBe(r.expected);
      // The faults really happened: throws (deterministic, at record ids) and at least one landed kill.
      expect(r.causes).toContain('EDDY_USER_FUNCTION');
      expect(r.killsLanded).toBeGreaterThan(0);
      expect(r.causes).toContain('EDDY_TASK_DIED');
    });
  }

  it('seed 13: the job process is SIGKILLed mid-run and `eddy run --resume` completes it; the sink holds exactly the reference', async () => {
    const r = await runChaosSeed({ natsUrl, seed: 13, tag: tag(13, 'sigkill'), sigkillAfterCheckpoints: 3 });
    console.log(summary(r));
    expect(r.problem).toBeUndefined();
    expect(r.sigkilled).toBe(true);
    expect(r.results[0]).toBeNull();
    expect(r.results[1]?.status).toBe('finished');
    // The resumed job continues the checkpointed one (same job id, so the sink's transaction ids repeat).
    expect(r.jobIds[1]).toBeDefined();
    expect(r.jobIds[1]).toBe(r.jobIds[0]);
    expect(r.ok).toBe(true);
  });
});
