// The two-input operator harness: drive connect / broadcast / join operators by hand, input by input.
import type { BroadcastProcessFunctionLike, KeyedBroadcastProcessFunctionLike } from '../functions/broadcast-functions.ts';
import { cloneFunction } from '../api/clone-function.ts';
import type { CoProcessFunctionLike, KeyedProcessContext, KeySelector } from '../functions/functions.ts';
import { EddyError } from '../errors.ts';
import { BroadcastProcessOperator } from '../operators/broadcast-process-operator.ts';
import { CoProcessOperator } from '../operators/co-process-operator.ts';
import type { OperatorSnapshot, StreamOperator } from '../operators/operator.ts';
import { attributeError } from '../operators/record-failure.ts';
import type { MapStateDescriptor } from '../state/descriptors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { OperatorHarness, type OperatorHarnessOptions } from './operator-harness.ts';

/**
 * Options of a TwoInputOperatorHarness: those of OperatorHarness, with one key selector per input.
 *
 * @example
 * ```ts
 * const options: TwoInputOperatorHarnessOptions<{ id: string }, [string, number]> = {
 *   keySelector1: (o) => o.id,
 *   keySelector2: ([id]) => id,
 *   parallelism: 2,
 *   subtaskIndex: 0,
 * };
 * ```
 */
export interface TwoInputOperatorHarnessOptions<IN1, IN2> extends Omit<OperatorHarnessOptions<IN1>, 'keySelector'> {
  /** Makes the harness keyed: the key of each record of input 1 (see OperatorHarnessOptions.keySelector). */
  keySelector1?: (value: IN1) => unknown;
  /**
   * The key of each record of input 2, in the same key space; leave it out for an unkeyed second
   * input (the broadcast side of the broadcast state pattern).
   */
  keySelector2?: (value: IN2) => unknown;
}

type Stage = 'created' | 'open' | 'ended' | 'closed';

/**
 * OperatorHarness for two-input operators (Flink's TwoInputStreamOperatorTestHarness): everything
 * OperatorHarness offers (outputs, side outputs, processing time, `snapshot()`, end of input), with
 * `processElement1` / `processElement2` feeding each input. Watermarks reach a two-input operator
 * already combined (the minimum over both inputs): feed that with `processWatermark`, or feed each
 * input's watermark with `processWatermark1` / `processWatermark2` and the harness forwards the
 * minimum whenever it advances, as a task does.
 *
 * @example
 * ```ts
 * const op = new CoMapOperator<number, string, string>('Co-Map', { map1: (n) => `#${n}`, map2: (s) => s });
 * const h = new TwoInputOperatorHarness(op);
 * await h.open();
 * h.processElement1(1, 10);
 * h.processElement2('b', 20);
 * h.processWatermark1(15);
 * h.processWatermark2(12);
 * expect(h.getRecordOutput()).toEqual([{ value: '#1', timestamp: 10 }, { value: 'b', timestamp: 20 }]);
 * expect(h.getWatermarks()).toEqual([12]);
 * ```
 */
export class TwoInputOperatorHarness<IN1, IN2, OUT> extends OperatorHarness<IN1, OUT> {
  private readonly keySelector2: ((value: IN2) => unknown) | undefined;
  private stage: Stage = 'created';
  private watermark1 = Number.NEGATIVE_INFINITY;
  private watermark2 = Number.NEGATIVE_INFINITY;
  private combined = Number.NEGATIVE_INFINITY;

  constructor(operator: StreamOperator<IN1, OUT>, options: TwoInputOperatorHarnessOptions<IN1, IN2> = {}) {
    const { keySelector1, keySelector2, ...rest } = options;
    if (keySelector2 !== undefined && keySelector1 === undefined)
      throw new EddyError('EDDY_CONFIG', 'TwoInputOperatorHarness: keySelector2 needs keySelector1 (a keyed operator keys its first input)');
    if (keySelector2 !== undefined && typeof keySelector2 !== 'function')
      throw new EddyError('EDDY_CONFIG', `TwoInputOperatorHarness: keySelector2 must be a function (record) => key, got ${typeof keySelector2}`);
    super(operator, keySelector1 === undefined ? rest : { ...rest, keySelector: keySelector1 });
    if (typeof operator.processElement2 !== 'function')
      throw new EddyError('EDDY_CONFIG', `TwoInputOperatorHarness needs a two-input operator (with processElement2); "${operator.name}" has one input, use OperatorHarness`);
    this.keySelector2 = keySelector2;
  }

