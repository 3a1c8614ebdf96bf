// Jobs on worker processes (`eddy worker`, `eddy run --workers`): the same result as in one process, and exactly-once output when a worker is killed or frozen.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LevelCheckpointStorage } from '../../src/checkpoint/level-checkpoint-storage.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { subjects } from '../../src/transport/subjects.ts';
import { tempDirMaker, until } from '../support/example-test-support.ts';
import { RestartableNatsServer } from '../support/restartable-nats-server.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const tempDir = tempDirMaker('eddy-workers-');
let server: RestartableNatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let counter = 0;

beforeAll(async () => {
  server = await RestartableNatsServer.start(join(tempDir(), 'nats'));
  nc = await connectNats(server.url);
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_JOB_FILE', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT', 'EDDY_WORKERS']) delete env[k];
  // The credential travels in the environment, never on a command line.
  return { ...env, NATS_URL: server.url };
}

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err, exited: new Promise((r) => child.on('close', (code) => r(code))) };
}

async function newStream(): Promise<{ stream: string; subject: string }> {
  counter++;
  const stream = `EDDY_WORKERS_${counter}`;
  const subject = `workers.out.${counter}`;
  await jsm.streams.add({ name: stream, subjects: [subject] });
  return { stream, subject };
}

async function stored(stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

interface Out {
  k: number;
  i: number;
  sum: number;
}

async function readAll(stream: string): Promise<Out[]> {
  const n = await stored(stream);
  const c = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All, ack_policy: AckPolicy.None } as never);
  const out: Out[] = [];
  if (n === 0) return out;
  const msgs = await c.consume();
  for await (const m of msgs) {
    out.push(m.json<Out>());
    if (out.length >= n) break;
  }
  return out;
}

