// Starts and stops the embedded nats-server (loopback only, guarded by a per-run credential); re-exports the connect helpers.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { EddyError, errorText } from '../errors.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { newNatsCredential, type NatsCredential } from './credentials.ts';
import { FALLBACK_DIRS, findNatsServerBinary } from './nats-server-binary.ts';
import { writePrivateConfig } from './nats-server-config.ts';
import { STOP_GRACE_MS, track, untrack, WATCHDOG, type Running } from './nats-server-supervision.ts';
import { natsUrlWithCredential } from './nats-url.ts';

/**
 * A nats-server started by {@link startEmbeddedNatsServer}. It admits only clients that present its
 * per-run credential: connect with `url` through eddy (the `nats` option, NATS_URL, `connectNats`),
 * or with `connectOptions` through `connect()` of `@nats-io/transport-node`.
 */
export interface EmbeddedNatsServer {
  /**
   * Client URL with the per-run credential, e.g. `nats://eddy:<password>@127.0.0.1:40123`. A secret:
   * never print it or put it on a command line (print `address`; pass it to children as NATS_URL).
   */
  readonly url: string;
  /** The URL without credentials, e.g. `nats://127.0.0.1:40123`: for messages; it cannot log in. */
  readonly address: string;
  /** Options for `connect()` of `@nats-io/transport-node`: `address` with the credential as `user`/`pass`. */
  readonly connectOptions: { readonly servers: string; readonly user: string; readonly pass: string };
  /** The loopback port the server listens on. */
  readonly port: number;
  /** nats-server's own pid (not the watchdog shell's), e.g. for CPU accounting. */
  readonly pid: number;
  /** Stops the server; idempotent; resolves once nats-server and its watchdog have exited. */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedNatsServer}. */
export interface EmbeddedNatsServerOptions {
  /**
   * JetStream store directory; created if missing and made private (mode 0700: it holds the config
   * file with the credential, and the streams' data).
   */
  storeDir: string;
  /** Clock for deadlines and retries (default: the system clock). */
  clock?: Clock;
  /** How long to wait for the server to accept connections (default 10 000 ms). */
  startTimeoutMs?: number;
}

/** How much of nats-server's stderr is kept for error messages. */
const STDERR_TAIL_BYTES = 8_192;

const INSTALL_HINT =
  'Install it (Debian/Ubuntu: `apt-get install nats-server`; other systems: https://docs.nats.io/running-a-nats-service/introduction/installation), ' +
  'or set EDDY_NATS_SERVER_BIN to the binary, or use an existing server by setting NATS_URL or the `nats` option (`--nats URL` on the command line).';

/** Asks the OS for a free loopback port. Another process may take it before nats-server binds: callers retry. */
async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (e) =>
      reject(
        new EddyError(
          'EDDY_NATS_SERVER_FAILED',
          `cannot find a free loopback port for the embedded NATS server: ${e.message}; make 127.0.0.1 available, or use an existing server by setting NATS_URL or the \`nats\` option`,
          { cause: e },
        ),
      ),
    );
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new EddyError('EDDY_INTERNAL', `the OS allocated no readable loopback port (address ${JSON.stringify(addr)}); this is a bug in eddy, please report it`))));
    });
  });
}

function tailText(chunks: Buffer[]): string {
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return '(nats-server wrote nothing to stderr)';
  return text.split('\n').slice(-20).join('\n');
}

