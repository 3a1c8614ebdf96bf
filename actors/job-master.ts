// The job master: deploys the regions' tasks, supervises them (restart from the last checkpoint), and ends the job as one.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { createActor } from 'xstate';
import type { CheckpointingOptions, RestartPolicyConfig, SupervisionOptions } from '../src/api/fault-tolerance.ts';
import { countDeadLetters, type CheckpointSummary, type JobResult, type JobStatusInfo, type JobSummary, type RestartInfo } from '../src/api/job.ts';
import type { CheckpointMetadata, CheckpointStorage } from '../src/checkpoint/checkpoint-storage.ts';
import { EddyError, toErrorInfo, type ErrorInfo } from '../src/errors.ts';
import type { RecordFailurePolicy } from '../src/functions/record-failure-policy.ts';
import type { ExecutionPlan } from '../src/plan/execution-plan.ts';
import type { StateBackendName } from '../src/state/state-backends.ts';
import type { Clock } from '../src/time/clock.ts';
import { newJobId } from '../src/time/ids.ts';
import { FrameCodec } from '../src/transport/frame-codec.ts';
import { subjects } from '../src/transport/subjects.ts';
import { workerServices, type TaskDescriptor, type WorkerServices } from './task-descriptor.ts';
import { localTaskLauncher, type TaskHandle, type TaskLauncher } from './task-launcher.ts';
import { CheckpointCoordinator, type CheckpointStats } from './checkpoint-coordinator.ts';
import { watchConnection } from './connection-watch.ts';
import { jobMasterMachine, type JobMasterState } from './job-master.machine.ts';
import { pipelinedRegions } from './pipelined-regions.ts';
import { Supervisor } from './supervision/supervisor.ts';
import type { SupervisorDecision } from './supervision/supervisor.machine.ts';
import type { NetworkOptions, TaskStatusReport } from './task.ts';

export interface JobMasterOptions {
  jobId: string;
  jobName: string;
  plan: ExecutionPlan;
  nc: NatsConnection;
  clock: Clock;
  network: NetworkOptions;
  autoWatermarkIntervalMs: number;
  stateBackend: StateBackendName;
  stateDir: string;
  /** The job fails when the NATS connection stays lost this long. */
  connectionLossTimeoutMs: number;
  restartPolicy: RestartPolicyConfig;
  supervision: SupervisionOptions;
  /** Checkpointing and where checkpoints go; undefined: no checkpoints. */
  checkpointing: { options: CheckpointingOptions; storage: CheckpointStorage; openSavepointStorage(path: string): Promise<CheckpointStorage>; savepointDir: string } | undefined;
  /** The state the job starts from (a savepoint or the latest checkpoint), checked against the plan already. */
  restore: { storage: CheckpointStorage; meta: CheckpointMetadata } | undefined;
  /** The job's record-failure policy as configured (operators resolve theirs at deployment). */
  recordFailures?: RecordFailurePolicy | undefined;
  /** Test-only hooks (`testHooks` of the config): without them the master does not subscribe to the kill subject. */
  testHooks?: boolean;
  /** Tasks run on worker processes: where (the launcher), the job's code and its checkpoint storage's name. Default: in this process. */
  workers?: { launcher: TaskLauncher; jobCode: string; checkpointStorage: string | undefined };
  /** This master's run id (in its tasks' descriptors and chunk names). Default: a new one. */
  runId?: string;
  /**
   * The lease of a job on workers (see master-lease.ts): every deployment first claims its attempt
   * number there, and fails the job with EDDY_MASTER_FENCED once another master took the lease.
   */
  lease?: { claimAttempt(attempt: number): Promise<void> };
  /** Took the job over from a master that died: its regions start at this attempt, and the takeover is recorded as a restart with this cause. */
  takeover?: { firstAttempt: number; cause: ErrorInfo };
}

/** A pipelined region: the tasks that exchange data and therefore restart together from one checkpoint. */
interface Region {
  index: number;
  vertices: number[];
  attempt: number;
  /** False while stopped for a restart. */
  running: boolean;
  tasks: TaskHandle[];
}

