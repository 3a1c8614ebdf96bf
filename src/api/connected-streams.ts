// ConnectedStreams: two streams of possibly different types, processed by one two-input operator (Flink's connect).
import { EddyError } from '../errors.ts';
import type { TwoInputTransformation } from '../graph/transformation.ts';
import { CoFlatMapOperator, CoMapOperator, type CoFlatMapPair } from '../operators/co-map-operator.ts';
import { CoProcessOperator } from '../operators/co-process-operator.ts';
import type { StreamOperator } from '../operators/operator.ts';
import { cloneFunction } from './clone-function.ts';
import { DataStream, KeyedStream, type StreamContext } from './data-stream.ts';
import {
  KeyedCoProcessFunction,
  type CoFlatMapFunction,
  type CoMapFunction,
  type CoProcessFunctionLike,
  type KeyedProcessContext,
  type KeySelector,
} from '../functions/functions.ts';

function invalid(msg: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', msg);
}

/** True when `fn` is an object with every one of `methods`. */
export function hasMethods(fn: unknown, ...methods: string[]): boolean {
  return fn !== null && typeof fn === 'object' && methods.every((m) => typeof (fn as Record<string, unknown>)[m] === 'function');
}

/**
 * Records a two-input operator reading `input1` and `input2` (state key selectors set for keyed
 * operators: their inputs must be hash-partitioned) and returns its output stream.
 */
export function twoInput<OUT>(
  env: StreamContext,
  name: string,
  input1: DataStream<any>,
  input2: DataStream<any>,
  make: () => StreamOperator<any, OUT>,
  stateKeySelector1?: (v: any) => unknown,
  stateKeySelector2?: (v: any) => unknown,
): DataStream<OUT> {
  const t: TwoInputTransformation = {
    kind: 'two-input',
    id: env.nextId(),
    name,
    uid: undefined,
    parallelism: undefined,
    input1: input1.transformation,
    input2: input2.transformation,
    stateKeySelector1,
    stateKeySelector2,
    // The name is read when the job is built, so `.name()` after `.process()` reaches the operator.
    factory: () => {
      const op = make();
      (op as { name: string }).name = t.name;
      return op;
    },
  };
  return new DataStream<OUT>(env, t);
}

/**
 * Two streams connected for one two-input operator: `map` / `flatMap` with one function per input,
 * or `process` with a CoProcessFunction. Records of both inputs interleave in arrival order; the
 * operator's watermark is the minimum of both inputs' watermarks.
 *
 * @example
 * ```ts
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * const labels = await env
 *   .fromCollection([1, 2])
 *   .connect(env.fromCollection(['a']))
 *   .map((n) => `number ${n}`, (s) => `letter ${s}`)
 *   .executeAndCollect();
 * // labels: 'number 1', 'number 2', 'letter a' in some order
 * ```
 */
export class ConnectedStreams<IN1, IN2> {
  constructor(
    protected readonly env: StreamContext,
    readonly first: DataStream<IN1>,
    readonly second: DataStream<IN2>,
  ) {}

  /**
   * Partitions both inputs by key into one key space (records of either input with equal keys meet
   * on the same subtask): `process` then takes a KeyedCoProcessFunction with keyed state and timers.
   */
  keyBy<K>(keySelector1: KeySelector<IN1, K>, keySelector2: KeySelector<IN2, K>): KeyedConnectedStreams<IN1, IN2, K> {
    if (typeof keySelector1 !== 'function' || typeof keySelector2 !== 'function')
      throw invalid('ConnectedStreams.keyBy needs two key selectors, (record1) => key and (record2) => key');
    return new KeyedConnectedStreams<IN1, IN2, K>(this.env, this.first.keyBy(keySelector1), this.second.keyBy(keySelector2));
  }

  /** One output per record: `map1` / the first function for input 1, `map2` / the second for input 2. */
  map<OUT>(fn: CoMapFunction<IN1, IN2, OUT>): DataStream<OUT>;
  map<OUT>(fn1: (value: IN1) => OUT, fn2: (value: IN2) => OUT): DataStream<OUT>;
  map<OUT>(fn: CoMapFunction<IN1, IN2, OUT> | ((value: IN1) => OUT), fn2?: (value: IN2) => OUT): DataStream<OUT> {
    let coMap: () => CoMapFunction<IN1, IN2, OUT>;
    if (typeof fn === 'function') {
      if (typeof fn2 !== 'function') throw invalid('ConnectedStreams.map needs two functions (one per input) or an object with map1() and map2()');
      coMap = () => ({ map1: fn, map2: fn2 });
    } else if (hasMethods(fn, 'map1', 'map2')) coMap = () => cloneFunction(fn);
    else throw invalid('ConnectedStreams.map needs two functions (one per input) or an object with map1() and map2()');
    return this.build('Co-Map', () => new CoMapOperator<IN1, IN2, OUT>('Co-Map', coMap()));
  }

