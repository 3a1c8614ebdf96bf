// Recovery time after a worker SIGKILL: bench/workers/recovery-job.ts on 2 workers, one killed after a completed checkpoint, timed to the first record a restarted task publishes.
//
// Definition (also in bench/README.md): recovery time = from the SIGKILL (taken right before
// process.kill) to the arrival, at the bench's subscription, of the first record published by a sink
// writer created after the kill, i.e. the first record that went source -> keyBy -> sum -> sink in
// a restarted task attempt (each record carries its writer's creation time, Date.now() on the same
// machine). It covers: the heartbeat timeout that declares the worker lost, the restart delay
// (100 ms), redeploying the region on the surviving worker, restoring the checkpoint from JetStream
// and replaying from it. Records the surviving worker's old tasks publish after the kill (until
// they are stopped or back-pressured) do not count.
import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import type { JobSummary } from '../../src/api/job.ts';
import type { WorkerInfo } from '../../src/api/worker-runtime.ts';
import { subjects } from '../../src/transport/subjects.ts';
import type { BenchContext } from '../report.ts';
import type { RecoveryRecord } from './recovery-job.ts';
import { exitWithin, sleep, startEddy } from './procs.ts';

/** Records per second of the recovery job's source (over both subtasks), and its length. */
export const RECOVERY_RATE = 10_000;
export const RECOVERY_RECORDS = 60_000;
/** The job's checkpoint interval. */
export const RECOVERY_INTERVAL_MS = 300;
/** How many records the bench sees before it may kill (besides a completed checkpoint). */
const RECORDS_BEFORE_KILL = 5_000;

export interface RecoveryRun {
  heartbeatTimeoutMs: number;
  /** Seconds from the kill to the first record of a restarted task. */
  recoverySeconds: number;
  killedPid: number;
  /** Records received before the kill, and the highest index among them. */
  recordsBeforeKill: number;
  maxIndexBeforeKill: number;
  /** Checkpoints the job had completed when the worker was killed. */
  checkpointsBeforeKill: number;
  /** The first restarted record: its index, and whether it is a replay (index <= the maximum seen before the kill). */
  firstIndexAfterRestart: number;
  replayed: boolean;
  /** Records the surviving old tasks still published after the kill, and the last one's delay after the kill (s). */
  oldRecordsAfterKill: number;
  lastOldRecordSeconds: number | null;
  /** From the job's RESULT: its status, the restarts (cause code, restored checkpoint). */
  status: string;
  restarts: { code: string; checkpointId: number | null }[];
}

async function requestAll<T>(nc: NatsConnection, subject: string): Promise<T[]> {
  const found: T[] = [];
  try {
    for await (const m of await nc.requestMany(subject, '', { maxWait: 500 })) found.push(JSON.parse(new TextDecoder().decode(m.data)) as T);
  } catch {
    // no responders
  }
  return found;
}

