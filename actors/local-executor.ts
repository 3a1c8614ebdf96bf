// Runs jobs in this process: resolves NATS (embedded by default), plans the graph and runs a JobMaster.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobSubmission, PipelineExecutor, SubmittedJob } from '../src/api/executor.ts';
import type { JobClient, JobResult } from '../src/api/job.ts';
import { createStreamGraph } from '../src/graph/stream-graph.ts';
import { createExecutionPlan } from '../src/plan/execution-plan.ts';
import { jobStateDir, stateBackendFactory } from '../src/state/state-backends.ts';
import { newJobId } from '../src/time/ids.ts';
import { FrameCodec } from '../src/transport/frame-codec.ts';
import { connectNats } from '../src/transport/connect-nats.ts';
import { registerShutdownHook, startEmbeddedNatsServer, type EmbeddedNatsServer } from '../src/transport/nats-server.ts';
import { subjects } from '../src/transport/subjects.ts';
import { JetStreamCheckpointStorage } from '../src/checkpoint/jetstream-checkpoint-storage.ts';
import { LevelCheckpointStorage } from '../src/checkpoint/level-checkpoint-storage.ts';
import type { CheckpointMetadata, CheckpointStorage } from '../src/checkpoint/checkpoint-storage.ts';
import { queryActorState } from '../src/api/actor-query-client.ts';
import { checkRestoreMapping } from '../src/checkpoint/operator-restore.ts';
import { EddyError } from '../src/errors.ts';
import type { ResolvedConfig } from '../src/api/config.ts';
import type { StreamGraph } from '../src/graph/stream-graph.ts';
import { jobDirName, registerJob, unregisterJob } from '../src/api/job-registry.ts';
import { announceJobNotice } from '../src/api/job-notices.ts';
import { JobMaster } from './job-master.ts';
import { deployOnWorkers, type WorkerDeployment } from './worker-deployment.ts';
import { copyCheckpoint, exportingStorage } from '../src/checkpoint/copy-checkpoint.ts';
import { leasedStorage, MasterLease } from './master-lease.ts';
import { electMaster, endedJob, type Elected } from './master-election.ts';

interface Storages {
  jobId: string;
  storage: CheckpointStorage | undefined;
  restore: { storage: CheckpointStorage; meta: CheckpointMetadata } | undefined;
  /** Removes the checkpoints when the job ended for good (finished or canceled); undefined: delete the local directory. */
  destroy?: () => Promise<void>;
  close(): Promise<void>;
}

/** Opens the savepoint directory `path` (handing the storage to `opened` at once, so the caller closes it on failure). */
async function openSavepoint(path: string, opened: (s: CheckpointStorage) => void): Promise<NonNullable<Storages['restore']>> {
  const savepoint = await LevelCheckpointStorage.open(path);
  opened(savepoint);
  const meta = await savepoint.latest();
  if (meta === undefined) throw new EddyError('EDDY_CONFIG', `no savepoint at ${path}: the directory holds no completed savepoint or checkpoint`);
  return { storage: savepoint, meta };
}

/** Refuses a restore that does not fit the job before anything deploys (see checkRestoreMapping). */
function checkRestore(cfg: ResolvedConfig, graph: StreamGraph, restore: NonNullable<Storages['restore']>): void {
  const where = `${restore.meta.kind} ${restore.meta.id} of job "${restore.meta.jobName}" (${restore.storage.location})`;
  checkRestoreMapping(restore.meta, graph.nodes, graph.maxParallelism, cfg.allowNonRestoredState, where);
}

/**
 * Opens the job's checkpoint storage (`<stateDir>/checkpoints/<job name>`) and what it restores
 * from. A fresh run (no `restore`) starts a new checkpoint history; `{ latest: true }` continues
 * the job of the latest checkpoint with its job id (so sink transaction ids stay the same), or
 * starts empty when the directory holds none completed (the process died before its first
 * checkpoint: nothing was committed then); it fails when there is no checkpoint directory at all
 * (as Flink fails on a restore path that does not exist). A savepoint starts a new job id.
 */