const HISTORY = 50;

/**
 * Runs one job under a supervision tree: job master -> checkpoint coordinator and one child per
 * pipelined region -> tasks. Tasks of a region are prepared (subscribed) before any source starts,
 * so no frame goes to a subject nobody listens on. The master monitors its task actors (as an OTP
 * link does): a task that fails or dies fails its region; the supervisor restarts regions from the
 * last completed checkpoint per the restart policy and intensity, or escalates, which fails the
 * job with the original cause.
 */
export class JobMaster {
  private readonly actor = createActor(jobMasterMachine);
  private readonly codec = new FrameCodec();
  private readonly regions: Region[];
  private readonly regionOf = new Map<number, Region>();
  private readonly reports = new Map<string, TaskStatusReport>();
  /** Every task not known to have stopped: the current attempts, and stopped ones until their result arrives. */
  private readonly allTasks = new Set<TaskHandle>();
  private readonly restarts: RestartInfo[] = [];
  private readonly supervisor: Supervisor;
  private readonly coordinator: CheckpointCoordinator | undefined;
  private readonly checkpointStats: CheckpointSummary | undefined;
  private firstError: ErrorInfo | undefined;
  private killSub: Subscription | undefined;
  private savepointSub: Subscription | undefined;
  /** `eddy status` and `eddy cancel` from any process on the server. */
  private infoSub: Subscription | undefined;
  private cancelSub: Subscription | undefined;
  private readonly started: number;
  private resolveResult!: (r: JobResult) => void;
  private resolveDeployed!: () => void;
  private savepoints = 0;
  private readonly runId: string;
  /** This process as the worker of every task: connection, clock, plan and storages (see task-descriptor.ts). */
  private readonly services: WorkerServices;
  /** Where tasks run: this process, or worker processes. */
  private readonly launcher: TaskLauncher;
  /** The restore the tasks being created start from (what `services.openRestore` hands out in this process). */
  private restoreFor: JobMasterOptions['restore'];
  readonly result: Promise<JobResult>;
  /** Resolves once every task is subscribed and started, or the job ended before that. */
  readonly deployed: Promise<void>;

  constructor(private readonly o: JobMasterOptions) {
    this.started = o.clock.monotonic();
    this.runId = o.runId ?? newJobId();
    this.services = workerServices({
      nc: o.nc,
      clock: o.clock,
      stateDir: o.stateDir,
      plan: o.plan,
      storageFor: (id) => this.coordinator!.storageFor(id),
      openRestore: (handle) => {
        const r = this.restoreFor;
        if (r === undefined || r.meta.id !== handle.checkpointId || r.storage.location !== handle.location)
          throw new EddyError('EDDY_INTERNAL', `job "${o.jobName}": ${handle.kind} ${handle.checkpointId} at ${handle.location} is not the restore this process holds`);
        return r;
      },
    });
    this.result = new Promise((resolve) => (this.resolveResult = resolve));
    this.deployed = new Promise((resolve) => (this.resolveDeployed = resolve));
    this.launcher = o.workers?.launcher ?? localTaskLauncher(this.services);
    const firstAttempt = o.takeover?.firstAttempt ?? 0;
    this.regions = pipelinedRegions(o.plan).map((vertices, index) => ({ index, vertices, attempt: firstAttempt, running: false, tasks: [] }));
    for (const r of this.regions) for (const v of r.vertices) this.regionOf.set(v, r);
    this.supervisor = new Supervisor(
      {
        children: this.regions.map((r) => String(r.index)),
        strategy: o.supervision.strategy,
        intensity: o.supervision.intensity,
        restartPolicy: o.restartPolicy,
      },
      o.clock,
      {
        // On escalation the job fails and stops everything itself.
        stop: (children, d) => (d.type === 'RESTART' ? this.stopRegions(children.map((c) => this.regions[Number(c)]!)) : undefined),
        start: (children, decision) => void this.restartRegions(children.map((c) => this.regions[Number(c)]!), decision),
        escalate: (d) => this.onFailure(d.cause as ErrorInfo),
      },
    );
    const cp = o.checkpointing;
    if (cp !== undefined) {
      this.checkpointStats = { completed: 0, aborted: 0, lastCompletedId: null, history: [] };
      this.coordinator = new CheckpointCoordinator({
        jobId: o.jobId,
        jobName: o.jobName,
        nc: o.nc,
        clock: o.clock,
        plan: o.plan,
        options: cp.options,
        storage: cp.storage,
        firstCheckpointId: (o.restore?.meta.id ?? 0) + 1,
        attemptOf: (v) => {
          const r = this.regionOf.get(v)!;
          return r.running ? r.attempt : undefined;
        },
        openSavepointStorage: cp.openSavepointStorage,
        onCheckpoint: (s) => this.onCheckpoint(s),
        onTooManyFailures: (e) => this.failRunningRegions(e),
      });
    }
    this.actor.subscribe((s) => {
      const v = s.value as JobMasterState;
      if (v === 'finished' || v === 'failed' || v === 'canceled') this.complete(v);
    });
    this.actor.start();
  }

