// DataStream and KeyedStream: the fluent API that records Transformations (no work happens until execute).
import { collectSink } from '../connectors/collect-sink.ts';
import { printSink } from '../connectors/print-sink.ts';
import { EddyError } from '../errors.ts';
import { validateRecordFailurePolicy, type RecordFailurePolicy } from '../functions/record-failure-policy.ts';
import type { OneInputTransformation, Transformation } from '../graph/transformation.ts';
import type { Partitioner } from '../transport/partitioner.ts';
import { FilterOperator } from '../operators/filter-operator.ts';
import { FlatMapOperator } from '../operators/flat-map-operator.ts';
import { MapOperator } from '../operators/map-operator.ts';
import type { StreamOperator } from '../operators/operator.ts';
import { ProcessOperator } from '../operators/process-operator.ts';
import { ReduceOperator, type FieldRef } from '../operators/reduce-operator.ts';
import type { Sink } from '../operators/sink-operator.ts';
import type { MapStateDescriptor, ReduceFunction } from '../state/descriptors.ts';
import { TimestampsAndWatermarksOperator } from '../operators/timestamps-and-watermarks-operator.ts';
import { WatermarkStrategy } from '../time/watermark-strategy.ts';
import { asyncWait, type AsyncWaitOptions } from './async-data-stream.ts';
import { BroadcastConnectedStream, BroadcastStream, KeyedBroadcastConnectedStream } from './broadcast-stream.ts';
import { cloneFunction } from './clone-function.ts';
import { DataStreamSink } from './data-stream-sink.ts';
import { fieldAggregationOperatorFactory } from './keyed-aggregation.ts';
import { checkFunction, invalid } from './stream-arguments.ts';
import { ConnectedStreams, KeyedConnectedStreams } from './connected-streams.ts';
import type { AsyncFunction, FilterFunction, FlatMapFunction, KeyedProcessContext, KeySelector, MapFunction, ProcessFunctionLike } from '../functions/functions.ts';
import { IntervalJoin } from './interval-join.ts';
import type { OutputTag } from '../functions/output-tag.ts';
import { JoinedStreams } from './joined-streams.ts';
import { actorParts, type ActorOptions } from './keyed-actor.ts';
import type { ActorEvent } from '../machines/machine-runner.ts';
import type { AnyStateMachine } from 'xstate';
import { AllWindowedStream, WindowedStream } from './windowed-stream.ts';
import { GlobalWindows, type WindowAssigner } from '../functions/windowing/assigners.ts';
import { countWindows } from '../functions/windowing/count-windows.ts';
import type { GlobalWindow, Window } from '../functions/windowing/windows.ts';

export { DataStreamSink } from './data-stream-sink.ts';

/** What a DataStream needs from its environment (implemented by StreamEnvironment). */
export interface StreamContext {
  nextId(): number;
  addSink(t: Transformation): void;
  collect<T>(sinkId: number, jobName: string | undefined): Promise<T[]>;
}

/**
 * A stream of records of type T. Every method returns a new stream; nothing runs until
 * `env.execute()` (or `executeAndCollect()`).
 *
 * @example
 * ```ts
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * const lengths = await env.fromCollection(['a', 'bb']).map((s) => s.length).executeAndCollect();
 * ```
 */
export class DataStream<T> {
  constructor(
    protected readonly env: StreamContext,
    /** The transformation this stream reads from. */
    readonly transformation: Transformation,
  ) {}

  protected oneInput<U>(name: string, make: () => StreamOperator<T, U>, stateKeySelector?: (v: T) => unknown): DataStream<U> {
    const t: OneInputTransformation = {
      kind: 'one-input',
      id: this.env.nextId(),
      name,
      uid: undefined,
      parallelism: undefined,
      input: this.transformation,
      stateKeySelector,
      // The name is read when the job is built, so `.name()` after `.map()` reaches the operator.
      factory: () => {
        const op = make();
        (op as { name: string }).name = t.name;
        return op;
      },
    };
    return new DataStream<U>(this.env, t);
  }

