// Notices the runtime gives about a job as it starts (which checkpoint it restored, ...) to whoever listens in this process: how `eddy run` reports them, since the library itself never prints.

/** Where a job's starting state came from, once the restore is resolved. */
export interface RestoredNotice {
  kind: 'restored';
  jobName: string;
  /** The id the job runs under (a resumed job keeps the id of its checkpoint). */
  jobId: string;
  /** `'checkpoint'` for `restore: { latest: true }` (`--resume`), `'savepoint'` for `{ savepoint }`. */
  from: 'checkpoint' | 'savepoint';
  /** The id of the checkpoint or savepoint restored. */
  checkpointId: number;
  /** When it was taken (ms since the epoch). */
  timestamp: number;
  /** Its directory. */
  location: string;
}

/** `restore: { latest: true }` found the job's checkpoint directory but no completed checkpoint in it. */
export interface ResumeEmptyNotice {
  kind: 'resume-empty';
  jobName: string;
  jobId: string;
  location: string;
}

/** Which path an actor operator's machine runs on: compiled into a transition table, or on xstate itself (and why). */
export interface ActorPathNotice {
  kind: 'actor-path';
  jobName: string;
  jobId: string;
  operator: string;
  path: 'compiled' | 'xstate';
  /** For the xstate path: the machine feature the compiler does not support (absent when `path: 'xstate'` was asked for). */
  reason?: string;
}

/** A standby job master found another master running the job and waits to take over. */
export interface StandbyNotice {
  kind: 'standby';
  jobName: string;
  holderPid: number;
  holderHost: string;
}

/** A standby job master took the job over from a master that stopped renewing its lease. */
export interface TookOverNotice {
  kind: 'took-over';
  jobName: string;
  jobId: string;
  previousPid: number;
  previousHost: string;
}

export type JobNotice = RestoredNotice | ResumeEmptyNotice | ActorPathNotice | StandbyNotice | TookOverNotice;

type Listener = (notice: JobNotice) => void;

/**
 * The listeners live on `globalThis` under a registered symbol, so a job that loaded its own copy of
 * eddy (another node_modules) still reaches the CLI that runs it.
 */
const KEY = Symbol.for('eddy.job-notices');
function listeners(): Set<Listener> {
  const g = globalThis as { [KEY]?: Set<Listener> };
  return (g[KEY] ??= new Set());
}

/**
 * Calls `listener` with every notice of jobs started in this process from now on; returns the function
 * that stops it.
 *
 * @example
 * ```ts
 * const stop = onJobNotice((n) => n.kind === 'restored' && console.error(`restored checkpoint ${n.checkpointId}`));
 * ```
 */
export function onJobNotice(listener: Listener): () => void {
  listeners().add(listener);
  return () => void listeners().delete(listener);
}

/**
 * Gives `notice` to every listener. A listener that throws is ignored: a notice never fails a job.
 *
 * @example
 * ```ts
 * announceJobNotice({ kind: 'resume-empty', jobName: 'totals', jobId, location: dir });
 * ```
 */
export function announceJobNotice(notice: JobNotice): void {
  for (const l of [...listeners()]) {
    try {
      l(notice);
    } catch {
      // A notice is informational; the job goes on.
    }
  }
}