  get state(): JobMasterState {
    return this.actor.getSnapshot().value as JobMasterState;
  }

  /** What `eddy status` shows of this job (plain JSON). */
  summary(): JobSummary {
    const s = this.status();
    const last = s.restarts.at(-1);
    return {
      jobId: this.o.jobId,
      jobName: this.o.jobName,
      state: s.state,
      pid: process.pid,
      uptimeMs: Math.round(this.o.clock.monotonic() - this.started),
      parallelism: Math.max(...this.o.plan.vertices.map((v) => v.parallelism)),
      restarts: s.restarts.length,
      ...(last === undefined ? {} : { lastRestartCause: `${last.cause.code}: ${last.cause.message}` }),
      checkpoints: s.checkpoints === undefined ? null : { completed: s.checkpoints.completed, aborted: s.checkpoints.aborted, lastCompletedId: s.checkpoints.lastCompletedId },
    };
  }

  status(): JobStatusInfo {
    return { state: this.state, restarts: this.restarts.slice(), checkpoints: this.checkpointStats === undefined ? undefined : structuredClone(this.checkpointStats) };
  }

  async run(): Promise<JobResult> {
    const { o } = this;
    this.actor.send({ type: 'DEPLOY' });
    // Chaos tests kill task actors by name over NATS, as an operator would kill a worker. Only a job
    // that enables test hooks listens: otherwise anyone on the server could kill its tasks. A request
    // gets the number of running tasks the kill reached, so killTask knows it was heard.
    if (o.testHooks === true)
      this.killSub = o.nc.subscribe(subjects.kill(o.jobId), {
        callback: (_err, msg) => {
          const [vertexName, subtask] = this.codec.decodeValue(msg.data) as [string, number];
          let reached = 0;
          for (const r of this.regions)
            for (const t of r.tasks)
              if (t.vertexName === vertexName && t.subtask === subtask && t.state !== 'finished' && t.state !== 'failed' && t.state !== 'canceled') {
                t.kill();
                reached++;
              }
          if (msg.reply) msg.respond(this.codec.encodeValue(reached));
        },
      });
    this.infoSub = o.nc.subscribe(subjects.jobsInfo, { callback: (_err, msg) => void msg.respond(JSON.stringify(this.summary())) });
    this.cancelSub = o.nc.subscribe(subjects.cancelJob(o.jobId), {
      callback: (_err, msg) => {
        this.cancel();
        void this.result.then((r) => msg.respond(JSON.stringify({ status: r.status })));
      },
    });
    this.savepointSub = o.nc.subscribe(subjects.savepoint(o.jobId), {
      callback: (_err, msg) => {
        const { directory } = JSON.parse(new TextDecoder().decode(msg.data) || '{}') as { directory?: string };
        this.savepoint(directory).then(
          (path) => msg.respond(JSON.stringify({ path })),
          (e) => msg.respond(JSON.stringify({ error: toErrorInfo(e) })),
        );
      },
    });
    void watchConnection(o.nc, o.clock, o.connectionLossTimeoutMs, o.jobName, {
      ended: () => this.isFinal(),
      lost: (cause) => this.onFailure(cause),
      reconnected: (cause) => (this.state === 'created' || this.state === 'deploying' ? this.onFailure(cause) : this.failRunningRegions(cause)),
    });
    void o.nc.closed().then((err) => {
      if (this.isFinal()) return;
      this.onFailure(
        toErrorInfo(new EddyError('EDDY_NATS_CONNECTION_LOST', `the connection to NATS closed while job "${o.jobName}" ran${err ? `: ${err.message}` : ''}`, { cause: err })),
      );
    });
    if (o.takeover !== undefined)
      this.restarts.push({ atMs: 0, regions: this.regions.map((r) => r.index), cause: o.takeover.cause, checkpointId: o.restore?.meta.id ?? null });
    if (!(await this.claimAttempts())) return this.result;
    for (const r of this.regions) this.createTasks(r, o.restore);
    await this.prepareAndStart(this.regions, true);
    this.resolveDeployed();
    return this.result;
  }

