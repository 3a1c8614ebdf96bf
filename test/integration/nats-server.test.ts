// Integration tests for the embedded nats-server: startup, round trip, credentials, clean stop, helpful errors, no orphans.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, errors } from '@nats-io/transport-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isEddyError } from '../../src/errors.ts';
import { connectNats, findNatsServerBinary, natsConnectionOptions, startEmbeddedNatsServer } from '../../src/transport/nats-server.ts';
import { commandLinesContaining } from '../support/command-lines.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const fixture = join(repoRoot, 'test/fixtures/embedded-nats-child.ts');

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-nats-test-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Polls until the process is gone (a positive condition; the generous deadline only bounds a hang). */
async function waitForPidGone(pid: number, timeoutMs = 30_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !pidAlive(pid);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function expectRoundTrip(url: string): Promise<void> {
  const nc = await connectNats(url, { name: 'eddy-test' });
  try {
    const sub = nc.subscribe('eddy.test.roundtrip', { max: 1 });
    const got = (async () => {
      for await (const m of sub) return m.string();
      return undefined;
    })();
    nc.publish('eddy.test.roundtrip', 'hello');
    expect(await got).toBe('hello');
  } finally {
    await nc.close();
  }
}

describe('embedded nats-server', () => {
  it('is found on this machine', () => {
    expect(findNatsServerBinary()).toBeTypeOf('string');
  });

  it('the global setup provides a working server, and its URL carries the credential', async () => {
    const url = inject('natsUrl');
    expect(url).toMatch(/^nats:\/\/eddy:[0-9a-f]{64}@127\.0\.0\.1:\d+$/);
    await expectRoundTrip(url);
  });

  it('starts, round-trips a message, accepts 8MB payloads, and stops without leaving a process', async () => {
    const listenersBefore = ['SIGINT', 'SIGTERM', 'exit'].map((e) => process.listenerCount(e));
    const server = await startEmbeddedNatsServer({ storeDir: tempDir() });
    expect(server.address).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.url).toBe(`nats://eddy:${server.connectOptions.pass}@127.0.0.1:${server.port}`);
    expect(pidAlive(server.pid)).toBe(true);
    await expectRoundTrip(server.url);

    const nc = await connectNats(server.url);
    expect(nc.info?.max_payload).toBe(8 * 1024 * 1024);
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();

    await server.stop();
    expect(() => process.kill(server.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    // Idempotent.
    await server.stop();
    // The signal and exit handlers exist only while a server runs.
    expect(['SIGINT', 'SIGTERM', 'exit'].map((e) => process.listenerCount(e))).toEqual(listenersBefore);
  });

  it('runs several servers at once, each on its own port', async () => {
    const [a, b] = await Promise.all([
      startEmbeddedNatsServer({ storeDir: tempDir() }),
      startEmbeddedNatsServer({ storeDir: tempDir() }),
    ]);
    expect(a.port).not.toBe(b.port);
    await Promise.all([expectRoundTrip(a.url), expectRoundTrip(b.url)]);
    await Promise.all([a.stop(), b.stop()]);
    expect(pidAlive(a.pid) || pidAlive(b.pid)).toBe(false);
  });

  it('fails at once with EDDY_NATS_SERVER_MISSING and install advice when the binary is missing', async () => {
    const saved = process.env.EDDY_NATS_SERVER_BIN;
    process.env.EDDY_NATS_SERVER_BIN = join(tempDir(), 'no-such-nats-server');
    try {
      expect(findNatsServerBinary()).toBeUndefined();
      const t0 = performance.now();
      const err = await startEmbeddedNatsServer({ storeDir: tempDir() }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - t0).toBeLessThan(1_000);
      expect(isEddyError(err, 'EDDY_NATS_SERVER_MISSING')).toBe(true);
      expect((err as Error).message).toContain('apt-get install nats-server');
      expect((err as Error).message).toContain('NATS_URL');
    } finally {
      if (saved === undefined) delete process.env.EDDY_NATS_SERVER_BIN;
      else process.env.EDDY_NATS_SERVER_BIN = saved;
    }
  });
});

/** The error a promise rejects with, or the value it resolves with. */
const outcome = <T>(p: Promise<T>): Promise<T | unknown> => p.then((v) => v, (e: unknown) => e);

describe('the embedded server admits only its per-run credential', () => {
  it('refuses a client without the credential or with a wrong one (AuthorizationError); accepts its own', async () => {
    const server = await startEmbeddedNatsServer({ storeDir: tempDir() });
    try {
      const none = await outcome(connect({ servers: server.address, reconnect: false, timeout: 5_000 }));
      expect(none).toBeInstanceOf(errors.AuthorizationError);
      const wrong = await outcome(connect({ servers: server.address, user: 'eddy', pass: 'guess', reconnect: false, timeout: 5_000 }));
      expect(wrong).toBeInstanceOf(errors.AuthorizationError);
      // Through eddy: a clear EddyError that does not repeat any secret.
      const viaEddy = await outcome(connectNats(server.address, { timeoutMs: 5_000 }));
      expect(isEddyError(viaEddy, 'EDDY_NATS_AUTH')).toBe(true);
      expect((viaEddy as Error).message).toContain(server.address);
      const viaEddyWrong = await outcome(connectNats(server.url.replace(server.connectOptions.pass, 'f'.repeat(64)), { timeoutMs: 5_000 }));
      expect(isEddyError(viaEddyWrong, 'EDDY_NATS_AUTH')).toBe(true);
      expect((viaEddyWrong as Error).message).not.toContain('f'.repeat(64));
      expect((viaEddyWrong as Error).message).toContain(`nats://***@127.0.0.1:${server.port}`);

      const nc = await connect({ ...server.connectOptions, reconnect: false, timeout: 5_000 });
      expect(nc.info?.auth_required).toBe(true);
      await nc.close();
      await expectRoundTrip(server.url);
    } finally {
      await server.stop();
    }
  });

  it('the global setup\'s server refuses a client without the credential too', async () => {
    const { servers } = natsConnectionOptions(inject('natsUrl'));
    expect(await outcome(connect({ servers, reconnect: false, timeout: 5_000 }))).toBeInstanceOf(errors.AuthorizationError);
  });

  it('each server has its own credential: one server\'s password does not open another', async () => {
    const [a, b] = await Promise.all([startEmbeddedNatsServer({ storeDir: tempDir() }), startEmbeddedNatsServer({ storeDir: tempDir() })]);
    try {
      expect(a.connectOptions.pass).toMatch(/^[0-9a-f]{64}$/);
      expect(a.connectOptions.pass).not.toBe(b.connectOptions.pass);
      const crossed = await outcome(connect({ ...a.connectOptions, servers: b.address, reconnect: false, timeout: 5_000 }));
      expect(crossed).toBeInstanceOf(errors.AuthorizationError);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('keeps the credential in a 0600 config file in a 0700 directory, never on a command line', async () => {
    // An older eddy left a world-readable store directory and config file behind: both are tightened.
    const dir = join(tempDir(), 'store');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const conf = join(dir, 'nats-server.conf');
    writeFileSync(conf, 'max_payload: 8MB\n');
    chmodSync(conf, 0o644);
    const server = await startEmbeddedNatsServer({ storeDir: dir });
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(conf).mode & 0o777).toBe(0o600);
      expect(readFileSync(conf, 'utf8')).toContain(`password: "${server.connectOptions.pass}"`);
      // The scan reads command lines: it sees the server's own, which names the config file...
      expect(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8')).toContain(conf);
      // ...and no process (nats-server, its watchdog shell, this one) has the password in its command line.
      expect(commandLinesContaining(server.connectOptions.pass)).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});

describe('startup failures', () => {
  async function withFakeBinary<T>(script: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = tempDir();
    const bin = join(dir, 'fake-nats-server');
    writeFileSync(bin, `#!/bin/sh\n${script}\n`);
    chmodSync(bin, 0o755);
    const saved = process.env.EDDY_NATS_SERVER_BIN;
    process.env.EDDY_NATS_SERVER_BIN = bin;
    try {
      return await fn(dir);
    } finally {
      if (saved === undefined) delete process.env.EDDY_NATS_SERVER_BIN;
      else process.env.EDDY_NATS_SERVER_BIN = saved;
    }
  }

  it('a server that exits during startup fails with EDDY_NATS_SERVER_FAILED and its stderr', async () => {
    await withFakeBinary('echo "fake: cannot open store" >&2; exit 3', async (dir) => {
      const err = await startEmbeddedNatsServer({ storeDir: dir }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isEddyError(err, 'EDDY_NATS_SERVER_FAILED')).toBe(true);
      expect((err as Error).message).toContain('code 3');
      expect((err as Error).message).toContain('fake: cannot open store');
    });
  });

  it('a server that never accepts connections fails after startTimeoutMs and is stopped', async () => {
    await withFakeBinary('echo $$ > "$(dirname "$0")/pid"; echo "fake: hanging" >&2; exec sleep 1000', async (dir) => {
      const t0 = performance.now();
      const err = await startEmbeddedNatsServer({ storeDir: dir, startTimeoutMs: 500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - t0).toBeLessThan(3_000);
      expect(isEddyError(err, 'EDDY_NATS_SERVER_FAILED')).toBe(true);
      expect((err as Error).message).toContain('within 500 ms');
      expect((err as Error).message).toContain('fake: hanging');
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      expect(await waitForPidGone(pid)).toBe(true);
    });
  });
});

describe('connectNats', () => {
  it('fails with EDDY_NATS_UNREACHABLE when nothing listens', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const t0 = performance.now();
    const err = await connectNats(url, { timeoutMs: 1_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(performance.now() - t0).toBeLessThan(1_500);
    expect(isEddyError(err, 'EDDY_NATS_UNREACHABLE')).toBe(true);
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toContain('NATS_URL');
  });

  it('fails with EDDY_NATS_UNREACHABLE within the timeout when the peer never answers', async () => {
    // Accepts TCP connections but never sends the NATS INFO line.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address();
    const url = `nats://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
    try {
      const t0 = performance.now();
      const err = await connectNats(url, { timeoutMs: 500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(400);
      expect(elapsed).toBeLessThan(2_000);
      expect(isEddyError(err, 'EDDY_NATS_UNREACHABLE')).toBe(true);
      expect((err as Error).message).toContain(url);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe('no orphan nats-server when the owning process ends', () => {
  interface Child {
    pid: number;
    url: string;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    kill(signal: NodeJS.Signals): void;
  }

  async function startChild(mode: 'wait' | 'exit' | 'return'): Promise<Child> {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, tempDir(), mode], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (b: Buffer) => {
        buf += b.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(buf.slice(0, nl));
      });
      void exited.then(({ code, signal }) => {
        if (!buf.includes('\n')) reject(new Error(`fixture exited (${code ?? signal}) before printing; stderr:\n${stderr}`));
      });
    });
    const { pid, url } = JSON.parse(line) as { pid: number; url: string };
    return { pid, url, exited, kill: (s) => child.kill(s) };
  }

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: the child stops its server and exits with ${code}`, async () => {
      const child = await startChild('wait');
      expect(pidAlive(child.pid)).toBe(true);
      await expectRoundTrip(child.url);
      child.kill(signal);
      expect(await child.exited).toEqual({ code, signal: null });
      expect(await waitForPidGone(child.pid)).toBe(true);
    });
  }

  it('SIGKILL: the watchdog stops the server', async () => {
    const child = await startChild('wait');
    expect(pidAlive(child.pid)).toBe(true);
    child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(await waitForPidGone(child.pid)).toBe(true);
  });

  it('process.exit() without stop(): the server is stopped', async () => {
    const child = await startChild('exit');
    expect((await child.exited).code).toBe(0);
    expect(await waitForPidGone(child.pid)).toBe(true);
  });

  it('the event loop drains without stop(): the process ends and the server is stopped', async () => {
    const child = await startChild('return');
    expect((await child.exited).code).toBe(0);
    expect(await waitForPidGone(child.pid)).toBe(true);
  });
});
