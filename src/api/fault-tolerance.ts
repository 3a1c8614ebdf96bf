// Fault-tolerance options as plain data: restart policies, supervision, checkpointing (validated here, run by actors/).
import { EddyError } from '../errors.ts';

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


/**
 * OTP strategies for the job master's children (the pipelined regions). `one-for-one`: restart
 * only the failed region. `one-for-all`: restart every region. `rest-for-one`: the failed region
 * and every region started after it. Tasks within a region always restart together: a region is
 * the unit of a consistent restore.
 */
export type SupervisionStrategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

/** Restart intensity: at most `maxRestarts` restarts within `withinMs`; one more escalates. */
export interface RestartIntensity {
  maxRestarts: number;
  withinMs: number;
}

/** How the job master supervises its regions. */
export interface SupervisionOptions {
  strategy: SupervisionStrategy;
  intensity: RestartIntensity;
}

export const DEFAULT_SUPERVISION: SupervisionOptions = { strategy: 'one-for-one', intensity: { maxRestarts: 10, withinMs: 60_000 } };

/** Checkpointing of a job (Flink's CheckpointConfig). */
export interface CheckpointingOptions {
  /** Time between the starts of two checkpoints, ms. */
  intervalMs: number;
  /** A checkpoint not complete after this long is aborted (default 60 000). */
  timeoutMs: number;
  /** Least time from the end of one checkpoint to the start of the next (default 0). */
  minPauseMs: number;
  /** Checkpoints in flight at once (default 1). */
  maxConcurrent: number;
  /** Completed checkpoints kept (default 3). */
  retained: number;
  /** Incremental chunks per chain before a task writes a full snapshot again (default 8). */
  compactEvery: number;
  /**
   * Consecutive checkpoints that may time out or be declined before the job's regions restart
   * (default 3): a pipeline that stopped moving (a lost message) then recovers instead of hanging.
   */
  tolerableFailures: number;
  /**
   * Where checkpoints are stored: `'local'` (default: LevelDB under `<stateDir>/checkpoints/<job>`)
   * or `'jetstream'` (a KV bucket and an object store on the job's NATS server, which every process
   * connected to it can reach; `<stateDir>` is then only for keyed state and the embedded server).
   */
  storage: 'local' | 'jetstream';
}

/** What `checkpointing` accepts: a number is the interval. */
export type CheckpointingConfig = number | ({ intervalMs: number } & Partial<Omit<CheckpointingOptions, 'intervalMs'>>);

function checkpointStorageKind(v: unknown): 'local' | 'jetstream' {
  if (v === undefined) return 'local';
  if (v !== 'local' && v !== 'jetstream') throw new EddyError('EDDY_CONFIG', `checkpointing.storage must be 'local' or 'jetstream', got ${JSON.stringify(v)}`);
  return v;
}

function positive(v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new EddyError('EDDY_CONFIG', `${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Validates `checkpointing` and fills in defaults.
 *
 * @example
 * ```ts
 * resolveCheckpointing(1000).retained; // 3
 * resolveCheckpointing({ intervalMs: 0 }); // throws EDDY_CONFIG
 * ```
 */
export function resolveCheckpointing(c: CheckpointingConfig | undefined): CheckpointingOptions | undefined {
  if (c === undefined) return undefined;
  const o = typeof c === 'number' ? { intervalMs: c } : c;
  if (o === null || typeof o !== 'object') throw new EddyError('EDDY_CONFIG', `checkpointing must be an interval in ms or { intervalMs, ... }, got ${JSON.stringify(c)}`);
  const known = new Set(['intervalMs', 'timeoutMs', 'minPauseMs', 'maxConcurrent', 'retained', 'compactEvery', 'tolerableFailures', 'storage']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new EddyError('EDDY_CONFIG', `unknown checkpointing option "${k}"; known: ${[...known].join(', ')}`);
  return {
    intervalMs: positive(o.intervalMs, 'checkpointing.intervalMs', 1),
    timeoutMs: positive(o.timeoutMs ?? 60_000, 'checkpointing.timeoutMs', 1),
    minPauseMs: positive(o.minPauseMs ?? 0, 'checkpointing.minPauseMs', 0),
    maxConcurrent: positive(o.maxConcurrent ?? 1, 'checkpointing.maxConcurrent', 1),
    retained: positive(o.retained ?? 3, 'checkpointing.retained', 1),
    compactEvery: positive(o.compactEvery ?? 8, 'checkpointing.compactEvery', 1),
    tolerableFailures: positive(o.tolerableFailures ?? 3, 'checkpointing.tolerableFailures', 0),
    storage: checkpointStorageKind(o.storage),
  };
}

/** Validates `supervision` and fills in defaults. */
export function resolveSupervision(s: Partial<SupervisionOptions> | undefined): SupervisionOptions {
  if (s === undefined) return DEFAULT_SUPERVISION;
  if (s === null || typeof s !== 'object') throw new EddyError('EDDY_CONFIG', 'supervision must be an object { strategy, intensity }');
  const strategy = s.strategy ?? DEFAULT_SUPERVISION.strategy;
  if (strategy !== 'one-for-one' && strategy !== 'one-for-all' && strategy !== 'rest-for-one')
    throw new EddyError('EDDY_CONFIG', `supervision.strategy must be 'one-for-one', 'one-for-all' or 'rest-for-one', got ${JSON.stringify(strategy)}`);
  const i = s.intensity ?? DEFAULT_SUPERVISION.intensity;
  return {
    strategy,
    intensity: { maxRestarts: positive(i.maxRestarts, 'supervision.intensity.maxRestarts', 0), withinMs: positive(i.withinMs, 'supervision.intensity.withinMs', 1) },
  };
}
