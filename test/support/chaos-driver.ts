// Drives chaos-job.ts in child processes (`eddy run`): input stream, the seed's faults (a nats-server restart and a SIGKILL + `--resume` from here), and the output check.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { readJetStream } from '../../src/testing/chaos.ts';
import { systemClock } from '../../src/time/clock.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { chaosFaultArgs, type ChaosJobResult } from '../fixtures/chaos-job.ts';
import { chaosPlan, chaosRecord, DEFAULT_FAULTS, DEFAULT_SHAPE, expectedChaosOutput, sortResults, type ChaosFaults, type ChaosShape, type WindowResult } from '../fixtures/chaos-plan.ts';
import { RestartableNatsServer } from './restartable-nats-server.ts';

export type { ChaosJobResult } from '../fixtures/chaos-job.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const jobFile = join(repoRoot, 'test/fixtures/chaos-job.ts');

export interface ChaosRunOptions {
  /** The shared nats-server (credentials in the URL). A seed with server restarts runs on a private one instead. */
  natsUrl: string;
  seed: number;
  /** Unique per run on a shared server: names the streams and subjects. */
  tag: string;
  shape?: ChaosShape;
  faults?: ChaosFaults;
  /** Source subtasks = subjects of the input stream. */
  splits?: number;
  parallelism?: number;
  /** A process that runs longer than this is killed and the run fails (a hang is a bug; this bounds it, it proves nothing). */
  processTimeoutMs?: number;
  /** Sees every line the job processes print (stdout and stderr), e.g. to follow a failing seed. */
  trace?: (line: string) => void;
}

export interface ChaosRunReport {
  seed: number;
  faults: ChaosFaults;
  ok: boolean;
  /** Why it failed: the difference to the reference, or a process that did not complete. */
  problem?: string;
  expected: number;
  got: number;
  /** Reference results missing from the output. */
  lost: number;
  /** Output results that are extra copies of a reference result. */
  twice: number;
  /** Output results that match no reference result (a window with wrong contents). */
  wrong: number;
  /** Results of the job processes in order (two with a SIGKILL: the killed one is null). */
  results: (ChaosJobResult | null)[];
  /** Job ids the processes printed at their start: a resumed job keeps the id of its checkpoint. */
  jobIds: (string | undefined)[];
  /** Over all processes (from their `CHAOS_FAULT` lines, so a SIGKILLed one counts too): kills that became due, kills that reached a task actor. */
  killsDue: number;
  killsLanded: number;
  /** Kills that never reached a task in MAX_ATTEMPTS tries (a due kill cut off by the SIGKILL of its process is neither landed nor given up). */
  killsGivenUp: number;
  /** Savepoints taken (a planned one may take several until its sink transaction holds output), and the sink failures after them. */
  savepointsTaken: number;
  postSavepointFailures: number;
  commitFaultsFired: number;
  /** Reconnects the job processes saw, and restarts of the private nats-server done by this driver. */
  reconnects: number;
  serverRestarts: number;
  restarts: number;
  /** Restart causes (codes) over the processes that printed a result (a SIGKILLed one does not). */
  causes: string[];
  sigkilled: boolean;
  durationMs: number;
}

/** What a child reports while it runs. */
type ChildEvent = { type: 'progress'; completed: number; restarts: number } | { type: 'gate'; waitingFor: string } | { type: 'fault'; kind: string };

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  result: ChaosJobResult | null;
  /** `CHAOS_FAULT` lines by kind: counted as they come, so a SIGKILLed process (which prints no result) counts too. */
  faults: Map<string, number>;
  /** The job id the process printed when its job started. */
  jobId: string | undefined;
  /** Its last stdout lines (for the report of a process that did not finish). */
  tail: string[];
}

