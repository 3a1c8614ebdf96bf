// BroadcastStream and BroadcastConnectedStream: the broadcast state pattern's API (Flink's names).
import { EddyError } from '../errors.ts';
import type { Transformation } from '../graph/transformation.ts';
import { BroadcastProcessOperator } from '../operators/broadcast-process-operator.ts';
import { MapStateDescriptor } from '../state/descriptors.ts';
import type { BroadcastProcessFunctionLike, KeyedBroadcastProcessFunctionLike } from '../functions/broadcast-functions.ts';
import { KeyedBroadcastProcessFunction } from '../functions/broadcast-functions.ts';
import { cloneFunction } from './clone-function.ts';
import { hasMethods, twoInput } from './connected-streams.ts';
import { DataStream, KeyedStream, type StreamContext } from './data-stream.ts';

/**
 * A stream sent to every subtask of the operator it is connected to, together with the broadcast
 * state descriptors that operator holds (`stream.broadcast(descriptor, ...)`). Connect a stream to
 * it with `stream.connect(broadcastStream)`.
 *
 * @example
 * ```ts
 * const thresholds = new MapStateDescriptor<string, number>('thresholds');
 * const rules: BroadcastStream<[string, number]> = env.fromCollection<[string, number]>([['s1', 10]]).broadcast(thresholds);
 * ```
 */
export class BroadcastStream<T> {
  /** The broadcast-partitioned input (every record to every downstream subtask). */
  readonly stream: DataStream<T>;

  constructor(
    env: StreamContext,
    transformation: Transformation,
    readonly descriptors: readonly MapStateDescriptor<any, any>[],
  ) {
    if (descriptors.length === 0) throw new EddyError('EDDY_INVALID_ARGUMENT', 'a BroadcastStream needs at least one MapStateDescriptor');
    const names = new Set<string>();
    for (const d of descriptors) {
      if (!(d instanceof MapStateDescriptor))
        throw new EddyError('EDDY_INVALID_ARGUMENT', `broadcast(...) takes MapStateDescriptors (broadcast state is a map), got ${d === null ? 'null' : typeof d === 'object' ? (d as object).constructor.name : typeof d}`);
      if (names.has(d.name)) throw new EddyError('EDDY_INVALID_ARGUMENT', `broadcast(...) got two descriptors named "${d.name}"`);
      names.add(d.name);
    }
    this.stream = new DataStream<T>(env, transformation);
  }
}

/**
 * A non-keyed stream connected with a BroadcastStream; `process` takes a BroadcastProcessFunction.
 *
 * @example
 * ```ts
 * const limits = new MapStateDescriptor<string, number>('limits');
 * const capped = env.fromCollection([5, 50]).connect(env.fromCollection([10]).broadcast(limits)).process<number>({
 *   processElement(n, ctx, out) { if (n <= (ctx.getBroadcastState(limits).get('max') ?? Infinity)) out.collect(n); },
 *   processBroadcastElement(max, ctx) { ctx.getBroadcastState(limits).put('max', max); },
 * });
 * ```
 */
export class BroadcastConnectedStream<IN1, IN2> {
  constructor(
    protected readonly env: StreamContext,
    readonly nonBroadcast: DataStream<IN1>,
    readonly broadcast: BroadcastStream<IN2>,
  ) {}

  /**
   * Runs the function on every subtask: `processElement` for the non-broadcast input (read-only
   * broadcast state), `processBroadcastElement` for every broadcast record (writable broadcast state).
   * Update the broadcast state from the broadcast record alone, the same way on every subtask.
   */
  process<OUT>(fn: BroadcastProcessFunctionLike<IN1, IN2, OUT>): DataStream<OUT> {
    return this.build(fn);
  }

  protected build<OUT>(fn: BroadcastProcessFunctionLike<IN1, IN2, OUT> | KeyedBroadcastProcessFunctionLike<any, IN1, IN2, OUT>): DataStream<OUT> {
    if (!hasMethods(fn, 'processElement', 'processBroadcastElement'))
      throw new EddyError(
        'EDDY_INVALID_ARGUMENT',
        'process on a broadcast-connected stream needs a (Keyed)BroadcastProcessFunction (an object with processElement() and processBroadcastElement())',
      );
    const descriptors = this.broadcast.descriptors;
    const input = this.nonBroadcast;
    if (input instanceof KeyedStream) {
      const ks = input.keySelector as (v: IN1) => unknown;
      const name = 'Co-Process-Broadcast-Keyed';
      return twoInput(this.env, name, input, this.broadcast.stream, () => new BroadcastProcessOperator<IN1, IN2, OUT>(name, cloneFunction(fn), descriptors, ks), ks);
    }
    if (fn instanceof KeyedBroadcastProcessFunction)
      throw new EddyError('EDDY_CONFIG', 'a KeyedBroadcastProcessFunction needs a keyed stream: call keyBy(...) before connect(broadcastStream)');
    const name = 'Co-Process-Broadcast';
    return twoInput(this.env, name, input, this.broadcast.stream, () => new BroadcastProcessOperator<IN1, IN2, OUT>(name, cloneFunction(fn), descriptors));
  }
}

/**
 * A keyed stream connected with a BroadcastStream; `process` takes a KeyedBroadcastProcessFunction
 * (keyed state and timers per key on the non-broadcast side).
 *
 * @example
 * ```ts
 * const limits = new MapStateDescriptor<string, number>('limits');
 * const alerts = env
 *   .fromCollection([{ sensor: 's1', value: 12 }])
 *   .keyBy((r) => r.sensor)
 *   .connect(env.fromCollection<[string, number]>([['s1', 10]]).broadcast(limits))
 *   .process<string>({
 *     processElement(r, ctx, out) { if (r.value > (ctx.getBroadcastState(limits).get(ctx.getCurrentKey()) ?? Infinity)) out.collect(r.sensor); },
 *     processBroadcastElement([s, max], ctx) { ctx.getBroadcastState(limits).put(s, max); },
 *   });
 * ```
 */
export class KeyedBroadcastConnectedStream<IN1, IN2, K> extends BroadcastConnectedStream<IN1, IN2> {
  constructor(env: StreamContext, override readonly nonBroadcast: KeyedStream<IN1, K>, broadcast: BroadcastStream<IN2>) {
    super(env, nonBroadcast, broadcast);
  }

  /** Runs a KeyedBroadcastProcessFunction: `processElement` per key, `processBroadcastElement` on every subtask. */
  override process<OUT>(fn: KeyedBroadcastProcessFunctionLike<K, IN1, IN2, OUT>): DataStream<OUT> {
    return this.build(fn);
  }
}