  /**
   * A harness for `operator` (a new instance) that starts from `snapshot`.
   *
   * @example
   * ```ts
   * const make = () => new CoProcessOperator<string, string, number>('Count', new CountBoth(), (s) => s, (s) => s);
   * const keys = { keySelector1: (s: string) => s, keySelector2: (s: string) => s };
   * const first = new TwoInputOperatorHarness(make(), keys);
   * await first.open();
   * first.processElement1('a');
   * const second = await TwoInputOperatorHarness.restore(make(), first.snapshot(), keys);
   * second.processElement2('a');
   * expect(second.getOutput()).toEqual([2]);
   * ```
   */
  static override async restore<IN1, IN2, OUT>(
    operator: StreamOperator<IN1, OUT>,
    snapshot: OperatorSnapshot,
    options: TwoInputOperatorHarnessOptions<IN1, IN2> = {},
  ): Promise<TwoInputOperatorHarness<IN1, IN2, OUT>> {
    const h = new TwoInputOperatorHarness<IN1, IN2, OUT>(operator, options);
    await h.open(snapshot);
    return h;
  }

  /**
   * A CoProcessFunction on two non-keyed inputs (what `a.connect(b).process(fn)` runs); the function
   * is copied first, as the API copies it per subtask.
   *
   * @example
   * ```ts
   * const h = TwoInputOperatorHarness.forCoProcessFunction<number, string, string>({
   *   processElement1: (n, _ctx, out) => out.collect(`n${n}`),
   *   processElement2: (s, ctx, out) => out.collect(`${s}@${ctx.timestamp()}`),
   * });
   * await h.open();
   * h.processElement2('x', 5);
   * expect(h.getOutput()).toEqual(['x@5']);
   * ```
   */
  static forCoProcessFunction<IN1, IN2, OUT>(
    fn: CoProcessFunctionLike<IN1, IN2, OUT>,
    options: TwoInputOperatorHarnessOptions<IN1, IN2> = {},
  ): TwoInputOperatorHarness<IN1, IN2, OUT> {
    return new TwoInputOperatorHarness(new CoProcessOperator<IN1, IN2, OUT>('Co-Process', cloneFunction(fn)), options);
  }

  /**
   * A KeyedCoProcessFunction (what `a.connect(b).keyBy(k1, k2).process(fn)` runs).
   *
   * @example
   * ```ts
   * const h = TwoInputOperatorHarness.forKeyedCoProcessFunction(new CountBoth(), (s: string) => s, (s: string) => s);
   * await h.open();
   * h.processElement1('a');
   * h.processElement2('a');
   * h.processElement2('b');
   * expect(h.getOutput()).toEqual([1, 2, 1]);
   * ```
   */
  static forKeyedCoProcessFunction<IN1, IN2, K, OUT>(
    fn: CoProcessFunctionLike<IN1, IN2, OUT, KeyedProcessContext<K>>,
    keySelector1: KeySelector<IN1, K>,
    keySelector2: KeySelector<IN2, K>,
    options: Omit<TwoInputOperatorHarnessOptions<IN1, IN2>, 'keySelector1' | 'keySelector2'> = {},
  ): TwoInputOperatorHarness<IN1, IN2, OUT> {
    const op = new CoProcessOperator<IN1, IN2, OUT>('Co-Keyed-Process', cloneFunction(fn as CoProcessFunctionLike<IN1, IN2, OUT>), keySelector1, keySelector2);
    return new TwoInputOperatorHarness(op, { ...options, keySelector1, keySelector2 });
  }

  /**
   * A BroadcastProcessFunction (what `a.connect(b.broadcast(...descriptors)).process(fn)` runs);
   * input 2 is the broadcast side.
   *
   * @example
   * ```ts
   * const max = new MapStateDescriptor<string, number>('max');
   * const h = TwoInputOperatorHarness.forBroadcastProcessFunction<number, number, number>({
   *   processElement: (n, ctx, out) => { if (n <= (ctx.getBroadcastState(max).get('max') ?? 0)) out.collect(n); },
   *   processBroadcastElement: (m, ctx) => ctx.getBroadcastState(max).put('max', m),
   * }, [max]);
   * await h.open();
   * h.processElement1(3);
   * h.processElement2(5);
   * h.processElement1(4);
   * expect(h.getOutput()).toEqual([4]);
   * ```
   */
  static forBroadcastProcessFunction<IN1, IN2, OUT>(
    fn: BroadcastProcessFunctionLike<IN1, IN2, OUT>,
    descriptors: readonly MapStateDescriptor<any, any>[],
    options: Omit<TwoInputOperatorHarnessOptions<IN1, IN2>, 'keySelector1' | 'keySelector2'> = {},
  ): TwoInputOperatorHarness<IN1, IN2, OUT> {
    return new TwoInputOperatorHarness(new BroadcastProcessOperator<IN1, IN2, OUT>('Co-Process-Broadcast', cloneFunction(fn), descriptors), options);
  }

