// State time-to-live configuration (Flink's StateTtlConfig): when keyed state expires, who sees it, how it is cleaned up.
import { EddyError } from '../errors.ts';

/**
 * When a value's last-access timestamp is (re)set (Flink's `StateTtlConfig.UpdateType`).
 * `Disabled` turns TTL off; `OnCreateAndWrite` sets it on every write; `OnReadAndWrite` also on every read.
 *
 * @example
 * ```ts
 * StateTtlConfig.newBuilder(60_000).setUpdateType(UpdateType.OnReadAndWrite).build();
 * ```
 */
export const UpdateType = {
  Disabled: 'Disabled',
  OnCreateAndWrite: 'OnCreateAndWrite',
  OnReadAndWrite: 'OnReadAndWrite',
} as const;
export type UpdateType = (typeof UpdateType)[keyof typeof UpdateType];

/**
 * Whether a read may still return an expired value that was not cleaned up yet (Flink's
 * `StateTtlConfig.StateVisibility`). In eddy a read that finds an expired value also removes it, so
 * `ReturnExpiredIfNotCleanedUp` returns an expired value at most once.
 *
 * @example
 * ```ts
 * StateTtlConfig.newBuilder(60_000).setStateVisibility(StateVisibility.ReturnExpiredIfNotCleanedUp).build();
 * ```
 */
export const StateVisibility = {
  ReturnExpiredIfNotCleanedUp: 'ReturnExpiredIfNotCleanedUp',
  NeverReturnExpired: 'NeverReturnExpired',
} as const;
export type StateVisibility = (typeof StateVisibility)[keyof typeof StateVisibility];

/**
 * The time TTL is measured in. As in Flink, only processing time (the operator's clock).
 *
 * @example
 * ```ts
 * StateTtlConfig.newBuilder(60_000).setTtlTimeCharacteristic(TtlTimeCharacteristic.ProcessingTime).build();
 * ```
 */
export const TtlTimeCharacteristic = { ProcessingTime: 'ProcessingTime' } as const;
export type TtlTimeCharacteristic = (typeof TtlTimeCharacteristic)[keyof typeof TtlTimeCharacteristic];

/** Incremental cleanup: entries visited per state access, and whether every record (key selection) visits too. */
export interface IncrementalCleanupStrategy {
  readonly cleanupSize: number;
  readonly runCleanupForEveryRecord: boolean;
}

/** How expired state is removed besides on read. */
export interface CleanupStrategies {
  /** Full snapshots (full checkpoints, savepoints, the harness's snapshots) leave expired entries out. */
  readonly fullSnapshot: boolean;
  /**
   * The incremental cleanup in effect: the configured one, else Flink's default background cleanup
   * (5 entries per access, not per record) unless `disableCleanupInBackground()` was called.
   */
  readonly incremental: IncrementalCleanupStrategy | undefined;
}

/** Flink's default background cleanup for heap state: 5 entries per state access. */
const DEFAULT_INCREMENTAL: IncrementalCleanupStrategy = Object.freeze({ cleanupSize: 5, runCleanupForEveryRecord: false });

function configError(message: string): EddyError {
  return new EddyError('EDDY_CONFIG', message);
}

function oneOf<T extends string>(what: string, v: unknown, allowed: Record<string, T>): T {
  if (!Object.values(allowed).includes(v as T))
    throw configError(`StateTtlConfig: ${what} must be one of ${Object.values(allowed).join(', ')}, got ${String(v)}`);
  return v as T;
}

function checkTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)
    throw configError(`StateTtlConfig: the time-to-live must be a positive, finite number of milliseconds, got ${String(ttlMs)}`);
  return ttlMs;
}

