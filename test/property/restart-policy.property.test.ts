// Restart policies and supervisor intensity against random failure sequences, checked with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRestartPolicy, type ExponentialDelayConfig } from '../../actors/supervision/restart-policy.ts';
import { initialSupervisorState, superviseFailure, type SupervisorConfig } from '../../actors/supervision/supervisor.machine.ts';

/** Non-decreasing failure times from random gaps (small gaps against small windows hit the window edges often). */
const times = (maxGap: number, maxLength = 60) =>
  fc.array(fc.nat(maxGap), { minLength: 1, maxLength }).map((gaps) => {
    let t = 0;
    return gaps.map((g) => (t += g));
  });

const expConfig: fc.Arbitrary<ExponentialDelayConfig> = fc
  .record({
    initialMs: fc.integer({ min: 0, max: 5_000 }),
    extra: fc.integer({ min: 0, max: 100_000 }),
    multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    resetAfterMs: fc.integer({ min: 0, max: 50_000 }),
  })
  .map(({ initialMs, extra, multiplier, jitter, resetAfterMs }) => ({
    kind: 'exponentialDelay' as const,
    initialMs,
    maxMs: initialMs + extra,
    multiplier,
    jitter,
    resetAfterMs,
  }));

describe('exponentialDelay', () => {
  it('always restarts, with an integer delay in [0, maxMs]', () => {
    fc.assert(
      fc.property(expConfig, fc.integer(), times(200_000), (cfg, seed, ts) => {
        const p = createRestartPolicy(cfg, { seed });
        for (const t of ts) {
          const d = p.onFailure(t);
          expect(d.action).toBe('restart');
          if (d.action !== 'restart') return;
          expect(Number.isInteger(d.delayMs)).toBe(true);
          expect(d.delayMs).toBeGreaterThanOrEqual(0);
          expect(d.delayMs).toBeLessThanOrEqual(cfg.maxMs);
        }
      }),
    );
  });

  it('without jitter, delays are non-decreasing until a quiet period of resetAfterMs, which resets to initialMs', () => {
    fc.assert(
      fc.property(expConfig, times(100_000), (c, ts) => {
        const cfg = { ...c, jitter: 0 };
        const p = createRestartPolicy(cfg);
        let prev: number | null = null;
        let restartAt: number | null = null;
        for (const t of ts) {
          const d = p.onFailure(t);
          if (d.action !== 'restart') throw new Error('must restart');
          const quiet = restartAt !== null && t - restartAt >= cfg.resetAfterMs;
          if (prev === null || quiet) expect(d.delayMs).toBe(Math.min(cfg.maxMs, Math.round(cfg.initialMs)));
          else expect(d.delayMs).toBeGreaterThanOrEqual(prev);
          prev = d.delayMs;
          restartAt = t + d.delayMs;
        }
      }),
    );
  });

  it('with jitter, after a quiet period the delay is back within initialMs +/- jitter', () => {
    fc.assert(
      fc.property(expConfig, fc.integer(), fc.integer({ min: 1, max: 30 }), (cfg, seed, n) => {
        const p = createRestartPolicy(cfg, { seed });
        let t = 0;
        let restartAt = 0;
        for (let i = 0; i < n; i++) {
          const d = p.onFailure(t);
          if (d.action !== 'restart') throw new Error('must restart');
          restartAt = t + d.delayMs;
          t = restartAt; // fail right after each restart: backoff grows
        }
        const d = p.onFailure(restartAt + cfg.resetAfterMs);
        if (d.action !== 'restart') throw new Error('must restart');
        expect(d.delayMs).toBeGreaterThanOrEqual(Math.floor(cfg.initialMs * (1 - cfg.jitter)));
        expect(d.delayMs).toBeLessThanOrEqual(Math.min(cfg.maxMs, Math.ceil(cfg.initialMs * (1 + cfg.jitter))));
      }),
    );
  });

  it('a snapshot taken anywhere, restored into a fresh policy, continues identically', () => {
    fc.assert(
      fc.property(expConfig, fc.integer(), times(10_000, 40), fc.nat(40), (cfg, seed, ts, cut) => {
        const a = createRestartPolicy(cfg, { seed });
        const k = Math.min(cut, ts.length);
        ts.slice(0, k).forEach((t) => a.onFailure(t));
        const b = createRestartPolicy(cfg, { state: JSON.parse(JSON.stringify(a.snapshot())) });
        for (const t of ts.slice(k)) expect(b.onFailure(t)).toEqual(a.onFailure(t));
      }),
    );
  });
});