/** Every record 0..records-1 exactly once, and each key's last running sum the sum of its records. */
function expectExactlyOnce(out: Out[], records: number): void {
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

function resultOf(run: Run): { status: string; restarts: { cause: { code: string; message: string }; checkpointId: number | null }[] } {
  const line = run.out().split('\n').find((l) => l.startsWith('RESULT '));
  expect(line, `${run.out()}\n${run.err()}`).toBeDefined();
  return JSON.parse(line!.slice('RESULT '.length));
}

interface WorkerLine {
  id: string;
  pid: number;
  tasks: Record<string, number>;
}

async function workers(): Promise<WorkerLine[]> {
  const found: WorkerLine[] = [];
  try {
    for await (const m of await nc.requestMany(subjects.workersInfo, '', { maxWait: 1000 })) found.push(JSON.parse(new TextDecoder().decode(m.data)) as WorkerLine);
  } catch {
    // no responders: no worker runs
  }
  return found;
}

/** The job masters' answers on eddy.jobs.info (none: no job runs). */
async function jobs(): Promise<{ jobName: string; jobId: string; state: string; restarts: number }[]> {
  const found: { jobName: string; jobId: string; state: string; restarts: number }[] = [];
  try {
    for await (const m of await nc.requestMany(subjects.jobsInfo, '', { maxWait: 1000 })) found.push(JSON.parse(new TextDecoder().decode(m.data)));
  } catch {
    // no responders: no job runs yet
  }
  return found;
}

function jobArgs(s: { stream: string; subject: string }, records: number, rate: number, name: string): string[] {
  return ['test/fixtures/worker-job.ts', '-p', '3', '--state-dir', join(tempDir(), 'state'), '--', '--subject', s.subject, '--stream', s.stream, '--records', String(records), '--rate', String(rate), '--name', name];
}

describe('jobs on worker processes', () => {
  it('a job on 3 local workers gives the same result as in one process', async () => {
    const records = 6000;
    const one = await newStream();
    const single = start(['run', ...jobArgs(one, records, 20000, 'w-same-1')]);
    expect(await single.exited, single.err()).toBe(0);
    const three = await newStream();
    const multi = start(['run', '--workers', '3', ...jobArgs(three, records, 20000, 'w-same-3')]);
    expect(await multi.exited, multi.err()).toBe(0);
    expect(multi.err()).toMatch(/eddy worker \S+: \d+ slot\(s\)/);
    const a = await readAll(one.stream);
    const b = await readAll(three.stream);
    expectExactlyOnce(a, records);
    expectExactlyOnce(b, records);
    const key = (r: Out): string => `${r.i}`;
    expect(new Set(b.map(key))).toEqual(new Set(a.map(key)));
  });

  it('SIGKILL of a worker mid-run: the job restarts its tasks on the others and the output stays exactly-once', async () => {
    const records = 24000;
    const s = await newStream();
    const run = start(['run', '--workers', '3', ...jobArgs(s, records, 6000, 'w-kill')]);
    let killed = 0;
    try {
      await until(async () => (await stored(s.stream)) >= records / 4, () => `a quarter of the output; stderr: ${run.err()}`, 60_000);
      const busy = (await workers()).filter((w) => Object.keys(w.tasks).length > 0);
      expect(busy.length).toBeGreaterThanOrEqual(2);
      killed = busy[0]!.pid;
      process.kill(killed, 'SIGKILL');
      expect(await run.exited, run.err()).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
    }
    const result = resultOf(run);
    expect(result.status).toBe('finished');
    expect(result.restarts.length).toBeGreaterThanOrEqual(1);
    expect(result.restarts[0]!.cause.code).toBe('EDDY_WORKER_LOST');
    expect(result.restarts[0]!.cause.message).toContain(`pid ${killed})`);
    // Restored from a checkpoint the killed worker's tasks had acknowledged.
    expect(result.restarts[0]!.checkpointId).not.toBeNull();
    expectExactlyOnce(await readAll(s.stream), records);
  });

  it('a worker frozen (SIGSTOP) until it is declared lost, then resumed (SIGCONT), commits nothing from its stale attempt', async () => {
    const records = 24000;
    const s = await newStream();
    const run = start(['run', '--workers', '3', ...jobArgs(s, records, 6000, 'w-freeze')]);
    let frozen = 0;
    try {
      await until(async () => (await stored(s.stream)) >= records / 4, () => `a quarter of the output; stderr: ${run.err()}`, 60_000);
      const busy = (await workers()).filter((w) => Object.keys(w.tasks).length > 0);
      expect(busy.length).toBeGreaterThanOrEqual(2);
      frozen = busy[0]!.pid;
      process.kill(frozen, 'SIGSTOP');
      // Positive proof that the job master gave up on it: the job reports a restart.
      await until(async () => (await jobs()).some((j) => j.jobName === 'w-freeze' && j.restarts >= 1), 'the job restarted after the worker froze', 30_000);
      process.kill(frozen, 'SIGCONT');
      const resumed = frozen;
      frozen = 0;
      expect(resumed).toBeGreaterThan(0);
      expect(await run.exited, run.err()).toBe(0);
    } finally {
      // Never leave a stopped process behind (it may have exited already).
      if (frozen !== 0) {
        try {
          process.kill(frozen, 'SIGCONT');
        } catch {
          // gone
        }
      }
      run.child.kill('SIGKILL');
    }
    const result = resultOf(run);
    expect(result.status).toBe('finished');
    expect(result.restarts[0]!.cause.code).toBe('EDDY_WORKER_LOST');
    expect(result.restarts[0]!.cause.message).toMatch(/sent no heartbeat/);
    expectExactlyOnce(await readAll(s.stream), records);
  });

  it('a savepoint of a job on workers lands in its directory, and a job on workers starts from it', async () => {
    const stateDir = join(tempDir(), 'sp-state');
    const target = join(tempDir(), 'sp-on-workers');
    /** The running job named sp-cli, once it answers as running. */
    const running = async (): Promise<string | undefined> => (await jobs()).find((j) => j.jobName === 'sp-cli' && j.state === 'running')?.jobId;
    const first = start(['run', 'test/fixtures/savepoint-cli-job.ts', '--workers', '2', '-p', '2', '--state-dir', stateDir]);
    try {
      let jobId: string | undefined;
      await until(async () => (jobId = await running()) !== undefined, () => `the job runs; stderr: ${first.err()}`, 60_000);
      const reply = await nc.request(subjects.savepoint(jobId!), JSON.stringify({ directory: target }), { timeout: 60_000 });
      expect(JSON.parse(new TextDecoder().decode(reply.data))).toEqual({ path: target });
    } finally {
      first.child.kill('SIGINT');
      await first.exited;
    }
    const storage = await LevelCheckpointStorage.open(target);
    const meta = await storage.latest();
    await storage.close();
    expect(meta?.kind).toBe('savepoint');
    expect(meta?.operators['counts']?.keyed).toBe(true);
    expect(meta?.operators['counts']?.subtasks.length).toBe(2);

    const second = start(['run', 'test/fixtures/savepoint-cli-job.ts', '--workers', '2', '-p', '2', '--state-dir', stateDir, '--from-savepoint', target]);
    try {
      await until(() => second.err().includes(`starts from savepoint ${meta!.id}`), () => `the restore notice; stderr: ${second.err()}`, 60_000);
      await until(async () => (await running()) !== undefined, () => `the restored job runs on its workers; stderr: ${second.err()}`, 60_000);
    } finally {
      second.child.kill('SIGINT');
      await second.exited;
    }
    expect(second.err()).not.toMatch(/EDDY_(STATE_MISMATCH|INTERNAL)/);
  });

  it('workers started by eddy run --workers exit when it is killed (SIGKILL)', async () => {
    const run = start(['run', 'test/fixtures/savepoint-cli-job.ts', '--workers', '2', '-p', '2', '--state-dir', join(tempDir(), 'attached')]);
    let pids: number[] = [];
    try {
      await until(async () => (pids = (await workers()).filter((w) => Object.keys(w.tasks).length > 0).map((w) => w.pid)).length === 2, () => `two busy workers; stderr: ${run.err()}`, 40_000);
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
    }
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until(() => pids.every((p) => !alive(p)), () => `workers ${pids.filter(alive).join(', ')} still run after their eddy run died`, 15_000);
  });

  it('a worker that cannot load the job (a package missing where it runs) fails the job with EDDY_JOB_LOAD naming the package', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'node_modules', 'only-here'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'only-here', 'package.json'), JSON.stringify({ name: 'only-here', version: '1.0.0', type: 'module', main: 'index.js' }));
    writeFileSync(join(dir, 'node_modules', 'only-here', 'index.js'), 'export const double = (x) => x * 2;\n');
    writeFileSync(
      join(dir, 'job.ts'),
      "import { StreamEnvironment } from 'eddy';\nimport { double } from 'only-here';\n" +
        "const env = StreamEnvironment.create();\nenv.fromCollection([1, 2, 3]).map((x) => double(x)).print();\nawait env.execute('w-missing');\n",
    );
    // The submitting process resolves the package next to the job; the worker (working directory: the
    // repository, state dir and loaded code outside the job's folder) cannot.
    const run = start(['run', join(dir, 'job.ts'), '--workers', '1', '--state-dir', join(tempDir(), 'state')]);
    expect(await run.exited).toBe(1);
    expect(run.err()).toMatch(/EDDY_JOB_LOAD/);
    expect(run.err()).toContain('only-here');
    expect(run.err()).toContain('w-missing');
    expect(run.err()).toContain('install the package where the worker runs');
  });
});
