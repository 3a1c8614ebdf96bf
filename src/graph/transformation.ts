// Transformations: what the DataStream API records, one node per API call (Flink's Transformation tree).
import type { Source } from '../connectors/source.ts';
import type { OperatorFactory } from '../operators/operator.ts';
import type { Sink } from '../operators/sink-operator.ts';
import type { RecordFailurePolicy } from '../functions/record-failure-policy.ts';
import type { Partitioner } from '../transport/partitioner.ts';

interface Base {
  readonly id: number;
  name: string;
  uid: string | undefined;
  /** undefined: the environment's default. */
  parallelism: number | undefined;
  /** This operator's record-failure policy (`onRecordFailure`); undefined: the job's. */
  recordFailures?: RecordFailurePolicy;
  /** What the operator's state is written with (an actor's machine schema), recorded in checkpoints and checked on restore. */
  stateSchema?: unknown;
}

export interface SourceTransformation extends Base {
  readonly kind: 'source';
  readonly source: Source<unknown>;
}

export interface OneInputTransformation extends Base {
  readonly kind: 'one-input';
  readonly input: Transformation;
  readonly factory: OperatorFactory;
  /** Set when the operator reads keyed state: the key of each input record. */
  readonly stateKeySelector: ((value: any) => unknown) | undefined;
}

/** An operator with two inputs (connect, joins): records of input2 reach `processElement2`. */
export interface TwoInputTransformation extends Base {
  readonly kind: 'two-input';
  readonly input1: Transformation;
  readonly input2: Transformation;
  readonly factory: OperatorFactory;
  /** Keys of each input when the operator reads keyed state (an unkeyed input, e.g. broadcast, has none). */
  readonly stateKeySelector1: ((value: any) => unknown) | undefined;
  readonly stateKeySelector2: ((value: any) => unknown) | undefined;
}

export interface SinkTransformation extends Base {
  readonly kind: 'sink';
  readonly input: Transformation;
  readonly sink: Sink<unknown>;
}

/** Virtual: changes how records reach the next operator. */
export interface PartitionTransformation extends Base {
  readonly kind: 'partition';
  readonly input: Transformation;
  readonly partitioner: Partitioner;
}

/** Virtual: several inputs read as one. */
export interface UnionTransformation extends Base {
  readonly kind: 'union';
  readonly inputs: readonly Transformation[];
}

/** Virtual: the records an operator emitted to a side output. */
export interface SideOutputTransformation extends Base {
  readonly kind: 'side-output';
  readonly input: Transformation;
  readonly tag: string;
}

export type Transformation =
  | SourceTransformation
  | OneInputTransformation
  | TwoInputTransformation
  | SinkTransformation
  | PartitionTransformation
  | UnionTransformation
  | SideOutputTransformation;

/** The inputs of a transformation. */
export function inputsOf(t: Transformation): readonly Transformation[] {
  switch (t.kind) {
    case 'source':
      return [];
    case 'union':
      return t.inputs;
    case 'two-input':
      return [t.input1, t.input2];
    default:
      return [t.input];
  }
}

/** The inputs of a physical transformation with the operator input (0 or 1) each one feeds. */
export function inputSlotsOf(t: Transformation): { input: Transformation; index: number; keySelector: ((value: any) => unknown) | undefined }[] {
  switch (t.kind) {
    case 'two-input':
      return [
        { input: t.input1, index: 0, keySelector: t.stateKeySelector1 },
        { input: t.input2, index: 1, keySelector: t.stateKeySelector2 },
      ];
    case 'one-input':
      return [{ input: t.input, index: 0, keySelector: t.stateKeySelector }];
    default:
      return inputsOf(t).map((input) => ({ input, index: 0, keySelector: undefined }));
  }
}
