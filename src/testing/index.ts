// `eddy/testing`: the operator test harness and what tests built on it need (manual clock, operator types).
export { OperatorHarness } from './operator-harness.ts';
export type { OperatorHarnessOptions, TimestampedValue } from './operator-harness.ts';
export { ProcessFunctionHarness } from './process-function-harness.ts';
export type { FunctionHarnessOptions } from './process-function-harness.ts';
export { TwoInputOperatorHarness } from './two-input-harness.ts';
export type { TwoInputOperatorHarnessOptions } from './two-input-harness.ts';
export { ManualClock } from '../time/clock.ts';
export type { OperatorSnapshot, StreamOperator, OperatorContext, Output } from '../operators/operator.ts';
export type { KeyedStateBackend, KeyedStateSnapshot } from '../state/keyed-state-backend.ts';
export { killTask, readJetStream, type JobAddress } from './chaos.ts';
