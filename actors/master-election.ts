// A standby job master's way in: wait on the job's lease, then run it fresh, take it over, or return the result of the master it watched.
import type { NatsConnection } from '@nats-io/transport-node';
import type { SubmittedJob } from '../src/api/executor.ts';
import type { JobResult } from '../src/api/job.ts';
import type { ResolvedConfig } from '../src/api/config.ts';
import { announceJobNotice } from '../src/api/job-notices.ts';
import { EddyError, type ErrorInfo } from '../src/errors.ts';
import { newJobId } from '../src/time/ids.ts';
import { MasterLease, type LeaseRecord } from './master-lease.ts';

/** What a standby master does once the lease decided. */
export type Election = { ended: JobResult } | Elected;

/** A standby that now holds the lease. */
export interface Elected {
  lease: MasterLease;
  /** The job id for a job that has no checkpoint yet (a completed checkpoint names its own). */
  jobId: string;
  /** Set when this master took the job over: its first attempt and the restart's cause. */
  takeover?: { firstAttempt: number; cause: ErrorInfo };
  previous?: LeaseRecord;
}

/**
 * Waits as a standby of job `jobName` (see MasterLease.standby). A takeover starts above every
 * attempt the previous master may have deployed, and is recorded as a restart caused by
 * EDDY_MASTER_LOST.
 */
export async function electMaster(cfg: ResolvedConfig, jobName: string, runId: string, nc: NatsConnection): Promise<Election> {
  const outcome = await MasterLease.standby(nc, cfg.clock, cfg.workerHeartbeatTimeoutMs, { owner: runId, jobName, jobId: newJobId() }, (holder) =>
    announceJobNotice({ kind: 'standby', jobName, holderPid: holder.pid, holderHost: holder.host }),
  );
  if ('ended' in outcome) return outcome;
  if ('fresh' in outcome) return { lease: outcome.fresh, jobId: outcome.fresh.holder.jobId };
  const { lease, previous } = outcome.takeover;
  return {
    lease,
    jobId: previous.jobId,
    previous,
    takeover: {
      firstAttempt: previous.maxAttempt + 1,
      cause: {
        code: 'EDDY_MASTER_LOST',
        message:
          `the job master of job "${jobName}" (pid ${previous.pid} on ${previous.host}) stopped renewing its lease for ${cfg.workerHeartbeatTimeoutMs} ms; ` +
          `the standby (pid ${process.pid}) took over from the latest checkpoint`,
      },
    },
  };
}

/** The job a standby watched until another master ended it: its recorded result, nothing to control. */
export function endedJob(r: JobResult, natsUrl: string): SubmittedJob {
  const ended = (): never => {
    throw new EddyError('EDDY_CONFIG', `job "${r.jobName}" already ended (${r.status}) under another job master`);
  };
  const result = Promise.resolve(r);
  return {
    client: {
      jobId: r.jobId,
      jobName: r.jobName,
      natsUrl,
      result,
      cancel: () => result,
      status: () => ({ state: r.status, restarts: r.restarts.slice(), checkpoints: r.checkpoints }),
      savepoint: async () => ended(),
      triggerCheckpoint: async () => ended(),
      queryActor: async () => ended(),
    },
    collected: result.then(() => new Map()),
  };
}
