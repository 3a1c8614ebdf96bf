// Runs a job's tasks on worker processes: places each on a slot, deploys it over NATS, and relays its lifecycle as a TaskHandle.
import { errors, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { EddyError, toErrorInfo, type ErrorInfo } from '../src/errors.ts';
import type { Cancelable, Clock } from '../src/time/clock.ts';
import { subjects } from '../src/transport/subjects.ts';
import { placeSlots } from './slot-placement.ts';
import type { TaskDescriptor } from './task-descriptor.ts';
import type { TaskHandle, TaskLauncher } from './task-launcher.ts';
import type { TaskStatusReport } from './task-protocol.ts';
import type { TaskState } from './task.machine.ts';
import type { WorkerPool } from './worker-pool.ts';
import { jsonCodec, taskKey, type WorkerReply, type WorkerRequest, type WorkerTaskReport } from './worker-protocol.ts';

/** Loading a job's code on a worker for the first time may take a while (its imports). */
const DEPLOY_TIMEOUT_MS = 60_000;
const CONTROL_TIMEOUT_MS = 5_000;
const MASTER_HEARTBEAT_MS = 500;

/** Names what a plan vertex is called, for handles. */
export interface VertexNames {
  nameOf(vertex: number): string;
  parallelismOf(vertex: number): number;
}

class RemoteTaskHandle implements TaskHandle {
  state: TaskState = 'created';
  failureCause: unknown;
  readonly result: Promise<TaskStatusReport>;
  private settle!: (r: TaskStatusReport) => void;
  private settled = false;
  readonly name: string;
  readonly key: string;

  constructor(
    private readonly l: RemoteTaskLauncher,
    readonly d: TaskDescriptor,
    readonly workerId: string | undefined,
    readonly vertexName: string,
    parallelism: number,
    /** Why no worker could be chosen (the handle then fails at prepare). */
    private readonly placementError: unknown,
  ) {
    this.key = taskKey(d);
    this.name = `${vertexName} (${d.subtask + 1}/${parallelism})${workerId === undefined ? '' : ` on worker ${workerId}`}`;
    this.result = new Promise((r) => (this.settle = r));
  }

  get vertexId(): number {
    return this.d.vertex;
  }

  get subtask(): number {
    return this.d.subtask;
  }

  /** The final report (from the worker, or made here when the worker cannot send one). */
  end(r: TaskStatusReport): void {
    if (this.settled) return;
    this.settled = true;
    this.state = r.state;
    this.l.forget(this);
    this.settle(r);
  }

  fail(cause: ErrorInfo): void {
    if (this.failureCause === undefined) this.failureCause = cause;
    this.end({ vertex: this.d.vertex, subtask: this.d.subtask, attempt: this.d.attempt, state: 'failed', error: { ...cause, subtask: this.d.subtask }, metrics: {} });
  }

  async prepare(): Promise<void> {
    if (this.workerId === undefined) return this.fail(toErrorInfo(this.placementError));
    this.state = 'restoring';
    try {
      const reply = await this.l.deploy(this.workerId, { op: 'deploy', descriptor: this.d, slot: this.d.subtask });
      if (!reply.ok) return this.fail(reply.error);
      if (reply.failure !== undefined) this.failureCause = reply.failure;
    } catch (e) {
      this.fail(toErrorInfo(new EddyError('EDDY_WORKER_LOST', `task ${this.name} could not be deployed: ${(e as Error).message}`, { cause: e })));
    }
  }

  start(): void {
    if (this.settled || this.workerId === undefined) return;
    this.state = 'running';
    this.l.send(this.workerId, { op: 'start', key: this.key });
  }

  cancel(): void {
    if (this.settled) return;
    const canceled = (): void => this.end({ vertex: this.d.vertex, subtask: this.d.subtask, attempt: this.d.attempt, state: 'canceled', metrics: {} });
    if (this.workerId === undefined || !this.l.pool.isLive(this.workerId)) return canceled();
    // The report follows; a worker that does not answer (or no longer has the task) cannot send one.
    this.l.request(this.workerId, { op: 'cancel', key: this.key }, CONTROL_TIMEOUT_MS).then(
      (r) => (r.ok ? undefined : canceled()),
      () => canceled(),
    );
  }

  kill(): void {
    if (this.settled || this.workerId === undefined) return;
    this.l.send(this.workerId, { op: 'kill', key: this.key });
  }
}

/**
 * The TaskLauncher of a job on workers. Slot s (subtask s of every vertex) is placed on a live
 * worker when its first task is launched and stays there until that worker is lost; then the
 * tasks there fail with EDDY_WORKER_LOST (the supervisor restarts their regions, whose new tasks
 * are placed on the surviving workers) and the worker is told to fence the job. The job master
 * heartbeats to its workers, which stop a job's tasks when it falls silent.
 */
export class RemoteTaskLauncher implements TaskLauncher {
  private readonly handles = new Map<string, RemoteTaskHandle>();
  private readonly assignment = new Map<number, string>();
  private sub: Subscription | undefined;
  private beat: Cancelable | undefined;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly clock: Clock,
    private readonly jobId: string,
    /** The run of the job master: its heartbeats name it, so workers tell it from a master that took over. */
    private readonly runId: string,
    readonly pool: WorkerPool,
    private readonly vertices: VertexNames,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(subjects.taskReports(this.jobId), {
      callback: (_err, msg) => {
        const r = jsonCodec.decode<WorkerTaskReport>(msg.data);
        this.handles.get(r.key)?.end(r.report);
      },
    });
    this.pool.onLost((id, cause) => {
      for (const [s, w] of this.assignment) if (w === id) this.assignment.delete(s);
      for (const h of [...this.handles.values()]) if (h.workerId === id) h.fail(cause);
      // Should it only have been frozen, the worker stops this job's tasks as soon as it hears this.
      this.send(id, { op: 'fence', jobId: this.jobId });
    });
    this.heartbeat();
  }

  private heartbeat(): void {
    if (this.closed) return;
    try {
      this.nc.publish(subjects.masterHeartbeat(this.jobId), this.runId);
    } catch {
      // the connection is gone: the job master fails the job on its own
    }
    this.beat = this.clock.schedule(MASTER_HEARTBEAT_MS, () => this.heartbeat());
  }

  launch(d: TaskDescriptor): TaskHandle {
    let workerId: string | undefined;
    let placementError: unknown;
    try {
      workerId = this.place(d.subtask);
    } catch (e) {
      placementError = e;
    }
    const h = new RemoteTaskHandle(this, d, workerId, this.vertices.nameOf(d.vertex), this.vertices.parallelismOf(d.vertex), placementError);
    if (workerId !== undefined) this.handles.set(h.key, h);
    return h;
  }

  private place(slot: number): string {
    const cur = this.assignment.get(slot);
    if (cur !== undefined && this.pool.isLive(cur)) return cur;
    const mine = new Map<string, number>();
    for (const w of this.assignment.values()) mine.set(w, (mine.get(w) ?? 0) + 1);
    const capacity = this.pool.live().map((w) => {
      let others = 0;
      for (const [job, n] of Object.entries(w.usedSlots)) if (job !== this.jobId) others += n;
      return { id: w.id, free: w.slots - others - (mine.get(w.id) ?? 0) };
    });
    const placed = placeSlots([slot], capacity, this.assignment);
    const id = placed.get(slot)!;
    this.assignment.set(slot, id);
    return id;
  }

  forget(h: RemoteTaskHandle): void {
    if (this.handles.get(h.key) === h) this.handles.delete(h.key);
  }

  /**
   * Sends a deploy request. While nobody listens on the worker's subject ("no responders": it is
   * reconnecting, e.g. its NATS server of a cluster died) and the pool still counts it live, asks
   * again: the worker comes back, or the pool declares it lost (its heartbeat timeout) and the
   * handle fails then. Failing at once would spend the restart policy's attempts within a second.
   */
  async deploy(workerId: string, req: WorkerRequest): Promise<WorkerReply> {
    for (;;) {
      try {
        return await this.request(workerId, req, DEPLOY_TIMEOUT_MS);
      } catch (e) {
        if (this.closed || !this.pool.isLive(workerId) || !(e instanceof errors.RequestError && e.isNoResponders())) throw e;
        await this.clock.sleep(100);
      }
    }
  }

  request(workerId: string, req: WorkerRequest, timeoutMs: number): Promise<WorkerReply> {
    return this.nc.request(subjects.workerControl(workerId), jsonCodec.encode(req), { timeout: timeoutMs }).then((m) => jsonCodec.decode<WorkerReply>(m.data));
  }

  send(workerId: string, req: WorkerRequest): void {
    try {
      this.nc.publish(subjects.workerControl(workerId), jsonCodec.encode(req));
    } catch {
      // the connection is gone: the job master fails the job on its own
    }
  }

  close(): void {
    this.closed = true;
    this.beat?.cancel();
    this.sub?.unsubscribe();
  }
}
