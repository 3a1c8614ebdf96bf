// Job configuration: what StreamEnvironment.create accepts, its defaults, and its validation (EDDY_CONFIG).
import { EddyError } from '../errors.ts';
import { validateRecordFailurePolicy, type RecordFailurePolicy } from '../functions/record-failure-policy.ts';
import { DEFAULT_STATE_BACKEND, isStateBackendName, STATE_BACKEND_NAMES, type StateBackendName } from '../state/state-backends.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { redactNatsUrl } from '../transport/nats-url.ts';
import {
  resolveCheckpointing,
  resolveSupervision,
  validateRestartPolicyConfig,
  DEFAULT_RESTART_POLICY,
  type CheckpointingConfig,
  type CheckpointingOptions,
  type RestartPolicyConfig,
  type SupervisionOptions,
} from './fault-tolerance.ts';

/** Where a job's state starts: empty, a savepoint directory, or the latest checkpoint of the same job name (`--resume`). */
export type RestoreConfig = { savepoint: string } | { latest: true };

/** Options of `StreamEnvironment.create`. Every field is optional. */
export interface StreamEnvironmentConfig {
  /** Default parallelism of every operator (default: `EDDY_PARALLELISM` or 1). */
  parallelism?: number;
  /** Number of key groups: the upper bound of any parallelism, fixed for the life of keyed state (default 128). */
  maxParallelism?: number;
  /**
   * URL of an existing NATS server (default: `NATS_URL`; unset: eddy starts a private nats-server
   * that admits only this process, with a password made for the run). Credentials go into the URL:
   * `nats://user:pass@host:port` or `nats://token@host:port`.
   */
  nats?: string;
  /** Where eddy keeps state and the embedded server's store (default: `EDDY_STATE_DIR` or `.eddy`). */
  stateDir?: string;
  /** Network tuning: records per frame, flush interval, credits per channel. */
  network?: { batchSize?: number; flushIntervalMs?: number; credits?: number };
  /** How long to wait for a NATS server to answer (default 5000 ms). */
  connectTimeoutMs?: number;
  /** A job fails when its NATS connection stays lost this long (default 10 000 ms). */
  connectionLossTimeoutMs?: number;
  /** How often watermark generators emit, in ms of processing time (default 200, Flink's). */
  autoWatermarkIntervalMs?: number;
  /**
   * Where keyed state lives: 'heap' (default, fastest) or 'level' (LevelDB under `stateDir`, for
   * state larger than memory; reads are synchronous through a write cache).
   */
  stateBackend?: StateBackendName;
  /** Processing-time clock (default: the system clock). */
  clock?: Clock;
  /**
   * Exactly-once checkpoints every `intervalMs` (a number is the interval). Checkpoints live under
   * `<stateDir>/checkpoints/<jobName>`. Default: off.
   */
  checkpointing?: CheckpointingConfig;
  /** How failed regions restart (default: exponentialDelay with checkpointing, 'none' without). */
  restartPolicy?: RestartPolicyConfig;
  /** How the job master supervises its regions (default one-for-one, at most 10 restarts in 60 s). */
  supervision?: Partial<SupervisionOptions>;
  /** Start from a savepoint or from the latest checkpoint (default: `EDDY_FROM_SAVEPOINT` / `EDDY_RESUME`, else empty state). */
  restore?: RestoreConfig;
  /** Restore even when the savepoint holds state of an operator the job no longer has (it is dropped). Default false. */
  allowNonRestoredState?: boolean;
  /**
   * What operators do with a record they cannot process (a user function or key selector throws, a
   * message does not decode): `'fail'` (default for bounded jobs) or dead letters (default for jobs
   * with an unbounded source: `eddy.dlq.<job>`). Operators override it with `onRecordFailure`.
   */
  recordFailures?: RecordFailurePolicy;
  /**
   * Enables test-only control hooks: the job master then kills task actors on request over NATS
   * (`killTask` of `eddy/testing`, for chaos tests). Default false: the job does not even subscribe
   * to that subject, so nothing on the NATS server can kill its tasks.
   */
  testHooks?: boolean;
  /**
   * Where the job's tasks run. Unset or 0 (default: `EDDY_WORKERS`, else 0): in this process. A
   * number N: on N `eddy worker` processes that eddy starts on this machine for the job (and
   * stops after it). `'existing'`: on the workers already registered on the NATS server (started
   * with `eddy worker`, on any machine). With workers, checkpoints go to JetStream.
   */
  workers?: number | 'existing';
  /** A worker that sends no heartbeat for this long is lost: its tasks restart elsewhere (default 3000 ms). */
  workerHeartbeatTimeoutMs?: number;
  /**
   * Run as one of several job masters of this job (default: `EDDY_STANDBY=1`, else false; needs
   * workers and a shared `nats` server). The master that holds the job's lease (JetStream KV)
   * runs it; the others wait, and one takes over from the latest checkpoint when the active
   * master stops renewing the lease for `workerHeartbeatTimeoutMs`. A standby that watched the
   * job end returns its result.
   */
  standby?: boolean;
}