  /**
   * Creates the tasks of region `r`'s current attempt: a plain descriptor per subtask (what a remote
   * worker would be sent), handed to the launcher (today: resolved and run in this process).
   */
  private createTasks(r: Region, restore: JobMasterOptions['restore']): void {
    const { o } = this;
    r.tasks = [];
    const attempt = r.attempt;
    // What `services.openRestore` hands out while these descriptors are resolved.
    this.restoreFor = restore;
    for (const vid of r.vertices) {
      const vertex = o.plan.vertices[vid]!;
      for (let s = 0; s < vertex.parallelism; s++) {
        const descriptor: TaskDescriptor = {
          jobId: o.jobId,
          jobName: o.jobName,
          planFingerprint: this.services.planFingerprint,
          vertex: vertex.id,
          subtask: s,
          attempt,
          dataJob: `${o.jobId}-${attempt}`,
          runId: this.runId,
          network: o.network,
          autoWatermarkIntervalMs: o.autoWatermarkIntervalMs,
          stateBackend: o.stateBackend,
          ...(o.checkpointing === undefined ? {} : { checkpointing: o.checkpointing.options }),
          ...(o.recordFailures === undefined ? {} : { recordFailures: o.recordFailures }),
          ...(restore === undefined ? {} : { restore: { checkpointId: restore.meta.id, kind: restore.meta.kind, location: restore.storage.location } }),
          ...(o.workers === undefined ? {} : { jobCode: o.workers.jobCode }),
          ...(o.workers?.checkpointStorage === undefined ? {} : { checkpointStorage: o.workers.checkpointStorage }),
        };
        const task = this.launcher.launch(descriptor);
        r.tasks.push(task);
        this.allTasks.add(task);
        void task.result.then((rep) => this.onTaskResult(r, attempt, rep, task));
      }
    }
  }

  /** Prepares every task of `regions`, then starts them; the first deployment fails the job on a broken task, a restart fails the region. */
  private async prepareAndStart(regions: Region[], initial: boolean): Promise<void> {
    const tasks = regions.flatMap((r) => r.tasks);
    await Promise.all(tasks.map((t) => t.prepare()));
    const broken = tasks.find((t) => t.failureCause !== undefined);
    if (broken !== undefined && initial) this.onFailure({ ...toErrorInfo(broken.failureCause), subtask: broken.subtask });
    // The server must have registered every subscription before the first source publishes.
    await this.o.nc.flush().catch(() => undefined);
    if (initial) {
      if (this.state !== 'deploying') return;
      this.actor.send({ type: 'DEPLOYED' });
    } else if (this.state !== 'restarting' || broken !== undefined) return;
    for (const r of regions) r.running = true;
    // The coordinator listens before any source runs: a source that ends at once (a small bounded
    // job) reports it at once, and a report published before the subscription would be lost.
    if (initial) this.coordinator?.start();
    for (const t of tasks) t.start();
    if (!initial && this.regions.every((r) => r.running)) this.actor.send({ type: 'RESTARTED' });
  }