/**
 * The time-to-live of keyed state (Flink's `StateTtlConfig`), given to a state descriptor with
 * `enableTimeToLive`. A value (a list element, a map entry) stores its last-access timestamp, taken
 * from the operator's clock (processing time); it expires when `now >= lastAccess + ttl`. Expired
 * values are removed when read, by incremental cleanup (on by default) and, with
 * `cleanupFullSnapshot()`, left out of full snapshots. Timestamps are part of snapshots, so a
 * restored job neither returns expired state nor restarts its clocks.
 *
 * @example
 * ```ts
 * const ttl = StateTtlConfig.newBuilder(60_000)
 *   .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
 *   .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
 *   .cleanupFullSnapshot()
 *   .cleanupIncrementally(10, false)
 *   .build();
 * const lastSeen = new ValueStateDescriptor<number>('lastSeen');
 * lastSeen.enableTimeToLive(ttl);
 * ```
 */
export class StateTtlConfig {
  static readonly UpdateType = UpdateType;
  static readonly StateVisibility = StateVisibility;
  static readonly TtlTimeCharacteristic = TtlTimeCharacteristic;
  /** TTL off (Flink's `StateTtlConfig.DISABLED`). */
  static readonly DISABLED: StateTtlConfig = new StateTtlConfig(Number.MAX_VALUE, UpdateType.Disabled, StateVisibility.NeverReturnExpired, {
    fullSnapshot: false,
    incremental: undefined,
  });

  private constructor(
    /** Milliseconds after the last access at which a value expires. */
    readonly ttlMs: number,
    readonly updateType: UpdateType,
    readonly stateVisibility: StateVisibility,
    readonly cleanupStrategies: CleanupStrategies,
  ) {
    Object.freeze(this);
  }

  /**
   * Starts a configuration with a time-to-live of `ttlMs` milliseconds.
   *
   * @example
   * ```ts
   * const ttl = StateTtlConfig.newBuilder(1_000).build(); // OnCreateAndWrite, NeverReturnExpired
   * ```
   */
  static newBuilder(ttlMs: number): StateTtlConfigBuilder {
    return new StateTtlConfigBuilder(ttlMs);
  }

  /** @internal Used by the builder only. */
  static create(ttlMs: number, updateType: UpdateType, visibility: StateVisibility, cleanup: CleanupStrategies): StateTtlConfig {
    return new StateTtlConfig(ttlMs, updateType, visibility, Object.freeze(cleanup));
  }

  /** False for `UpdateType.Disabled`: the state then has no TTL. */
  isEnabled(): boolean {
    return this.updateType !== UpdateType.Disabled;
  }

  getTtl(): number {
    return this.ttlMs;
  }

  getUpdateType(): UpdateType {
    return this.updateType;
  }

  getStateVisibility(): StateVisibility {
    return this.stateVisibility;
  }

  getTtlTimeCharacteristic(): TtlTimeCharacteristic {
    return TtlTimeCharacteristic.ProcessingTime;
  }

  getCleanupStrategies(): CleanupStrategies {
    return this.cleanupStrategies;
  }

  /**
   * A copy of this configuration's builder, to derive another one.
   *
   * @example
   * ```ts
   * const longer = StateTtlConfig.newBuilder(1_000).build().toBuilder().setTtl(5_000).build();
   * ```
   */
  toBuilder(): StateTtlConfigBuilder {
    const b = new StateTtlConfigBuilder(this.ttlMs).setUpdateType(this.updateType).setStateVisibility(this.stateVisibility);
    if (this.cleanupStrategies.fullSnapshot) b.cleanupFullSnapshot();
    const inc = this.cleanupStrategies.incremental;
    if (inc === undefined) b.disableCleanupInBackground();
    else if (inc !== DEFAULT_INCREMENTAL) b.cleanupIncrementally(inc.cleanupSize, inc.runCleanupForEveryRecord);
    return b;
  }
}

/**
 * Builds a {@link StateTtlConfig}; every setter returns the builder. Defaults as in Flink:
 * `OnCreateAndWrite`, `NeverReturnExpired`, processing time, incremental cleanup in the background
 * (5 entries per state access), no full-snapshot cleanup.
 *
 * @example
 * ```ts
 * const ttl = StateTtlConfig.newBuilder(30_000).updateTtlOnReadAndWrite().returnExpiredIfNotCleanedUp().build();
 * ```
 */