/** Runs `eddy run chaos-job.ts` once; `onEvent` sees its progress and gate lines and may act (restart the server, SIGKILL the child). */
function runChild(
  args: string[],
  natsUrl: string,
  stateDir: string,
  resume: boolean,
  timeoutMs: number,
  onEvent: (e: ChildEvent, child: ChildProcess) => void,
  trace: ((line: string) => void) | undefined,
): Promise<ChildRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NATS_URL', 'EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_JOB_FILE', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT']) delete env[k];
  // The URL carries the server's password: the environment, not the command line (which every user can read).
  env['NATS_URL'] = natsUrl;
  const argv = [bin, 'run', jobFile, '--state-dir', stateDir, ...(resume ? ['--resume'] : []), '--', ...args];
  const child: ChildProcess = spawn(process.execPath, argv, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let partial = '';
  const tail: string[] = [];
  let result: ChaosJobResult | null = null;
  let jobId: string | undefined;
  const faults = new Map<string, number>();
  const after = (line: string, prefix: string): unknown => JSON.parse(line.slice(prefix.length));
  child.stdout!.on('data', (b: Buffer) => {
    partial += b.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      trace?.(line);
      // The last lines say where a process that did not finish stood.
      tail.push(line);
      if (tail.length > 12) tail.shift();
      if (line.startsWith('CHAOS_RESULT ')) result = after(line, 'CHAOS_RESULT ') as ChaosJobResult;
      else if (line.startsWith('CHAOS_STARTED ')) jobId = (after(line, 'CHAOS_STARTED ') as { jobId: string }).jobId;
      else if (line.startsWith('CHAOS_FAULT ')) {
        const kind = (after(line, 'CHAOS_FAULT ') as { kind: string }).kind;
        faults.set(kind, (faults.get(kind) ?? 0) + 1);
        if (child.exitCode === null) onEvent({ type: 'fault', kind }, child);
      }
      else if (child.exitCode === null && line.startsWith('CHAOS_PROGRESS ')) onEvent({ type: 'progress', ...(after(line, 'CHAOS_PROGRESS ') as { completed: number; restarts: number }) }, child);
      else if (child.exitCode === null && line.startsWith('CHAOS_GATE ')) onEvent({ type: 'gate', ...(after(line, 'CHAOS_GATE ') as { waitingFor: string }) }, child);
    }
  });
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
    trace?.(b.toString().trimEnd());
  });
  const timer = systemClock.schedule(timeoutMs, () => child.kill('SIGKILL'));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      timer.cancel();
      resolve({ code, signal, stderr, result, jobId, faults, tail });
    });
  });
}

/** Creates the input stream (records spread round-robin over `splits` subjects, file storage) and the output stream. */
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

/** The output against the reference, as multisets: lost, extra copies, and results that match nothing. */
export function compareResults(expected: WindowResult[], got: WindowResult[]): { lost: number; twice: number; wrong: number; description: string } {
  const key = (w: WindowResult) => JSON.stringify(w);
  const want = new Map<string, number>();
  for (const w of expected) want.set(key(w), (want.get(key(w)) ?? 0) + 1);
  const known = new Set(want.keys());
  const twice: string[] = [];
  const wrong: string[] = [];
  for (const w of got) {
    const k = key(w);
    const n = want.get(k) ?? 0;
    if (n > 0) want.set(k, n - 1);
    else (known.has(k) ? twice : wrong).push(k);
  }
  const lost = [...want.entries()].filter(([, n]) => n > 0).map(([k, n]) => (n > 1 ? `${k} x${n}` : k));
  const lostCount = [...want.values()].reduce((a, n) => a + n, 0);
  const description =
    `expected ${expected.length} results, got ${got.length}: ${lostCount} lost (e.g. ${lost.slice(0, 3).join(', ')}), ` +
    `${twice.length} twice (e.g. ${twice.slice(0, 3).join(', ')}), ${wrong.length} wrong (e.g. ${wrong.slice(0, 3).join(', ')})`;
  return { lost: lostCount, twice: twice.length, wrong: wrong.length, description };
}

