// map: one output per input.
import type { MapFunction } from '../api/functions.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';
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
    this.out.collect(this.call(value), timestamp);
  }
  override close(): Promise<void> {
    return closeFunction(this.fn);
  }
}
