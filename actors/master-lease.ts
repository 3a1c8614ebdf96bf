// The job master's lease in JetStream KV: one active master per job name, renewed by compare-and-set; standbys take over an expired lease.
import { hostname } from 'node:os';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { defaultReplicas, checkpointBucket } from '../src/checkpoint/jetstream-checkpoint-storage.ts';
import type { JobResult } from '../src/api/job.ts';
import type { CheckpointStorage } from '../src/checkpoint/checkpoint-storage.ts';
import { EddyError, toErrorInfo, type ErrorInfo } from '../src/errors.ts';
import type { Cancelable, Clock } from '../src/time/clock.ts';

const BUCKET = 'eddy-masters';
const RENEW_MS = 500;
/**
 * How long a claim or check keeps retrying a transient failure. Longer than the lease's expiry on
 * purpose: the KV stream of a cluster that lost a server may take several seconds to elect a
 * leader, and the compare-and-set fences this master if a standby took over meanwhile.
 */
const TRANSIENT_RETRY_MS = 30_000;

/** What the lease of a job holds (JSON). */
export interface LeaseRecord {
  /** The run id of the master holding it. */
  owner: string;
  jobId: string;
  jobName: string;
  host: string;
  pid: number;
  /**
   * The highest region attempt the holder may have deployed: written before each deployment, so
   * a master taking over starts above every attempt whose tasks may still run somewhere.
   */
  maxAttempt: number;
  /** `active` while a master runs the job; the final status once it ended. */
  state: 'active' | 'finished' | 'failed' | 'canceled';
  /** The final result, once it ended. */
  result?: JobResult;
}

/** A master that took over the job from one whose lease expired. */
export interface Takeover {
  lease: MasterLease;
  previous: LeaseRecord;
}

const encode = (r: LeaseRecord): Uint8Array => new TextEncoder().encode(JSON.stringify(r));
const keyOf = (jobName: string): string => checkpointBucket(jobName);

async function openBucket(nc: NatsConnection): Promise<KV> {
  try {
    return await new Kvm(nc).create(BUCKET, { history: 1, replicas: defaultReplicas(nc) });
  } catch (e) {
    throw new EddyError('EDDY_CONFIG', `cannot open the job master lease bucket ${BUCKET} on JetStream: ${(e as Error).message}; the server needs JetStream enabled`, { cause: e });
  }
}

/**
 * The lease this master holds. Every write is a compare-and-set on the revision it last wrote, so
 * once another master took the lease, the next renew, attempt claim or checkpoint commit of this
 * one fails and the master is fenced: it stops its tasks and commits nothing more.
 */
export class MasterLease {
  private timer: Cancelable | undefined;
  private ops: Promise<unknown> = Promise.resolve();
  private fencedBy: ErrorInfo | undefined;
  private closed = false;
  private readonly fencedListeners: ((cause: ErrorInfo) => void)[] = [];

  private constructor(
    private readonly kv: KV,
    private readonly clock: Clock,
    private record: LeaseRecord,
    private revision: number,
    /** The lease's expiry; a claim keeps retrying transient failures for at least this long (see TRANSIENT_RETRY_MS). */
    private readonly expireAfterMs: number,
  ) {}

  /** Takes the lease of `jobName` unconditionally (a fresh run of the job), fencing a master that still held it. */
  static async acquire(nc: NatsConnection, clock: Clock, expireAfterMs: number, record: Omit<LeaseRecord, 'host' | 'pid' | 'state' | 'maxAttempt'>): Promise<MasterLease> {
    const kv = await openBucket(nc);
    const full: LeaseRecord = { ...record, host: hostname(), pid: process.pid, maxAttempt: -1, state: 'active' };
    const revision = await kv.put(keyOf(record.jobName), encode(full));
    return new MasterLease(kv, clock, full, revision, expireAfterMs).startRenewing();
  }

  get fenced(): ErrorInfo | undefined {
    return this.fencedBy;
  }

  get holder(): LeaseRecord {
    return this.record;
  }

  /** Called once when another master took the lease. */
  onFenced(f: (cause: ErrorInfo) => void): void {
    this.fencedListeners.push(f);
  }

  private startRenewing(): this {
    this.timer = this.clock.schedule(RENEW_MS, () => {
      if (this.closed) return;
      void this.write({}).catch(() => undefined);
      this.startRenewing();
    });
    return this;
  }

  /** Writes the record with `change` by compare-and-set, serialized with every other write; throws EDDY_MASTER_FENCED once the lease was lost. */
  private write(change: Partial<LeaseRecord>): Promise<void> {
    const op = this.ops.then(async () => {
      if (this.fencedBy !== undefined) throw new EddyError(this.fencedBy.code as 'EDDY_MASTER_FENCED', this.fencedBy.message);
      const next = { ...this.record, ...change };
      try {
        this.revision = await this.kv.update(keyOf(next.jobName), encode(next), this.revision);
        this.record = next;
      } catch (e) {
        // A lost connection is not a fence: the job master fails the job on its own then.
        const now = await this.kv.get(keyOf(next.jobName)).catch(() => undefined);
        if (now === undefined || (now !== null && now.revision === this.revision)) throw e;
        const by = now === null || now.operation !== 'PUT' ? undefined : (now.json() as LeaseRecord);
        this.fence(
          new EddyError(
            'EDDY_MASTER_FENCED',
            `job "${next.jobName}": another job master took over its lease${by === undefined ? '' : ` (pid ${by.pid} on ${by.host})`}; this one stops its tasks and commits nothing more`,
          ),
        );
        throw new EddyError('EDDY_MASTER_FENCED', this.fencedBy!.message);
      }
    });
    this.ops = op.catch(() => undefined);
    return op;
  }

