// A job on worker processes against a 3-node nats-server cluster (JetStream R3) survives the SIGKILL of one server mid-run, and its output stays exactly-once.
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultReplicas } from '../../src/checkpoint/jetstream-checkpoint-storage.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { tempDirMaker, until } from '../support/example-test-support.ts';
import { expectExactlyOnce, resultOf, startEddy, type Out, type Run } from '../support/worker-job-support.ts';
import { NatsCluster, type ClusterNode } from '../support/nats-cluster.ts';

const tempDir = tempDirMaker('eddy-workers-cluster-');
let cluster: NatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  cluster = await NatsCluster.start(join(tempDir(), 'nats'));
  // All three URLs: the test client rides out the loss of whichever server it is connected to.
  nc = await connectNats(cluster.url);
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

/** JetStream calls fail while a stream or the meta group elects a new leader: retried until they pass. */
async function retried<T>(what: string, fn: () => Promise<T>): Promise<T> {
  let result: T | undefined;
  let last: unknown;
  await until(
    async () => {
      try {
        result = await fn();
        return true;
      } catch (e) {
        last = e;
        return false;
      }
    },
    () => `${what}: ${(last as Error)?.message ?? last}`,
    30_000,
  );
  return result!;
}

async function stored(stream: string): Promise<number> {
  return (await retried(`info of stream ${stream}`, () => jsm.streams.info(stream))).state.messages;
}

/** The server leading `stream` (undefined while it elects one). */
async function streamLeader(stream: string): Promise<string | undefined> {
  return (await retried(`info of stream ${stream}`, () => jsm.streams.info(stream))).cluster?.leader;
}

/**
 * Everything in `stream`, by sequence with the stream's message get (its leader answers). No consumer:
 * nats-server 2.9 may place an ephemeral one on the dead server, and a durable R3 one on a cluster
 * short of a server is slow to start.
 */
async function readAll(stream: string): Promise<Out[]> {
  const { first_seq: first, last_seq: last } = (await retried(`info of stream ${stream}`, () => jsm.streams.info(stream))).state;
  const out: Out[] = [];
  const batch = 500;
  for (let from = first; from <= last && last > 0; from += batch) {
    const seqs = Array.from({ length: Math.min(batch, last - from + 1) }, (_, k) => from + k);
    const msgs = await retried(`messages ${from}.. of stream ${stream}`, () => Promise.all(seqs.map((seq) => jsm.streams.getMessage(stream, { seq }))));
    for (const m of msgs) if (m !== null) out.push(m.json<Out>());
  }
  return out;
}

describe('jobs on workers against a 3-node NATS cluster', () => {
  it('eddy sees the cluster: its own buckets get 3 replicas', () => {
    expect(defaultReplicas(nc)).toBe(3);
  });

  it(
    'SIGKILL of the server leading the output stream mid-run: the job finishes and its output stays exactly-once',
    async () => {
      const records = 24000;
      const stream = 'EDDY_CLUSTER_OUT';
      const subject = 'cluster.out';
      await jsm.streams.add({ name: stream, subjects: [subject], num_replicas: 3 });
      // The victim is the output stream's leader: the sink's commits must ride out the leader election
      // (a new leader keeps the replicated duplicate window, so re-committed transactions are dropped),
      // and whichever processes were connected to it must reconnect to the other two. Before the job
      // starts, the leadership is moved off the first server of the URL list (so, barring a later
      // election, the victim is not the list's first entry). Any one server of three may go: the
      // checkpoint, job code and lease buckets are R3 too, and their leaders may be on the victim.
      await until(
        async () => {
          const leader = await streamLeader(stream);
          if (leader === cluster.nodes[0]!.name) await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 5_000 }).catch(() => undefined);
          return leader !== undefined && leader !== cluster.nodes[0]!.name;
        },
        'the output stream led by another server than the first',
        30_000,
      );
      const name = `wc-kill-${process.pid}`;
      const run = start([
        'run', 'test/fixtures/worker-job.ts', '--workers', '2', '-p', '2', '--state-dir', join(tempDir(), 'state'),
        '--', '--subject', subject, '--stream', stream, '--records', String(records), '--rate', '4000', '--name', name,
      ]);
      let victim: ClusterNode | undefined;
      const t0 = performance.now();
      const phases: string[] = [];
      const phase = (what: string): number => phases.push(`${what} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      try {
        // The sink publishes a checkpoint's records when it completes: a third of them stored means
        // several checkpoints completed (and their state is in the R3 checkpoint buckets).
        await until(async () => (await stored(stream)) >= records / 3, () => `a third of the output; stderr: ${run.err()}`, 60_000);
        // Everything eddy made on JetStream (checkpoint KV and object store, job code) is replicated on all three.
        const assets = [];
        for await (const s of jsm.streams.list()) assets.push({ name: s.config.name, replicas: s.config.num_replicas });
        expect(assets.filter((s) => s.name !== stream).length).toBeGreaterThanOrEqual(3);
        expect(assets.filter((s) => s.replicas !== 3)).toEqual([]);
        victim = cluster.node((await streamLeader(stream))!);
        await cluster.kill(victim);
        phase('killed at');
        // Positive proof the output stream lives on under a new leader on one of the other two servers.
        await until(async () => {
          const l = await streamLeader(stream);
          return l !== undefined && l !== victim!.name;
        }, 'a new leader of the output stream');
        phase('new stream leader at');
        expect(await run.exited, run.out() + run.err()).toBe(0);
        phase('job exited at');
      } finally {
        run.child.kill('SIGKILL');
      }
      const result = resultOf(run);
      const restarts = result.restarts.map((r) => `${r.cause.code} (from checkpoint ${r.checkpointId}): ${r.cause.message.slice(0, 160)}`);
      console.log(`killed ${victim!.name} (the output stream's leader; ${phases.join(', ')}); RESULT status ${result.status}, ${restarts.length} restart(s)${restarts.map((r) => `\n  ${r}`).join('')}`);
      expect(result.status).toBe('finished');
      // Every restart (a reconnect, a commit during the election) restored a completed checkpoint.
      for (const r of result.restarts) expect(r.checkpointId, r.cause.message).not.toBeNull();
      const out = await readAll(stream);
      phase('output read at');
      console.log(phases[phases.length - 1]);
      expectExactlyOnce(out, records);
    },
    90_000,
  );
});

function start(args: string[]): Run {
  return startEddy(args, cluster.url);
}