  /** One output per record. */
  map<U>(fn: MapFunction<T, U>): DataStream<U> {
    checkFunction(fn, 'map', 'map');
    return this.oneInput('Map', () => new MapOperator<T, U>('Map', cloneFunction(fn)));
  }

  /** Keeps the records for which `fn` returns true. */
  filter(fn: FilterFunction<T>): DataStream<T> {
    checkFunction(fn, 'filter', 'filter');
    return this.oneInput('Filter', () => new FilterOperator<T>('Filter', cloneFunction(fn)));
  }

  /** Zero or more outputs per record: return an Iterable, or emit through the collector of an object's `flatMap`. */
  flatMap<U>(fn: FlatMapFunction<T, U>): DataStream<U> {
    checkFunction(fn, 'flatMap', 'flatMap');
    return this.oneInput('Flat Map', () => new FlatMapOperator<T, U>('Flat Map', cloneFunction(fn)));
  }

  /**
   * Async I/O with results in input order: `AsyncDataStream.orderedWait(this, fn, options)`. For
   * functions that return a Promise (lookups in databases and services).
   *
   * @example
   * ```ts
   * const named = ids.asyncMap((id) => users.get(id), { timeoutMs: 2_000, capacity: 20 });
   * ```
   */
  asyncMap<U>(fn: AsyncFunction<T, U>, options?: AsyncWaitOptions): DataStream<U> {
    return asyncWait('asyncMap', this, fn, options, 'ordered');
  }

  /** The general operator: any outputs, side outputs via `ctx.output(tag, v)`. */
  process<U>(fn: ProcessFunctionLike<T, U>): DataStream<U> {
    checkFunction(fn, 'processElement', 'process');
    return this.oneInput('Process', () => new ProcessOperator<T, U>('Process', cloneFunction(fn)));
  }

  /**
   * Gives records event timestamps and emits watermarks after them (periodically, every
   * `autoWatermarkIntervalMs`). Place it right after the source for per-source-subtask watermarks.
   */
  assignTimestampsAndWatermarks(strategy: WatermarkStrategy<T>): DataStream<T> {
    if (!(strategy instanceof WatermarkStrategy)) throw invalid('assignTimestampsAndWatermarks needs a WatermarkStrategy');
    return this.oneInput('Timestamps/Watermarks', () => new TimestampsAndWatermarksOperator<T>('Timestamps/Watermarks', strategy));
  }

  /** Partitions by key: records with equal keys go to the same subtask and share keyed state. */
  keyBy<K>(keySelector: KeySelector<T, K>): KeyedStream<T, K> {
    if (typeof keySelector !== 'function') throw invalid(`keyBy needs a function (record) => key, got ${typeof keySelector}`);
    return new KeyedStream<T, K>(this.env, this.partition({ kind: 'hash', keySelector }, 'KeyBy'), keySelector);
  }

