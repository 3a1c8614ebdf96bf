// Restart policies (actors/supervision/restart-policy.ts) and the seeded PRNG (src/time/random.ts), example by example.
import { describe, expect, it } from 'vitest';
import {
  createRestartPolicy,
  DEFAULT_RESTART_POLICY,
  validateRestartPolicyConfig,
  type RestartPolicyConfig,
} from '../../actors/supervision/restart-policy.ts';
import { EddyError, isEddyError } from '../../src/errors.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { createRandom, nextRandom } from '../../src/time/random.ts';

function configError(fn: () => unknown): EddyError {
  try {
    fn();
  } catch (e) {
    expect(isEddyError(e, 'EDDY_CONFIG')).toBe(true);
    return e as EddyError;
  }
  throw new Error('expected an EDDY_CONFIG error');
}

describe('createRandom (mulberry32)', () => {
  it('TSDoc example: same seed, same sequence; state() resumes', () => {
    const r = createRandom(7);
    const x = r();
    expect(x).toBeGreaterThanOrEqual(0);
    expect(x).toBeLessThan(1);
    expect(createRandom(7)()).toBe(x);
    const resumed = createRandom(r.state());
    const a = [r(), r(), r()];
    expect([resumed(), resumed(), resumed()]).toEqual(a);
  });

  it('TSDoc example: nextRandom is the pure step behind createRandom', () => {
    const [a, s1] = nextRandom(42);
    const [b] = nextRandom(s1);
    const r = createRandom(42);
    expect([r(), r()]).toEqual([a, b]);
  });

  it('different seeds differ, values stay in [0, 1) and spread out', () => {
    expect(createRandom(1)()).not.toBe(createRandom(2)());
    const r = createRandom(123);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const v = r();
      expect(v >= 0 && v < 1).toBe(true);
      sum += v;
    }
    expect(sum / 10_000).toBeGreaterThan(0.45);
    expect(sum / 10_000).toBeLessThan(0.55);
  });

  it('odd seeds (negative, fractional, huge, NaN) are truncated to 32 bits, never throw', () => {
    expect(createRandom(-1)()).toBe(createRandom(0xffffffff)());
    expect(createRandom(3.9)()).toBe(createRandom(3)());
    expect(createRandom(Number.NaN)()).toBe(createRandom(0)());
    expect(createRandom(2 ** 40 + 5)()).toBe(createRandom(5)());
  });
});

