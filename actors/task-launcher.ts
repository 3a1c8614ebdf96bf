// Where tasks run: the job master hands a plain TaskDescriptor to a launcher and watches the handle it gets back; running tasks in this process is one launcher.
import type { WorkerServices, TaskDescriptor } from './task-descriptor.ts';
import { resolveTask } from './task-descriptor.ts';
import { Task, type TaskStatusReport } from './task.ts';
import type { TaskState } from './task.machine.ts';

/**
 * What the job master sees of a task wherever it runs: its place in the plan, its lifecycle
 * state, and the calls the job master makes (prepare before any source starts, start, cancel, and
 * kill for chaos tests). `result` settles with the final report (finished, failed or canceled).
 */
export interface TaskHandle {
  readonly name: string;
  readonly vertexId: number;
  readonly vertexName: string;
  readonly subtask: number;
  readonly state: TaskState;
  /** Set when preparing failed (the task cannot run). */
  readonly failureCause: unknown;
  readonly result: Promise<TaskStatusReport>;
  prepare(): Promise<void>;
  start(): void;
  cancel(): void;
  kill(): void;
}

/** Starts tasks somewhere: in this process today, on worker processes later. */
export interface TaskLauncher {
  launch(descriptor: TaskDescriptor): TaskHandle;
}

/**
 * Runs every task in this process, with `services` as its worker: the descriptor is resolved as a
 * remote worker would resolve it (plan fingerprint checked), then the task actor is created.
 */
export function localTaskLauncher(services: WorkerServices): TaskLauncher {
  return { launch: (d) => new Task(resolveTask(d, services)) };
}
