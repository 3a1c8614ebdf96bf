// The seam between the `eddy worker` command (src/cli) and the worker actor (actors/): the runtime registers how to create a worker.
import type { NatsConnection } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import type { Clock } from '../time/clock.ts';

/** A worker as it announces itself in every heartbeat and `eddy workers` answer. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  /** Subtask slots it offers: one slot holds one subtask of every vertex of a job (Flink's slot sharing). */
  slots: number;
  /** Running tasks per job id. */
  tasks: Record<string, number>;
  /** Slots in use per job id. */
  usedSlots: Record<string, number>;
  eddyVersion: string;
  uptimeMs: number;
}

/** What `eddy worker` asks of the runtime. */
export interface WorkerRuntimeOptions {
  nc: NatsConnection;
  clock: Clock;
  stateDir: string;
  slots: number;
  eddyVersion: string;
  lostAfterMs: number;
}

/** A running worker, as the command sees it. */
export interface WorkerHandle {
  readonly id: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

let factory: ((o: WorkerRuntimeOptions) => WorkerHandle) | undefined;

/** Called once by the package entry. */
export function registerWorkerRuntime(f: (o: WorkerRuntimeOptions) => WorkerHandle): void {
  factory = f;
}

/** Creates a worker through the registered runtime. */
export function createWorker(o: WorkerRuntimeOptions): WorkerHandle {
  if (factory === undefined) throw new EddyError('EDDY_INTERNAL', 'no worker runtime is registered: load the package entry ("eddy") first');
  return factory(o);
}