async function openStorages(cfg: ResolvedConfig, jobName: string, graph: StreamGraph, connection: () => Promise<NatsConnection>, newId = newJobId()): Promise<Storages> {
  if (cfg.checkpointing?.storage === 'jetstream') return openJetStreamStorages(cfg, jobName, graph, await connection(), newId);
  const dir = join(cfg.stateDir, 'checkpoints', jobDirName(jobName));
  let jobId = newId;
  let storage: CheckpointStorage | undefined;
  let restore: Storages['restore'];
  let savepoint: CheckpointStorage | undefined;
  const close = async (): Promise<void> => {
    await storage?.close().catch(() => undefined);
    await savepoint?.close().catch(() => undefined);
  };
  try {
    if (cfg.restore !== undefined && 'latest' in cfg.restore) {
      if (!existsSync(dir))
        throw new EddyError(
          'EDDY_CONFIG',
          `no checkpoint of job "${jobName}" under ${dir}: nothing to resume (a job keeps its checkpoints when it fails or its process dies; ` +
            'one that finished or was canceled deleted them, one without checkpointing wrote none). Check the job name and the state dir, ' +
            'or start without --resume (restore: { latest: true }) to begin from empty state.',
        );
      storage = await LevelCheckpointStorage.open(dir);
      const meta = await storage.latest();
      if (meta !== undefined) {
        restore = { storage, meta };
        jobId = meta.jobId;
      }
    } else if (cfg.checkpointing !== undefined) {
      await rm(dir, { recursive: true, force: true });
      storage = await LevelCheckpointStorage.open(dir);
    }
    if (cfg.restore !== undefined && 'savepoint' in cfg.restore) restore = await openSavepoint(cfg.restore.savepoint, (s) => (savepoint = s));
    if (restore !== undefined) checkRestore(cfg, graph, restore);
  } catch (e) {
    await close();
    throw e;
  }
  return { jobId, storage, restore, close };
}

/**
 * openStorages for `checkpointing.storage: 'jetstream'`: the job's checkpoints live in a KV bucket
 * and an object store named after the job on its NATS server. `--resume` continues the latest one
 * there (or starts empty when there is none); a fresh run clears what an earlier run left.
 * Savepoints stay directories.
 */
async function openJetStreamStorages(cfg: ResolvedConfig, jobName: string, graph: StreamGraph, nc: NatsConnection, newId: string): Promise<Storages> {
  let jobId = newId;
  let restore: Storages['restore'];
  let savepoint: CheckpointStorage | undefined;
  let storage = await JetStreamCheckpointStorage.open(nc, jobDirName(jobName));
  const close = async (): Promise<void> => {
    await storage.close().catch(() => undefined);
    await savepoint?.close().catch(() => undefined);
  };
  try {
    if (cfg.restore !== undefined && 'latest' in cfg.restore) {
      const meta = await storage.latest();
      if (meta !== undefined) {
        restore = { storage, meta };
        jobId = meta.jobId;
      }
    } else {
      await storage.destroy();
      storage = await JetStreamCheckpointStorage.open(nc, jobDirName(jobName));
    }
    if (cfg.restore !== undefined && 'savepoint' in cfg.restore) restore = await openSavepoint(cfg.restore.savepoint, (s) => (savepoint = s));
    if (restore !== undefined) checkRestore(cfg, graph, restore);
  } catch (e) {
    await close();
    throw e;
  }
  return { jobId, storage, restore, close, destroy: () => storage.destroy() };
}

/**
 * Receives what collect sinks publish: `[subtask, txnId, records]` batches (one copy kept per
 * transaction id: a restore may commit a transaction again) and `[subtask, null, null]` at each
 * subtask's end.
 */
function collectResults(nc: NatsConnection, jobId: string, nodes: { id: number; parallelism: number }[]) {
  const codec = new FrameCodec();
  const records = new Map<number, unknown[]>();
  const seen = new Map<number, Set<string>>();
  const ended = new Map<number, Set<number>>();
  const subs = nodes.map((n) => {
    records.set(n.id, []);
    seen.set(n.id, new Set());
    ended.set(n.id, new Set());
    return nc.subscribe(subjects.collect(jobId, n.id), {
      callback: (_err, msg) => {
        const [subtask, txn, batch] = codec.decodeValue(msg.data) as [number, string | null, unknown[] | null];
        if (batch === null) {
          ended.get(n.id)!.add(subtask);
          return;
        }
        if (txn !== null) {
          const s = seen.get(n.id)!;
          if (s.has(txn)) return;
          s.add(txn);
        }
        const out = records.get(n.id)!;
        for (let i = 0; i < batch.length; i++) out.push(batch[i]);
      },
    });
  });
  return {
    complete: () => nodes.every((n) => ended.get(n.id)!.size === n.parallelism),
    records,
    close: () => subs.forEach((s) => s.unsubscribe()),
  };
}

