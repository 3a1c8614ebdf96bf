// The task boundary as data: what a task is asked to run (plain, serializable), the worker-local services that run it, and how the two become a deployment.
import type { NatsConnection } from '@nats-io/transport-node';
import type { CheckpointingOptions } from '../src/api/fault-tolerance.ts';
import type { CheckpointKind, CheckpointMetadata, CheckpointStorage } from '../src/checkpoint/checkpoint-storage.ts';
import { EddyError } from '../src/errors.ts';
import type { RecordFailurePolicy } from '../src/functions/record-failure-policy.ts';
import type { ExecutionPlan } from '../src/plan/execution-plan.ts';
import { planFingerprint } from '../src/plan/plan-fingerprint.ts';
import type { StateBackendName } from '../src/state/state-backends.ts';
import type { Clock } from '../src/time/clock.ts';
import type { NetworkOptions, TaskDeployment } from './task-protocol.ts';

/** The checkpoint or savepoint a task starts from, by name: the worker opens it. */
export interface RestoreHandle {
  checkpointId: number;
  kind: CheckpointKind;
  /** The storage's location (a directory today; an object store later). */
  location: string;
}

/**
 * What the job master asks a worker to run: plain data (msgpack-able), the same for a task in the
 * job master's process and one on another machine. The plan is named by its fingerprint: the
 * worker rebuilds it from the job's code and must arrive at the same one.
 */
export interface TaskDescriptor {
  jobId: string;
  jobName: string;
  planFingerprint: string;
  vertex: number;
  subtask: number;
  /** Restart attempt of the task's region (0 first). */
  attempt: number;
  /** Namespace of data and credit subjects of this attempt. */
  dataJob: string;
  /** Unique per process run of the job. */
  runId: string;
  network: NetworkOptions;
  autoWatermarkIntervalMs: number;
  stateBackend: StateBackendName;
  checkpointing?: CheckpointingOptions;
  recordFailures?: RecordFailurePolicy;
  restore?: RestoreHandle;
  /** Tasks on workers: the hash of the job's code in the job code store (see job-code-store.ts). */
  jobCode?: string;
  /** Tasks on workers: the name of the job's JetStream checkpoint storage. */
  checkpointStorage?: string;
}

/** What the process that runs a task supplies itself: never part of a descriptor. */
export interface WorkerServices {
  nc: NatsConnection;
  clock: Clock;
  stateDir: string;
  /** The plan this process built from the job's code. */
  plan: ExecutionPlan;
  /** Its fingerprint (planFingerprint(plan)), computed once. */
  planFingerprint: string;
  /** Where checkpoint `id` is written (a savepoint has its own storage). */
  storageFor(checkpointId: number): CheckpointStorage;
  /** Opens the checkpoint or savepoint a handle names. */
  openRestore(handle: RestoreHandle): { storage: CheckpointStorage; meta: CheckpointMetadata };
}

/** Services whose plan fingerprint is computed here. */
export function workerServices(s: Omit<WorkerServices, 'planFingerprint'>): WorkerServices {
  return { ...s, planFingerprint: planFingerprint(s.plan) };
}

/**
 * The deployment a worker runs for descriptor `d`.
 *
 * @throws EddyError `EDDY_PLAN_MISMATCH` when the worker's plan is not the one the descriptor was
 * made for (other job code, another eddy version), naming both fingerprints; `EDDY_INTERNAL` for a
 * vertex the plan lacks or a restore the worker cannot match.
 */
export function resolveTask(d: TaskDescriptor, w: WorkerServices): TaskDeployment {
  if (d.planFingerprint !== w.planFingerprint)
    throw new EddyError(
      'EDDY_PLAN_MISMATCH',
      `task ${d.vertex}/${d.subtask} of job "${d.jobName}" was planned as ${d.planFingerprint.slice(0, 12)}, but this process built plan ${w.planFingerprint.slice(0, 12)} from the job's code; run the same job file and eddy version everywhere`,
    );
  const vertex = w.plan.vertices[d.vertex];
  if (vertex === undefined || vertex.id !== d.vertex || d.subtask < 0 || d.subtask >= vertex.parallelism)
    throw new EddyError('EDDY_INTERNAL', `task ${d.vertex}/${d.subtask} of job "${d.jobName}" does not exist in its plan`);
  let restore: TaskDeployment['restore'];
  if (d.restore !== undefined) {
    restore = w.openRestore(d.restore);
    if (restore.meta.id !== d.restore.checkpointId)
      throw new EddyError('EDDY_INTERNAL', `task ${d.vertex}/${d.subtask}: ${d.restore.kind} ${d.restore.checkpointId} was asked for, ${restore.meta.id} was opened`);
  }
  return {
    jobId: d.jobId,
    jobName: d.jobName,
    plan: w.plan,
    vertex,
    subtask: d.subtask,
    nc: w.nc,
    clock: w.clock,
    network: d.network,
    autoWatermarkIntervalMs: d.autoWatermarkIntervalMs,
    stateBackend: d.stateBackend,
    stateDir: w.stateDir,
    dataJob: d.dataJob,
    runId: d.runId,
    attempt: d.attempt,
    checkpointing: d.checkpointing === undefined ? undefined : { options: d.checkpointing, storageFor: w.storageFor },
    recordFailures: d.recordFailures,
    restore,
  };
}