  /** Round-robin to every downstream subtask. */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.env, this.partition({ kind: 'rebalance' }, 'Rebalance'));
  }

  /** Every record to every downstream subtask. */
  broadcast(): DataStream<T>;
  /**
   * With broadcast state descriptors: a BroadcastStream for the broadcast state pattern, to pass to
   * `stream.connect(...)`; every record reaches every subtask of the connected operator.
   */
  broadcast(...descriptors: [MapStateDescriptor<any, any>, ...MapStateDescriptor<any, any>[]]): BroadcastStream<T>;
  broadcast(...descriptors: MapStateDescriptor<any, any>[]): DataStream<T> | BroadcastStream<T> {
    const t = this.partition({ kind: 'broadcast' }, 'Broadcast');
    return descriptors.length === 0 ? new DataStream<T>(this.env, t) : new BroadcastStream<T>(this.env, t, descriptors);
  }

  /**
   * Connects two streams for one two-input operator (`map`, `flatMap`, `process` on the result);
   * connected with a BroadcastStream, the broadcast state pattern (`process` with a
   * (Keyed)BroadcastProcessFunction). Two KeyedStreams connect keyed, as `connect(...).keyBy(k1, k2)`.
   *
   * @example
   * ```ts
   * const both = await env.fromCollection([1, 2]).connect(env.fromCollection(['x'])).map(String, (s) => s).executeAndCollect();
   * ```
   */
  connect<U, K>(this: KeyedStream<T, K>, other: BroadcastStream<U>): KeyedBroadcastConnectedStream<T, U, K>;
  connect<U>(other: BroadcastStream<U>): BroadcastConnectedStream<T, U>;
  connect<U, K>(this: KeyedStream<T, K>, other: KeyedStream<U, K>): KeyedConnectedStreams<T, U, K>;
  connect<U>(other: DataStream<U>): ConnectedStreams<T, U>;
  connect<U>(other: DataStream<U> | BroadcastStream<U>): ConnectedStreams<T, U> | BroadcastConnectedStream<T, U> {
    if (other instanceof BroadcastStream) {
      if (other.stream.env !== this.env) throw invalid('connect: both streams must come from the same StreamEnvironment');
      return this instanceof KeyedStream ? new KeyedBroadcastConnectedStream(this.env, this, other) : new BroadcastConnectedStream(this.env, this, other);
    }
    if (!(other instanceof DataStream)) throw invalid('connect takes a DataStream or a BroadcastStream (stream.broadcast(descriptor))');
    if (other.env !== this.env) throw invalid('connect: both streams must come from the same StreamEnvironment');
    if (this instanceof KeyedStream && other instanceof KeyedStream) return new KeyedConnectedStreams(this.env, this, other);
    return new ConnectedStreams<T, U>(this.env, this, other);
  }

  private partition(partitioner: Partitioner, name: string): Transformation {
    return { kind: 'partition', id: this.env.nextId(), name, uid: undefined, parallelism: undefined, input: this.transformation, partitioner };
  }

  /** Merges streams of the same type. */
  union(...others: DataStream<T>[]): DataStream<T> {
    for (const o of others) if (!(o instanceof DataStream)) throw invalid('union takes DataStreams');
    return new DataStream<T>(this.env, {
      kind: 'union',
      id: this.env.nextId(),
      name: 'Union',
      uid: undefined,
      parallelism: undefined,
      inputs: [this.transformation, ...others.map((o) => o.transformation)],
    });
  }

  /**
   * Windows over the whole stream (not per key), evaluated at parallelism 1 (Flink's windowAll).
   *
   * @example
   * ```ts
   * const perMinute = clicks.windowAll(TumblingEventTimeWindows.of(60_000)).aggregate(count);
   * ```
   */
  windowAll<W extends Window>(assigner: WindowAssigner<T, W>): AllWindowedStream<T, W> {
    return new AllWindowedStream<T, W>(this, assigner);
  }

  /**
   * Count windows over the whole stream, at parallelism 1 (Flink's countWindowAll): see `KeyedStream.countWindow`.
   *
   * @example
   * ```ts
   * const batchesOf100 = events.countWindowAll(100).process((ctx, batch, out) => out.collect(batch.length));
   * ```
   */
  countWindowAll(size: number, slide?: number): AllWindowedStream<T, GlobalWindow> {
    return countWindows(this.windowAll(GlobalWindows.create()), size, slide, 'countWindowAll');
  }

  /**
   * A window join with `other`: pairs with equal keys in the same window.
   *
   * @example
   * ```ts
   * orders.join(payments).where((o) => o.id).equalTo((p) => p.orderId)
   *   .window(TumblingEventTimeWindows.of(60_000)).apply((o, p) => ({ ...o, paid: p.ts }));
   * ```
   */
  join<R>(other: DataStream<R>): JoinedStreams<T, R> {
    if (!(other instanceof DataStream)) throw invalid('join takes a DataStream');
    if (other.env !== this.env) throw invalid('join: both streams must come from the same StreamEnvironment');
    return new JoinedStreams<T, R>(this, other);
  }

  /** The records this stream's operator emitted to `tag`. */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    if (tag === null || typeof tag !== 'object' || typeof tag.id !== 'string') throw invalid('getSideOutput needs an OutputTag');
    return new DataStream<X>(this.env, {
      kind: 'side-output',
      id: this.env.nextId(),
      name: `Side Output ${tag.id}`,
      uid: undefined,
      parallelism: undefined,
      input: this.transformation,
      tag: tag.id,
    });
  }

  private physical(method: string): Exclude<Transformation, { kind: 'partition' | 'union' | 'side-output' }> {
    const t = this.transformation;
    if (t.kind === 'partition' || t.kind === 'union' || t.kind === 'side-output')
      throw invalid(`${method}() applies to an operator, not to ${t.name}; call it right after the operator (e.g. map(...).${method}(...))`);
    return t;
  }

  /** The number of parallel subtasks of this operator. */
  setParallelism(n: number): this {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      throw new EddyError('EDDY_CONFIG', `setParallelism needs an integer >= 1, got ${JSON.stringify(n)}`);
    this.physical('setParallelism').parallelism = n;
    return this;
  }

  /** A stable id: state is matched to operators by uid across restores. */
  uid(uid: string): this {
    if (typeof uid !== 'string' || uid.length === 0) throw invalid('uid needs a non-empty string');
    this.physical('uid').uid = uid;
    return this;
  }

  /** The name shown in logs, metrics and errors. */
  name(name: string): this {
    if (typeof name !== 'string' || name.length === 0) throw invalid('name needs a non-empty string');
    this.physical('name').name = name;
    return this;
  }

  /**
   * What this operator does with a record it cannot process (its function or key selector throws,
   * a source's message does not decode): `'fail'` the task, or dead-letter the record and go on.
   * Overrides the job's `recordFailures` option. See {@link RecordFailurePolicy}.
   *
   * @example
   * ```ts
   * env.fromNats<Reading>({ subject: 'sensors.*' })
   *   .map((r) => ({ ...r, celsius: (r.fahrenheit - 32) / 1.8 }))
   *   .onRecordFailure({ deadLetter: { subject: 'sensors.dlq' } });
   * ```
   */
  onRecordFailure(policy: RecordFailurePolicy): this {
    this.physical('onRecordFailure').recordFailures = validateRecordFailurePolicy(policy, `onRecordFailure of "${this.transformation.name}"`);
    return this;
  }

  /** Writes the stream to a sink. */
  sinkTo(sink: Sink<T>): DataStreamSink {
    if (sink === null || typeof sink !== 'object' || typeof sink.createWriter !== 'function')
      throw invalid('sinkTo needs a Sink ({ name, createWriter })');
    const t: Transformation = {
      kind: 'sink',
      id: this.env.nextId(),
      name: `Sink: ${sink.name}`,
      uid: undefined,
      parallelism: undefined,
      input: this.transformation,
      sink: sink as Sink<unknown>,
    };
    this.env.addSink(t);
    return new DataStreamSink(t);
  }

  /** Prints each record on stdout (`N> ` prefixed by subtask when parallel). */
  print(prefix?: string): DataStreamSink {
    return this.sinkTo(printSink<T>(prefix));
  }

  /**
   * Runs the job (every sink added to the environment) and resolves with this stream's records.
   * Bounded inputs only. Rejects with `EDDY_JOB_FAILED` when the job fails.
   */
  executeAndCollect(jobName?: string): Promise<T[]> {
    let id = -1;
    const sink = this.sinkTo(collectSink<T>(() => id));
    id = sink.transformation.id;
    return this.env.collect<T>(id, jobName);
  }
}