export class StateTtlConfigBuilder {
  private updateType: UpdateType = UpdateType.OnCreateAndWrite;
  private visibility: StateVisibility = StateVisibility.NeverReturnExpired;
  private fullSnapshot = false;
  private incremental: IncrementalCleanupStrategy | undefined;
  private inBackground = true;
  private ttlMs: number;

  /** Prefer `StateTtlConfig.newBuilder(ttlMs)`; `ttlMs` is checked either way. */
  constructor(ttlMs: number) {
    this.ttlMs = checkTtl(ttlMs);
  }

  /** Sets the time-to-live in milliseconds. */
  setTtl(ttlMs: number): this {
    this.ttlMs = checkTtl(ttlMs);
    return this;
  }

  /** Sets when the last-access timestamp is updated. */
  setUpdateType(updateType: UpdateType): this {
    this.updateType = oneOf('the update type', updateType, UpdateType);
    return this;
  }

  /** Shorthand for `setUpdateType(UpdateType.OnCreateAndWrite)`. */
  updateTtlOnCreateAndWrite(): this {
    return this.setUpdateType(UpdateType.OnCreateAndWrite);
  }

  /** Shorthand for `setUpdateType(UpdateType.OnReadAndWrite)`. */
  updateTtlOnReadAndWrite(): this {
    return this.setUpdateType(UpdateType.OnReadAndWrite);
  }

  /** Sets whether expired values that are still stored may be returned. */
  setStateVisibility(visibility: StateVisibility): this {
    this.visibility = oneOf('the state visibility', visibility, StateVisibility);
    return this;
  }

  /** Shorthand for `setStateVisibility(StateVisibility.NeverReturnExpired)`. */
  neverReturnExpired(): this {
    return this.setStateVisibility(StateVisibility.NeverReturnExpired);
  }

  /** Shorthand for `setStateVisibility(StateVisibility.ReturnExpiredIfNotCleanedUp)`. */
  returnExpiredIfNotCleanedUp(): this {
    return this.setStateVisibility(StateVisibility.ReturnExpiredIfNotCleanedUp);
  }

  /** Only processing time is supported (as in Flink); any other value fails with `EDDY_CONFIG`. */
  setTtlTimeCharacteristic(characteristic: TtlTimeCharacteristic): this {
    oneOf('the time characteristic', characteristic, TtlTimeCharacteristic);
    return this;
  }

  /** Measures TTL in processing time (the only, and default, choice). */
  useProcessingTime(): this {
    return this;
  }

  /** Leaves expired entries out of full snapshots (full checkpoints and savepoints); live state is not changed. */
  cleanupFullSnapshot(): this {
    this.fullSnapshot = true;
    return this;
  }

  /**
   * Every access to the state visits the next `cleanupSize` entries of the whole state (all keys, in
   * a round that restarts at the end) and removes the expired ones, so keys never read again are
   * reclaimed; with `runCleanupForEveryRecord`, every record (each key selection) visits too.
   */
  cleanupIncrementally(cleanupSize: number, runCleanupForEveryRecord = false): this {
    if (!Number.isInteger(cleanupSize) || cleanupSize < 1)
      throw configError(`StateTtlConfig.cleanupIncrementally: cleanupSize must be an integer >= 1, got ${String(cleanupSize)}`);
    if (typeof runCleanupForEveryRecord !== 'boolean')
      throw configError(`StateTtlConfig.cleanupIncrementally: runCleanupForEveryRecord must be a boolean, got ${typeof runCleanupForEveryRecord}`);
    this.incremental = { cleanupSize, runCleanupForEveryRecord };
    return this;
  }

  /** Turns off the default incremental cleanup (an explicit `cleanupIncrementally` still applies). */
  disableCleanupInBackground(): this {
    this.inBackground = false;
    return this;
  }

  build(): StateTtlConfig {
    const incremental = this.incremental ?? (this.inBackground ? DEFAULT_INCREMENTAL : undefined);
    return StateTtlConfig.create(this.ttlMs, this.updateType, this.visibility, { fullSnapshot: this.fullSnapshot, incremental });
  }
}