/**
 * One seed: input and output streams of its own (on a private nats-server when the seed restarts the
 * server), the job with its seeded faults, then the output stream against the reference as multisets.
 * Driver-side faults land on the job's progress, never on time: the server restarts and the SIGKILL
 * come after a planned number of completed checkpoints, or when the job says it waits for them at its
 * end (it cannot end before they landed).
 */
export async function runChaosSeed(o: ChaosRunOptions): Promise<ChaosRunReport> {
  const shape = o.shape ?? DEFAULT_SHAPE;
  const faults = o.faults ?? DEFAULT_FAULTS;
  const splits = o.splits ?? 3;
  const parallelism = o.parallelism ?? 2;
  const timeoutMs = o.processTimeoutMs ?? 40_000;
  const plan = chaosPlan(o.seed, shape, faults, splits, parallelism);
  const t0 = systemClock.monotonic();
  const stateDir = mkdtempSync(join(tmpdir(), 'eddy-chaos-'));
  const report = emptyChaosReport(o.seed, faults);
  let server: RestartableNatsServer | undefined;
  let nc: NatsConnection | undefined;
  let streams: Awaited<ReturnType<typeof prepareStreams>> | undefined;
  let restarting: Promise<void> | undefined;
  let restartError: unknown;
  try {
    // The shared server must not restart under other tests: a seed that restarts one gets its own.
    if (plan.serverRestarts.length > 0) server = await RestartableNatsServer.start(join(stateDir, 'nats'));
    const natsUrl = server?.url ?? o.natsUrl;
    nc = await connectNats(natsUrl, { name: 'eddy-chaos-driver' });
    streams = await prepareStreams(nc, o.tag, shape, splits);
    // A private server restarts under this connection: the output is read on a new one.
    if (server !== undefined) await nc.close();
    const args = [
      ...['--seed', String(o.seed), '--stream', streams.stream, '--subjects', streams.subjects.join(','), '--out-stream', streams.outStream, '--out-subject', streams.outSubject],
      ...['--job-name', `chaos-${o.tag}`, '--parallelism', String(parallelism), '--records', String(shape.records), '--keys', String(shape.keys), '--window-ms', String(shape.windowMs)],
      ...chaosFaultArgs(faults),
    ];
    // Server restarts: the next one when this process completed its checkpoints, or when the job waits for it.
    const maybeRestart = (e: ChildEvent): void => {
      const next = plan.serverRestarts[server?.restarts ?? Infinity];
      if (next === undefined || restarting !== undefined) return;
      if ((e.type === 'progress' && e.completed >= next.afterCheckpoints) || (e.type === 'gate' && e.waitingFor === 'server-restart')) {
        restarting = srv!
          .restart()
          .catch((err) => void (restartError = err))
          .finally(() => (restarting = undefined));
      }
    };
    const restartsLeft = () => server !== undefined && server.restarts < plan.serverRestarts.length;
    const srv = server;
    const runs: ChildRun[] = [];
    const sigkill = plan.sigkill;
    if (sigkill !== undefined) {
      // Killed mid-run: after its checkpoints (and a restart, if the faults make one, so the killed process also restarted),
      // or at the latest when the job waits for it at its end.
      const wantRestart = faults.mapThrows + faults.aggregateThrows > 0;
      let killed = false;
      // A server restart that began under this process is seen by it (a reconnect) before the SIGKILL,
      // and a kill that became due lands first (so every due kill is a landed one).
      let restartBegun = false;
      let reconnected = false;
      let killsLanding = 0;
      let due = false;
      const first = await runChild([...args, ...(restartsLeft() ? ['--await-server-restart'] : []), '--await-sigkill'], natsUrl, stateDir, false, timeoutMs, (e, child) => {
        maybeRestart(e);
        restartBegun ||= restarting !== undefined;
        reconnected ||= e.type === 'fault' && e.kind === 'reconnect';
        if (e.type === 'fault' && e.kind === 'kill-due') killsLanding++;
        if (e.type === 'fault' && (e.kind === 'kill' || e.kind === 'kill-given-up')) killsLanding--;
        due ||= (e.type === 'progress' && e.completed >= sigkill.afterCheckpoints && (!wantRestart || e.restarts > 0)) || (e.type === 'gate' && e.waitingFor === 'sigkill');
        if (due && !killed && (!restartBegun || reconnected) && killsLanding === 0) {
          killed = true;
          child.kill('SIGKILL');
        }
      }, o.trace);
      runs.push(first);
      report.sigkilled = first.signal === 'SIGKILL' && first.result === null;
      if (!report.sigkilled) {
        report.problem = `the first process was not SIGKILLed mid-run (exit ${first.code}, signal ${first.signal}); stderr: ${first.stderr.slice(-1500)}`;
        return report;
      }
      // A restart under way finishes before the job resumes; one still to come is awaited by the resumed job.
      await restarting;
    }
    runs.push(await runChild([...args, ...(restartsLeft() ? ['--await-server-restart'] : [])], natsUrl, stateDir, sigkill !== undefined, timeoutMs, maybeRestart, o.trace));
    await restarting;
    report.results = runs.map((r) => r.result);
    report.jobIds = runs.map((r) => r.jobId);
    for (const run of runs) {
      const n = (kind: string) => run.faults.get(kind) ?? 0;
      report.killsDue += n('kill-due');
      report.killsLanded += n('kill');
      report.killsGivenUp += n('kill-given-up');
      report.savepointsTaken += n('savepoint');
      report.postSavepointFailures += n('post-savepoint-failure');
      report.commitFaultsFired += n('commit-stall');
      report.reconnects += n('reconnect');
      for (const x of run.result?.restarts ?? []) report.causes.push(x.cause.code);
    }
    report.restarts = report.causes.length;
    report.serverRestarts = server?.restarts ?? 0;
    if (restartError !== undefined) {
      report.problem = `the nats-server did not restart: ${String((restartError as Error)?.message ?? restartError)}`;
      return report;
    }
    const last = runs[runs.length - 1]!;
    if (last.code !== 0 || last.result?.status !== 'finished') {
      report.problem = `the job did not finish (exit ${last.code}, signal ${last.signal}, status ${last.result?.status}): ${JSON.stringify(last.result?.error) ?? ''} ${last.stderr.slice(-1500)} last output: ${last.tail.join(' | ').slice(-2000)}`;
      return report;
    }
    if (server !== undefined) nc = await connectNats(natsUrl, { name: 'eddy-chaos-driver' });
    const expected = expectedChaosOutput(shape);
    const got = sortResults(await readJetStream<WindowResult>(natsUrl, streams.outStream, nc));
    report.expected = expected.length;
    report.got = got.length;
    report.ok = JSON.stringify(expected) === JSON.stringify(got);
    if (!report.ok) {
      const d = compareResults(expected, got);
      Object.assign(report, { lost: d.lost, twice: d.twice, wrong: d.wrong, problem: d.description });
    }
    return report;
  } finally {
    report.durationMs = Math.round(systemClock.monotonic() - t0);
    if (server === undefined) await streams?.drop();
    if (nc !== undefined && !nc.isClosed()) await nc.close();
    await server?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** A report with nothing measured yet: what a seed starts from (and what the soak reports for a seed that threw). */
export function emptyChaosReport(seed: number, faults: ChaosRunReport['faults']): ChaosRunReport {
  return {
    seed,
    faults,
    ok: false,
    expected: 0,
    got: 0,
    lost: 0,
    twice: 0,
    wrong: 0,
    results: [],
    jobIds: [],
    killsDue: 0,
    killsLanded: 0,
    killsGivenUp: 0,
    savepointsTaken: 0,
    postSavepointFailures: 0,
    commitFaultsFired: 0,
    reconnects: 0,
    serverRestarts: 0,
    restarts: 0,
    causes: [],
    sigkilled: false,
    durationMs: 0,
  };
}