/**
 * A stream partitioned by key: keyed state and per-key aggregations.
 *
 * @example
 * ```ts
 * const totals = orders.keyBy((o) => o.customer).sum('amount');
 * ```
 */
export class KeyedStream<T, K> extends DataStream<T> {
  constructor(
    env: StreamContext,
    transformation: Transformation,
    readonly keySelector: KeySelector<T, K>,
  ) {
    super(env, transformation);
  }

  /** A KeyedProcessFunction: state and `ctx.getCurrentKey()` are those of each record's key. */
  override process<U>(fn: ProcessFunctionLike<T, U, KeyedProcessContext<K>>): DataStream<U> {
    checkFunction(fn, 'processElement', 'process');
    const ks = this.keySelector;
    return this.oneInput('KeyedProcess', () => new ProcessOperator<T, U>('KeyedProcess', cloneFunction(fn), ks), ks);
  }

  /**
   * Joins with another keyed stream (same key space) by time: pairs of records with equal keys whose
   * timestamps lie within `between(lowerMs, upperMs)` of each other (event time).
   *
   * @example
   * ```ts
   * const pairs = orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.orderId)).between(0, 60_000);
   * ```
   */
  intervalJoin<U>(other: KeyedStream<U, K>): IntervalJoin<T, U, K> {
    if (!(other instanceof KeyedStream)) throw invalid('intervalJoin takes a KeyedStream: call keyBy(...) on the other stream first');
    if (other.env !== this.env) throw invalid('intervalJoin: both streams must come from the same StreamEnvironment');
    return new IntervalJoin<T, U, K>(this.env, this, other);
  }

