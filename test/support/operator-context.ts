// Test helper: the OperatorContext the runtime hands an operator or a connector, with defaults a test overrides.
import type { OperatorContext } from '../../src/operators/operator.ts';
import { ManualClock } from '../../src/time/clock.ts';

/**
 * A context for subtask 0 of 1 on a fresh ManualClock, no keyed state and no NATS connection, whose
 * `recordFailed` and `failTask` rethrow; `overrides` replace any field.
 *
 * @example
 * ```ts
 * const reader = source.createReader(operatorContext({ subtaskIndex: 1, parallelism: 2, checkpointing: true }));
 * ```
 */
export function operatorContext(overrides: Partial<OperatorContext> = {}): OperatorContext {
  return {
    jobName: 'test',
    jobId: 'job1',
    operatorName: 'op',
    uid: 'op',
    subtaskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    clock: new ManualClock(0),
    metrics: { inc: () => undefined },
    keyedState: undefined,
    nats: undefined,
    autoWatermarkIntervalMs: 200,
    recordFailed: (e) => {
      throw e;
    },
    failTask: (e) => {
      throw e;
    },
    checkpointing: false,
    ...overrides,
  };
}
