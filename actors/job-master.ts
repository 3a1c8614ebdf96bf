// The job master: deploys every subtask, collects their reports over NATS, ends the job as one.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { createActor } from 'xstate';
import type { JobResult } from '../src/api/job.ts';
import { EddyError, toErrorInfo, type ErrorInfo } from '../src/errors.ts';
import type { ExecutionPlan } from '../src/plan/execution-plan.ts';
import type { Clock } from '../src/time/clock.ts';
import { FrameCodec } from '../src/transport/frame-codec.ts';
import { subjects } from '../src/transport/subjects.ts';
import { jobMasterMachine, type JobMasterState } from './job-master.machine.ts';
import { Task, type NetworkOptions, type TaskStatusReport } from './task.ts';

export interface JobMasterOptions {
  jobId: string;
  jobName: string;
  plan: ExecutionPlan;
  nc: NatsConnection;
  clock: Clock;
  network: NetworkOptions;
  autoWatermarkIntervalMs: number;
  stateBackend: 'heap' | 'level';
  stateDir: string;
  /** The job fails when the NATS connection stays lost this long. */
  connectionLossTimeoutMs: number;
}

/**
 * Runs one job: all tasks are prepared (subscribed) before any source starts, so no frame is
 * published to a subject nobody listens on. Tasks report their final state on the status subject.
 */
export class JobMaster {
  private readonly actor = createActor(jobMasterMachine);
  private readonly codec = new FrameCodec();
  private readonly tasks: Task[] = [];
  private readonly reports = new Map<string, TaskStatusReport>();
  private firstError: ErrorInfo | undefined;
  private statusSub: Subscription | undefined;
  private readonly started: number;
  private resolveResult!: (r: JobResult) => void;
  private resolveDeployed!: () => void;
  readonly result: Promise<JobResult>;
  /** Resolves once every task is subscribed and started, or the job ended before that. */
  readonly deployed: Promise<void>;

  constructor(private readonly o: JobMasterOptions) {
    this.started = o.clock.monotonic();
    this.result = new Promise((resolve) => (this.resolveResult = resolve));
    this.deployed = new Promise((resolve) => (this.resolveDeployed = resolve));
    this.actor.subscribe((s) => {
      const v = s.value as JobMasterState;
      if (v === 'finished' || v === 'failed' || v === 'canceled') this.complete(v);
    });
    this.actor.start();
  }

  get state(): JobMasterState {
    return this.actor.getSnapshot().value as JobMasterState;
  }

  async run(): Promise<JobResult> {
    const { o } = this;
    this.actor.send({ type: 'DEPLOY' });
    this.statusSub = o.nc.subscribe(subjects.status(o.jobId), {
      callback: (err, msg) => {
        if (err) return this.onFailure(toErrorInfo(err));
        this.onReport(this.codec.decodeValue(msg.data) as TaskStatusReport);
      },
    });
    void this.watchConnection();
    void o.nc.closed().then((err) => {
      if (this.isFinal()) return;
      this.onFailure(
        toErrorInfo(
          new EddyError('EDDY_NATS_CONNECTION_LOST', `the connection to NATS closed while job "${o.jobName}" ran${err ? `: ${err.message}` : ''}`, { cause: err }),
        ),
      );
    });
    for (const vertex of o.plan.vertices)
      for (let s = 0; s < vertex.parallelism; s++)
        this.tasks.push(new Task({ jobId: o.jobId, jobName: o.jobName, plan: o.plan, vertex, subtask: s, nc: o.nc, clock: o.clock, network: o.network, autoWatermarkIntervalMs: o.autoWatermarkIntervalMs, stateBackend: o.stateBackend, stateDir: o.stateDir }));
    await Promise.all(this.tasks.map((t) => t.prepare()));
    // A task that failed to open (its report may still be in flight) stops the job before any source starts.
    const broken = this.tasks.find((t) => t.failureCause !== undefined);
    if (broken !== undefined) this.onFailure({ ...toErrorInfo(broken.failureCause), subtask: broken.subtask });
    // The server must have registered every subscription before the first source publishes.
    await o.nc.flush().catch(() => undefined);
    if (this.state === 'deploying') {
      this.actor.send({ type: 'DEPLOYED' });
      for (const t of this.tasks) t.start();
    }
    this.resolveDeployed();
    return this.result;
  }

  /** A disconnect that outlasts `connectionLossTimeoutMs` fails the job (reconnects may otherwise retry for long). */
  private async watchConnection(): Promise<void> {
    const { o } = this;
    let timer: { cancel(): void } | undefined;
    for await (const s of o.nc.status()) {
      if (this.isFinal()) break;
      if (s.type === 'disconnect' && timer === undefined) {
        timer = o.clock.schedule(o.connectionLossTimeoutMs, () =>
          this.onFailure(
            toErrorInfo(
              new EddyError(
                'EDDY_NATS_CONNECTION_LOST',
                `job "${o.jobName}" lost its NATS connection (${s.server}) for more than ${o.connectionLossTimeoutMs} ms; check that nats-server runs and is reachable`,
              ),
            ),
          ),
        );
      } else if (s.type === 'reconnect') {
        timer?.cancel();
        timer = undefined;
      }
    }
    timer?.cancel();
  }

  cancel(): void {
    if (this.isFinal()) return;
    this.actor.send({ type: 'CANCEL' });
    if (this.state === 'canceled') return;
    for (const t of this.tasks) t.cancel();
    void this.whenAllStopped();
  }

  private isFinal(): boolean {
    const s = this.state;
    return s === 'finished' || s === 'failed' || s === 'canceled';
  }

  private onReport(r: TaskStatusReport): void {
    this.reports.set(`${r.vertex}/${r.subtask}`, r);
    if (r.state === 'failed') {
      this.onFailure(r.error ?? { code: 'EDDY_INTERNAL', message: `task ${r.vertex}/${r.subtask} failed without a cause` });
      return;
    }
    if (this.state === 'running' && this.reports.size === this.tasks.length && [...this.reports.values()].every((x) => x.state === 'finished'))
      this.actor.send({ type: 'ALL_FINISHED' });
  }

  private onFailure(e: ErrorInfo): void {
    if (this.isFinal() || this.state === 'failing') return;
    this.firstError = e;
    this.actor.send({ type: 'TASK_FAILED' });
    if (this.state === 'failed') return;
    for (const t of this.tasks) t.cancel();
    void this.whenAllStopped();
  }

  private async whenAllStopped(): Promise<void> {
    // Local tasks resolve their result even when the status message cannot be delivered; it also
    // carries the metrics of tasks whose report is still in flight.
    for (const r of await Promise.all(this.tasks.map((t) => t.result))) this.reports.set(`${r.vertex}/${r.subtask}`, r);
    this.actor.send({ type: 'TASKS_STOPPED' });
  }

  private complete(status: 'finished' | 'failed' | 'canceled'): void {
    this.statusSub?.unsubscribe();
    const metrics: Record<string, number> = {};
    for (const r of this.reports.values()) for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + v;
    const result: JobResult = {
      jobId: this.o.jobId,
      jobName: this.o.jobName,
      status,
      durationMs: Math.round(this.o.clock.monotonic() - this.started),
      metrics,
    };
    if (status === 'failed' && this.firstError !== undefined) result.error = this.firstError;
    this.actor.stop();
    this.resolveDeployed();
    this.resolveResult(result);
  }
}
