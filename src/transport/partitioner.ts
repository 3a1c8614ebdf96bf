// The partitioning of an edge: a Transformation records it, the record writer of each producing subtask applies it.
/** How records travel from one operator to the next. */
export type Partitioner =
  | { kind: 'forward' }
  | { kind: 'rebalance' }
  | { kind: 'broadcast' }
  | { kind: 'hash'; keySelector: (value: any) => unknown };
