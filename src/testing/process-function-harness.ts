// Harnesses for user functions: the operators the DataStream API builds, around a copy of the function.
import { cloneFunction } from '../api/clone-function.ts';
import type { FilterFunction, FlatMapFunction, KeyedProcessContext, KeySelector, MapFunction, ProcessFunctionLike } from '../functions/functions.ts';
import { EddyError } from '../errors.ts';
import { FilterOperator } from '../operators/filter-operator.ts';
import { FlatMapOperator } from '../operators/flat-map-operator.ts';
import { MapOperator } from '../operators/map-operator.ts';
import { ProcessOperator } from '../operators/process-operator.ts';
import type { AnyStateMachine } from 'xstate';
import { actorParts, type ActorOptions } from '../api/keyed-actor.ts';
import type { ActorEvent } from '../machines/machine-runner.ts';
import type { ActorOperator } from '../operators/actor-operator.ts';
import { OperatorHarness, type OperatorHarnessOptions } from './operator-harness.ts';

function configError(message: string): EddyError {
  return new EddyError('EDDY_CONFIG', message);
}

/**
 * Options of the function harnesses: where the operator runs, and its name (default: the API's name).
 *
 * @example
 * ```ts
 * const h = ProcessFunctionHarness.forMap({ map: (s: string) => s.trim() }, { name: 'Trim', parallelism: 4, subtaskIndex: 3 });
 * await h.open();
 * expect(h.operatorContext).toMatchObject({ operatorName: 'Trim', subtaskIndex: 3, parallelism: 4 });
 * ```
 */
export interface FunctionHarnessOptions extends Omit<OperatorHarnessOptions<never>, 'keySelector'> {
  /** The operator's name; defaults to the name the DataStream API gives it ('Map', 'Process', ...). */
  name?: string;
}

function opts<IN>(o: FunctionHarnessOptions, keySelector?: (value: IN) => unknown): OperatorHarnessOptions<IN> {
  const { name: _name, ...rest } = o;
  return keySelector === undefined ? rest : { ...rest, keySelector };
}

/**
 * Harnesses for user functions, built from the same operators the DataStream API uses; the function
 * object is copied first (as the API copies it per subtask), so two harnesses of one `new MyFn()` do
 * not share its fields. The harness is not open yet: `await h.open()` (or `h.open(snapshot)`).
 *
 * @example
 * ```ts
 * class Numbered {
 *   n = 0;
 *   map(s: string) {
 *     return `${++this.n}:${s}`;
 *   }
 * }
 * const fn = new Numbered();
 * const [a, b] = [ProcessFunctionHarness.forMap(fn), ProcessFunctionHarness.forMap(fn)];
 * await a.open();
 * await b.open();
 * a.processElements(['x', 'y']);
 * b.processElement('z');
 * expect([a.getOutput(), b.getOutput(), fn.n]).toEqual([['1:x', '2:y'], ['1:z'], 0]);
 * ```
 */
export class ProcessFunctionHarness {
  private constructor() {}

  /**
   * A ProcessFunction on a non-keyed stream (what `stream.process(fn)` runs).
   *
   * @example
   * ```ts
   * const errors = new OutputTag<string>('errors');
   * const h = ProcessFunctionHarness.forProcessFunction<string, number>({
   *   processElement(s, ctx, out) {
   *     const n = Number(s);
   *     if (Number.isNaN(n)) ctx.output(errors, s);
   *     else out.collect(n);
   *   },
   * });
   * await h.open();
   * h.processElements(['1', 'x', '3']);
   * expect(h.getOutput()).toEqual([1, 3]);
   * expect(h.getSideOutput(errors)).toEqual(['x']);
   * ```
   */
  static forProcessFunction<IN, OUT>(fn: ProcessFunctionLike<IN, OUT>, options: FunctionHarnessOptions = {}): OperatorHarness<IN, OUT> {
    checkFn(fn, 'processElement', 'forProcessFunction');
    return new OperatorHarness(new ProcessOperator<IN, OUT>(options.name ?? 'Process', cloneFunction(fn)), opts<IN>(options));
  }

  /**
   * A KeyedProcessFunction on a keyed stream (what `stream.keyBy(keySelector).process(fn)` runs):
   * state and `ctx.getCurrentKey()` belong to each record's key.
   *
   * @example
   * ```ts
   * class Count extends KeyedProcessFunction<string, string, [string, number]> {
   *   private n!: ValueState<number>;
   *   override open(ctx: RuntimeContext) {
   *     this.n = ctx.getState(new ValueStateDescriptor('n', 0));
   *   }
   *   processElement(w: string, ctx: KeyedProcessContext<string>, out: Collector<[string, number]>) {
   *     this.n.update(this.n.value() + 1);
   *     out.collect([ctx.getCurrentKey(), this.n.value()]);
   *   }
   * }
   * const h = ProcessFunctionHarness.forKeyedProcessFunction(new Count(), (w: string) => w);
   * await h.open();
   * h.processElements(['a', 'b', 'a']);
   * expect(h.getOutput()).toEqual([['a', 1], ['b', 1], ['a', 2]]);
   * ```
   */
  static forKeyedProcessFunction<IN, K, OUT>(
    fn: ProcessFunctionLike<IN, OUT, KeyedProcessContext<K>>,
    keySelector: KeySelector<IN, K>,
    options: FunctionHarnessOptions = {},
  ): OperatorHarness<IN, OUT> {
    checkFn(fn, 'processElement', 'forKeyedProcessFunction');
    if (typeof keySelector !== 'function')
      throw configError(`ProcessFunctionHarness.forKeyedProcessFunction needs a key selector (record) => key, got ${typeof keySelector}`);
    const op = new ProcessOperator<IN, OUT>(options.name ?? 'KeyedProcess', cloneFunction(fn), keySelector);
    return new OperatorHarness(op, opts<IN>(options, keySelector));
  }