  /**
   * Zero or more outputs per record: two functions returning Iterables, or an object whose
   * `flatMap1` / `flatMap2` emit through the collector.
   */
  flatMap<OUT>(fn: CoFlatMapFunction<IN1, IN2, OUT>): DataStream<OUT>;
  flatMap<OUT>(fn1: (value: IN1) => Iterable<OUT>, fn2: (value: IN2) => Iterable<OUT>): DataStream<OUT>;
  flatMap<OUT>(fn: CoFlatMapFunction<IN1, IN2, OUT> | ((value: IN1) => Iterable<OUT>), fn2?: (value: IN2) => Iterable<OUT>): DataStream<OUT> {
    let make: () => CoFlatMapFunction<IN1, IN2, OUT> | CoFlatMapPair<IN1, IN2, OUT>;
    if (typeof fn === 'function') {
      if (typeof fn2 !== 'function') throw invalid('ConnectedStreams.flatMap needs two functions (one per input) or an object with flatMap1() and flatMap2()');
      make = () => [fn, fn2];
    } else if (hasMethods(fn, 'flatMap1', 'flatMap2')) make = () => cloneFunction(fn);
    else throw invalid('ConnectedStreams.flatMap needs two functions (one per input) or an object with flatMap1() and flatMap2()');
    return this.build('Co-Flat Map', () => new CoFlatMapOperator<IN1, IN2, OUT>('Co-Flat Map', make()));
  }

  /**
   * A CoProcessFunction: `processElement1` / `processElement2` per input, side outputs and time.
   * On connected keyed streams (`keyBy(k1, k2)`, or two KeyedStreams) it runs keyed, as
   * `KeyedConnectedStreams.process` does.
   */
  process<OUT>(fn: CoProcessFunctionLike<IN1, IN2, OUT>): DataStream<OUT> {
    if (!hasMethods(fn, 'processElement1', 'processElement2'))
      throw invalid('ConnectedStreams.process needs a CoProcessFunction (an object with processElement1() and processElement2())');
    const k1 = this.first instanceof KeyedStream ? this.first.keySelector : undefined;
    const k2 = this.second instanceof KeyedStream ? this.second.keySelector : undefined;
    if (k1 !== undefined && k2 !== undefined)
      return this.build('Co-Keyed-Process', () => new CoProcessOperator<IN1, IN2, OUT>('Co-Keyed-Process', cloneFunction(fn), k1, k2), k1, k2);
    if (fn instanceof KeyedCoProcessFunction)
      throw new EddyError('EDDY_CONFIG', 'a KeyedCoProcessFunction needs keyed inputs: call connected.keyBy(key1, key2) first (or connect two KeyedStreams)');
    return this.build('Co-Process', () => new CoProcessOperator<IN1, IN2, OUT>('Co-Process', cloneFunction(fn)));
  }

  protected build<OUT>(name: string, make: () => StreamOperator<any, OUT>, k1?: (v: IN1) => unknown, k2?: (v: IN2) => unknown): DataStream<OUT> {
    return twoInput(this.env, name, this.first, this.second, make, k1, k2);
  }
}

/**
 * Connected streams partitioned by key into one key space (Flink's `connect(...).keyBy(k1, k2)`):
 * a KeyedCoProcessFunction sees the state and timers of each record's key, shared by both inputs.
 *
 * @example
 * ```ts
 * const seen = new ValueStateDescriptor('seen', 0);
 * const counts = await env
 *   .fromCollection(['a', 'b'])
 *   .connect(env.fromCollection([{ id: 'a' }]))
 *   .keyBy((s) => s, (o) => o.id)
 *   .process<[string, number]>({
 *     processElement1(s, ctx, out) { const n = ctx.getState(seen); n.update(n.value() + 1); out.collect([ctx.getCurrentKey(), n.value()]); },
 *     processElement2(_o, ctx) { const n = ctx.getState(seen); n.update(n.value() + 10); },
 *   })
 *   .executeAndCollect();
 * ```
 */
export class KeyedConnectedStreams<IN1, IN2, K> extends ConnectedStreams<IN1, IN2> {
  constructor(
    env: StreamContext,
    override readonly first: KeyedStream<IN1, K>,
    override readonly second: KeyedStream<IN2, K>,
  ) {
    super(env, first, second);
  }

  /** A KeyedCoProcessFunction: state, timers and `ctx.getCurrentKey()` are those of each record's key. */
  override process<OUT>(fn: CoProcessFunctionLike<IN1, IN2, OUT, KeyedProcessContext<K>>): DataStream<OUT> {
    return super.process(fn as CoProcessFunctionLike<IN1, IN2, OUT>);
  }
}