export interface ResolvedConfig {
  parallelism: number;
  maxParallelism: number;
  nats: string | undefined;
  stateDir: string;
  network: { batchSize: number; flushIntervalMs: number; credits: number };
  connectTimeoutMs: number;
  connectionLossTimeoutMs: number;
  autoWatermarkIntervalMs: number;
  stateBackend: StateBackendName;
  clock: Clock;
  checkpointing: CheckpointingOptions | undefined;
  restartPolicy: RestartPolicyConfig;
  supervision: SupervisionOptions;
  restore: RestoreConfig | undefined;
  allowNonRestoredState: boolean;
  /** The job's policy as given (resolved per operator at deployment, where boundedness is known). */
  recordFailures: RecordFailurePolicy | undefined;
  testHooks: boolean;
  /** 0: tasks run in this process. */
  workers: number | 'existing';
  workerHeartbeatTimeoutMs: number;
  standby: boolean;
}

const KNOWN = new Set(['standby', 'workers', 'workerHeartbeatTimeoutMs', 'parallelism', 'maxParallelism', 'nats', 'stateDir', 'network', 'connectTimeoutMs', 'connectionLossTimeoutMs', 'autoWatermarkIntervalMs', 'stateBackend', 'clock', 'checkpointing', 'restartPolicy', 'supervision', 'restore', 'allowNonRestoredState', 'recordFailures', 'testHooks']);

