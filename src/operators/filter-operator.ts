// filter: keeps the records the predicate accepts.
import type { FilterFunction } from '../functions/functions.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';
import { asyncResultError } from './async-result.ts';
import type { Fusion, FusibleOperator } from './chain-fusion.ts';

export class FilterOperator<T> extends AbstractStreamOperator<T, T> implements FusibleOperator {
  private readonly call: (value: T) => boolean;
  constructor(name: string, private readonly fn: FilterFunction<T>) {
    super(name);
    this.call = typeof fn === 'function' ? fn : fn.filter.bind(fn);
  }
  override open(): Promise<void> {
    return openFunction(this.fn, this.runtimeContext());
  }
  fusion(): Fusion {
    return { kind: 'filter', fn: this.call };
  }
  processElement(value: T, timestamp: number): void {
    const call = this.call;
    const keep = call(value);
    if (typeof keep === 'object' && (keep as unknown) instanceof Promise) throw asyncResultError(this.name, 'filter', keep as unknown as Promise<unknown>);
    if (keep) this.out.collect(value, timestamp);
  }
  override close(): Promise<void> {
    return closeFunction(this.fn);
  }
}
