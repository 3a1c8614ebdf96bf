// flatMap: zero or more outputs per input, from an Iterable or through a Collector.
import type { Collector, FlatMapFunction } from '../functions/functions.ts';
import { EddyError } from '../errors.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';
import { asyncResultError } from './async-result.ts';

export class FlatMapOperator<IN, OUT> extends AbstractStreamOperator<IN, OUT> implements Collector<OUT> {
  private timestamp = Number.NEGATIVE_INFINITY;
  constructor(name: string, private readonly fn: FlatMapFunction<IN, OUT>) {
    super(name);
  }
  override open(): Promise<void> {
    return openFunction(this.fn, this.runtimeContext());
  }
  collect(value: OUT): void {
    this.out.collect(value, this.timestamp);
  }
  processElement(value: IN, timestamp: number): void {
    this.timestamp = timestamp;
    const fn = this.fn;
    if (typeof fn !== 'function') {
      const r: unknown = fn.flatMap(value, this);
      if (typeof r === 'object' && r instanceof Promise) throw asyncResultError(this.name, 'flatMap', r);
      return;
    }
    const result = fn(value);
    if (typeof result === 'object' && (result as unknown) instanceof Promise) throw asyncResultError(this.name, 'flatMap', result as unknown as Promise<unknown>);
    if (result == null || typeof (result as Iterable<OUT>)[Symbol.iterator] !== 'function')
      throw new EddyError(
        'EDDY_USER_FUNCTION',
        `flatMap "${this.name}" must return an Iterable (e.g. an array), got ${result === null ? 'null' : typeof result}`,
        { operator: this.name },
      );
    if (Array.isArray(result)) for (let i = 0; i < result.length; i++) this.out.collect(result[i], timestamp);
    else for (const v of result) this.out.collect(v, timestamp);
  }
  override close(): Promise<void> {
    return closeFunction(this.fn);
  }
}
