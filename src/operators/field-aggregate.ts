// The AggregateFunctions behind windowed sum/min/max/minBy/maxBy: Flink's field aggregations, one mutable accumulator per window.
import { EddyError, previewValue } from '../errors.ts';
import type { AggregateFunction } from '../state/descriptors.ts';
import { withField, type FieldRef } from './reduce-operator.ts';

/** Which field aggregation: Flink's SumAggregator and ComparableAggregator (MIN, MAX, MINBY, MAXBY). */
export type FieldAggregation = 'sum' | 'min' | 'max' | 'minBy' | 'maxBy';

/**
 * A window's partial result: `first` is the window's first element (sum/min/max: its other fields
 * are the result's) or the element chosen so far (minBy/maxBy); `value` is the aggregated field
 * (sum/min/max) or the chosen element's field (minBy/maxBy). `has` is false until an element came.
 * Plain data: it is keyed state and snapshotted as it is.
 */
export interface FieldAccumulator<T> {
  has: boolean;
  first: T | undefined;
  value: number | bigint | undefined;
}

/**
 * Flink's field aggregations as an AggregateFunction for windows:
 * - `sum`, `min`, `max`: the first element of the window with `field` replaced by the sum / minimum /
 *   maximum over the window (Flink's rule: other fields are not those of the extreme element).
 * - `minBy`, `maxBy`: the element whose `field` is smallest / largest; among equal ones the first
 *   (`first` true, Flink's default) or the last.
 * `field` is a property name or tuple index, or undefined for a stream of numbers.
 *
 * Both `add` and `merge` change and return their accumulator and allocate nothing; the result is
 * built once per firing. `merge(a, b)` treats `b` as the later elements, which holds for the pane
 * operator (it always combines older panes into newer ones) and the general window operator. A
 * field that is not a number or bigint throws `EDDY_USER_FUNCTION` naming the aggregation and the
 * record, a record-level failure (the operator's record-failure policy applies).
 *
 * @example
 * ```ts
 * const agg = fieldAggregate<{ k: string; v: number }>('maxBy', 'v');
 * let acc = agg.createAccumulator();
 * acc = agg.add({ k: 'a', v: 3 }, acc);
 * acc = agg.add({ k: 'b', v: 7 }, acc);
 * agg.getResult(acc); // { k: 'b', v: 7 }
 * ```
 */
export function fieldAggregate<T>(kind: FieldAggregation, field: FieldRef, first = true): AggregateFunction<T, FieldAccumulator<T>, T> {
  const label = `${kind}(${field === undefined ? '' : JSON.stringify(field)})`;
  const read = (v: T): number | bigint => {
    const x = field === undefined ? v : (v as Record<string | number, unknown>)[field];
    if (typeof x !== 'number' && typeof x !== 'bigint')
      throw new EddyError(
        'EDDY_USER_FUNCTION',
        `${label} found ${x === null ? 'null' : typeof x} where a number or bigint was expected, in record ${previewValue(v)}; map or filter such records before the aggregation`,
      );
    return x;
  };
  // `later` replaces the current choice (minBy/maxBy) or the current extreme (min/max) when it wins;
  // for minBy/maxBy a tie goes to the later element only when `first` is false.
  const wins =
    kind === 'min' || kind === 'minBy'
      ? first || kind === 'min'
        ? (later: number | bigint, cur: number | bigint) => later < cur
        : (later: number | bigint, cur: number | bigint) => later <= cur
      : first || kind === 'max'
        ? (later: number | bigint, cur: number | bigint) => later > cur
        : (later: number | bigint, cur: number | bigint) => later >= cur;
  const by = kind === 'minBy' || kind === 'maxBy';
  /** Folds a later (element, field value) into `acc`. */
  const fold = (acc: FieldAccumulator<T>, element: T, x: number | bigint): void => {
    if (!acc.has) {
      acc.has = true;
      acc.first = element;
      acc.value = x;
    } else if (kind === 'sum') {
      acc.value = (acc.value as number) + (x as number);
    } else if (wins(x, acc.value!)) {
      acc.value = x;
      if (by) acc.first = element;
    }
  };
  return {
    createAccumulator: () => ({ has: false, first: undefined, value: undefined }),
    add: (v, acc) => {
      fold(acc, v, read(v));
      return acc;
    },
    merge: (a, b) => {
      if (b.has) fold(a, b.first as T, b.value!);
      return a;
    },
    getResult: (acc) => {
      if (!acc.has) throw new EddyError('EDDY_INTERNAL', `${label}: a window fired without elements`);
      return by ? (acc.first as T) : withField(acc.first as T, field, acc.value);
    },
  };
}

/**
 * Checks the arguments of a field aggregation method (`EDDY_INVALID_ARGUMENT`).
 *
 * @example
 * ```ts
 * checkFieldAggregation('minBy', 'price', true); // fine
 * checkFieldAggregation('sum', { f: 1 }); // throws EDDY_INVALID_ARGUMENT
 * ```
 */
export function checkFieldAggregation(method: string, field: unknown, first?: unknown): void {
  if (field !== undefined && typeof field !== 'string' && typeof field !== 'number')
    throw new EddyError('EDDY_INVALID_ARGUMENT', `${method} takes a field name or tuple index (or nothing for a stream of numbers), got ${previewValue(field)}`);
  if (first !== undefined && typeof first !== 'boolean')
    throw new EddyError('EDDY_INVALID_ARGUMENT', `${method}'s second argument (first) must be true or false, got ${previewValue(first)}`);
}
