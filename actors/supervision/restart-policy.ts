// Restart policies (fixedDelay, exponentialDelay, failureRate, none): pure decisions "restart after d ms" or "fail".
import {
  DEFAULT_RESTART_POLICY,
  validateRestartPolicyConfig,
  type ExponentialDelayConfig,
  type FailureRateConfig,
  type FixedDelayConfig,
  type NoRestartConfig,
  type RestartPolicyConfig,
} from '../../src/api/fault-tolerance.ts';
import { EddyError } from '../../src/errors.ts';
import { nextRandom } from '../../src/time/random.ts';
export { DEFAULT_RESTART_POLICY, validateRestartPolicyConfig };
export type { ExponentialDelayConfig, FailureRateConfig, FixedDelayConfig, NoRestartConfig, RestartPolicyConfig };

/** What to do about one failure. */
export type RestartDecision = { action: 'restart'; delayMs: number } | { action: 'fail'; reason: string };

/** The state of a policy as plain data (JSON- and msgpack-safe), to snapshot and restore. */
export type RestartPolicySnapshot =
  | { kind: 'fixedDelay'; attempts: number; failed: boolean; lastNow: number | null }
  | {
      kind: 'exponentialDelay';
      attempts: number;
      currentBaseMs: number;
      /** When the last restart happens: last failure time + its delay. */
      lastRestartAt: number | null;
      rngState: number;
      failed: boolean;
      lastNow: number | null;
    }
  | { kind: 'failureRate'; failureTimes: number[]; failed: boolean; lastNow: number | null }
  | { kind: 'none'; failed: boolean; lastNow: number | null };

/** A restart policy instance: stateful, but every input (time, randomness seed) is given to it. */
export interface RestartPolicy {
  readonly config: Readonly<RestartPolicyConfig>;
  /** Records a failure at time `now` (ms) and says whether to restart, after how long, or to fail. */
  onFailure(now: number): RestartDecision;
  /** The state as plain data. */
  snapshot(): RestartPolicySnapshot;
  /** Replaces the state with `snapshot` (taken from a policy of the same kind). */
  restore(snapshot: RestartPolicySnapshot): void;
}

function initialSnapshot(config: RestartPolicyConfig, seed: number): RestartPolicySnapshot {
  switch (config.kind) {
    case 'fixedDelay':
      return { kind: 'fixedDelay', attempts: 0, failed: false, lastNow: null };
    case 'exponentialDelay':
      return {
        kind: 'exponentialDelay',
        attempts: 0,
        currentBaseMs: config.initialMs,
        lastRestartAt: null,
        rngState: (Number.isFinite(seed) ? Math.trunc(seed) : 0) >>> 0,
        failed: false,
        lastNow: null,
      };
    case 'failureRate':
      return { kind: 'failureRate', failureTimes: [], failed: false, lastNow: null };
    case 'none':
      return { kind: 'none', failed: false, lastNow: null };
  }
}

function copy(s: RestartPolicySnapshot): RestartPolicySnapshot {
  return s.kind === 'failureRate' ? { ...s, failureTimes: [...s.failureTimes] } : { ...s };
}

/**
 * Creates a restart policy. The config is validated (`EDDY_CONFIG` on a bad field). Jitter draws
 * from a mulberry32 PRNG seeded with `options.seed` (default 0) whose state is part of the snapshot,
 * so a restored policy continues the same sequence. `options.state` starts from a snapshot.
 *
 * Semantics: a decision to fail is sticky (every later failure fails too). Time is taken as
 * non-decreasing: a `now` earlier than one already seen counts as that later time.
 *
 * @example
 * ```ts
 * const p = createRestartPolicy({ kind: 'fixedDelay', delayMs: 500, maxAttempts: 2 });
 * p.onFailure(0);    // { action: 'restart', delayMs: 500 }
 * p.onFailure(1000); // { action: 'restart', delayMs: 500 }
 * p.onFailure(2000); // { action: 'fail', reason: 'fixedDelay: 2 restart attempts exhausted (maxAttempts 2)' }
 * ```
 */
