// `eddy/testing`: the operator test harness and what tests built on it need (manual clock, operator types).
export { OperatorHarness, ProcessFunctionHarness } from './operator-harness.ts';
export type { OperatorHarnessOptions, FunctionHarnessOptions, TimestampedValue } from './operator-harness.ts';
export { ManualClock } from '../time/clock.ts';
export type { OperatorSnapshot, StreamOperator, OperatorContext, Output } from '../operators/operator.ts';
export type { KeyedStateBackend, KeyedStateSnapshot } from '../state/heap-keyed-state-backend.ts';