  private onTaskResult(r: Region, attempt: number, rep: TaskStatusReport, task: TaskHandle): void {
    if (attempt !== r.attempt) return; // a stopped attempt: stale
    this.reports.set(`${rep.vertex}/${rep.subtask}`, rep);
    if (rep.state === 'failed') {
      const cause = rep.error ?? { code: 'EDDY_INTERNAL', message: `task ${task.name} failed without a cause` };
      if (this.state === 'deploying' || this.state === 'created') return this.onFailure(cause);
      if (this.state !== 'running' && this.state !== 'restarting') return;
      this.supervisor.childFailed(String(r.index), cause);
      return;
    }
    if (this.state === 'running' && this.regions.every((x) => x.running && x.tasks.every((t) => this.reports.get(`${t.vertexId}/${t.subtask}`)?.state === 'finished')))
      this.actor.send({ type: 'ALL_FINISHED' });
  }

  /** Supervisor hook: stop the regions (their attempt ends now, so their reports become stale). */
  private stopRegions(regions: Region[]): void {
    if (this.isFinal() || this.state === 'failing' || this.state === 'canceling') return;
    this.actor.send({ type: 'RESTART' });
    this.coordinator?.abortAll('a region restarts');
    for (const r of regions) {
      r.running = false;
      r.attempt++;
      this.coordinator?.resetSources(r.vertices);
      for (const t of r.tasks) t.cancel();
      for (const t of r.tasks) this.reports.delete(`${t.vertexId}/${t.subtask}`);
    }
  }

  /** Supervisor hook, after the policy's delay: redeploy the regions from the latest completed checkpoint. */
  private async restartRegions(regions: Region[], decision: SupervisorDecision): Promise<void> {
    if (this.state !== 'restarting') return;
    const old = regions.flatMap((r) => r.tasks);
    await Promise.all(old.map((t) => t.result));
    // A long-running job may restart many times: stopped attempts are not kept.
    for (const t of old) this.allTasks.delete(t);
    let restore = this.o.restore;
    try {
      // A checkpoint every task acked before the failure may still be writing its metadata (its
      // sinks may even have been told to commit): `latest` is read once it is stored or failed.
      await this.coordinator?.whenCommitsSettled();
      const cp = this.o.checkpointing;
      const latest = cp === undefined ? undefined : await cp.storage.latest();
      if (latest !== undefined && latest.jobId === this.o.jobId && (restore === undefined || latest.id > restore.meta.id)) restore = { storage: cp!.storage, meta: latest };
    } catch (e) {
      return this.onFailure(toErrorInfo(e));
    }
    const cause = decision.type === 'RESTART' ? (decision.cause as ErrorInfo) : { code: 'EDDY_INTERNAL', message: 'restart' };
    this.restarts.push({
      atMs: Math.round(this.o.clock.monotonic() - this.started),
      regions: regions.map((r) => r.index),
      cause,
      checkpointId: restore?.meta.id ?? null,
    });
    if (this.state !== 'restarting' || !(await this.claimAttempts()) || this.state !== 'restarting') return;
    for (const r of regions) this.createTasks(r, restore);
    await this.prepareAndStart(regions, false);
  }

  /** Claims the regions' current attempts in the lease before they deploy; false (the job failed) when another master holds it. */
  private async claimAttempts(): Promise<boolean> {
    if (this.o.lease === undefined) return true;
    try {
      await this.o.lease.claimAttempt(Math.max(...this.regions.map((r) => r.attempt)));
      return true;
    } catch (e) {
      this.onFailure(toErrorInfo(e));
      return false;
    }
  }

  /** Fails the job with `cause` from outside (e.g. its lease was taken over): every task stops. */
  fail(cause: ErrorInfo): void {
    this.onFailure(cause);
  }