  private fence(e: EddyError): void {
    if (this.fencedBy !== undefined) return;
    this.fencedBy = toErrorInfo(e);
    this.timer?.cancel();
    for (const f of this.fencedListeners) f(this.fencedBy);
  }

  /** Records that attempts up to `attempt` may be deployed; resolves only while this master holds the lease. */
  claimAttempt(attempt: number): Promise<void> {
    return this.durable(attempt <= this.record.maxAttempt ? {} : { maxAttempt: attempt });
  }

  /** Renews the lease now: resolves only while this master holds it (checked before a checkpoint commits). */
  check(): Promise<void> {
    return this.durable({});
  }

  /**
   * A write, tried again while it fails for a transient cause (the bucket's stream electing a
   * leader after a server died, reported as "jetstream is not enabled") for up to
   * TRANSIENT_RETRY_MS; a fence ends it at once. The compare-and-set keeps it safe however late it
   * succeeds.
   */
  private async durable(change: Partial<LeaseRecord>): Promise<void> {
    const start = this.clock.monotonic();
    const limit = Math.max(this.expireAfterMs, TRANSIENT_RETRY_MS);
    for (;;) {
      try {
        return await this.write(change);
      } catch (e) {
        if (this.fencedBy !== undefined || this.clock.monotonic() - start > limit) throw e;
        await new Promise<void>((r) => this.clock.schedule(RENEW_MS / 5, r));
      }
    }
  }

  /** Records how the job ended (for standbys waiting on it) and stops renewing. */
  async finish(result: JobResult): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    if (this.fencedBy !== undefined) return;
    await this.write({ state: result.status === 'finished' ? 'finished' : result.status === 'canceled' ? 'canceled' : 'failed', result }).catch(() => undefined);
  }

  /** Stops renewing without writing (the process goes away; a standby takes over once the lease expires). */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }

  /**
   * A standby master for `jobName`: waits while another master holds a live lease (one renewed
   * within `expireAfterMs` by this process's clock). Resolves with
   * - `{ ended }` when the master it watched ended the job (its recorded result);
   * - `{ takeover }` when it took over an active lease that expired (the job continues from its latest checkpoint);
   * - `{ fresh }` when no master runs the job (no lease, or one that ended before this standby
   *   started): the lease is now this process's, and the job starts as a fresh run.
   * `waiting` is called once with the holder when it starts to wait.
   */
  static async standby(
    nc: NatsConnection,
    clock: Clock,
    expireAfterMs: number,
    record: Omit<LeaseRecord, 'host' | 'pid' | 'state' | 'maxAttempt' | 'jobId'> & { jobId: string },
    waiting: (holder: LeaseRecord) => void,
  ): Promise<{ ended: JobResult } | { takeover: Takeover } | { fresh: MasterLease }> {
    const kv = await openBucket(nc);
    const key = keyOf(record.jobName);
    const mine = (from: LeaseRecord | undefined, jobId: string): LeaseRecord => ({
      ...record,
      jobId,
      host: hostname(),
      pid: process.pid,
      maxAttempt: from?.maxAttempt ?? -1,
      state: 'active',
    });
    let watched = false;
    let seen: { revision: number; at: number } | undefined;
    for (;;) {
      const e = await kv.get(key);
      const cur = e === null || e.operation !== 'PUT' ? undefined : (e.json() as LeaseRecord);
      if (cur === undefined || cur.state !== 'active') {
        if (watched && cur?.result !== undefined) return { ended: cur.result };
        const fresh = mine(undefined, record.jobId);
        try {
          const revision = e === null ? await kv.create(key, encode(fresh)) : await kv.update(key, encode(fresh), e.revision);
          return { fresh: new MasterLease(kv, clock, fresh, revision, expireAfterMs).startRenewing() };
        } catch {
          continue; // another standby was quicker: watch it
        }
      }
      if (!watched) {
        watched = true;
        waiting(cur);
      }
      const now = clock.monotonic();
      if (seen === undefined || seen.revision !== e!.revision) seen = { revision: e!.revision, at: now };
      else if (now - seen.at > expireAfterMs) {
        const next = mine(cur, cur.jobId);
        try {
          const revision = await kv.update(key, encode(next), e!.revision);
          return { takeover: { lease: new MasterLease(kv, clock, next, revision, expireAfterMs).startRenewing(), previous: cur } };
        } catch {
          seen = undefined; // renewed or taken meanwhile
          continue;
        }
      }
      await new Promise<void>((r) => clock.schedule(RENEW_MS / 2, r));
    }
  }
}

/**
 * `storage` as the coordinator of a leased master uses it: a checkpoint commits (and old ones are
 * pruned) only after a renew showed that this master still holds the lease, so a master that was
 * frozen while another took over cannot move `latest` or delete what the other one needs.
 */
export function leasedStorage(storage: CheckpointStorage, lease: MasterLease): CheckpointStorage {
  return {
    get location() {
      return storage.location;
    },
    writeChunk: (id, checkpointId, parts) => storage.writeChunk(id, checkpointId, parts),
    readChunk: (id, start, end) => storage.readChunk(id, start, end),
    writeBlob: (id, checkpointId, bytes) => storage.writeBlob(id, checkpointId, bytes),
    readBlob: (id) => storage.readBlob(id),
    commit: async (meta) => {
      await lease.check();
      await storage.commit(meta);
    },
    latest: () => storage.latest(),
    completed: () => storage.completed(),
    get: (id) => storage.get(id),
    prune: async (retain, guard) => {
      await lease.check();
      await storage.prune(retain, guard);
    },
    bytesOf: (id) => storage.bytesOf(id),
    close: () => storage.close(),
  };
}
