// Drives chaos-job.ts in child processes (`eddy run`): input stream, faults, an optional SIGKILL and `--resume`, and the output check.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { JobResult } from '../../src/api/job.ts';
import { readJetStream } from '../../src/testing/chaos.ts';
import { systemClock } from '../../src/time/clock.ts';
import { chaosRecord, DEFAULT_FAULTS, DEFAULT_SHAPE, expectedChaosOutput, sortResults, type ChaosFaults, type ChaosShape, type WindowResult } from '../fixtures/chaos-job.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const jobFile = join(repoRoot, 'test/fixtures/chaos-job.ts');

export interface ChaosRunOptions {
  natsUrl: string;
  seed: number;
  /** Unique per run on a shared server: names the streams and subjects. */
  tag: string;
  shape?: ChaosShape;
  faults?: ChaosFaults;
  /** Source subtasks = subjects of the input stream. */
  splits?: number;
  parallelism?: number;
  /** SIGKILL the job process once this many checkpoints completed (and one restart happened, when the faults make one), then `--resume`. */
  sigkillAfterCheckpoints?: number;
  /** A process that runs longer than this is killed and the run fails (a hang is a bug). */
  processTimeoutMs?: number;
}

export interface ChaosRunReport {
  seed: number;
  ok: boolean;
  /** Why it failed: the difference to the reference, or a process that did not complete. */
  problem?: string;
  expected: number;
  got: number;
  /** Results of the job processes in order (two with a SIGKILL: the killed one is null). */
  results: (ChaosJobResult | null)[];
  /** Job ids the processes printed at their start: a resumed job keeps the id of its checkpoint. */
  jobIds: (string | undefined)[];
  /** Task kills that made a region restart, over all processes. */
  killsLanded: number;
  restarts: number;
  /** Restart causes (codes) over all processes. */
  causes: string[];
  sigkilled: boolean;
  durationMs: number;
}

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  result: ChaosJobResult | null;
  /** The job id the process printed when its job started. */
  jobId: string | undefined;
}

/** What chaos-job.ts prints at the end: the JobResult plus how many task kills landed. */
export type ChaosJobResult = JobResult & { killsLanded: number };

/** Runs `eddy run chaos-job.ts` once; `killWhen` sees each progress line and may SIGKILL the child. */
function runChild(args: string[], natsUrl: string, stateDir: string, resume: boolean, timeoutMs: number, killWhen?: (p: { completed: number; restarts: number }) => boolean): Promise<ChildRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NATS_URL', 'EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_JOB_FILE', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT']) delete env[k];
  const argv = [bin, 'run', jobFile, '--nats', natsUrl, '--state-dir', stateDir, ...(resume ? ['--resume'] : []), '--', ...args];
  const child: ChildProcess = spawn(process.execPath, argv, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  let result: ChaosJobResult | null = null;
  let jobId: string | undefined;
  child.stdout!.on('data', (b: Buffer) => {
    stdout += b.toString();
    partial += b.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('CHAOS_RESULT ')) result = JSON.parse(line.slice('CHAOS_RESULT '.length)) as ChaosJobResult;
      else if (line.startsWith('CHAOS_STARTED ')) jobId = (JSON.parse(line.slice('CHAOS_STARTED '.length)) as { jobId: string }).jobId;
      else if (line.startsWith('CHAOS_PROGRESS ') && killWhen !== undefined && child.exitCode === null) {
        if (killWhen(JSON.parse(line.slice('CHAOS_PROGRESS '.length)))) child.kill('SIGKILL');
      }
    }
  });
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = systemClock.schedule(timeoutMs, () => child.kill('SIGKILL'));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      timer.cancel();
      resolve({ code, signal, stdout, stderr, result, jobId });
    });
  });
}

/** Creates the input stream (records spread round-robin over `splits` subjects) and the output stream. */
async function prepareStreams(nc: NatsConnection, tag: string, shape: ChaosShape, splits: number) {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = `CHAOS_IN_${tag}`;
  const outStream = `CHAOS_OUT_${tag}`;
  const subjects = Array.from({ length: splits }, (_, s) => `chaos.${tag}.in.${s}`);
  const outSubject = `chaos.${tag}.out`;
  await jsm.streams.add({ name: stream, subjects });
  // The sink deduplicates re-committed transactions by message id within this window.
  await jsm.streams.add({ name: outStream, subjects: [outSubject], duplicate_window: 120_000_000_000 });
  const enc = new TextEncoder();
  for (let from = 0; from < shape.records; from += 2_000) {
    const acks = [];
    for (let i = from; i < Math.min(shape.records, from + 2_000); i++) acks.push(js.publish(subjects[i % splits]!, enc.encode(JSON.stringify(chaosRecord(i, shape.keys)))));
    await Promise.all(acks);
  }
  return { stream, outStream, subjects, outSubject, drop: () => Promise.all([jsm.streams.delete(stream), jsm.streams.delete(outStream)]).catch(() => undefined) };
}