  /**
   * An actor operator (what `keyBy(keySelector).actor(machine, options)` runs): one machine per key.
   * `h.operator.query(key)` reads a key's machine; snapshots carry the machine's schema, so a
   * restore with another machine is checked (and migrated) as in a job.
   *
   * @example
   * ```ts
   * const h = ProcessFunctionHarness.forActor(toggle, (e: { type: 'flip'; id: string }) => e.id);
   * await h.open();
   * h.processElements([{ type: 'flip', id: 'a' }, { type: 'flip', id: 'a' }], 0);
   * expect(h.operator.query('a')?.value).toBe('off');
   * ```
   */
  static forActor<IN, K>(machine: AnyStateMachine, keySelector: KeySelector<IN, K>, options: ActorOptions<IN, K> = {}, harness: FunctionHarnessOptions = {}): OperatorHarness<IN, ActorEvent> & { operator: ActorOperator<IN> } {
    if (typeof keySelector !== 'function') throw configError(`ProcessFunctionHarness.forActor needs a key selector (record) => key, got ${typeof keySelector}`);
    const op = actorParts(machine, options, keySelector).factory();
    (op as { name: string }).name = harness.name ?? 'Actor';
    // The harness's `operator` is `op`: typed here as the actor operator it is.
    return new OperatorHarness<IN, ActorEvent>(op, opts<IN>(harness, keySelector)) as OperatorHarness<IN, ActorEvent> & { operator: ActorOperator<IN> };
  }

  /**
   * A MapFunction (what `stream.map(fn)` runs).
   *
   * @example
   * ```ts
   * const h = ProcessFunctionHarness.forMap((s: string) => s.length);
   * await h.open();
   * h.processElement('four', 7);
   * expect(h.getRecordOutput()).toEqual([{ value: 4, timestamp: 7 }]);
   * ```
   */
  static forMap<IN, OUT>(fn: MapFunction<IN, OUT>, options: FunctionHarnessOptions = {}): OperatorHarness<IN, OUT> {
    checkFn(fn, 'map', 'forMap');
    return new OperatorHarness(new MapOperator<IN, OUT>(options.name ?? 'Map', cloneFunction(fn)), opts<IN>(options));
  }

  /**
   * A FilterFunction (what `stream.filter(fn)` runs).
   *
   * @example
   * ```ts
   * const h = ProcessFunctionHarness.forFilter((n: number) => n % 2 === 0);
   * await h.open();
   * h.processElements([1, 2, 3, 4]);
   * expect(h.getOutput()).toEqual([2, 4]);
   * ```
   */
  static forFilter<T>(fn: FilterFunction<T>, options: FunctionHarnessOptions = {}): OperatorHarness<T, T> {
    checkFn(fn, 'filter', 'forFilter');
    return new OperatorHarness(new FilterOperator<T>(options.name ?? 'Filter', cloneFunction(fn)), opts<T>(options));
  }

  /**
   * A FlatMapFunction (what `stream.flatMap(fn)` runs): a plain function returning an Iterable, or an
   * object whose `flatMap(value, out)` emits through the collector.
   *
   * @example
   * ```ts
   * const h = ProcessFunctionHarness.forFlatMap((line: string) => line.split(' '));
   * await h.open();
   * h.processElement('to be or', 3);
   * expect(h.getOutput()).toEqual(['to', 'be', 'or']);
   * expect(h.getRecordOutput().every((r) => r.timestamp === 3)).toBe(true);
   * ```
   */
  static forFlatMap<IN, OUT>(fn: FlatMapFunction<IN, OUT>, options: FunctionHarnessOptions = {}): OperatorHarness<IN, OUT> {
    checkFn(fn, 'flatMap', 'forFlatMap');
    return new OperatorHarness(new FlatMapOperator<IN, OUT>(options.name ?? 'Flat Map', cloneFunction(fn)), opts<IN>(options));
  }
}

function checkFn(fn: unknown, method: string, factory: string): void {
  if (typeof fn === 'function') {
    if (method === 'processElement')
      throw configError(`ProcessFunctionHarness.${factory} needs an object with a processElement(value, ctx, out) method, got a plain function`);
    return;
  }
  if (fn === null || typeof fn !== 'object' || typeof (fn as Record<string, unknown>)[method] !== 'function')
    throw configError(`ProcessFunctionHarness.${factory} needs a function or an object with a ${method}(...) method, got ${fn === null ? 'null' : typeof fn}`);
}
