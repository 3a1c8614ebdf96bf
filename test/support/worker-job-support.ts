// What the worker tests share: eddy child processes with a NATS URL, the fixture job's output records, its exactly-once check and its RESULT line.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');

/** A record of test/fixtures/worker-job.ts's output: key, index, running sum. */
export interface Out {
  k: number;
  i: number;
  sum: number;
}

export interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** The environment of an eddy child on `natsUrl`, without what the test runner's own settings would leak into it. */
function childEnv(natsUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_JOB_FILE', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT', 'EDDY_WORKERS', 'EDDY_STANDBY']) delete env[k];
  // The credential travels in the environment, never on a command line.
  return { ...env, NATS_URL: natsUrl };
}

/** Starts `eddy <args>` in the repository with `natsUrl`, collecting its output. */
export function startEddy(args: string[], natsUrl: string): Run {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: childEnv(natsUrl), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err, exited: new Promise((r) => child.on('close', (code) => r(code))) };
}

/** Every record 0..records-1 exactly once, and each key's last running sum the sum of its records. */
export function expectExactlyOnce(out: Out[], records: number): void {
  const seen = new Map<number, number>();
  for (const r of out) seen.set(r.i, (seen.get(r.i) ?? 0) + 1);
  const lost = Array.from({ length: records }, (_, i) => i).filter((i) => !seen.has(i));
  const twice = [...seen].filter(([, n]) => n > 1).map(([i]) => i);
  expect({ lost: lost.length, twice: twice.length, firstLost: lost.slice(0, 5), firstTwice: twice.slice(0, 5) }).toEqual({ lost: 0, twice: 0, firstLost: [], firstTwice: [] });
  expect(out.length).toBe(records);
  const max = new Map<number, number>();
  for (const r of out) max.set(r.k, Math.max(max.get(r.k) ?? 0, r.sum));
  for (let k = 0; k < 16; k++) {
    let total = 0;
    for (let i = k; i < records; i += 16) total += i;
    expect(max.get(k)).toBe(total);
  }
}

/** The RESULT line the fixture job prints: its status and restarts. */
export function resultOf(run: Run): { status: string; restarts: { cause: { code: string; message: string }; checkpointId: number | null }[] } {
  const line = run.out().split('\n').find((l) => l.startsWith('RESULT '));
  expect(line, `${run.out()}\n${run.err()}`).toBeDefined();
  return JSON.parse(line!.slice('RESULT '.length));
}