describe('fixedDelay', () => {
  it('TSDoc example: two restarts, then fail', () => {
    const p = createRestartPolicy({ kind: 'fixedDelay', delayMs: 500, maxAttempts: 2 });
    expect(p.onFailure(0)).toEqual({ action: 'restart', delayMs: 500 });
    expect(p.onFailure(1000)).toEqual({ action: 'restart', delayMs: 500 });
    expect(p.onFailure(2000)).toEqual({ action: 'fail', reason: 'fixedDelay: 2 restart attempts exhausted (maxAttempts 2)' });
  });

  it('maxAttempts 0 fails at once; failing is sticky; attempts never reset with time', () => {
    expect(createRestartPolicy({ kind: 'fixedDelay', delayMs: 1, maxAttempts: 0 }).onFailure(0).action).toBe('fail');
    const p = createRestartPolicy({ kind: 'fixedDelay', delayMs: 1, maxAttempts: 1 });
    expect(p.onFailure(0).action).toBe('restart');
    expect(p.onFailure(10 ** 9).action).toBe('fail');
    expect(p.onFailure(2 * 10 ** 9)).toEqual({ action: 'fail', reason: 'fixedDelay: the policy has already given up' });
  });

  it('maxAttempts Infinity restarts forever', () => {
    const p = createRestartPolicy({ kind: 'fixedDelay', delayMs: 3, maxAttempts: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1000; i++) expect(p.onFailure(i)).toEqual({ action: 'restart', delayMs: 3 });
  });
});

describe('exponentialDelay', () => {
  const noJitter: RestartPolicyConfig = { kind: 'exponentialDelay', initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0, resetAfterMs: 5000 };

  it('doubles from initialMs up to maxMs, never fails', () => {
    const p = createRestartPolicy(noJitter);
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 8; i++) {
      const d = p.onFailure(now);
      if (d.action !== 'restart') throw new Error('must restart');
      delays.push(d.delayMs);
      now += d.delayMs + 1; // fails again 1 ms after each restart
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  it('resets to initialMs after resetAfterMs quiet, counted from when the restart happened', () => {
    const clock = new ManualClock(0);
    const p = createRestartPolicy(noJitter);
    expect(p.onFailure(clock.now())).toEqual({ action: 'restart', delayMs: 100 });
    clock.advance(100 + 10);
    expect(p.onFailure(clock.now())).toEqual({ action: 'restart', delayMs: 200 }); // restart at 310
    clock.setTime(310 + 4999);
    expect(p.onFailure(clock.now())).toEqual({ action: 'restart', delayMs: 400 }); // 4999 ms quiet: no reset; restart at 5709
    clock.setTime(5709 + 5000);
    expect(p.onFailure(clock.now())).toEqual({ action: 'restart', delayMs: 100 }); // 5000 ms quiet: reset
    expect(p.onFailure(clock.now())).toEqual({ action: 'restart', delayMs: 200 });
  });

  it('jitter spreads the delay within +/- jitter of the base, deterministically per seed', () => {
    const cfg: RestartPolicyConfig = { kind: 'exponentialDelay', initialMs: 1000, maxMs: 1000, multiplier: 1, jitter: 0.5, resetAfterMs: 1e9 };
    const run = (seed: number) => {
      const p = createRestartPolicy(cfg, { seed });
      return Array.from({ length: 50 }, (_, i) => {
        const d = p.onFailure(i);
        return d.action === 'restart' ? d.delayMs : -1;
      });
    };
    const a = run(1);
    expect(run(1)).toEqual(a);
    expect(run(2)).not.toEqual(a);
    for (const d of a) {
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000); // capped at maxMs
    }
    expect(new Set(a).size).toBeGreaterThan(10);
  });

  it('is the default, and the default config is valid', () => {
    expect(createRestartPolicy().config).toEqual(DEFAULT_RESTART_POLICY);
    expect(() => validateRestartPolicyConfig(DEFAULT_RESTART_POLICY)).not.toThrow();
  });

  it('initialMs 0 stays 0 (no NaN)', () => {
    const p = createRestartPolicy({ kind: 'exponentialDelay', initialMs: 0, maxMs: 10, multiplier: 3, jitter: 1, resetAfterMs: 100 });
    for (let i = 0; i < 5; i++) expect(p.onFailure(i)).toEqual({ action: 'restart', delayMs: 0 });
  });
});

describe('failureRate', () => {
  it('fails when more than maxFailures fall within intervalMs', () => {
    const p = createRestartPolicy({ kind: 'failureRate', maxFailures: 2, intervalMs: 1000, delayMs: 50 });
    expect(p.onFailure(0)).toEqual({ action: 'restart', delayMs: 50 });
    expect(p.onFailure(500)).toEqual({ action: 'restart', delayMs: 50 });
    // 0 has left the window at 1000 (now - t < intervalMs is "within").
    expect(p.onFailure(1000)).toEqual({ action: 'restart', delayMs: 50 });
    expect(p.onFailure(1499)).toEqual({
      action: 'fail',
      reason: 'failureRate: 3 failures within 1000 ms exceed maxFailures 2',
    });
    expect(p.onFailure(100_000).action).toBe('fail'); // sticky
  });

  it('maxFailures 0 fails on the first failure', () => {
    expect(createRestartPolicy({ kind: 'failureRate', maxFailures: 0, intervalMs: 10, delayMs: 0 }).onFailure(0).action).toBe('fail');
  });
});

describe('none', () => {
  it('fails at once', () => {
    expect(createRestartPolicy({ kind: 'none' }).onFailure(0)).toEqual({ action: 'fail', reason: 'none: restarts are disabled' });
  });
});

describe('snapshot and restore', () => {
  it('snapshots are plain JSON data, and a restored policy continues exactly (jitter included)', () => {
    const cfg: RestartPolicyConfig = { kind: 'exponentialDelay', initialMs: 10, maxMs: 10_000, multiplier: 1.5, jitter: 0.3, resetAfterMs: 1e6 };
    const a = createRestartPolicy(cfg, { seed: 99 });
    for (let i = 0; i < 5; i++) a.onFailure(i * 10);
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    expect(snap).toEqual(a.snapshot());
    const b = createRestartPolicy(cfg, { state: snap });
    const c = createRestartPolicy(cfg);
    c.restore(snap);
    for (let i = 5; i < 15; i++) {
      const d = a.onFailure(i * 10);
      expect(b.onFailure(i * 10)).toEqual(d);
      expect(c.onFailure(i * 10)).toEqual(d);
    }
  });

  it('a snapshot is a copy: later failures do not change it', () => {
    const p = createRestartPolicy({ kind: 'failureRate', maxFailures: 5, intervalMs: 100, delayMs: 1 });
    p.onFailure(0);
    const snap = p.snapshot();
    p.onFailure(1);
    expect(snap).toEqual({ kind: 'failureRate', failureTimes: [0], failed: false, lastNow: 0 });
    for (const kind of ['fixedDelay', 'none'] as const) {
      const q = createRestartPolicy(kind === 'none' ? { kind } : { kind, delayMs: 0, maxAttempts: 1 });
      const s = q.snapshot();
      q.onFailure(0);
      expect(s.failed).toBe(false);
    }
  });

  it('restoring a snapshot of another kind is an EDDY_CONFIG error', () => {
    const fixed = createRestartPolicy({ kind: 'fixedDelay', delayMs: 0, maxAttempts: 1 }).snapshot();
    const e = configError(() => createRestartPolicy({ kind: 'none' }, { state: fixed }));
    expect(e.message).toContain('cannot restore a fixedDelay snapshot into a none policy');
  });
});

describe('time', () => {
  it('a now earlier than one already seen counts as the later time', () => {
    const p = createRestartPolicy({ kind: 'failureRate', maxFailures: 1, intervalMs: 100, delayMs: 0 });
    p.onFailure(1000);
    // 950 is taken as 1000: two failures within 100 ms.
    expect(p.onFailure(950).action).toBe('fail');
  });

  it('a non-finite now is EDDY_INVALID_ARGUMENT', () => {
    const p = createRestartPolicy({ kind: 'none' });
    expect(() => p.onFailure(Number.NaN)).toThrow(/EDDY_INVALID_ARGUMENT/);
  });
});

describe('config validation', () => {
  it('TSDoc example: a negative delay names the field', () => {
    const e = configError(() => validateRestartPolicyConfig({ kind: 'fixedDelay', delayMs: -1, maxAttempts: 3 }));
    expect(e.message).toBe('EDDY_CONFIG: restart policy: fixedDelay.delayMs must be >= 0, got -1');
  });

  const bad: [RestartPolicyConfig, RegExp][] = [
    [{ kind: 'fixedDelay', delayMs: 1, maxAttempts: 1.5 }, /fixedDelay\.maxAttempts must be an integer/],
    [{ kind: 'fixedDelay', delayMs: Number.NaN, maxAttempts: 1 }, /fixedDelay\.delayMs must be a number/],
    [{ kind: 'fixedDelay', delayMs: Number.POSITIVE_INFINITY, maxAttempts: 1 }, /fixedDelay\.delayMs must be finite/],
    [{ kind: 'exponentialDelay', initialMs: 100, maxMs: 50, multiplier: 2, jitter: 0, resetAfterMs: 1 }, /maxMs \(50\) must be >= initialMs \(100\)/],
    [{ kind: 'exponentialDelay', initialMs: 1, maxMs: 5, multiplier: 0.5, jitter: 0, resetAfterMs: 1 }, /multiplier must be >= 1/],
    [{ kind: 'exponentialDelay', initialMs: 1, maxMs: 5, multiplier: 2, jitter: 1.5, resetAfterMs: 1 }, /jitter must be <= 1/],
    [{ kind: 'exponentialDelay', initialMs: 1, maxMs: 5, multiplier: 2, jitter: -0.1, resetAfterMs: 1 }, /jitter must be >= 0/],
    [{ kind: 'exponentialDelay', initialMs: -1, maxMs: 5, multiplier: 2, jitter: 0, resetAfterMs: 1 }, /initialMs must be >= 0/],
    [{ kind: 'exponentialDelay', initialMs: 1, maxMs: 5, multiplier: 2, jitter: 0, resetAfterMs: -1 }, /resetAfterMs must be >= 0/],
    [{ kind: 'failureRate', maxFailures: -1, intervalMs: 10, delayMs: 0 }, /failureRate\.maxFailures must be >= 0/],
    [{ kind: 'failureRate', maxFailures: 1, intervalMs: 0, delayMs: 0 }, /failureRate\.intervalMs must be >= 1/],
    [{ kind: 'failureRate', maxFailures: 1, intervalMs: 10, delayMs: '5' as unknown as number }, /failureRate\.delayMs must be a number/],
    [{ kind: 'sometimes' } as unknown as RestartPolicyConfig, /unknown kind "sometimes"/],
  ];
  it.each(bad)('rejects %j', (cfg, msg) => {
    expect(configError(() => createRestartPolicy(cfg)).message).toMatch(msg);
  });
});
