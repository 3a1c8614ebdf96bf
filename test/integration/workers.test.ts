// Jobs on worker processes (`eddy worker`, `eddy run --workers`): the same result as in one process, and exactly-once output when a worker is killed or frozen.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LevelCheckpointStorage } from '../../src/checkpoint/level-checkpoint-storage.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { subjects } from '../../src/transport/subjects.ts';
import { tempDirMaker, until } from '../support/example-test-support.ts';
import { expectExactlyOnce, resultOf, startEddy, type Out, type Run } from '../support/worker-job-support.ts';
import { RestartableNatsServer } from '../support/restartable-nats-server.ts';

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

  it('SIGKILL of the active job master with a standby: the standby takes over from the latest checkpoint and the output stays exactly-once', async () => {
    const records = 20000;
    const s = await newStream();
    const pool = [0, 1].map((i) => start(['worker', '--slots', '2', '--attached', '--state-dir', join(tempDir(), `standby-worker-${i}`)]));
    const args = ['run', '--workers', 'existing', ...jobArgs(s, records, 4000, 'w-standby')];
    await until(async () => (await workers()).length >= 2, () => `two workers registered; stderr: ${pool.map((w) => w.err()).join('\n')}`, 30_000);
    const active = start(args);
    let standby: Run | undefined;
    try {
      // The sink publishes only what a completed checkpoint committed: output means a checkpoint to take over from.
      await until(async () => (await stored(s.stream)) >= records / 5, () => `a fifth of the output; stderr: ${active.err()}`, 60_000);
      standby = start([...args.slice(0, 3), '--standby', ...args.slice(3)]);
      await until(() => standby!.err().includes('waiting to take over'), () => `the standby waits; stderr: ${standby!.err()}`, 30_000);
      expect(standby.err()).toContain(`pid ${active.child.pid} `);
      active.child.kill('SIGKILL');
      expect(await standby.exited, standby.err()).toBe(0);
    } finally {
      active.child.kill('SIGKILL');
      standby?.child.kill('SIGKILL');
      for (const w of pool) w.child.kill('SIGKILL');
    }
    expect(standby.err()).toMatch(/took over job "w-standby" from its master \(pid \d+/);
    expect(standby.err()).toMatch(/resumes from checkpoint \d+/);
    const result = resultOf(standby);
    expect(result.status).toBe('finished');
    expect(result.restarts[0]!.cause.code).toBe('EDDY_MASTER_LOST');
    expect(result.restarts[0]!.cause.message).toContain(`pid ${active.child.pid} `);
    expect(result.restarts[0]!.checkpointId).not.toBeNull();
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

function start(args: string[]): Run {
  return startEddy(args, server.url);
}
