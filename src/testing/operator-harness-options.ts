// Options of the operator test harness, and the checks that reject a bad harness setup with EDDY_CONFIG.
import { EddyError } from '../errors.ts';
import type { StreamOperator } from '../operators/operator.ts';
import { ManualClock } from '../time/clock.ts';

/**
 * Where and how the harnessed operator instance runs.
 *
 * @example
 * ```ts
 * type Click = { user: string };
 * const options: OperatorHarnessOptions<Click> = { keySelector: (c) => c.user, parallelism: 2, subtaskIndex: 1, clock: new ManualClock(1_000) };
 * const h = new OperatorHarness(new ReduceOperator<Click>('Last', (_a, b) => b, (c) => c.user), options);
 * await h.open();
 * expect(h.keyGroups).toEqual({ start: 64, end: 127 });
 * expect(h.currentProcessingTime()).toBe(1_000);
 * ```
 */
export interface OperatorHarnessOptions<IN> {
  /**
   * Makes the harness keyed: the operator gets a heap keyed state backend, and before every record the
   * harness sets the backend's current key to `keySelector(record)` and checks that the key belongs to
   * this subtask's key groups (as the runtime's hash partitioning guarantees).
   */
  keySelector?: (value: IN) => unknown;
  /** Parallelism of the (imagined) operator; default 1. */
  parallelism?: number;
  /** Which subtask this instance is, in [0, parallelism); default 0. */
  subtaskIndex?: number;
  /** Number of key groups; default 128. Must stay the same across snapshot and restore. */
  maxParallelism?: number;
  /** Processing time; default `new ManualClock(0)`. Drive it with `setProcessingTime` / `advanceProcessingTime`. */
  clock?: ManualClock;
  /** The job name the operator sees; default `'harness'`. */
  jobName?: string;
  /** The operator's uid; default its name. */
  uid?: string;
  /** Interval of periodic watermark emission in ms of (manual) processing time; default 200. */
  autoWatermarkIntervalMs?: number;
  /** Tell the operator the job takes checkpoints (two-phase sinks then hold output until `notifyCheckpointComplete`); default false. */
  checkpointing?: boolean;
}

const DEFAULT_MAX_PARALLELISM = 128;

function configError(message: string): EddyError {
  return new EddyError('EDDY_CONFIG', message);
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw configError(`OperatorHarness: ${name} must be an integer >= ${min}, got ${String(v)}`);
}

/**
 * Checks the operator and `options`, filling in the defaults of the subtask's place.
 *
 * @throws EddyError `EDDY_CONFIG` naming the bad option.
 */
export function checkHarnessOptions<IN, OUT>(
  operator: StreamOperator<IN, OUT>,
  options: OperatorHarnessOptions<IN>,
): { parallelism: number; subtaskIndex: number; maxParallelism: number } {
  if (operator === null || typeof operator !== 'object' || typeof operator.processElement !== 'function')
    throw configError('OperatorHarness needs a StreamOperator (an object with setup/initializeState/open/processElement/...)');
  const parallelism = options.parallelism ?? 1;
  const subtaskIndex = options.subtaskIndex ?? 0;
  const maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
  checkInt('parallelism', parallelism, 1);
  checkInt('maxParallelism', maxParallelism, 1);
  checkInt('subtaskIndex', subtaskIndex, 0);
  if (parallelism > maxParallelism)
    throw configError(`OperatorHarness: parallelism ${parallelism} exceeds maxParallelism ${maxParallelism}`);
  if (subtaskIndex >= parallelism)
    throw configError(`OperatorHarness: subtaskIndex ${subtaskIndex} is outside [0, ${parallelism - 1}] for parallelism ${parallelism}`);
  if (options.keySelector !== undefined && typeof options.keySelector !== 'function')
    throw configError(`OperatorHarness: keySelector must be a function (record) => key, got ${typeof options.keySelector}`);
  if (options.clock !== undefined && !(options.clock instanceof ManualClock))
    throw configError('OperatorHarness: clock must be a ManualClock (the harness moves time by hand)');
  return { parallelism, subtaskIndex, maxParallelism };
}
