// `eddy status`, `eddy savepoint --nats` and `eddy cancel` against a job running on the test suite's nats-server: found through its job master's answers, from another connection.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { StreamEnvironment } from '../../index.ts';
import { main } from '../../src/cli/main.ts';
import { fraudAlerts, Gate, gatedTxnSource } from '../fixtures/actor-fraud.ts';
import { collectAsync, tmpDirs } from '../fixtures/fault-tolerance-support.ts';

const natsUrl = inject('natsUrl');
const dirs = tmpDirs('eddy-cli-jobs-');
afterEach(() => dirs.cleanup());

/** Runs the CLI with captured output; the environment has no NATS_URL (the flag says where). */
async function eddy(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const env = { ...process.env };
  delete env['NATS_URL'];
  const code = await main(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env, cwd: await dirs.make() });
  return { code, out, err };
}

describe('eddy status / eddy cancel', () => {
  it('lists a running job with its state, shows it by name or id, takes a savepoint of it and cancels it: the job ends canceled', async () => {
    const name = `cli-jobs-${process.pid}`;
    const gate = new Gate();
    gate.raise(100); // the source then waits: the job runs until cancelled
    const env = StreamEnvironment.create({ nats: natsUrl, stateDir: await dirs.make(), parallelism: 2, checkpointing: 50 });
    const job = await collectAsync(env, [fraudAlerts(env, gatedTxnSource(1000, gate))], name);

    // A listing gathers answers for a second: on a loaded machine ask again until this job's is among them.
    let list = await eddy('status', '--nats', natsUrl);
    for (let i = 0; i < 10 && !list.out.includes(name); i++) list = await eddy('status', '--nats', natsUrl);
    expect(list.code, list.err).toBe(0);
    const row = list.out.split('\n').find((l) => l.includes(name));
    expect(row).toMatch(new RegExp(`^${job.client.jobId}\\s+${name}\\s+running\\s+p=2\\s+restarts 0`));

    for (const key of [name, job.client.jobId]) {
      const one = await eddy('status', key, '--nats', natsUrl);
      expect(one.code, one.err).toBe(0);
      expect(JSON.parse(one.out)).toMatchObject({ jobId: job.client.jobId, jobName: name, state: 'running', parallelism: 2, pid: process.pid });
    }
    const missing = await eddy('status', `${name}-nope`, '--nats', natsUrl);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(new RegExp(`no running job "${name}-nope" answers`));

    // A savepoint of the job, found on the server rather than in a local registry.
    const dir = join(await dirs.make(), 'sp');
    const sp = await eddy('savepoint', name, '--nats', natsUrl, '--dir', dir);
    expect(sp.code, sp.err).toBe(0);
    expect(sp.out).toBe(`${dir}\n`);
    expect(existsSync(dir)).toBe(true);

    const cancel = await eddy('cancel', name, '--nats', natsUrl);
    expect(cancel.code, cancel.err).toBe(0);
    expect(cancel.out).toBe(`job "${name}" (${job.client.jobId}) canceled\n`);
    expect((await job.done).result.status).toBe('canceled');
    const gone = await eddy('cancel', name, '--nats', natsUrl);
    expect(gone.code).toBe(2);
  });

  it('each has its own help; cancel needs a job', async () => {
    for (const cmd of ['status', 'cancel']) {
      const h = await eddy(cmd, '--help');
      expect(h.code).toBe(0);
      expect(h.out).toContain(`Usage: eddy ${cmd}`);
    }
    const bad = await eddy('cancel');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/eddy cancel needs the name or id of a running job/);
  });
});