/** `'a' or 'b'`, `'a', 'b' or 'c'`. */
function oneOf(names: readonly string[]): string {
  const quoted = names.map((n) => `'${n}'`);
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

function configError(msg: string): EddyError {
  return new EddyError('EDDY_CONFIG', msg);
}

function positiveInt(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw configError(`${what} must be an integer from 1 to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw configError(`environment variable ${name} must be an integer, got "${v}"`);
  return n;
}

/**
 * Validates a config and fills in defaults (environment variables set by `eddy run` come second, built-in defaults last).
 *
 * @example
 * ```ts
 * resolveConfig({ parallelism: 2 }).maxParallelism; // 128
 * resolveConfig({ parallelism: 0 }); // throws EDDY_CONFIG
 * ```
 */
export function resolveConfig(c: StreamEnvironmentConfig = {}): ResolvedConfig {
  if (c === null || typeof c !== 'object') throw configError(`the config must be an object, got ${c === null ? 'null' : typeof c}`);
  for (const k of Object.keys(c)) if (!KNOWN.has(k)) throw configError(`unknown config option "${k}"; known options: ${[...KNOWN].join(', ')}`);
  const parallelism = positiveInt(c.parallelism ?? envInt('EDDY_PARALLELISM') ?? 1, 'parallelism', 32768);
  const maxParallelism = positiveInt(c.maxParallelism ?? Math.max(128, parallelism), 'maxParallelism', 32768);
  if (maxParallelism < parallelism) throw configError(`maxParallelism (${maxParallelism}) must be at least parallelism (${parallelism})`);
  const natsRaw = c.nats ?? (process.env['NATS_URL'] || undefined);
  if (natsRaw !== undefined && (typeof natsRaw !== 'string' || !/^(nats|tls|ws|wss):\/\/|^[^:/]+:\d+$/.test(natsRaw)))
    throw configError(`nats must be a URL such as nats://127.0.0.1:4222, got ${JSON.stringify(typeof natsRaw === 'string' ? redactNatsUrl(natsRaw) : natsRaw)}`);
  const stateDir = c.stateDir ?? (process.env['EDDY_STATE_DIR'] || '.eddy');
  if (typeof stateDir !== 'string' || stateDir.length === 0) throw configError(`stateDir must be a non-empty path, got ${JSON.stringify(stateDir)}`);
  const n = c.network ?? {};
  if (typeof n !== 'object') throw configError('network must be an object');
  const network = {
    batchSize: positiveInt(n.batchSize ?? 1000, 'network.batchSize', 1_000_000),
    flushIntervalMs: positiveInt(n.flushIntervalMs ?? 10, 'network.flushIntervalMs', 60_000),
    credits: positiveInt(n.credits ?? 8, 'network.credits', 1024),
  };
  const connectTimeoutMs = positiveInt(c.connectTimeoutMs ?? 5000, 'connectTimeoutMs', 600_000);
  const connectionLossTimeoutMs = positiveInt(c.connectionLossTimeoutMs ?? 10_000, 'connectionLossTimeoutMs', 3_600_000);
  const autoWatermarkIntervalMs = positiveInt(c.autoWatermarkIntervalMs ?? 200, 'autoWatermarkIntervalMs', 3_600_000);
  const stateBackend = c.stateBackend ?? DEFAULT_STATE_BACKEND;
  if (!isStateBackendName(stateBackend)) throw configError(`stateBackend must be ${oneOf(STATE_BACKEND_NAMES)}, got ${JSON.stringify(stateBackend)}`);
  const clock = c.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.schedule !== 'function') throw configError('clock must implement Clock (now, schedule, sleep, monotonic)');
  const checkpointing = resolveCheckpointing(c.checkpointing);
  // Flink's rule: without checkpoints a restart would replay from the start and duplicate output, so the default is not to restart.
  const restartPolicy = c.restartPolicy ?? (checkpointing === undefined ? { kind: 'none' as const } : DEFAULT_RESTART_POLICY);
  validateRestartPolicyConfig(restartPolicy);
  const supervision = resolveSupervision(c.supervision);
  let restore = c.restore;
  if (restore === undefined) {
    const sp = process.env['EDDY_FROM_SAVEPOINT'];
    if (sp) restore = { savepoint: sp };
    else if (process.env['EDDY_RESUME'] === '1') restore = { latest: true };
  }
  if (restore !== undefined) {
    const ok = restore !== null && typeof restore === 'object' && (('savepoint' in restore && typeof restore.savepoint === 'string' && restore.savepoint !== '') || ('latest' in restore && restore.latest === true));
    if (!ok) throw configError(`restore must be { savepoint: '<path>' } or { latest: true }, got ${JSON.stringify(restore)}`);
  }
  const allowNonRestoredState = c.allowNonRestoredState ?? process.env['EDDY_ALLOW_NON_RESTORED_STATE'] === '1';
  if (typeof allowNonRestoredState !== 'boolean') throw configError('allowNonRestoredState must be true or false');
  const recordFailures = c.recordFailures === undefined ? undefined : validateRecordFailurePolicy(c.recordFailures, 'recordFailures');
  const testHooks = c.testHooks ?? false;
  if (typeof testHooks !== 'boolean') throw configError(`testHooks must be true or false, got ${JSON.stringify(testHooks)}`);
  const workersRaw = c.workers ?? (process.env['EDDY_WORKERS'] === 'existing' ? 'existing' : envInt('EDDY_WORKERS') ?? 0);
  if (workersRaw !== 'existing' && (typeof workersRaw !== 'number' || !Number.isInteger(workersRaw) || workersRaw < 0 || workersRaw > 256))
    throw configError(`workers must be an integer from 0 to 256 or 'existing', got ${JSON.stringify(workersRaw)}`);
  const workerHeartbeatTimeoutMs = positiveInt(c.workerHeartbeatTimeoutMs ?? 3000, 'workerHeartbeatTimeoutMs', 3_600_000);
  // Tasks on other processes reach checkpoints only through JetStream.
  const onWorkers = workersRaw !== 0;
  if (onWorkers && typeof c.checkpointing === 'object' && c.checkpointing !== null && (c.checkpointing as { storage?: unknown }).storage === 'local')
    throw configError("checkpointing.storage 'local' cannot serve tasks on worker processes (each would see only its own disk): use 'jetstream' (the default with workers)");
  const standby = c.standby ?? process.env['EDDY_STANDBY'] === '1';
  if (typeof standby !== 'boolean') throw configError(`standby must be true or false, got ${JSON.stringify(standby)}`);
  if (standby && !onWorkers) throw configError('standby needs the job on workers (workers: N or \'existing\', --workers): a standby master takes over tasks that run on worker processes');
  if (standby && natsRaw === undefined)
    throw configError('standby needs a NATS server that the active master and its standbys share (nats, NATS_URL or --nats): each embedded default server is private to one process');
  if (standby && restore !== undefined && 'savepoint' in restore)
    throw configError('standby cannot start from a savepoint: a standby continues the job from its latest checkpoint; start the active master with the savepoint instead');
  const checkpointingOnWorkers = onWorkers && checkpointing !== undefined ? { ...checkpointing, storage: 'jetstream' as const } : checkpointing;
  return {
    workers: workersRaw,
    workerHeartbeatTimeoutMs,
    standby,
    parallelism,
    maxParallelism,
    nats: natsRaw,
    stateDir,
    network,
    connectTimeoutMs,
    connectionLossTimeoutMs,
    autoWatermarkIntervalMs,
    stateBackend,
    clock,
    checkpointing: checkpointingOnWorkers,
    restartPolicy,
    supervision,
    restore,
    allowNonRestoredState,
    recordFailures,
    testHooks,
  };
}
