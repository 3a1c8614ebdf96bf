// Restart policies (fixedDelay, exponentialDelay, failureRate, none): pure decisions "restart after d ms" or "fail".
import { EddyError } from '../../src/errors.ts';
import { nextRandom } from '../../src/time/random.ts';

/** Restart at most `maxAttempts` times in total, each after `delayMs`; the next failure fails. */
export interface FixedDelayConfig {
  kind: 'fixedDelay';
  delayMs: number;
  maxAttempts: number;
}
/**
 * Restart every time, after a delay that starts at `initialMs` and is multiplied by `multiplier`
 * per consecutive failure, capped at `maxMs`, spread by +/- `jitter` (a fraction, 0..1) of itself.
 * After `resetAfterMs` without a failure (counted from the moment the last restart happened) the
 * delay starts again at `initialMs`.
 */
export interface ExponentialDelayConfig {
  kind: 'exponentialDelay';
  initialMs: number;
  maxMs: number;
  multiplier: number;
  jitter: number;
  resetAfterMs: number;
}
/** Restart after `delayMs` unless more than `maxFailures` failures fall within `intervalMs`; then fail. */
export interface FailureRateConfig {
  kind: 'failureRate';
  maxFailures: number;
  intervalMs: number;
  delayMs: number;
}
/** Never restart: the first failure fails. */
export interface NoRestartConfig {
  kind: 'none';
}

export type RestartPolicyConfig = FixedDelayConfig | ExponentialDelayConfig | FailureRateConfig | NoRestartConfig;

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

/** The default policy: exponential backoff 1 s -> 60 s, doubling, 10% jitter, reset after 1 h quiet. */
export const DEFAULT_RESTART_POLICY: ExponentialDelayConfig = {
  kind: 'exponentialDelay',
  initialMs: 1_000,
  maxMs: 60_000,
  multiplier: 2,
  jitter: 0.1,
  resetAfterMs: 3_600_000,
};

function fail(message: string): never {
  throw new EddyError('EDDY_CONFIG', `restart policy: ${message}`);
}
function checkNumber(kind: string, name: string, v: unknown, opts: { min: number; max?: number; integer?: boolean; infinite?: boolean }): void {
  if (typeof v !== 'number' || Number.isNaN(v)) fail(`${kind}.${name} must be a number, got ${String(v)}`);
  if (!Number.isFinite(v) && !(opts.infinite && v === Number.POSITIVE_INFINITY)) fail(`${kind}.${name} must be finite, got ${v}`);
  if (opts.integer && Number.isFinite(v) && !Number.isInteger(v)) fail(`${kind}.${name} must be an integer, got ${v}`);
  if (v < opts.min) fail(`${kind}.${name} must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) fail(`${kind}.${name} must be <= ${opts.max}, got ${v}`);
}

/**
 * Checks a policy config, throwing `EddyError('EDDY_CONFIG')` that names the bad field.
 *
 * @example
 * ```ts
 * validateRestartPolicyConfig({ kind: 'fixedDelay', delayMs: -1, maxAttempts: 3 });
 * // throws EddyError: "EDDY_CONFIG: restart policy: fixedDelay.delayMs must be >= 0, got -1"
 * ```
 */
export function validateRestartPolicyConfig(config: RestartPolicyConfig): void {
  if (config === null || typeof config !== 'object') fail(`config must be an object, got ${String(config)}`);
  switch (config.kind) {
    case 'fixedDelay':
      checkNumber('fixedDelay', 'delayMs', config.delayMs, { min: 0 });
      checkNumber('fixedDelay', 'maxAttempts', config.maxAttempts, { min: 0, integer: true, infinite: true });
      return;
    case 'exponentialDelay':
      checkNumber('exponentialDelay', 'initialMs', config.initialMs, { min: 0 });
      checkNumber('exponentialDelay', 'maxMs', config.maxMs, { min: 0 });
      if (config.maxMs < config.initialMs) fail(`exponentialDelay.maxMs (${config.maxMs}) must be >= initialMs (${config.initialMs})`);
      checkNumber('exponentialDelay', 'multiplier', config.multiplier, { min: 1 });
      checkNumber('exponentialDelay', 'jitter', config.jitter, { min: 0, max: 1 });
      checkNumber('exponentialDelay', 'resetAfterMs', config.resetAfterMs, { min: 0, infinite: true });
      return;
    case 'failureRate':
      checkNumber('failureRate', 'maxFailures', config.maxFailures, { min: 0, integer: true });
      checkNumber('failureRate', 'intervalMs', config.intervalMs, { min: 1 });
      checkNumber('failureRate', 'delayMs', config.delayMs, { min: 0 });
      return;
    case 'none':
      return;
    default:
      fail(`unknown kind ${JSON.stringify((config as { kind?: unknown }).kind)}; expected fixedDelay, exponentialDelay, failureRate or none`);
  }
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
      fail(`cannot restore a ${String((s as { kind?: unknown } | null)?.kind)} snapshot into a ${cfg.kind} policy`);
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