/** True when a pid still names a process (a zombie counts as alive). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

type Attempt = { ok: true; server: EmbeddedNatsServer } | { ok: false; portInUse: boolean; error: EddyError };

async function startOnce(bin: string, storeDir: string, configFile: string, cred: NatsCredential, clock: Clock, timeoutMs: number): Promise<Attempt> {
  const port = await freeLoopbackPort();
  const url = `nats://127.0.0.1:${port}`;
  // The credential is in the config file only: other users can read every process's command line.
  const args = ['-c', configFile, '-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port)];
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'sh', bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });

  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  child.stderr!.on('data', (b: Buffer) => {
    stderr.push(b);
    stderrBytes += b.length;
    while (stderrBytes > STDERR_TAIL_BYTES && stderr.length > 1) stderrBytes -= stderr.shift()!.length;
  });
  // Writing to a closed stdin would otherwise raise an unhandled EPIPE.
  child.stdin!.on('error', () => {});

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const closed = new Promise<void>((resolve) => {
    // 'close' fires after the shell exited and every holder of its stdout/stderr (nats-server) is gone.
    child.once('close', (code, signal) => {
      exited ??= { code, signal };
      resolve();
    });
  });
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    spawnError = e;
  });

  const pid = await new Promise<number | undefined>((resolve) => {
    let buf = '';
    const onData = (b: Buffer): void => {
      buf += b.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        child.stdout!.off('data', onData);
        const n = Number.parseInt(buf.slice(0, nl).trim(), 10);
        resolve(Number.isInteger(n) && n > 0 ? n : undefined);
      }
    };
    child.stdout!.on('data', onData);
    child.once('close', () => resolve(undefined));
    child.once('error', () => resolve(undefined));
  });

  let stopping: Promise<void> | undefined;
  const killNow = (): void => {
    child.stdin!.destroy();
    if (pid !== undefined && exited === undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  const handle: Running = {
    pid: pid ?? -1,
    child,
    killNow,
    stop(): Promise<void> {
      stopping ??= (async () => {
        // Keep the event loop alive until both processes are gone.
        child.ref();
        child.stdin!.end();
        child.stdin!.destroy();
        let graceOver = false;
        const timer = clock.schedule(STOP_GRACE_MS, () => {
          graceOver = true;
          for (const p of [pid, child.pid]) {
            if (p === undefined) continue;
            try {
              process.kill(p, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        });
        await closed;
        timer.cancel();
        // After a SIGKILL of the shell nats-server is reparented; give the reaper a moment.
        if (graceOver && pid !== undefined) {
          for (let i = 0; i < 50 && pidAlive(pid); i++) await clock.sleep(20);
        }
        untrack(handle);
      })();
      return stopping;
    },
  };

  const fail = async (why: string, portInUse = false): Promise<Attempt> => {
    await handle.stop();
    return {
      ok: false,
      portInUse,
      error: new EddyError('EDDY_NATS_SERVER_FAILED', `${why} (binary: ${bin}, store dir: ${storeDir}). nats-server stderr:\n${tailText(stderr)}`, {
        cause: spawnError,
      }),
    };
  };

  if (pid === undefined) return fail('the nats-server watchdog shell exited before starting nats-server');
  track(handle);

  const deadline = clock.monotonic() + timeoutMs;
  let delay = 10;
  for (;;) {
    if (exited !== undefined || spawnError !== undefined) {
      const how = exited?.signal ? `signal ${exited.signal}` : `code ${exited?.code ?? '?'}`;
      const inUse = /address already in use/i.test(tailText(stderr));
      return fail(`nats-server exited during startup with ${how}`, inUse);
    }
    const left = deadline - clock.monotonic();
    if (left <= 0) return fail(`nats-server did not accept connections on ${url} within ${timeoutMs} ms`);
    try {
      const nc = await connect({ servers: url, user: cred.user, pass: cred.pass, timeout: Math.max(50, Math.min(1_000, left)), reconnect: false, name: 'eddy-probe' });
      await nc.close();
      break;
    } catch {
      await clock.sleep(delay);
      delay = Math.min(100, delay * 2);
    }
  }

  // A server the caller forgot to stop must not keep the process alive: the exit hook (or EOF on the
  // watchdog's stdin when node dies) stops it. stop() re-refs while it waits.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  // Nobody reads stdout any more; keep it drained.
  child.stdout!.resume();

  const server: EmbeddedNatsServer = {
    url: natsUrlWithCredential(url, cred),
    address: url,
    connectOptions: { servers: url, user: cred.user, pass: cred.pass },
    port,
    pid,
    stop: () => handle.stop(),
  };
  return { ok: true, server };
}

/**
 * Starts a private nats-server with JetStream on a free loopback port and waits until it accepts
 * connections. The server can never outlive this process: it runs under a `sh` watchdog that stops it
 * when its stdin pipe from node closes (stop(), normal exit, crash or SIGKILL). While any embedded
 * server runs, SIGINT/SIGTERM stop all of them and then exit with 130/143.
 *
 * The server admits only clients with a credential generated for this run: it is written into the
 * config file (mode 0600, in the store directory, mode 0700) and never onto a command line. Connect
 * with the returned `url` (through eddy) or `connectOptions` (through `@nats-io/transport-node`).
 *
 * @throws EddyError `EDDY_NATS_SERVER_MISSING` at once when no binary is found (the message says how
 *   to install one or how to use an existing server); `EDDY_NATS_SERVER_FAILED` when the server exits
 *   during startup or does not accept connections within `startTimeoutMs` (with its stderr tail).
 * @example
 * ```ts
 * const server = await startEmbeddedNatsServer({ storeDir: '.eddy/nats' });
 * const nc = await connectNats(server.url); // or: await connect({ ...server.connectOptions, name: 'me' })
 * // ...
 * await nc.close();
 * await server.stop();
 * ```
 */
export async function startEmbeddedNatsServer(opts: EmbeddedNatsServerOptions): Promise<EmbeddedNatsServer> {
  const bin = findNatsServerBinary();
  if (bin === undefined) {
    const where =
      process.env.EDDY_NATS_SERVER_BIN !== undefined && process.env.EDDY_NATS_SERVER_BIN !== ''
        ? `EDDY_NATS_SERVER_BIN=${process.env.EDDY_NATS_SERVER_BIN} is not an executable file`
        : `no nats-server binary on PATH or in ${FALLBACK_DIRS.join(', ')}`;
    throw new EddyError('EDDY_NATS_SERVER_MISSING', `cannot start the embedded NATS server: ${where}. ${INSTALL_HINT}`);
  }
  const clock = opts.clock ?? systemClock;
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  const cred = newNatsCredential();
  let configFile: string;
  try {
    configFile = writePrivateConfig(opts.storeDir, cred);
  } catch (e) {
    throw new EddyError('EDDY_CONFIG', `cannot prepare the NATS store directory ${opts.storeDir}: ${errorText(e)}`, { cause: e });
  }
  // The free port is only probed, not held, so a rare race with another process is retried.
  for (let attempt = 1; ; attempt++) {
    const result = await startOnce(bin, opts.storeDir, configFile, cred, clock, timeoutMs);
    if (result.ok) return result.server;
    if (!result.portInUse || attempt >= 3) throw result.error;
  }
}

export { connectNats, type ConnectNatsOptions } from './connect-nats.ts';
export { registerShutdownHook } from './nats-server-supervision.ts';
export { findNatsServerBinary } from './nats-server-binary.ts';
export { natsConnectionOptions, redactNatsUrl, type NatsUrlOptions } from './nats-url.ts';
