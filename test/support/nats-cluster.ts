// A private 3-node nats-server cluster on loopback (routes between the three, JetStream on each, so streams can be R3) whose servers can be SIGKILLed one by one.
//
// Each server is spawned like RestartableNatsServer's (under the same watchdog: none outlives this
// process) with its own store dir, client port, cluster port, server name and routes to the other
// two; all share one user and password (in each server's config file, mode 0600), so one URL list
// with the credential reaches any of them.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { systemClock } from '../../src/time/clock.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { findNatsServerBinary } from '../../src/transport/nats-server.ts';
import { freeLoopbackPort, WATCHDOG } from './restartable-nats-server.ts';

/** How long the cluster may take to start and elect a JetStream meta leader. */
const START_TIMEOUT_MS = 30_000;

/** One server of the cluster. */
export interface ClusterNode {
  /** Its `server_name`: what stream and meta leader info name. */
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  /** Client URL with the credential: pass it to children in the environment, never on a command line. */
  readonly url: string;
  readonly storeDir: string;
  /** The nats-server's own pid (from its pid file), for a SIGKILL. */
  pid: number;
  /** True once it exited (stopped or killed). */
  exited: boolean;
}

interface Running {
  node: ClusterNode;
  child: ChildProcess;
  closed: Promise<void>;
  pidFile: string;
}

export class NatsCluster {
  private constructor(
    readonly clusterName: string,
    private readonly running: Running[],
  ) {}

  get nodes(): ClusterNode[] {
    return this.running.map((r) => r.node);
  }

  /** Every server's URL, comma-separated (what NATS_URL takes; the client splits it). */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  /** Starts 3 servers under `baseDir` (one subdirectory each) and resolves once JetStream has a meta leader and places R3 streams. */
  static async start(baseDir: string, size = 3): Promise<NatsCluster> {
    const bin = findNatsServerBinary();
    if (bin === undefined) throw new Error('nats-server is not installed');
    mkdirSync(baseDir, { recursive: true, mode: 0o700 });
    const pass = randomBytes(24).toString('hex');
    const clusterName = `eddy-test-${randomBytes(4).toString('hex')}`;
    const ports: { port: number; clusterPort: number }[] = [];
    const taken = new Set<number>();
    // freeLoopbackPort closes its probe at once, so two calls may answer the same port: keep them distinct.
    const fresh = async (): Promise<number> => {
      for (;;) {
        const p = await freeLoopbackPort();
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
      }
    };
    for (let i = 0; i < size; i++) ports.push({ port: await fresh(), clusterPort: await fresh() });
    const running: Running[] = [];
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const dir = join(baseDir, name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const configFile = join(dir, 'nats-server.conf');
      writeFileSync(configFile, `max_payload: 8MB\nauthorization {\n  user: "cluster"\n  password: "${pass}"\n}\n`, { mode: 0o600 });
      const pidFile = join(dir, 'nats-server.pid');
      const { port, clusterPort } = ports[i]!;
      const routes = ports
        .filter((_, j) => j !== i)
        .map((p) => `nats://127.0.0.1:${p.clusterPort}`)
        .join(',');
      const args = [
        bin, '-c', configFile, '-js', '-sd', join(dir, 'store'), '-a', '127.0.0.1', '-p', String(port), '-n', name, '-P', pidFile,
        '--cluster', `nats://127.0.0.1:${clusterPort}`, '--cluster_name', clusterName, '--routes', routes,
      ];
      const child = spawn('/bin/sh', ['-c', WATCHDOG, 'sh', ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin!.on('error', () => undefined);
      const node: ClusterNode = { name, port, clusterPort, url: `nats://cluster:${pass}@127.0.0.1:${port}`, storeDir: join(dir, 'store'), pid: 0, exited: false };
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      void closed.then(() => (node.exited = true));
      // The pid file is read once the server accepts connections (waitUntilReady).
      running.push({ node, child, closed, pidFile });
    }
    const cluster = new NatsCluster(clusterName, running);
    try {
      await cluster.waitUntilReady();
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** Each server accepts an authenticated connection, then an R3 stream can be created (JetStream has a meta leader and sees all three). */
  private async waitUntilReady(): Promise<void> {
    const end = systemClock.monotonic() + START_TIMEOUT_MS;
    const overdue = (what: string, e: unknown): void => {
      if (systemClock.monotonic() > end) throw new Error(`the nats-server cluster did not ${what} within ${START_TIMEOUT_MS} ms: ${(e as Error)?.message ?? e}`);
    };
    for (const r of this.running) {
      for (;;) {
        if (r.node.exited) throw new Error(`nats-server ${r.node.name} (port ${r.node.port}) exited at start`);
        try {
          const nc = await connectNats(r.node.url, { timeoutMs: 1_000, name: 'cluster-probe' });
          await nc.close();
          r.node.pid = Number(readFileSync(r.pidFile, 'utf8').trim());
          break;
        } catch (e) {
          overdue(`accept connections on port ${r.node.port}`, e);
          await systemClock.sleep(50);
        }
      }
    }
    const nc = await connectNats(this.url, { timeoutMs: 2_000, name: 'cluster-probe' });
    try {
      for (;;) {
        try {
          // Even the manager's first call (account info) fails until there is a meta leader.
          const jsm = await jetstreamManager(nc, { timeout: 2_000 });
          await jsm.streams.add({ name: 'CLUSTER_PROBE', subjects: ['cluster.probe'], num_replicas: this.running.length });
          await jsm.streams.delete('CLUSTER_PROBE');
          return;
        } catch (e) {
          overdue('place an R3 stream (no JetStream meta leader yet?)', e);
          await systemClock.sleep(100);
        }
      }
    } finally {
      await nc.close();
    }
  }

  /** The node named `name` (a stream's `cluster.leader`). */
  node(name: string): ClusterNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no server named ${JSON.stringify(name)} in cluster ${this.clusterName} (${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /** SIGKILLs server `node` (no flush, no goodbye to its routes or clients); resolves once it exited. */
  async kill(node: ClusterNode): Promise<void> {
    const r = this.running.find((x) => x.node === node);
    if (r === undefined) throw new Error(`server ${node.name} is not of this cluster`);
    if (!node.exited) process.kill(node.pid, 'SIGKILL');
    await r.closed;
  }

  /** Stops every server still running (TERM via the watchdog); resolves once all exited. Idempotent. */
  async stop(): Promise<void> {
    for (const r of this.running) {
      r.child.stdin!.end();
      r.child.stdin!.destroy();
    }
    await Promise.all(this.running.map((r) => r.closed));
  }
}
