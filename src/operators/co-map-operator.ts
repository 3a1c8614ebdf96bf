// connect().map() / connect().flatMap(): one function per input, outputs keep the input record's timestamp.
import type { CoFlatMapFunction, CoMapFunction, Collector } from '../functions/functions.ts';
import { EddyError } from '../errors.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';

/**
 * Runs a CoMapFunction: `map1` on records of the first input, `map2` on the second.
 *
 * @example
 * ```ts
 * const h = new TwoInputOperatorHarness(new CoMapOperator<number, string, string>('Co-Map', { map1: String, map2: (s) => s.toUpperCase() }));
 * await h.open();
 * h.processElement1(7, 100);
 * h.processElement2('x', 200);
 * expect(h.getRecordOutput()).toEqual([{ value: '7', timestamp: 100 }, { value: 'X', timestamp: 200 }]);
 * ```
 */
export class CoMapOperator<IN1, IN2, OUT> extends AbstractStreamOperator<IN1, OUT> {
  private readonly call1: (value: IN1) => OUT;
  private readonly call2: (value: IN2) => OUT;
  constructor(
    name: string,
    private readonly fn: CoMapFunction<IN1, IN2, OUT>,
  ) {
    super(name);
    this.call1 = fn.map1.bind(fn);
    this.call2 = fn.map2.bind(fn);
  }
  override open(): Promise<void> {
    return openFunction(this.fn, this.runtimeContext());
  }
  processElement(value: IN1, timestamp: number): void {
    this.out.collect(this.call1(value), timestamp);
  }
  processElement2(value: IN2, timestamp: number): void {
    this.out.collect(this.call2(value), timestamp);
  }
  override close(): Promise<void> {
    return closeFunction(this.fn);
  }
}

/** The plain-function form of a co-flatMap: each function returns an Iterable. */
export type CoFlatMapPair<IN1, IN2, OUT> = [(value: IN1) => Iterable<OUT>, (value: IN2) => Iterable<OUT>];

/**
 * Runs a CoFlatMapFunction (`flatMap1` / `flatMap2` emitting through the collector), or a pair of
 * plain functions returning Iterables.
 *
 * @example
 * ```ts
 * const split = (s: string) => s.split(' ');
 * const h = new TwoInputOperatorHarness(new CoFlatMapOperator<string, number, string>('Co-Flat Map', [split, (n) => [String(n)]]));
 * await h.open();
 * h.processElement1('a b');
 * h.processElement2(3);
 * expect(h.getOutput()).toEqual(['a', 'b', '3']);
 * ```
 */
export class CoFlatMapOperator<IN1, IN2, OUT> extends AbstractStreamOperator<IN1, OUT> implements Collector<OUT> {
  private timestamp = Number.NEGATIVE_INFINITY;
  private readonly obj: CoFlatMapFunction<IN1, IN2, OUT> | undefined;
  private readonly pair: CoFlatMapPair<IN1, IN2, OUT> | undefined;
  constructor(name: string, fn: CoFlatMapFunction<IN1, IN2, OUT> | CoFlatMapPair<IN1, IN2, OUT>) {
    super(name);
    if (Array.isArray(fn)) this.pair = fn;
    else this.obj = fn;
  }
  override open(): Promise<void> {
    return openFunction(this.obj, this.runtimeContext());
  }
  collect(value: OUT): void {
    this.out.collect(value, this.timestamp);
  }
  processElement(value: IN1, timestamp: number): void {
    this.timestamp = timestamp;
    if (this.obj !== undefined) this.obj.flatMap1(value, this);
    else this.emitAll(this.pair![0](value));
  }
  processElement2(value: IN2, timestamp: number): void {
    this.timestamp = timestamp;
    if (this.obj !== undefined) this.obj.flatMap2(value, this);
    else this.emitAll(this.pair![1](value));
  }
  private emitAll(result: Iterable<OUT>): void {
    if (result == null || typeof (result as Iterable<OUT>)[Symbol.iterator] !== 'function')
      throw new EddyError(
        'EDDY_USER_FUNCTION',
        `flatMap "${this.name}" must return an Iterable (e.g. an array), got ${result === null ? 'null' : typeof result}`,
        { operator: this.name },
      );
    const ts = this.timestamp;
    if (Array.isArray(result)) for (let i = 0; i < result.length; i++) this.out.collect(result[i], ts);
    else for (const v of result) this.out.collect(v, ts);
  }
  override close(): Promise<void> {
    return closeFunction(this.obj);
  }
}