  /**
   * A KeyedBroadcastProcessFunction (what `a.keyBy(k).connect(b.broadcast(...descriptors)).process(fn)`
   * runs); input 2 is the broadcast side.
   *
   * @example
   * ```ts
   * const limit = new MapStateDescriptor<string, number>('limit');
   * const h = TwoInputOperatorHarness.forKeyedBroadcastProcessFunction<string, [string, number], string, string>({
   *   processElement: (s, ctx, out) => { if (ctx.getBroadcastState(limit).contains(ctx.getCurrentKey())) out.collect(s); },
   *   processBroadcastElement: ([k, v], ctx) => ctx.getBroadcastState(limit).put(k, v),
   * }, (s) => s, [limit]);
   * await h.open();
   * h.processElement2(['a', 1]);
   * h.processElements1(['a', 'b']);
   * expect(h.getOutput()).toEqual(['a']);
   * ```
   */
  static forKeyedBroadcastProcessFunction<IN1, IN2, K, OUT>(
    fn: KeyedBroadcastProcessFunctionLike<K, IN1, IN2, OUT>,
    keySelector: KeySelector<IN1, K>,
    descriptors: readonly MapStateDescriptor<any, any>[],
    options: Omit<TwoInputOperatorHarnessOptions<IN1, IN2>, 'keySelector1' | 'keySelector2'> = {},
  ): TwoInputOperatorHarness<IN1, IN2, OUT> {
    const op = new BroadcastProcessOperator<IN1, IN2, OUT>('Co-Process-Broadcast-Keyed', cloneFunction(fn), descriptors, keySelector);
    return new TwoInputOperatorHarness(op, { ...options, keySelector1: keySelector });
  }

  override async open(snapshot?: OperatorSnapshot): Promise<void> {
    await super.open(snapshot);
    this.stage = 'open';
  }

  override async endInput(): Promise<void> {
    await super.endInput();
    this.stage = 'ended';
  }

  override async close(): Promise<void> {
    this.stage = 'closed';
    await super.close();
  }

  /** Feeds one record to the first input (the same as `processElement`). */
  processElement1(value: IN1, timestamp?: number): void {
    this.processElement(value, timestamp);
  }

  /** Feeds several records to the first input. */
  processElements1(values: Iterable<IN1>, timestamp?: number): void {
    for (const v of values) this.processElement(v, timestamp);
  }

  /** Feeds one record to the second input, with an event timestamp or none. */
  processElement2(value: IN2, timestamp?: number): void {
    if (this.stage !== 'open')
      throw new EddyError(
        'EDDY_INVALID_ARGUMENT',
        `OperatorHarness.processElement2() is not allowed now: ${this.stage === 'created' ? 'call `await harness.open()` first' : this.stage === 'closed' ? 'the harness is closed' : 'the input has ended'}`,
        { operator: this.operator.name },
      );
    if (timestamp !== undefined && typeof timestamp !== 'number')
      throw new EddyError('EDDY_INVALID_ARGUMENT', `OperatorHarness.processElement2: timestamp must be a number, got ${typeof timestamp}`);
    if (this.keySelector2 !== undefined) this.setKeyFrom(value, this.keySelector2, ' of input 2');
    const op = this.operator;
    try {
      op.processElement2!(value, timestamp ?? NO_TIMESTAMP);
    } catch (e) {
      throw attributeError(e, op.name);
    }
  }

  /** Feeds several records to the second input. */
  processElements2(values: Iterable<IN2>, timestamp?: number): void {
    for (const v of values) this.processElement2(v, timestamp);
  }

  /** The first input's watermark; the operator sees the minimum of both inputs when it advances. */
  processWatermark1(watermark: number): void {
    this.watermark1 = watermark;
    this.forwardCombined();
  }

  /** The second input's watermark; the operator sees the minimum of both inputs when it advances. */
  processWatermark2(watermark: number): void {
    this.watermark2 = watermark;
    this.forwardCombined();
  }

  private forwardCombined(): void {
    const min = Math.min(this.watermark1, this.watermark2);
    if (min <= this.combined) return;
    this.combined = min;
    this.processWatermark(min);
  }

}
