// Runs jobs in this process: resolves NATS (embedded by default), plans the graph and runs a JobMaster.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobSubmission, PipelineExecutor, SubmittedJob } from '../src/api/executor.ts';
import type { JobClient, JobResult } from '../src/api/job.ts';
import { createStreamGraph } from '../src/graph/stream-graph.ts';
import { createExecutionPlan } from '../src/plan/execution-plan.ts';
import { newJobId } from '../src/time/ids.ts';
import { FrameCodec } from '../src/transport/frame-codec.ts';
import { connectNats } from '../src/transport/connect-nats.ts';
import { registerShutdownHook, startEmbeddedNatsServer, type EmbeddedNatsServer } from '../src/transport/nats-server.ts';
import { subjects } from '../src/transport/subjects.ts';
import { JobMaster } from './job-master.ts';

/** Receives what collect sinks publish: `[subtask, records]` batches and `[subtask, null]` at each subtask's end. */
function collectResults(nc: NatsConnection, jobId: string, nodes: { id: number; parallelism: number }[]) {
  const codec = new FrameCodec();
  const records = new Map<number, unknown[]>();
  const pendingEnds = new Map<number, number>();
  const subs = nodes.map((n) => {
    records.set(n.id, []);
    pendingEnds.set(n.id, n.parallelism);
    return nc.subscribe(subjects.collect(jobId, n.id), {
      callback: (_err, msg) => {
        const [, batch] = codec.decodeValue(msg.data) as [number, unknown[] | null];
        if (batch === null) pendingEnds.set(n.id, pendingEnds.get(n.id)! - 1);
        else {
          const out = records.get(n.id)!;
          for (let i = 0; i < batch.length; i++) out.push(batch[i]);
        }
      },
    });
  });
  return {
    complete: () => [...pendingEnds.values()].every((x) => x === 0),
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
    const jobId = newJobId();
    let server: EmbeddedNatsServer | undefined;
    let url = cfg.nats;
    if (url === undefined) {
      server = await startEmbeddedNatsServer({ storeDir: join(cfg.stateDir, 'nats'), clock: cfg.clock });
      url = server.url;
    }
    let nc: NatsConnection;
    try {
      nc = await connectNats(url, { timeoutMs: cfg.connectTimeoutMs, name: `eddy-${job.jobName}-${jobId}`, clock: cfg.clock });
    } catch (e) {
      await server?.stop();
      throw e;
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
    });

    const natsUrl = url;
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
      collector.close();
      // A failed job may have lost its connection: close rather than drain, which could wait for a server that is gone.
      await (r.status === 'finished' ? nc.drain() : nc.close()).catch(() => undefined);
      if (cfg.stateBackend === 'level') await rm(join(cfg.stateDir, 'jobs', jobId), { recursive: true, force: true }).catch(() => undefined);
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
    };
    await master.deployed;
    return { client, collected: result.then(() => collector.records) };
  },
};
