// An actor job SIGKILLed in the middle of its input and resumed with `eddy run --resume` publishes exactly the alerts of a failure-free run (state and pending timers from the checkpoint, kept in a directory or on JetStream); eddy run names the machine's path.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { readJetStream } from '../../src/testing/chaos.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { lines, referenceAlerts, type FraudAlert } from '../fixtures/actor-fraud.ts';
import { tmpDirs } from '../fixtures/fault-tolerance-support.ts';

const natsUrl = inject('natsUrl');
const dirs = tmpDirs('eddy-actor-resume-');
afterEach(() => dirs.cleanup());

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const N = 3000;

/** Runs the fixture job; resolves with its exit and output once it exits, or SIGKILLs it at `ACTOR_READY` when `killWhenReady`. */
function run(stateDir: string, args: string[], resume: boolean, killWhenReady: boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: natsUrl };
  for (const k of ['EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT']) delete env[k];
  const argv = [join(repoRoot, 'bin/eddy.mjs'), 'run', 'test/fixtures/actor-fraud-job.ts', '--state-dir', stateDir, ...(resume ? ['--resume'] : []), '--', ...args];
  const child = spawn(process.execPath, argv, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (killWhenReady && out.includes('ACTOR_READY')) child.kill('SIGKILL');
  });
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, out })));
}

describe('actor operator: SIGKILL + --resume', () => {
  for (const storage of ['local', 'jetstream'] as const)
    it(`a job killed with half its input read (armed cards, pending timers) and resumed publishes exactly the reference alerts (${storage} checkpoints)`, async () => {
      const tag = `actor_resume_${process.pid}_${storage}`;
      const nc = await connectNats(natsUrl);
      const jsm = await jetstreamManager(nc);
      const stream = `ACTOR_OUT_${tag}`;
      // The sink deduplicates a re-committed transaction by message id within this window.
      await jsm.streams.add({ name: stream, subjects: [`${tag}.alerts`], duplicate_window: 120_000_000_000 });
      try {
        const stateDir = await dirs.make();
        const args = ['--out-stream', stream, '--out-subject', `${tag}.alerts`, '--records', String(N), '--job-name', tag, '--checkpoint-storage', storage];
        const killed = await run(stateDir, [...args, '--gate', String(N / 2)], false, true);
        expect(killed.signal, killed.out).toBe('SIGKILL');
        // eddy run says which path each actor operator's machine takes.
        expect(killed.out).toContain('eddy: actor operator "fraud" runs its machine compiled');
        const resumed = await run(stateDir, args, true, false);
        expect(resumed.code, resumed.out).toBe(0);
        // The restart point lives where the storage keeps it: a directory, or the job's NATS server.
        expect(resumed.out).toMatch(storage === 'jetstream' ? /resumes from checkpoint \d+ taken at \S+ \(nats:eddy-cp-/ : /resumes from checkpoint \d+ taken at \S+ \(\//);
        expect(resumed.out).toContain('ACTOR_RESULT finished');
        const published = await readJetStream<FraudAlert>(natsUrl, stream, nc);
        expect(lines(published)).toEqual(lines(referenceAlerts(N)));
      } finally {
        await jsm.streams.delete(stream).catch(() => undefined);
        await nc.close();
      }
    }, 120_000);
});
