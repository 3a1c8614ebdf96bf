// An eddy worker: a process with slots that registers on NATS, loads the code of the jobs it is given, and runs their tasks.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { JetStreamCheckpointStorage } from '../src/checkpoint/jetstream-checkpoint-storage.ts';
import type { CheckpointStorage } from '../src/checkpoint/checkpoint-storage.ts';
import { EddyError, toErrorInfo } from '../src/errors.ts';
import { jobStateDir } from '../src/state/state-backends.ts';
import type { Cancelable, Clock } from '../src/time/clock.ts';
import { newJobId } from '../src/time/ids.ts';
import { subjects } from '../src/transport/subjects.ts';
import { getJobCode } from './job-code-store.ts';
import { loadJobCode, type LoadedJob } from './job-code-loader.ts';
import { resolveTask, type TaskDescriptor } from './task-descriptor.ts';
import { Task } from './task.ts';
import { jsonCodec, taskKey, type WorkerInfo, type WorkerReply, type WorkerRequest, type WorkerTaskReport } from './worker-protocol.ts';

export interface WorkerOptions {
  nc: NatsConnection;
  clock: Clock;
  /** Keyed state of the tasks (LevelDB backend) and the job bundles it loads. */
  stateDir: string;
  slots: number;
  eddyVersion: string;
  /** Default: a new random id. */
  id?: string;
  heartbeatIntervalMs?: number;
  /**
   * A job whose master is silent this long has its tasks stopped here; and a worker that finds
   * itself frozen this long (its own timer late by as much) stops all its tasks, since its job
   * masters have declared it lost by then. Default 3000 ms (the job masters' default).
   */
  lostAfterMs?: number;
}

interface RunningTask {
  task: Task;
  jobId: string;
  /** The run of the job master that deployed it. */
  runId: string;
}

/** The heartbeats of a job's masters: when each run (an active master, then one that took over) was last heard. */
interface JobWatch {
  sub: Subscription;
  runs: Map<string, number>;
}

/**
 * A worker (Flink's TaskManager): runs whatever tasks job masters deploy on it, each from a plain
 * TaskDescriptor. The job's code comes from the job code store; the worker rebuilds the job's plan
 * from it, refuses a descriptor made for another plan (EDDY_PLAN_MISMATCH), and reads checkpoints
 * from the job's JetStream storage. Every task's final report goes to its job master, including
 * tasks that died. Fencing: tasks of a job are stopped when its master says so (the worker was
 * declared lost), when the master falls silent, and when the worker notices it was frozen.
 */
export class Worker {
  readonly id: string;
  private readonly tasks = new Map<string, RunningTask>();
  private readonly usedSlots = new Map<string, Set<number>>();
  private readonly jobs = new Map<string, Promise<LoadedJob>>();
  private readonly storages = new Map<string, Promise<JetStreamCheckpointStorage>>();
  private readonly masters = new Map<string, JobWatch>();
  private subs: Subscription[] = [];
  private timer: Cancelable | undefined;
  private lastTick = 0;
  private readonly started: number;
  private stopped = false;
  private readonly interval: number;
  private readonly lostAfter: number;