  /** Triggers a savepoint; resolves with its directory. */
  async savepoint(directory?: string): Promise<string> {
    const cp = this.o.checkpointing;
    if (this.coordinator === undefined || cp === undefined)
      throw new EddyError('EDDY_CONFIG', `job "${this.o.jobName}" runs without checkpointing; savepoints need it: set checkpointing in StreamEnvironment.create`);
    const path = directory ?? `${cp.savepointDir}/${this.o.jobName.replace(/[^A-Za-z0-9_-]+/g, '_')}-${this.o.jobId}-${++this.savepoints}`;
    await this.coordinator.trigger('savepoint', path);
    return path;
  }

  async triggerCheckpoint(): Promise<number> {
    if (this.coordinator === undefined) throw new EddyError('EDDY_CONFIG', `job "${this.o.jobName}" runs without checkpointing`);
    return (await this.coordinator.trigger('checkpoint')).id;
  }

  private onCheckpoint(s: CheckpointStats): void {
    const c = this.checkpointStats!;
    if (s.status === 'completed') {
      c.completed++;
      // An older checkpoint that was already committing may complete after a newer one: the id never moves backwards.
      if (s.kind !== 'savepoint') c.lastCompletedId = Math.max(c.lastCompletedId ?? s.id, s.id);
    } else c.aborted++;
    c.history.push({ ...s });
    if (c.history.length > HISTORY) c.history.shift();
  }

  /** Fails every running region (each restarts or escalates under the supervisor). */
  private failRunningRegions(cause: ErrorInfo): void {
    if (this.state !== 'running' && this.state !== 'restarting') return;
    for (const r of this.regions) if (r.running) this.supervisor.childFailed(String(r.index), cause);
  }

  cancel(): void {
    if (this.isFinal()) return;
    this.actor.send({ type: 'CANCEL' });
    if (this.state === 'canceled') return;
    this.stopAll();
  }

  private isFinal(): boolean {
    const s = this.state;
    return s === 'finished' || s === 'failed' || s === 'canceled';
  }

  /** Fails the job (escalation past the root, or a failure outside any region). */
  private onFailure(e: ErrorInfo): void {
    if (this.isFinal() || this.state === 'failing') return;
    this.firstError = e;
    this.actor.send({ type: 'TASK_FAILED' });
    if (this.state === 'failed') return;
    this.stopAll();
  }

  private stopAll(): void {
    this.supervisor.stop();
    this.coordinator?.stop();
    for (const t of this.allTasks) t.cancel();
    void this.whenAllStopped();
  }

  private async whenAllStopped(): Promise<void> {
    const current = new Set(this.regions.flatMap((r) => r.tasks));
    // Local tasks resolve their result even when the status message cannot be delivered.
    await Promise.all([...this.allTasks].map((t) => t.result));
    for (const t of current) this.reports.set(`${t.vertexId}/${t.subtask}`, await t.result);
    this.actor.send({ type: 'TASKS_STOPPED' });
  }

  private complete(status: 'finished' | 'failed' | 'canceled'): void {
    this.killSub?.unsubscribe();
    this.savepointSub?.unsubscribe();
    this.infoSub?.unsubscribe();
    this.cancelSub?.unsubscribe();
    this.coordinator?.stop();
    this.supervisor.stop();
    const metrics: Record<string, number> = {};
    // Metrics of the last attempt of each task: what a restarted task counted before it stopped was replayed.
    for (const r of this.reports.values()) for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + v;
    const result: JobResult = {
      jobId: this.o.jobId,
      jobName: this.o.jobName,
      status,
      durationMs: Math.round(this.o.clock.monotonic() - this.started),
      metrics,
      deadLetters: countDeadLetters(metrics),
      restarts: this.restarts.slice(),
    };
    if (this.checkpointStats !== undefined) result.checkpoints = structuredClone(this.checkpointStats);
    if (status === 'failed' && this.firstError !== undefined) result.error = this.firstError;
    this.actor.stop();
    this.resolveDeployed();
    this.resolveResult(result);
  }
}