  /**
   * Groups each key's records into windows, evaluated by `reduce`, `aggregate` or `process`.
   *
   * @example
   * ```ts
   * const sums = readings.keyBy((r) => r.sensor).window(TumblingEventTimeWindows.of(1_000)).reduce((a, b) => ({ ...a, v: a.v + b.v }));
   * ```
   */
  window<W extends Window>(assigner: WindowAssigner<T, W>): WindowedStream<T, K, W> {
    return new WindowedStream<T, K, W>(this.env, this, assigner);
  }

  /**
   * Windows of `size` elements per key (Flink's countWindow): fires and purges every `size` elements;
   * with `slide`, fires every `slide` elements over the last `size`. A window that never fills is never
   * emitted, also at end of input.
   *
   * @example
   * ```ts
   * const everyTen = readings.keyBy((r) => r.sensor).countWindow(10).maxBy('temperature');
   * ```
   */
  countWindow(size: number, slide?: number): WindowedStream<T, K, GlobalWindow> {
    return countWindows(this.window(GlobalWindows.create()), size, slide, 'countWindow');
  }

  /**
   * An actor operator: one xstate v5 machine per key, created at the key's first record. Records
   * become events, `emit(...)` in the machine produces the output (in order, exactly once), delayed
   * transitions are durable keyed timers, and the machine's snapshot is the key's checkpointed
   * state (freed when it reaches a top-level final state). See {@link ActorOptions}.
   *
   * @example
   * ```ts
   * const alerts = payments.keyBy((p) => p.card).actor(fraudMachine, { toEvent: (p) => ({ type: p.amount < 10 ? 'small' : 'large', amount: p.amount }) });
   * ```
   */
  actor<E = ActorEvent>(machine: AnyStateMachine, options?: ActorOptions<T, K>): DataStream<E> {
    const { factory, schema } = actorParts(machine, options, this.keySelector);
    const out = this.oneInput('Actor', factory, this.keySelector);
    (out.transformation as OneInputTransformation).stateSchema = schema;
    return out as unknown as DataStream<E>;
  }

  /** A rolling reduce per key: emits the key's reduced value after every record. */
  reduce(fn: ReduceFunction<T>): DataStream<T> {
    if (typeof fn !== 'function') throw invalid(`reduce needs a function (a, b) => c, got ${typeof fn}`);
    const ks = this.keySelector;
    return this.oneInput('Keyed Reduce', () => new ReduceOperator<T>('Keyed Reduce', fn, ks), ks);
  }

  /** Rolling sum of a field (or of the records, for a stream of numbers); other fields keep the key's first record. */
  sum(field?: FieldRef): DataStream<T> {
    return this.aggregateField('sum', field);
  }
  /** Rolling minimum of a field; other fields keep the key's first record. */
  min(field?: FieldRef): DataStream<T> {
    return this.aggregateField('min', field);
  }
  /** Rolling maximum of a field; other fields keep the key's first record. */
  max(field?: FieldRef): DataStream<T> {
    return this.aggregateField('max', field);
  }

  private aggregateField(kind: 'sum' | 'min' | 'max', field: FieldRef): DataStream<T> {
    if (field !== undefined && typeof field !== 'string' && typeof field !== 'number') throw invalid(`${kind} takes a field name or tuple index`);
    const ks = this.keySelector;
    const label = kind[0]!.toUpperCase() + kind.slice(1);
    return this.oneInput(label, fieldAggregationOperatorFactory<T>(kind, field, label, ks), ks);
  }
}