/** First difference of two sorted result lists, for a readable failure. */
function describeDifference(expected: WindowResult[], got: WindowResult[]): string {
  const key = (w: WindowResult) => JSON.stringify(w);
  const want = new Map<string, number>();
  for (const w of expected) want.set(key(w), (want.get(key(w)) ?? 0) + 1);
  const extra: string[] = [];
  for (const w of got) {
    const n = want.get(key(w)) ?? 0;
    if (n === 0) extra.push(key(w));
    else want.set(key(w), n - 1);
  }
  const missing = [...want.entries()].filter(([, n]) => n > 0).map(([k, n]) => (n > 1 ? `${k} x${n}` : k));
  return `expected ${expected.length} results, got ${got.length}: ${missing.length} missing (e.g. ${missing.slice(0, 3).join(', ')}), ${extra.length} unexpected (e.g. ${extra.slice(0, 3).join(', ')})`;
}

/**
 * One seed: input and output streams of its own, the job with its seeded faults (and, when asked, a
 * SIGKILL of the whole process followed by `eddy run --resume`), then the output stream against the
 * reference as multisets.
 */
export async function runChaosSeed(o: ChaosRunOptions): Promise<ChaosRunReport> {
  const shape = o.shape ?? DEFAULT_SHAPE;
  const faults = o.faults ?? DEFAULT_FAULTS;
  const splits = o.splits ?? 3;
  const timeoutMs = o.processTimeoutMs ?? 40_000;
  const t0 = systemClock.monotonic();
  const nc = await connect({ servers: o.natsUrl, name: 'eddy-chaos-driver' });
  const stateDir = mkdtempSync(join(tmpdir(), 'eddy-chaos-'));
  const streams = await prepareStreams(nc, o.tag, shape, splits);
  const report: ChaosRunReport = { seed: o.seed, ok: false, expected: 0, got: 0, results: [], jobIds: [], killsLanded: 0, restarts: 0, causes: [], sigkilled: false, durationMs: 0 };
  try {
    const args = [
      ...['--seed', String(o.seed), '--stream', streams.stream, '--subjects', streams.subjects.join(','), '--out-stream', streams.outStream, '--out-subject', streams.outSubject],
      ...['--job-name', `chaos-${o.tag}`, '--parallelism', String(o.parallelism ?? 2), '--records', String(shape.records), '--keys', String(shape.keys), '--window-ms', String(shape.windowMs)],
      ...['--map-throws', String(faults.mapThrows), '--aggregate-throws', String(faults.aggregateThrows), '--kills', String(faults.kills)],
      ...['--kill-from-ms', String(faults.killFromMs), '--kill-to-ms', String(faults.killToMs)],
    ];
    const runs: ChildRun[] = [];
    const after = o.sigkillAfterCheckpoints;
    if (after !== undefined) {
      // Killed mid-run: after `after` checkpoints (and a restart, if the faults make one, so the killed process also restarted).
      const wantRestart = faults.mapThrows + faults.aggregateThrows > 0;
      const first = await runChild(args, o.natsUrl, stateDir, false, timeoutMs, (p) => p.completed >= after && (!wantRestart || p.restarts > 0));
      runs.push(first);
      report.sigkilled = first.signal === 'SIGKILL' && first.result === null;
      if (!report.sigkilled) {
        report.problem = `the first process was not SIGKILLed mid-run (exit ${first.code}, signal ${first.signal}); stderr: ${first.stderr.slice(0, 500)}`;
        return report;
      }
      runs.push(await runChild(args, o.natsUrl, stateDir, true, timeoutMs));
    } else runs.push(await runChild(args, o.natsUrl, stateDir, false, timeoutMs));
    report.results = runs.map((r) => r.result);
    report.jobIds = runs.map((r) => r.jobId);
    report.killsLanded = report.results.reduce((n, r) => n + (r?.killsLanded ?? 0), 0);
    for (const r of report.results) for (const x of r?.restarts ?? []) report.causes.push(x.cause.code);
    report.restarts = report.causes.length;
    const last = runs[runs.length - 1]!;
    if (last.code !== 0 || last.result?.status !== 'finished') {
      report.problem = `the job did not finish (exit ${last.code}, signal ${last.signal}, status ${last.result?.status}): ${JSON.stringify(last.result?.error) ?? ''} ${last.stderr.slice(0, 1500)}`;
      return report;
    }
    const expected = expectedChaosOutput(shape);
    const got = sortResults(await readJetStream<WindowResult>(o.natsUrl, streams.outStream, nc));
    report.expected = expected.length;
    report.got = got.length;
    report.ok = JSON.stringify(expected) === JSON.stringify(got);
    if (!report.ok) report.problem = describeDifference(expected, got);
    return report;
  } finally {
    report.durationMs = Math.round(systemClock.monotonic() - t0);
    await streams.drop();
    await nc.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