describe('failureRate', () => {
  it('fails exactly at the first failure that makes more than maxFailures within intervalMs (then stays failed)', () => {
    fc.assert(
      fc.property(fc.nat(6), fc.integer({ min: 1, max: 50 }), times(30, 40), (maxFailures, intervalMs, ts) => {
        const p = createRestartPolicy({ kind: 'failureRate', maxFailures, intervalMs, delayMs: 7 });
        let failed = false;
        ts.forEach((t, i) => {
          // Oracle: count failures (including this one) in (t - intervalMs, t].
          const inWindow = ts.slice(0, i + 1).filter((u) => t - u < intervalMs).length;
          const shouldFail = failed || inWindow > maxFailures;
          const d = p.onFailure(t);
          expect(d.action).toBe(shouldFail ? 'fail' : 'restart');
          if (d.action === 'restart') expect(d.delayMs).toBe(7);
          failed = shouldFail;
        });
      }),
    );
  });
});

describe('fixedDelay', () => {
  it('restarts exactly maxAttempts times, then fails for good, whatever the timing', () => {
    fc.assert(
      fc.property(fc.nat(20), fc.nat(10_000), times(1_000_000, 40), (maxAttempts, delayMs, ts) => {
        const p = createRestartPolicy({ kind: 'fixedDelay', delayMs, maxAttempts });
        ts.forEach((t, i) => {
          const d = p.onFailure(t);
          if (i < maxAttempts) expect(d).toEqual({ action: 'restart', delayMs });
          else expect(d.action).toBe('fail');
        });
      }),
    );
  });
});

describe('supervisor intensity', () => {
  it('escalates exactly at the first failure that would make more than maxRestarts restarts within withinMs', () => {
    const strategy = fc.constantFrom('one-for-one' as const, 'one-for-all' as const, 'rest-for-one' as const);
    fc.assert(
      fc.property(strategy, fc.nat(5), fc.integer({ min: 1, max: 50 }), times(30, 40), fc.array(fc.nat(3), { minLength: 40, maxLength: 40 }), (strat, maxRestarts, withinMs, ts, who) => {
        const children = ['a', 'b', 'c', 'd'];
        const cfg: SupervisorConfig = { children, strategy: strat, intensity: { maxRestarts, withinMs } };
        let state = initialSupervisorState(cfg);
        const restarts: number[] = [];
        let escalated = false;
        ts.forEach((t, i) => {
          const child = children[who[i] ?? 0] ?? 'a';
          const r = superviseFailure(cfg, state, { type: 'CHILD_FAILED', child, cause: i, now: t });
          state = r.state;
          if (escalated) {
            expect(r.decision.type).toBe('IGNORE');
            return;
          }
          const inWindow = restarts.filter((u) => t - u < withinMs).length;
          if (inWindow + 1 > maxRestarts) {
            expect(r.decision).toMatchObject({ type: 'ESCALATE', child, cause: i });
            escalated = true;
          } else {
            expect(r.decision.type).toBe('RESTART');
            if (r.decision.type !== 'RESTART') return;
            expect(r.decision.restart).toContain(child);
            expect([...r.decision.stop].reverse()).toEqual(r.decision.restart);
            const idx = children.indexOf(child);
            const expected = strat === 'one-for-one' ? [child] : strat === 'one-for-all' ? children : children.slice(idx);
            expect(r.decision.restart).toEqual(expected);
            restarts.push(t);
          }
        });
      }),
    );
  });
});
