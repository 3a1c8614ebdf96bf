// `eddy savepoint <job>` against a job running in another process: finds it, takes a savepoint, prints its directory; outsiders cannot reach a job on its embedded server.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, errors } from '@nats-io/transport-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { JobRegistration } from '../../src/api/job-registry.ts';
import { LevelCheckpointStorage } from '../../src/checkpoint/level-checkpoint-storage.ts';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { commandLinesContaining } from '../support/command-lines.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const dir = mkdtempSync(join(tmpdir(), 'eddy-sp-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment of a child: eddy's variables only as given (a NATS URL with credentials goes here, never into argv). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NATS_URL', 'EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_JOB_FILE', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT']) delete env[k];
  return { ...env, ...extra };
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Runs the "sp-cli" fixture job under `stateDir` until `body` is done, then stops it with SIGINT. */
async function withRunningJob(stateDir: string, env: Record<string, string>, body: (registrationFile: string) => Promise<void>): Promise<void> {
  const job = spawn(process.execPath, [bin, 'run', 'test/fixtures/savepoint-cli-job.ts', '--state-dir', stateDir], {
    cwd: repoRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let jobErr = '';
  job.stderr.on('data', (d) => (jobErr += d));
  const exited = new Promise<number | null>((resolve) => job.on('close', (code) => resolve(code)));
  let ended = false;
  void exited.then(() => (ended = true));
  try {
    const registration = join(stateDir, 'running', 'sp-cli.json');
    // The job registers once deployed; a loaded machine may take a while, a job that died will not.
    for (let i = 0; i < 600 && !ended && !existsSync(registration); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(registration), jobErr).toBe(true);
    await body(registration);
  } finally {
    job.kill('SIGINT');
    await exited;
  }
}

async function expectSavepoint(stateDir: string, target: string): Promise<void> {
  const r = await run(['savepoint', 'sp-cli', '--state-dir', stateDir, '--dir', target]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe(target);
  const storage = await LevelCheckpointStorage.open(target);
  const meta = await storage.latest();
  await storage.close();
  expect(meta?.kind).toBe('savepoint');
  expect(meta?.jobName).toBe('sp-cli');
  expect(meta?.operators['counts']?.keyed).toBe(true);
  expect(meta?.operators['numbers']?.subtasks[0]?.state).not.toBe('');
}

describe('eddy savepoint', () => {
  it('takes a savepoint of a running job by name and prints where it is', async () => {
    const stateDir = join(dir, 'state');
    await withRunningJob(stateDir, { NATS_URL: inject('natsUrl') }, async () => {
      await expectSavepoint(stateDir, join(dir, 'sp1'));
    });
    // A name nobody runs is a clear error with exit code 2 (the command names no running job: a usage error).
    const missing = await run(['savepoint', 'nobody', '--state-dir', stateDir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/EDDY_CONFIG: no running job named "nobody"/);
  });

  it('a job on its embedded server: a client without the credential is refused, the files holding it are private, eddy savepoint works', async () => {
    const stateDir = join(dir, 'embedded');
    await withRunningJob(stateDir, {}, async (registrationFile) => {
      const registration = JSON.parse(readFileSync(registrationFile, 'utf8')) as JobRegistration;
      const { servers, user, pass } = natsConnectionOptions(registration.natsUrl);
      expect(servers).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      expect(user).toBe('eddy');
      expect(pass).toMatch(/^[0-9a-f]{64}$/);

      // Whoever lacks the credential cannot even connect, so cannot publish a kill, a savepoint request or a frame.
      const outsider = await connect({ servers, reconnect: false, timeout: 5_000 }).then(
        (nc) => nc,
        (e: unknown) => e,
      );
      expect(outsider).toBeInstanceOf(errors.AuthorizationError);

      // The credential lives in owner-only files: the registration and the server's config, each in an owner-only directory.
      const mode = (p: string): number => statSync(p).mode & 0o777;
      expect(mode(join(stateDir, 'running'))).toBe(0o700);
      expect(mode(registrationFile)).toBe(0o600);
      expect(mode(join(stateDir, 'nats'))).toBe(0o700);
      expect(mode(join(stateDir, 'nats', 'nats-server.conf'))).toBe(0o600);
      // ...and on no command line (the job's, its nats-server's, the watchdog's): other users can read those.
      expect(commandLinesContaining(pass!)).toEqual([]);

      // eddy's own command reads the credential from the registration.
      await expectSavepoint(stateDir, join(dir, 'sp-embedded'));
    });
  });
});
