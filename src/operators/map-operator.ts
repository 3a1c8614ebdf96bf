// map: one output per input.
import type { MapFunction } from '../functions/functions.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';
import { asyncResultError } from './async-result.ts';
import type { Fusion, FusibleOperator } from './chain-fusion.ts';

export class MapOperator<IN, OUT> extends AbstractStreamOperator<IN, OUT> implements FusibleOperator {
  private readonly call: (value: IN) => OUT;
  constructor(name: string, private readonly fn: MapFunction<IN, OUT>) {
    super(name);
    this.call = typeof fn === 'function' ? fn : fn.map.bind(fn);
  }
  override open(): Promise<void> {
    return openFunction(this.fn, this.runtimeContext());
  }
  fusion(): Fusion {
    return { kind: 'map', fn: this.call };
  }
  processElement(value: IN, timestamp: number): void {
    // Called without a receiver: a plain function's `this` is undefined, as when the user calls it.
    const call = this.call;
    const r = call(value);
    if (typeof r === 'object' && r instanceof Promise) throw asyncResultError(this.name, 'map', r);
    this.out.collect(r, timestamp);
  }
  override close(): Promise<void> {
    return closeFunction(this.fn);
  }
}
