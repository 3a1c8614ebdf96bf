// Transformations: what the DataStream API records, one node per API call (Flink's Transformation tree).
import type { Source } from '../connectors/source.ts';
import type { OperatorFactory } from '../operators/operator.ts';
import type { Sink } from '../operators/sink-operator.ts';

/** How records travel from one operator to the next. */
export type Partitioner =
  | { kind: 'forward' }
  | { kind: 'rebalance' }
  | { kind: 'broadcast' }
  | { kind: 'hash'; keySelector: (value: any) => unknown };

interface Base {
  readonly id: number;
  name: string;
  uid: string | undefined;
  /** undefined: the environment's default. */
  parallelism: number | undefined;
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
    default:
      return [t.input];
  }
}
