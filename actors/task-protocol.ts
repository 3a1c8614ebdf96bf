// What a task is given and what it exchanges with the job master and the checkpoint coordinator (plain data).
import type { NatsConnection } from '@nats-io/transport-node';
import type { CheckpointingOptions } from '../src/api/fault-tolerance.ts';
import type { CheckpointKind, CheckpointMetadata, CheckpointStorage, OperatorStateHandle } from '../src/checkpoint/checkpoint-storage.ts';
import type { ErrorInfo } from '../src/errors.ts';
import type { RecordFailurePolicy } from '../src/functions/record-failure-policy.ts';
import type { ExecutionPlan, PlanVertex } from '../src/plan/execution-plan.ts';
import type { StateBackendName } from '../src/state/state-backends.ts';
import type { Clock } from '../src/time/clock.ts';
import type { TaskState } from './task.machine.ts';

/** Network tuning shared by every task of a job. */
export interface NetworkOptions {
  /** Records per data frame before it is sent. */
  batchSize: number;
  /** A partly filled frame is sent after this long. */
  flushIntervalMs: number;
  /** Frames a producer may send on a channel before the consumer returns credit. */
  credits: number;
}

/** Everything one subtask needs to run. */
export interface TaskDeployment {
  jobId: string;
  jobName: string;
  plan: ExecutionPlan;
  vertex: PlanVertex;
  subtask: number;
  nc: NatsConnection;
  clock: Clock;
  network: NetworkOptions;
  autoWatermarkIntervalMs: number;
  /** Where keyed state lives; 'level' keeps it under `stateDir`. */
  stateBackend: StateBackendName;
  stateDir: string;
  /** Namespace of data and credit subjects; it changes per attempt, so frames of a stopped attempt never reach a new one. */
  dataJob: string;
  /** Unique per process run of the job (a resumed job gets a new one). */
  runId: string;
  /** Restart attempt of the task's region (0 first); control messages carry it so stale ones are ignored. */
  attempt: number;
  checkpointing: { options: CheckpointingOptions; storageFor(checkpointId: number): CheckpointStorage } | undefined;
  /** The job's record-failure policy as configured; each operator resolves its own from it (`resolveRecordFailurePolicy`). */
  recordFailures?: RecordFailurePolicy | undefined;
  /** The checkpoint or savepoint to start from. */
  restore: { storage: CheckpointStorage; meta: CheckpointMetadata } | undefined;
}

/** Coordinator -> tasks. */
export type TaskControlMessage =
  | { type: 'trigger'; checkpointId: number; kind: CheckpointKind }
  | { type: 'complete'; checkpointId: number; kind: CheckpointKind }
  | { type: 'abort'; checkpointId: number };

/** Tasks -> coordinator. */
export type CoordinatorMessage =
  | { type: 'ack'; attempt: number; vertex: number; subtask: number; checkpointId: number; handles: Record<string, OperatorStateHandle> }
  | { type: 'decline'; attempt: number; vertex: number; subtask: number; checkpointId: number; error: ErrorInfo }
  | { type: 'source-ended'; attempt: number; vertex: number; subtask: number };

/** What a task reports to the job master when it reaches a final state. */
export interface TaskStatusReport {
  vertex: number;
  subtask: number;
  attempt: number;
  state: TaskState;
  error?: ErrorInfo;
  metrics: Record<string, number>;
}