/**
 * The in-process executor: every subtask is a Task actor in this process, and every exchange between
 * tasks still goes over NATS subjects, so the same plan runs unchanged across worker processes.
 */
export const localExecutor: PipelineExecutor = {
  async submit(job: JobSubmission): Promise<SubmittedJob> {
    const cfg = job.config;
    const graph = createStreamGraph(job.roots, { jobName: job.jobName, parallelism: cfg.parallelism, maxParallelism: cfg.maxParallelism });
    const plan = createExecutionPlan(graph);
    let server: EmbeddedNatsServer | undefined;
    let url = cfg.nats;
    let connected: Promise<NatsConnection> | undefined;
    // Started when first needed: local checkpoint storage is opened (and a bad restore refused) before any server starts.
    const connection = (): Promise<NatsConnection> =>
      (connected ??= (async () => {
        if (url === undefined) {
          server = await startEmbeddedNatsServer({ storeDir: join(cfg.stateDir, 'nats'), clock: cfg.clock });
          url = server.url;
        }
        return connectNats(url, { timeoutMs: cfg.connectTimeoutMs, name: `eddy-${job.jobName}`, clock: cfg.clock });
      })());
    const runId = newJobId();
    let storages: Storages;
    let nc: NatsConnection;
    let election: Elected | undefined;
    try {
      if (cfg.standby) {
        const e = await electMaster(cfg, job.jobName, runId, await connection());
        if ('ended' in e) {
          await connected!.then((c) => c.close()).catch(() => undefined);
          return endedJob(e.ended, url!);
        }
        election = e;
      }
      // A master that takes over continues the latest checkpoint, whatever this process was asked.
      storages = await openStorages(election?.takeover === undefined ? cfg : { ...cfg, restore: { latest: true } }, job.jobName, graph, connection, election?.jobId);
      nc = await connection();
    } catch (e) {
      election?.lease.close();
      if (connected !== undefined) await connected.then((c) => c.close()).catch(() => undefined);
      await server?.stop();
      await storages!?.close();
      throw e;
    }
    const jobId = storages.jobId;
    let onWorkers: WorkerDeployment | undefined;
    let lease = election?.lease;
    if (cfg.workers !== 0) {
      try {
        // One master at a time per job: a fresh run takes the lease (fencing a master still holding it).
        lease ??= await MasterLease.acquire(nc, cfg.clock, cfg.workerHeartbeatTimeoutMs, { owner: runId, jobId, jobName: job.jobName });
        onWorkers = await deployOnWorkers(cfg, job.jobName, jobId, runId, plan, nc, url!);
        // Workers reach only JetStream: a savepoint directory to start from is copied there first.
        const r = storages.restore;
        if (r !== undefined && storages.storage !== undefined && r.storage.location !== storages.storage.location) {
          await copyCheckpoint(r.storage, storages.storage, r.meta);
          storages.restore = { storage: storages.storage, meta: r.meta };
        }
      } catch (e) {
        lease?.close();
        await onWorkers?.close();
        await storages.close();
        await nc.close().catch(() => undefined);
        await server?.stop();
        throw e;
      }
    }
    const collectNodes = graph.nodes.filter((n) => job.collect.includes(n.id)).map((n) => ({ id: n.id, parallelism: n.parallelism }));
    const collector = collectResults(nc, jobId, collectNodes);
    const master = new JobMaster({
      jobId,
      jobName: job.jobName,
      plan,
      nc,
      clock: cfg.clock,
      network: cfg.network,
      autoWatermarkIntervalMs: cfg.autoWatermarkIntervalMs,
      stateBackend: cfg.stateBackend,
      stateDir: cfg.stateDir,
      connectionLossTimeoutMs: cfg.connectionLossTimeoutMs,
      restartPolicy: cfg.restartPolicy,
      supervision: cfg.supervision,
      recordFailures: cfg.recordFailures,
      testHooks: cfg.testHooks,
      checkpointing:
        cfg.checkpointing === undefined || storages.storage === undefined
          ? undefined
          : {
              options: cfg.checkpointing,
              storage: lease === undefined ? storages.storage : leasedStorage(storages.storage, lease),
              openSavepointStorage: async (path) => {
                const dir = await LevelCheckpointStorage.open(path);
                // Tasks on workers write a savepoint to JetStream; it is copied to its directory when it completes.
                return onWorkers === undefined ? dir : exportingStorage(storages.storage!, dir);
              },
              savepointDir: join(cfg.stateDir, 'savepoints'),
            },
      restore: storages.restore,
      ...(onWorkers === undefined
        ? {}
        : { workers: { launcher: onWorkers.launcher, jobCode: onWorkers.jobCode, checkpointStorage: cfg.checkpointing === undefined ? undefined : jobDirName(job.jobName) } }),
      runId,
      ...(lease === undefined ? {} : { lease }),
      ...(election?.takeover === undefined ? {} : { takeover: election.takeover }),
    });
    lease?.onFenced((cause) => master.fail(cause));

    const natsUrl = url!;
    await registerJob(cfg.stateDir, { jobId, jobName: job.jobName, natsUrl, pid: process.pid }).catch(() => undefined);
    // On SIGINT/SIGTERM the embedded server stops; the job is cancelled first so it ends as 'canceled'.
    const unregister = server === undefined ? () => undefined : registerShutdownHook(() => (master.cancel(), result));
    const result: Promise<JobResult> = master.run().then(async (r) => {
      unregister();
      if (r.status === 'finished') {
        // After a flush round trip, everything the sinks published before finishing has arrived.
        await nc.flush().catch(() => undefined);
        if (!collector.complete())
          r = { ...r, status: 'failed', error: { code: 'EDDY_INTERNAL', message: 'the job finished but some collected results did not arrive' } };
      }
      // Standbys waiting on the lease learn the outcome (a fenced master writes nothing).
      await lease?.finish(r);
      collector.close();
      await onWorkers?.close();
      // Checkpoints outlive a failed job (for --resume), not a finished or canceled one (Flink's default
      // retention). On JetStream they go while the connection is still open.
      if (storages.storage !== undefined && r.status !== 'failed' && storages.destroy !== undefined) await storages.destroy().catch(() => undefined);
      // A failed job may have lost its connection: close rather than drain, which could wait for a server that is gone.
      await (r.status === 'finished' ? nc.drain() : nc.close()).catch(() => undefined);
      if (stateBackendFactory(cfg.stateBackend).onDisk) await rm(jobStateDir(cfg.stateDir, jobId), { recursive: true, force: true }).catch(() => undefined);
      await storages.close();
      await unregisterJob(cfg.stateDir, job.jobName, jobId).catch(() => undefined);
      // Checkpoints outlive a failed job (for --resume), not a finished or canceled one (Flink's default retention).
      if (storages.storage !== undefined && r.status !== 'failed' && storages.destroy === undefined)
        await rm(join(cfg.stateDir, 'checkpoints', jobDirName(job.jobName)), { recursive: true, force: true }).catch(() => undefined);
      await server?.stop();
      return r;
    });
    const client: JobClient = {
      jobId,
      jobName: job.jobName,
      natsUrl,
      result,
      cancel: () => {
        master.cancel();
        return result;
      },
      status: () => master.status(),
      savepoint: (directory) => master.savepoint(directory),
      triggerCheckpoint: () => master.triggerCheckpoint(),
      queryActor: (operator, key) => queryActorState(nc, { jobId, jobName: job.jobName, maxParallelism: graph.maxParallelism, nodes: graph.nodes }, operator, key),
    };
    await master.deployed;
    for (const n of graph.nodes) {
      const s = n.stateSchema as { kind?: string; path?: 'compiled' | 'xstate'; fallbackReason?: string } | undefined;
      if (s?.kind === 'machine' && s.path !== undefined)
        announceJobNotice({ kind: 'actor-path', jobName: job.jobName, jobId, operator: n.name, path: s.path, ...(s.fallbackReason === undefined ? {} : { reason: s.fallbackReason }) });
    }
    // Say where the state came from (eddy run prints it); the library itself never prints.
    if (election?.takeover !== undefined) {
      const p = election.previous!;
      announceJobNotice({ kind: 'took-over', jobName: job.jobName, jobId, previousPid: p.pid, previousHost: p.host });
    }
    if (storages.restore !== undefined) {
      const { meta, storage } = storages.restore;
      const from = election?.takeover !== undefined || (cfg.restore !== undefined && 'latest' in cfg.restore) ? 'checkpoint' : 'savepoint';
      announceJobNotice({ kind: 'restored', jobName: job.jobName, jobId, from, checkpointId: meta.id, timestamp: meta.timestamp, location: storage.location });
    } else if (cfg.restore !== undefined && 'latest' in cfg.restore) {
      announceJobNotice({ kind: 'resume-empty', jobName: job.jobName, jobId, location: storages.storage?.location ?? join(cfg.stateDir, 'checkpoints', jobDirName(job.jobName)) });
    }
    return { client, collected: result.then(() => collector.records) };
  },
};