export function createRestartPolicy(
  config: RestartPolicyConfig = DEFAULT_RESTART_POLICY,
  options: { seed?: number; state?: RestartPolicySnapshot } = {},
): RestartPolicy {
  validateRestartPolicyConfig(config);
  const cfg = Object.freeze({ ...config }) as Readonly<RestartPolicyConfig>;
  let state = initialSnapshot(cfg, options.seed ?? 0);

  const restore = (s: RestartPolicySnapshot): void => {
    if (s === null || typeof s !== 'object' || s.kind !== cfg.kind) {
      throw new EddyError('EDDY_CONFIG', `restart policy: cannot restore a ${String((s as { kind?: unknown } | null)?.kind)} snapshot into a ${cfg.kind} policy`);
    }
    state = copy(s);
  };
  if (options.state !== undefined) restore(options.state);

  const onFailure = (rawNow: number): RestartDecision => {
    if (typeof rawNow !== 'number' || !Number.isFinite(rawNow)) {
      throw new EddyError('EDDY_INVALID_ARGUMENT', `restart policy: now must be a finite number, got ${String(rawNow)}`);
    }
    const now = state.lastNow === null ? rawNow : Math.max(rawNow, state.lastNow);
    state.lastNow = now;
    if (state.failed) return { action: 'fail', reason: `${cfg.kind}: the policy has already given up` };

    if (cfg.kind === 'none' && state.kind === 'none') {
      state.failed = true;
      return { action: 'fail', reason: 'none: restarts are disabled' };
    }
    if (cfg.kind === 'fixedDelay' && state.kind === 'fixedDelay') {
      if (state.attempts >= cfg.maxAttempts) {
        state.failed = true;
        return { action: 'fail', reason: `fixedDelay: ${state.attempts} restart attempts exhausted (maxAttempts ${cfg.maxAttempts})` };
      }
      state.attempts++;
      return { action: 'restart', delayMs: cfg.delayMs };
    }
    if (cfg.kind === 'failureRate' && state.kind === 'failureRate') {
      // A failure at t is "within intervalMs" of now when now - t < intervalMs.
      const recent = state.failureTimes.filter((t) => now - t < cfg.intervalMs);
      recent.push(now);
      // Only the last maxFailures + 1 timestamps can ever matter.
      state.failureTimes = recent.slice(-(cfg.maxFailures + 1));
      if (recent.length > cfg.maxFailures) {
        state.failed = true;
        return {
          action: 'fail',
          reason: `failureRate: ${recent.length} failures within ${cfg.intervalMs} ms exceed maxFailures ${cfg.maxFailures}`,
        };
      }
      return { action: 'restart', delayMs: cfg.delayMs };
    }
    if (cfg.kind === 'exponentialDelay' && state.kind === 'exponentialDelay') {
      if (state.lastRestartAt !== null && now - state.lastRestartAt >= cfg.resetAfterMs) {
        state.attempts = 0;
        state.currentBaseMs = cfg.initialMs;
      }
      const base = state.attempts === 0 ? cfg.initialMs : Math.min(cfg.maxMs, state.currentBaseMs * cfg.multiplier);
      const [r, rngState] = nextRandom(state.rngState);
      state.rngState = rngState;
      const jittered = base * (1 + cfg.jitter * (2 * r - 1));
      const delayMs = Math.min(cfg.maxMs, Math.max(0, Math.round(jittered)));
      state.attempts++;
      state.currentBaseMs = base;
      state.lastRestartAt = now + delayMs;
      return { action: 'restart', delayMs };
    }
    throw new EddyError('EDDY_INTERNAL', `restart policy: state ${state.kind} does not match config ${cfg.kind}`);
  };

  return {
    config: cfg,
    onFailure,
    snapshot: () => copy(state),
    restore,
  };
}
