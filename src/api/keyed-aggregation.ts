// The operator factory behind KeyedStream.sum/min/max: a rolling field aggregation that checks each value is a number.
import { EddyError } from '../errors.ts';
import type { KeySelector } from '../functions/functions.ts';
import { fieldAggregator, ReduceOperator, type FieldRef } from '../operators/reduce-operator.ts';
import type { ReduceFunction } from '../state/descriptors.ts';

/**
 * Makes a factory for the rolling `kind` aggregation of `field` (or of the records, for a stream of
 * numbers) per key; other fields keep the key's first record. Each value must be a number or bigint.
 */
export function fieldAggregationOperatorFactory<T>(
  kind: 'sum' | 'min' | 'max',
  field: FieldRef,
  label: string,
  ks: KeySelector<T, unknown>,
): () => ReduceOperator<T> {
  const check = (r: T): void => {
    const x = field === undefined ? r : (r as Record<string | number, unknown>)[field];
    if (typeof x !== 'number' && typeof x !== 'bigint')
      throw new EddyError('EDDY_INVALID_ARGUMENT', `${kind}(${field === undefined ? '' : JSON.stringify(field)}) found ${typeof x} where a number was expected`);
  };
  return () => {
    // One aggregator per operator instance: it learns the record shape of its own input.
    const reduce = fieldAggregator<T>(kind, field);
    const checked: ReduceFunction<T> = (a, b) => {
      check(a);
      check(b);
      return reduce(a, b);
    };
    return new ReduceOperator<T>(label, checked, ks, reduce.init);
  };
}
