// `eddy savepoint <job>` against a job running in another process: finds it, takes a savepoint, prints its directory.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { LevelCheckpointStorage } from '../../src/checkpoint/level-checkpoint-storage.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const dir = mkdtempSync(join(tmpdir(), 'eddy-sp-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('eddy savepoint', () => {
  it('takes a savepoint of a running job by name and prints where it is', async () => {
    const stateDir = join(dir, 'state');
    const job = spawn(process.execPath, [bin, 'run', 'test/fixtures/savepoint-cli-job.ts', '--nats', inject('natsUrl'), '--state-dir', stateDir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let jobErr = '';
    job.stderr.on('data', (d) => (jobErr += d));
    const exited = new Promise<number | null>((resolve) => job.on('close', (code) => resolve(code)));
    try {
      const registration = join(stateDir, 'running', 'sp-cli.json');
      for (let i = 0; i < 200 && !existsSync(registration); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(registration), jobErr).toBe(true);

      const target = join(dir, 'sp1');
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
    } finally {
      job.kill('SIGINT');
      await exited;
    }
    // A name nobody runs is a clear error with exit code 1.
    const missing = await run(['savepoint', 'nobody', '--state-dir', stateDir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/EDDY_CONFIG: no running job named "nobody"/);
  });
});
