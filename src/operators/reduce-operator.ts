// Keyed rolling reduce (and sum/min/max built on it): emits the key's reduced value after every record.
import { ValueStateDescriptor, type ReduceFunction, type ValueState } from '../state/descriptors.ts';
import { AbstractStreamOperator } from './abstract-operator.ts';

export class ReduceOperator<T> extends AbstractStreamOperator<T, T> {
  private state!: ValueState<T | undefined>;
  constructor(
    name: string,
    private readonly reduce: ReduceFunction<T>,
    private readonly keySelector: (value: T) => unknown,
  ) {
    super(name);
  }
  override open(): void {
    this.state = this.keyedStateFor(new ValueStateDescriptor<T | undefined>('_reduce', undefined));
  }
  processElement(value: T, timestamp: number): void {
    this.ctx.keyedState!.setCurrentKey(this.keySelector(value));
    const cur = this.state.value();
    const next = cur === undefined ? value : this.reduce(cur, value);
    this.state.update(next);
    this.out.collect(next, timestamp);
  }
}

/** A field of a record: a property name, a tuple index, or nothing for a stream of numbers. */
export type FieldRef = string | number | undefined;

function read(v: unknown, field: FieldRef): unknown {
  return field === undefined ? v : (v as Record<string | number, unknown>)[field];
}

function withField<T>(base: T, field: FieldRef, x: unknown): T {
  if (field === undefined) return x as T;
  if (Array.isArray(base)) {
    const copy = base.slice();
    copy[field as number] = x;
    return copy as T;
  }
  return { ...(base as object), [field]: x } as T;
}

/**
 * The ReduceFunction behind `sum`/`min`/`max`: the aggregated field is combined, every other field
 * keeps the key's first record (Flink's rule).
 */
export function fieldAggregator<T>(kind: 'sum' | 'min' | 'max', field: FieldRef): ReduceFunction<T> {
  return (acc, v) => {
    const a = read(acc, field) as number;
    const b = read(v, field) as number;
    const x = kind === 'sum' ? a + b : kind === 'min' ? (b < a ? b : a) : b > a ? b : a;
    return withField(acc, field, x);
  };
}
