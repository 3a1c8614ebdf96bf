// `eddy publish` as a user runs it (bin/eddy.mjs in a child process): JSON lines to core NATS and to JetStream with ids, bad lines, a running job's server.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { registerJob } from '../../src/api/job-registry.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const natsUrl = inject('natsUrl');
const dir = mkdtempSync(join(tmpdir(), 'eddy-cli-publish-'));
const tag = `clipub${process.pid}`;
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectNats(natsUrl);
});
afterAll(async () => {
  await nc.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `eddy ...args` with `env` (eddy's own variables only as given) and `stdin` as its standard input. */
function eddy(args: string[], env: Record<string, string> = {}, stdin = ''): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NATS_URL', 'EDDY_STATE_DIR', 'EDDY_DEBUG']) delete base[k];
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The raw payloads arriving on `subject`, in order. */
async function listen(subject: string): Promise<string[]> {
  const got: string[] = [];
  nc.subscribe(subject, { callback: (_e, m) => void got.push(m.string()) });
  await nc.flush();
  return got;
}

/** The child flushed before it exited, so its messages are at the server; one round trip here delivers them all. */
async function delivered(got: string[]): Promise<string[]> {
  await nc.flush();
  return got;
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A pid that named a process a moment ago and names none now. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.once('close', r));
  return child.pid!;
}

const LINES = ['{"sensor":"s1","temperature":21.5}', '', '{ "sensor" : "s2", "temperature" : 30 }', '{"id":12345678901234567890}', '[1,2,3]', '"just a string"'];

describe('eddy publish to core NATS', () => {
  it('publishes every JSON line of a file as written (blank lines skipped), in order, and prints the count', async () => {
    const subject = `${tag}.core`;
    const got = await listen(subject);
    const r = await eddy(['publish', subject, file('lines.jsonl', LINES.join('\n') + '\n')], { NATS_URL: natsUrl });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`published 5 lines to ${subject}\n`);
    // As written: spacing kept, and an integer beyond 2^53 is not rounded by a parse and re-encode.
    expect(await delivered(got)).toEqual(LINES.filter((l) => l !== ''));
  });

  it('reads standard input without a file or with -', async () => {
    const subject = `${tag}.stdin`;
    const got = await listen(subject);
    const a = await eddy(['publish', subject], { NATS_URL: natsUrl }, '{"n":1}\r\n{"n":2}\r\n');
    const b = await eddy(['publish', subject, '-'], { NATS_URL: natsUrl }, '{"n":3}');
    expect([a.code, a.stdout, b.code, b.stdout]).toEqual([0, `published 2 lines to ${subject}\n`, 0, `published 1 line to ${subject}\n`]);
    expect(await delivered(got)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
  });

  it('a line that is not JSON: exit 1 naming the line, the lines before it are published; --skip-invalid counts and skips', async () => {
    const subject = `${tag}.bad`;
    const got = await listen(subject);
    const path = file('bad.jsonl', '{"n":1}\n{"n":2}\n{"n":3,\n{"n":4}\nnot json\n');
    const r = await eddy(['publish', subject, path], { NATS_URL: natsUrl });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`eddy: EDDY_DECODE: line 3 of ${path} is not JSON`);
    expect(r.stderr).toContain('--skip-invalid');
    expect(r.stdout).toBe('');
    expect(await delivered(got)).toEqual(['{"n":1}', '{"n":2}']);

    got.length = 0;
    const skipped = await eddy(['publish', subject, path, '--skip-invalid'], { NATS_URL: natsUrl });
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toBe(`published 3 lines to ${subject}; skipped 2 invalid lines (3, 5)\n`);
    expect(await delivered(got)).toEqual(['{"n":1}', '{"n":2}', '{"n":4}']);
  });

  it('no server: exit 2 saying which to give; a file that does not exist: exit 2', async () => {
    const none = await eddy(['publish', `${tag}.x`, file('one.jsonl', '{}\n')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('eddy publish needs a NATS server: --nats URL, the NATS_URL environment variable, or --job NAME');
    expect(none.stderr).toContain('Run "eddy publish --help" for usage.');
    const missing = await eddy(['publish', `${tag}.x`, join(dir, 'nope.jsonl')], { NATS_URL: natsUrl });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    expect(missing.stderr).toContain('ENOENT');
  });
});

describe('eddy publish --stream (JetStream)', () => {
  const stream = `CLIPUB_${process.pid}`;
  beforeAll(async () => {
    await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [`${tag}.js.>`] });
  });
  afterAll(async () => {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  });
  const messages = async (): Promise<number> => (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;

  it('default ids: publishing the same file (or the same stdin) again stores nothing twice', async () => {
    const subject = `${tag}.js.default`;
    const path = file('orders.jsonl', '{"order":1}\n{"order":2}\n{"order":1}\n');
    const first = await eddy(['publish', subject, path, '--stream'], { NATS_URL: natsUrl });
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe(`published 3 lines to ${subject} (JetStream stream ${stream}: 3 stored, 0 duplicates)\n`);
    const again = await eddy(['publish', subject, path, '--stream'], { NATS_URL: natsUrl });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`published 3 lines to ${subject} (JetStream stream ${stream}: 0 stored, 3 duplicates)\n`);
    expect(await messages()).toBe(3);

    // Standard input is its own source: stored once, and deduplicated when piped again.
    const piped = await eddy(['publish', subject, '--stream'], { NATS_URL: natsUrl }, '{"order":1}\n{"order":2}\n');
    const pipedAgain = await eddy(['publish', subject, '-', '--stream'], { NATS_URL: natsUrl }, '{"order":1}\n{"order":2}\n');
    expect(piped.stdout).toContain('2 stored, 0 duplicates');
    expect(pipedAgain.stdout).toContain('0 stored, 2 duplicates');
    // Different lines at the same positions of stdin are other records: stored.
    const other = await eddy(['publish', subject, '--stream'], { NATS_URL: natsUrl }, '{"order":3}\n{"order":4}\n');
    expect(other.stdout).toContain('2 stored, 0 duplicates');
    expect(await messages()).toBe(7);
  });

  it('--id-field: lines with the same id are stored once; a line without it fails naming the line, or is skipped', async () => {
    const subject = `${tag}.js.ids`;
    const before = await messages();
    const path = file('ids.jsonl', '{"id":"a","v":1}\n{"id":"b","v":2}\n{"id":"a","v":3}\n{"id":7}\n');
    const r = await eddy(['publish', subject, path, '--stream', '--id-field', 'id'], { NATS_URL: natsUrl });
    expect(r.stdout).toBe(`published 4 lines to ${subject} (JetStream stream ${stream}: 3 stored, 1 duplicate)\n`);
    expect(await messages()).toBe(before + 3);

    const noId = file('noid.jsonl', '{"id":"c"}\n{"v":1}\n');
    const bad = await eddy(['publish', subject, noId, '--stream', '--id-field', 'id'], { NATS_URL: natsUrl });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`line 2 of ${noId} has no field "id"`);
    const skip = await eddy(['publish', subject, noId, '--stream', '--id-field', 'id', '--skip-invalid'], { NATS_URL: natsUrl });
    expect(skip.stdout).toBe(`published 1 line to ${subject} (JetStream stream ${stream}: 0 stored, 1 duplicate); skipped 1 invalid line (2)\n`);
  });

  it('a subject no stream captures: exit 2 with how to create one', async () => {
    const r = await eddy(['publish', `${tag}.nostream`, file('x.jsonl', '{}\n'), '--stream'], { NATS_URL: natsUrl });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no JetStream stream captures subject "${tag}.nostream"`);
    expect(r.stderr).toContain('nats stream add');
  });
});

describe('eddy publish --job', () => {
  it("publishes to the server a running job registered (with its credential); a job whose process is gone is named as such", async () => {
    const stateDir = join(dir, 'state');
    // This test process stands in for the job: alive, and registered with the shared server's URL.
    await registerJob(stateDir, { jobId: 'j1', jobName: 'live job', natsUrl, pid: process.pid });
    const subject = `${tag}.job`;
    const got = await listen(subject);
    const r = await eddy(['publish', subject, '--job', 'live job', '--state-dir', stateDir], {}, '{"n":1}\n');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`published 1 line to ${subject}\n`);
    expect(await delivered(got)).toEqual(['{"n":1}']);

    const pid = await deadPid();
    await registerJob(stateDir, { jobId: 'j2', jobName: 'gone', natsUrl, pid });
    const gone = await eddy(['publish', subject, '--job', 'gone'], { EDDY_STATE_DIR: stateDir }, '{"n":2}\n');
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`eddy: EDDY_CONFIG: job "gone" is not running (its process ${pid} is gone): ${join(stateDir, 'running', 'gone.json')} was left behind`);
    expect(gone.stderr).not.toContain('no responders');
    const nobody = await eddy(['publish', subject, '--job', 'nobody', '--state-dir', stateDir], {}, '{}\n');
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('no running job named "nobody"');
  });
});
