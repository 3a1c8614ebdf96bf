// The keyed state backends a job can choose (`stateBackend` in the environment config): name -> factory.
// The config validates against this table and the task creates its backends through it; a new backend is one entry here.
import { join } from 'node:path';
import type { Clock } from '../time/clock.ts';
import { HeapKeyedStateBackend } from './heap-keyed-state-backend.ts';
import type { KeyedStateBackend } from './keyed-state-backend.ts';
import type { IncrementalKeyedState } from './keyed-state-changes.ts';
import { LevelKeyedStateBackend } from './level-keyed-state-backend.ts';

/** What a task needs from a keyed state backend: the state itself, incremental snapshots, and a way to drop it. */
export type TaskKeyedStateBackend = KeyedStateBackend &
  IncrementalKeyedState & {
    /** Closes the backend and deletes whatever it keeps outside the process (absent: nothing to delete). */
    destroy?(): Promise<void>;
  };

/** Where and for whom a backend is created: one keyed operator instance of one task attempt. */
export interface StateBackendContext {
  /** Operator name, for error messages. */
  operatorName: string;
  /** The job's maxParallelism: the number of key groups. */
  maxParallelism: number;
  /** Processing time for state TTL (the job's clock). */
  clock: Clock;
  /** The job's state directory (`stateDir`). */
  stateDir: string;
  jobId: string;
  /**
   * Names this instance uniquely within the job, e.g. `v1-s0-n3-a0` (vertex, subtask, node, attempt). The attempt is in
   * it: a restarted task never opens files its predecessor may still hold.
   */
  instance: string;
}

export interface StateBackendFactory {
  /** Whether the backend keeps files under `<stateDir>/jobs/<jobId>` (deleted with the job when no checkpoint needs them). */
  readonly onDisk: boolean;
  create(context: StateBackendContext): TaskKeyedStateBackend | Promise<TaskKeyedStateBackend>;
}

/** The directory a backend with files on disk keeps a job's state under. */
export function jobStateDir(stateDir: string, jobId: string): string {
  return join(stateDir, 'jobs', jobId);
}

/** The registry. */
export const STATE_BACKENDS = {
  heap: {
    onDisk: false,
    create: (c) => new HeapKeyedStateBackend(c.operatorName, c.maxParallelism, { clock: c.clock }),
  },
  level: {
    onDisk: true,
    create: (c) =>
      LevelKeyedStateBackend.open({
        path: join(jobStateDir(c.stateDir, c.jobId), c.instance),
        operatorName: c.operatorName,
        maxParallelism: c.maxParallelism,
        wipe: true,
        clock: c.clock,
      }),
  },
} as const satisfies Record<string, StateBackendFactory>;

/** A `stateBackend` name: 'heap' (default, fastest) or 'level' (LevelDB under `stateDir`). */
export type StateBackendName = keyof typeof STATE_BACKENDS;

export const DEFAULT_STATE_BACKEND: StateBackendName = 'heap';

/** Every registered name, in registry order. */
export const STATE_BACKEND_NAMES = Object.keys(STATE_BACKENDS) as StateBackendName[];

export function isStateBackendName(name: unknown): name is StateBackendName {
  return typeof name === 'string' && Object.hasOwn(STATE_BACKENDS, name);
}

/** The factory registered under `name`. */
export function stateBackendFactory(name: StateBackendName): StateBackendFactory {
  return STATE_BACKENDS[name];
}
