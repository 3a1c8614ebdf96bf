// A private nats-server for one chaos seed that can be stopped and started again on the same port, store and credential (JetStream data survives).
//
// startEmbeddedNatsServer picks a new free port and a new per-run password at every start, so a job
// connected to it could never reconnect after a restart; this spawns the same binary itself, under a
// watchdog like the embedded one's (the server never outlives this process, even after a SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { systemClock } from '../../src/time/clock.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { findNatsServerBinary } from '../../src/transport/nats-server.ts';

/**
 * `sh -c WATCHDOG sh <nats-server> <args...>`: runs nats-server in the background and stops it (TERM)
 * when the shell's stdin pipe from node reaches EOF, i.e. when node closes it (stop) or dies. The
 * reader gets the pipe as fd 3 because a background job's stdin is /dev/null; nats-server never holds
 * the pipe, so node's end is its only writer. The shell waits for nats-server and exits with it.
 */
export const WATCHDOG = `
exec 3<&0 </dev/null
"$@" 3<&- >/dev/null 2>&1 &
pid=$!
( while read -r _line; do :; done <&3; kill -TERM "$pid" 2>/dev/null ) &
exec 3<&-
wait "$pid"
`;

/** How long a (re)start may take before it fails. */
const START_TIMEOUT_MS = 15_000;

/** A loopback port nothing listens on right now. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A nats-server with JetStream on one loopback port for its whole life, guarded by a user and
 * password made once (so clients re-authenticate after a restart with what they have).
 */
export class RestartableNatsServer {
  private child: ChildProcess | undefined;
  private closed: Promise<void> = Promise.resolve();
  /** Completed restarts. */
  restarts = 0;

  private constructor(
    readonly port: number,
    private readonly storeDir: string,
    private readonly configFile: string,
    /** Client URL with the credential: pass it to children as NATS_URL, never on a command line. */
    readonly url: string,
  ) {}

  /** Starts a server whose JetStream store (and config file, mode 0600) live in `storeDir`. */
  static async start(storeDir: string): Promise<RestartableNatsServer> {
    mkdirSync(storeDir, { recursive: true, mode: 0o700 });
    // Hex: no quoting or URL encoding needed anywhere. Not the seeded random: a secret is not a simulation.
    const pass = randomBytes(24).toString('hex');
    const configFile = join(storeDir, 'nats-server.conf');
    writeFileSync(configFile, `max_payload: 8MB\nauthorization {\n  user: "chaos"\n  password: "${pass}"\n}\n`, { mode: 0o600 });
    const port = await freeLoopbackPort();
    const s = new RestartableNatsServer(port, storeDir, configFile, `nats://chaos:${pass}@127.0.0.1:${port}`);
    await s.start();
    return s;
  }

  /** Stops the server gracefully (TERM: JetStream flushes its store) and starts it again on the same port and store. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
    this.restarts++;
  }

  /** Stops the server; resolves once it exited. Idempotent. */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (c !== undefined) {
      c.stdin!.end();
      c.stdin!.destroy();
    }
    await this.closed;
  }

  private async start(): Promise<void> {
    const bin = findNatsServerBinary();
    if (bin === undefined) throw new Error('nats-server is not installed');
    const end = systemClock.monotonic() + START_TIMEOUT_MS;
    for (;;) {
      const child = spawn('/bin/sh', ['-c', WATCHDOG, 'sh', bin, '-c', this.configFile, '-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.stdin!.on('error', () => undefined);
      let exited = false;
      this.closed = new Promise((resolve) => child.once('close', () => resolve()));
      void this.closed.then(() => (exited = true));
      this.child = child;
      // Up when it accepts an authenticated connection; a server that exits at once (the port is not yet
      // free again) is started anew.
      while (!exited) {
        try {
          const nc = await connectNats(this.url, { timeoutMs: 1_000, name: 'chaos-probe' });
          await nc.close();
          return;
        } catch (e) {
          if (systemClock.monotonic() > end) {
            await this.stop();
            throw new Error(`nats-server did not start on port ${this.port} within ${START_TIMEOUT_MS} ms: ${(e as Error).message}`);
          }
          await systemClock.sleep(20);
        }
      }
      if (systemClock.monotonic() > end) throw new Error(`nats-server kept exiting at start on port ${this.port}`);
    }
  }
}