  constructor(private readonly o: WorkerOptions) {
    this.id = o.id ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 20)}-${process.pid}-${newJobId().slice(0, 6)}`;
    this.started = o.clock.monotonic();
    this.interval = o.heartbeatIntervalMs ?? 250;
    this.lostAfter = o.lostAfterMs ?? 3000;
  }

  info(): WorkerInfo {
    const tasks: Record<string, number> = {};
    for (const t of this.tasks.values()) tasks[t.jobId] = (tasks[t.jobId] ?? 0) + 1;
    const usedSlots: Record<string, number> = {};
    for (const [job, s] of this.usedSlots) if (s.size > 0) usedSlots[job] = s.size;
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      slots: this.o.slots,
      tasks,
      usedSlots,
      eddyVersion: this.o.eddyVersion,
      uptimeMs: Math.round(this.o.clock.monotonic() - this.started),
    };
  }

  /** Subscribes to its control subject and starts heartbeating: job masters see it from the first beat. */
  async start(): Promise<void> {
    const { nc } = this.o;
    this.subs.push(nc.subscribe(subjects.workerControl(this.id), { callback: (_e, msg) => void this.onRequest(msg) }));
    this.subs.push(nc.subscribe(subjects.workersInfo, { callback: (_e, msg) => void msg.respond(jsonCodec.encode(this.info())) }));
    await nc.flush();
    this.lastTick = this.o.clock.monotonic();
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.o.clock.monotonic();
    // Frozen (SIGSTOP, a long pause) long enough to have been declared lost: whatever runs here
    // was restarted elsewhere, so it stops before it could publish or commit anything more.
    if (now - this.lastTick > this.lostAfter) this.fenceAll(`worker ${this.id} was unresponsive for ${Math.round(now - this.lastTick)} ms`);
    this.lastTick = now;
    for (const [jobId, w] of this.masters) {
      // Tasks of a silent master stop, even while another master (one that took over) is heard.
      for (const [runId, lastSeen] of w.runs)
        if (now - lastSeen > this.lostAfter) {
          for (const [key, t] of this.tasks) if (t.jobId === jobId && t.runId === runId) this.stopTask(key, 'cancel');
          if (![...this.tasks.values()].some((t) => t.jobId === jobId && t.runId === runId)) w.runs.delete(runId);
        }
      if (w.runs.size === 0 && ![...this.tasks.values()].some((t) => t.jobId === jobId)) {
        w.sub.unsubscribe();
        this.masters.delete(jobId);
        this.usedSlots.delete(jobId);
        // The job is over here: its local state goes (a later attempt restores from its checkpoint).
        void rm(jobStateDir(this.o.stateDir, jobId), { recursive: true, force: true }).catch(() => undefined);
      }
    }
    try {
      this.o.nc.publish(subjects.workerHeartbeat, jsonCodec.encode(this.info()));
    } catch {
      // the connection is gone: the process ends on its close
    }
    this.timer = this.o.clock.schedule(this.interval, () => this.tick());
  }

  private fenceAll(why: string): void {
    for (const key of [...this.tasks.keys()]) this.stopTask(key, 'kill', why);
  }

  private stopTask(key: string, how: 'cancel' | 'kill', why?: string): void {
    const t = this.tasks.get(key);
    if (t === undefined) return;
    if (how === 'cancel') t.task.cancel();
    else if (why !== undefined) t.task.fail(new EddyError('EDDY_WORKER_LOST', `task ${t.task.name} stopped: ${why}`));
    else t.task.kill();
  }

  private reply(msg: Msg, r: WorkerReply): void {
    try {
      msg.respond(jsonCodec.encode(r));
    } catch {
      // the requester is gone
    }
  }

  private async onRequest(msg: Msg): Promise<void> {
    let req: WorkerRequest;
    try {
      req = jsonCodec.decode<WorkerRequest>(msg.data);
    } catch (e) {
      return this.reply(msg, { ok: false, error: toErrorInfo(new EddyError('EDDY_INVALID_ARGUMENT', `worker ${this.id} got a request that is not JSON: ${(e as Error).message}`)) });
    }
    if (req.op === 'deploy') return this.deploy(msg, req.descriptor, req.slot);
    if (req.op === 'fence') {
      for (const [key, t] of this.tasks) if (t.jobId === req.jobId) this.stopTask(key, 'kill', `its job master declared worker ${this.id} lost`);
      return this.reply(msg, { ok: true });
    }
    const t = this.tasks.get(req.key);
    if (t === undefined) return this.reply(msg, { ok: false, error: { code: 'EDDY_INTERNAL', message: `worker ${this.id} runs no task ${req.key}` } });
    if (req.op === 'start') t.task.start();
    else this.stopTask(req.key, req.op);
    this.reply(msg, { ok: true });
  }

  private job(d: TaskDescriptor): Promise<LoadedJob> {
    const hash = d.jobCode!;
    const k = `${hash}/${d.jobName}`;
    let p = this.jobs.get(k);
    if (p === undefined) {
      p = getJobCode(this.o.nc, hash).then((code) => loadJobCode(code, join(this.o.stateDir, 'job-code'), this.o.clock));
      this.jobs.set(k, p);
      // A failed load is tried again by the next deployment (the cause may have been fixed).
      p.catch(() => this.jobs.delete(k));
    }
    return p;
  }

  private storage(name: string): Promise<JetStreamCheckpointStorage> {
    let s = this.storages.get(name);
    if (s === undefined) {
      s = JetStreamCheckpointStorage.open(this.o.nc, name);
      this.storages.set(name, s);
      s.catch(() => this.storages.delete(name));
    }
    return s;
  }

  /** Watches the heartbeats of job `jobId`'s masters; each beat names its master's run. */
  private watchMaster(jobId: string, runId: string): void {
    let w = this.masters.get(jobId);
    if (w === undefined) {
      const runs = new Map<string, number>();
      const decoder = new TextDecoder();
      w = {
        runs,
        sub: this.o.nc.subscribe(subjects.masterHeartbeat(jobId), {
          callback: (_e, msg) => {
            const run = decoder.decode(msg.data);
            if (runs.has(run)) runs.set(run, this.o.clock.monotonic());
          },
        }),
      };
      this.masters.set(jobId, w);
    }
    w.runs.set(runId, this.o.clock.monotonic());
  }

  private async deploy(msg: Msg, d: TaskDescriptor, slot: number): Promise<void> {
    const key = taskKey(d);
    let task: Task;
    try {
      if (this.stopped) throw new EddyError('EDDY_WORKER_LOST', `worker ${this.id} is shutting down`);
      if (d.jobCode === undefined) throw new EddyError('EDDY_INTERNAL', `task ${key} came without job code`);
      this.watchMaster(d.jobId, d.runId);
      const job = await this.job(d);
      let storage: CheckpointStorage | undefined;
      if (d.checkpointStorage !== undefined) storage = await this.storage(d.checkpointStorage);
      let restored: { storage: CheckpointStorage; meta: NonNullable<Awaited<ReturnType<CheckpointStorage['get']>>> } | undefined;
      if (d.restore !== undefined) {
        if (storage === undefined || storage.location !== d.restore.location)
          throw new EddyError('EDDY_INTERNAL', `task ${key}: ${d.restore.kind} ${d.restore.checkpointId} is at ${d.restore.location}, which workers cannot open`);
        const meta = await storage.get(d.restore.checkpointId);
        if (meta === undefined) throw new EddyError('EDDY_STATE_MISMATCH', `task ${key}: ${d.restore.kind} ${d.restore.checkpointId} is not in ${storage.location}`);
        restored = { storage, meta };
      }
      const deployment = resolveTask(d, {
        nc: this.o.nc,
        clock: this.o.clock,
        stateDir: this.o.stateDir,
        plan: job.plan,
        planFingerprint: job.planFingerprint,
        storageFor: () => storage!,
        openRestore: () => restored!,
      });
      task = new Task(deployment);
    } catch (e) {
      return this.reply(msg, { ok: false, error: toErrorInfo(e) });
    }
    this.tasks.set(key, { task, jobId: d.jobId, runId: d.runId });
    let slots = this.usedSlots.get(d.jobId);
    if (slots === undefined) this.usedSlots.set(d.jobId, (slots = new Set()));
    slots.add(slot);
    void task.result.then((report) => {
      this.tasks.delete(key);
      const still = [...this.tasks.values()].some((t) => t.jobId === d.jobId && t.task.subtask === d.subtask);
      if (!still) slots.delete(slot);
      const r: WorkerTaskReport = { key, workerId: this.id, report };
      try {
        this.o.nc.publish(subjects.taskReports(d.jobId), jsonCodec.encode(r));
      } catch {
        // the connection is gone: the job master learns it from this worker's silence
      }
    });
    await task.prepare();
    this.reply(msg, task.failureCause === undefined ? { ok: true } : { ok: true, failure: toErrorInfo(task.failureCause) });
  }

  /** Stops heartbeating, cancels every task and waits for them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    for (const key of [...this.tasks.keys()]) this.stopTask(key, 'cancel');
    await Promise.all([...this.tasks.values()].map((t) => t.task.result));
    for (const s of this.subs) s.unsubscribe();
    for (const w of this.masters.values()) w.sub.unsubscribe();
    for (const s of this.storages.values()) await s.then((x) => x.close()).catch(() => undefined);
  }
}