/** One run: start the job, kill a busy worker once a checkpoint completed, time the first restarted record. */
export async function recoveryRun(ctx: BenchContext, nc: NatsConnection, heartbeatTimeoutMs: number, tag: string): Promise<RecoveryRun> {
  const name = `bench-workers-recovery-${tag}`;
  const subject = `bench.workers.recovery.${tag}`;
  let received = 0;
  let maxIndex = -1;
  let killEpoch: number | undefined;
  let killAt = 0;
  let recordsBeforeKill = 0;
  let maxIndexBeforeKill = -1;
  let oldAfter = 0;
  let lastOldAt: number | undefined;
  let first: { at: number; rec: RecoveryRecord } | undefined;
  const sub = nc.subscribe(subject, {
    callback: (_e, m) => {
      const at = performance.now();
      const rec = JSON.parse(new TextDecoder().decode(m.data)) as RecoveryRecord;
      received++;
      if (killEpoch === undefined) {
        if (rec.i > maxIndex) maxIndex = rec.i;
      } else if (rec.born > killEpoch) first ??= { at, rec };
      else if (first === undefined) {
        oldAfter++;
        lastOldAt = at;
      }
    },
  });
  await nc.flush();
  const run = startEddy(
    [
      'run', 'bench/workers/recovery-job.ts', '--workers', '2', '-p', '2', '--state-dir', join(ctx.stateDir, name), '--',
      '--subject', subject, '--records', String(RECOVERY_RECORDS), '--rate', String(RECOVERY_RATE),
      '--heartbeat-timeout', String(heartbeatTimeoutMs), '--interval', String(RECOVERY_INTERVAL_MS), '--name', name,
    ],
    ctx.natsUrl,
  );
  let result: { status: string; restarts: { code: string; checkpointId: number | null }[] } | undefined;
  run.onLine = (l) => {
    if (l.startsWith('RESULT ')) result = JSON.parse(l.slice('RESULT '.length));
  };
  try {
    // Enough records, and at least one completed checkpoint.
    const deadline = performance.now() + 60_000;
    let job: JobSummary | undefined;
    for (;;) {
      if (performance.now() > deadline) throw new Error(`recovery: no records/checkpoint within 60 s (${received} records); stderr:\n${run.stderr().slice(-2000)}`);
      if (run.child.exitCode !== null) throw new Error(`recovery: eddy run ended early (${run.child.exitCode}); stderr:\n${run.stderr().slice(-2000)}`);
      if (received >= RECORDS_BEFORE_KILL) {
        job = (await requestAll<JobSummary>(nc, subjects.jobsInfo)).find((j) => j.jobName === name);
        if ((job?.checkpoints?.completed ?? 0) >= 1) break;
      }
      await sleep(50);
    }
    const busy = (await requestAll<WorkerInfo>(nc, subjects.workersInfo)).filter((w) => (w.tasks[job!.jobId] ?? 0) > 0);
    if (busy.length < 2) throw new Error(`recovery: expected the job's tasks on 2 workers, found ${busy.length}`);
    const victim = busy[0]!.pid;
    recordsBeforeKill = received;
    maxIndexBeforeKill = maxIndex;
    killAt = performance.now();
    killEpoch = Date.now();
    process.kill(victim, 'SIGKILL');
    const until = killAt + 30_000;
    while (first === undefined && performance.now() < until && run.child.exitCode === null) await sleep(20);
    if (first === undefined) throw new Error(`recovery: no record from a restarted task within 30 s of the kill; stderr:\n${run.stderr().slice(-2000)}`);
    const f = first as { at: number; rec: RecoveryRecord };
    const code = await exitWithin(run, 60_000);
    if (code !== 0 || result === undefined) throw new Error(`recovery: eddy run exited ${code}; stderr:\n${run.stderr().slice(-2000)}`);
    return {
      heartbeatTimeoutMs,
      recoverySeconds: (f.at - killAt) / 1000,
      killedPid: victim,
      recordsBeforeKill,
      maxIndexBeforeKill,
      checkpointsBeforeKill: job!.checkpoints!.completed,
      firstIndexAfterRestart: f.rec.i,
      replayed: f.rec.i <= maxIndexBeforeKill,
      oldRecordsAfterKill: oldAfter,
      lastOldRecordSeconds: lastOldAt === undefined ? null : (lastOldAt - killAt) / 1000,
      status: result.status,
      restarts: result.restarts,
    };
  } finally {
    sub.unsubscribe();
    if (run.child.exitCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }
}

/** Best (lowest) and median recovery time of some runs. */
export function recoverySummary(runs: readonly RecoveryRun[]): { best: number; median: number } {
  const s = runs.map((r) => r.recoverySeconds).sort((a, b) => a - b);
  const m = s.length >> 1;
  return { best: s[0]!, median: s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2 };
}

/** One line per run for the log. */
export function describeRecovery(r: RecoveryRun): string {
  return (
    `heartbeat ${r.heartbeatTimeoutMs} ms: recovered in ${r.recoverySeconds.toFixed(2)} s (killed pid ${r.killedPid} after ${r.recordsBeforeKill} records, ` +
    `${r.checkpointsBeforeKill} checkpoints; first restarted record #${r.firstIndexAfterRestart}${r.replayed ? ' (a replay)' : ''}, ` +
    `${r.oldRecordsAfterKill} records from surviving old tasks after the kill${r.lastOldRecordSeconds === null ? '' : `, the last ${r.lastOldRecordSeconds.toFixed(2)} s after it`}); ` +
    `job ${r.status}, restarts ${r.restarts.map((x) => `${x.code}@ckpt ${x.checkpointId}`).join(', ')}`
  );
}
