// Retrying a sink's commit: bounded attempts with exponential backoff on the injected clock, then one EddyError naming sink and transaction.
import { EddyError, isEddyError, type EddyErrorCode } from '../errors.ts';
import type { Cancelable, Clock } from '../time/clock.ts';

/** How a two-phase sink retries a commit that failed. */
export interface CommitRetryOptions {
  /** Attempts after the first one before the task fails (default 5; 0: fail at the first error). */
  maxRetries?: number;
  /** Delay before the first retry in ms (default 100); each further retry waits twice as long ... */
  initialDelayMs?: number;
  /** ... up to this many ms (default 5000). */
  maxDelayMs?: number;
}

/** The retry options with every default filled in. */
export type ResolvedCommitRetry = Required<CommitRetryOptions>;

/** 1 + 5 attempts over ~3 s: rides out a short outage (a JetStream leader election, a busy disk) without hiding a broken sink. */
export const DEFAULT_COMMIT_RETRY: ResolvedCommitRetry = { maxRetries: 5, initialDelayMs: 100, maxDelayMs: 5000 };

/**
 * Failures a retry cannot mend (the job or its environment must change): they fail the task at
 * once, with their own code and message (which already name the sink).
 */
const PERMANENT: ReadonlySet<EddyErrorCode> = new Set<EddyErrorCode>(['EDDY_CONFIG', 'EDDY_INVALID_ARGUMENT', 'EDDY_UNSERIALIZABLE_RECORD', 'EDDY_RECORD_TOO_LARGE']);

/**
 * Fills in defaults and checks the values (`EDDY_INVALID_ARGUMENT` naming the sink on a bad one).
 *
 * @example
 * ```ts
 * resolveCommitRetry({ maxRetries: 0 }, 'lines'); // { maxRetries: 0, initialDelayMs: 100, maxDelayMs: 5000 }
 * ```
 */
export function resolveCommitRetry(o: CommitRetryOptions | undefined, sink: string): ResolvedCommitRetry {
  const r = { ...DEFAULT_COMMIT_RETRY, ...o };
  const check = (name: keyof CommitRetryOptions, integer: boolean): void => {
    const v = r[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v)))
      throw new EddyError('EDDY_INVALID_ARGUMENT', `sink "${sink}": commitRetry.${name} must be a ${integer ? 'whole ' : ''}number >= 0, got ${String(v)}`, { operator: sink });
  };
  check('maxRetries', true);
  check('initialDelayMs', false);
  check('maxDelayMs', false);
  if (r.maxDelayMs < r.initialDelayMs)
    throw new EddyError('EDDY_INVALID_ARGUMENT', `sink "${sink}": commitRetry.maxDelayMs (${r.maxDelayMs}) must be >= initialDelayMs (${r.initialDelayMs})`, { operator: sink });
  return r;
}

/**
 * Runs commits with retries. One instance per sink writer: `cancel()` (the writer closes) stops a
 * backoff wait at once, so a stopping task never waits out a delay; an attempt already running is
 * left to finish (a commit racing the restarted attempt's re-commit of the same transaction is
 * what closing waits for).
 */
export class CommitRetrier {
  private wait: { timer: Cancelable; wake(): void } | undefined;
  private canceled = false;

  constructor(
    private readonly sink: string,
    private readonly retry: ResolvedCommitRetry,
    private readonly clock: Clock,
  ) {}

  /**
   * Calls `attempt` until it resolves; a permanent error (see above) is rethrown unchanged; after
   * `maxRetries` retries the last error becomes `EDDY_SINK_COMMIT_FAILED` naming sink and `txnId`.
   */
  async run(txnId: string, checkpointId: number, attempt: () => Promise<void>): Promise<void> {
    const { retry } = this;
    for (let n = 0; ; n++) {
      if (this.canceled) throw this.closedError(txnId);
      try {
        await attempt();
        return;
      } catch (e) {
        if (isEddyError(e) && PERMANENT.has(e.code)) throw e;
        if (n >= retry.maxRetries || this.canceled) {
          const what = checkpointId < 0 ? `batch ${txnId}` : `transaction ${txnId} (checkpoint ${checkpointId})`;
          throw new EddyError('EDDY_SINK_COMMIT_FAILED', `sink "${this.sink}" could not commit ${what} after ${n + 1} attempt${n === 0 ? '' : 's'}: ${(e as Error)?.message ?? String(e)}`, {
            cause: e,
            operator: this.sink,
          });
        }
        await this.sleep(Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** n));
      }
    }
  }

  /** Stops retrying: a pending backoff ends now and the next step throws. */
  cancel(): void {
    this.canceled = true;
    const w = this.wait;
    this.wait = undefined;
    w?.timer.cancel();
    w?.wake();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.wait = undefined;
        resolve();
      };
      this.wait = { timer: this.clock.schedule(ms, wake), wake };
    });
  }

  private closedError(txnId: string): EddyError {
    return new EddyError('EDDY_SINK_COMMIT_FAILED', `sink "${this.sink}" closed before transaction ${txnId} was committed (it stays in the checkpoint and is committed after the restore)`, {
      operator: this.sink,
    });
  }
}
