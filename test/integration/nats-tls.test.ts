// NATS URLs that carry TLS and key-based login (`?tls_ca=`, `?nkey=`): a connection to a TLS nats-server that admits one nkey user succeeds with both and is refused without.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEddyError } from '../../src/errors.ts';
import { systemClock } from '../../src/time/clock.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { findNatsServerBinary } from '../../src/transport/nats-server.ts';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { freeLoopbackPort } from '../support/restartable-nats-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'eddy-nats-tls-'));
let server: ChildProcess | undefined;
let port = 0;
const user = nkeys.createUser();
const seedFile = join(dir, 'user.nk');
const caFile = join(dir, 'ca.pem');

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

beforeAll(async () => {
  // A CA and a server certificate for 127.0.0.1, made here (no network, no fixed files).
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=eddy test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  // The client names the server 'localhost' for TLS when the URL holds an IP (Node sends no IP as SNI).
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()) + '\n', { mode: 0o600 });
  port = await freeLoopbackPort();
  const config = join(dir, 'server.conf');
  writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\ntls {\n  cert_file: "${join(dir, 'server.pem')}"\n  key_file: "${join(dir, 'server.key')}"\n}\nauthorization {\n  users = [ { nkey: "${user.getPublicKey()}" } ]\n}\n`,
  );
  server = spawn(findNatsServerBinary()!, ['-c', config], { stdio: 'ignore' });
  // Ready once a correct client gets in (a positive condition; the deadline only bounds a hang).
  const url = `nats://127.0.0.1:${port}?tls_ca=${caFile}&nkey=${seedFile}`;
  const end = systemClock.monotonic() + 15_000;
  for (;;) {
    try {
      await (await connectNats(url, { timeoutMs: 1_000 })).close();
      return;
    } catch (e) {
      if (systemClock.monotonic() > end) throw e;
      await systemClock.sleep(50);
    }
  }
});

afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('NATS URLs with TLS and nkey files', () => {
  it('turn into client options: the query leaves the server URLs, files become tls and an authenticator', () => {
    const o = natsConnectionOptions(`tls://a:4222?tls_ca=${caFile}&nkey=${seedFile},tls://b:4222`);
    expect(o.servers).toEqual(['tls://a:4222', 'tls://b:4222']);
    expect(o.tls).toEqual({ caFile });
    expect(typeof o.authenticator).toBe('function');
    expect(() => natsConnectionOptions('nats://a:4222?tls_cert=x.pem')).toThrow(/needs both tls_cert and tls_key/);
    expect(() => natsConnectionOptions('nats://a:4222?password=x')).toThrow(/unknown NATS URL parameter "password"/);
    expect(() => natsConnectionOptions(`nats://a:4222?nkey=${join(dir, 'missing.nk')}`)).toThrow(/cannot read the NATS nkey seed file/);
  });

  it('connect to a TLS server as its nkey user; without the CA or without the key they are refused', async () => {
    const nc = await connectNats(`nats://127.0.0.1:${port}?tls_ca=${caFile}&nkey=${seedFile}`);
    const sub = nc.subscribe('tls.check', { max: 1 });
    nc.publish('tls.check', 'hello');
    for await (const m of sub) expect(m.string()).toBe('hello');
    await nc.close();
    for (const url of [`nats://127.0.0.1:${port}?nkey=${seedFile}`, `nats://127.0.0.1:${port}?tls_ca=${caFile}`]) {
      const e = await connectNats(url, { timeoutMs: 2_000 }).then(
        async (c) => {
          await c.close();
          return undefined;
        },
        (err: unknown) => err,
      );
      expect(isEddyError(e), `${url} must be refused`).toBe(true);
    }
  });
});
