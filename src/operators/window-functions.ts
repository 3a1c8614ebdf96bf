// How a window's contents grow (reduce, aggregate, list, evicting list) and how a firing calls the user's functions.
import type { EvictorContext, Evictor, TimestampedElement } from '../functions/windowing/evictors.ts';
import type { ProcessWindowContext, ProcessWindowFunctionLike } from '../functions/windowing/functions.ts';
import type { Window } from '../functions/windowing/windows.ts';
import type { Collector, RichFunction } from '../functions/functions.ts';
import type { OutputTag } from '../functions/output-tag.ts';
import { EddyError } from '../errors.ts';
import type { AggregateFunction, ReduceFunction, StateAccess } from '../state/descriptors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';

/** A ProcessWindowFunction in object form. */
export interface WindowFunctionObject<IN, OUT, K, W extends Window> extends RichFunction {
  process(key: K, ctx: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>): void;
  clear?(ctx: ProcessWindowContext<W>): void;
}

/** What the user asked the window to compute (functions already copied for this operator instance). */
export type WindowFunctionSpec =
  | { kind: 'reduce'; reduce: ReduceFunction<any>; windowFn: WindowFunctionObject<any, any, any, any> | undefined }
  | { kind: 'aggregate'; aggregate: AggregateFunction<any, any, any>; windowFn: WindowFunctionObject<any, any, any, any> | undefined }
  | { kind: 'process'; windowFn: WindowFunctionObject<any, any, any, any> };

/** A ProcessWindowFunction given as a function becomes an object with `process`. */
export function toWindowFunctionObject<IN, OUT, K, W extends Window>(fn: ProcessWindowFunctionLike<IN, OUT, K, W>): WindowFunctionObject<IN, OUT, K, W> {
  return typeof fn === 'function' ? { process: fn } : fn;
}

/**
 * The window operator's view of the user's functions: how an element is added to a window's contents
 * (ACC), how two windows' contents merge (sessions), and what a firing emits.
 */
export interface InternalWindowFunction<IN, ACC, OUT, K, W extends Window> {
  add(acc: ACC | undefined, value: IN, timestamp: number): ACC;
  /** Undefined when the contents cannot merge (an AggregateFunction without `merge`). */
  readonly merge: ((target: ACC, source: ACC) => ACC) | undefined;
  emit(key: K, acc: ACC, ctx: WindowFunctionContext<W>, out: Collector<OUT>): void;
  /** True when evicting emptied the contents (only evicting windows). */
  isEmpty(acc: ACC): boolean;
  readonly windowFn: WindowFunctionObject<any, OUT, K, W> | undefined;
}

function single<OUT, K, W extends Window>(
  windowFn: WindowFunctionObject<any, OUT, K, W> | undefined,
  key: K,
  value: unknown,
  ctx: WindowFunctionContext<W>,
  out: Collector<OUT>,
): void {
  if (windowFn === undefined) out.collect(value as OUT);
  else windowFn.process(key, ctx, [value], out);
}

const never = (): boolean => false;

/** Builds the internal function for `spec`; with an evictor every element is kept and aggregated at firing time. */
export function createInternalWindowFunction<IN, OUT, K, W extends Window>(
  spec: WindowFunctionSpec,
  evictor: Evictor<IN, W> | undefined,
): InternalWindowFunction<IN, any, OUT, K, W> {
  if (evictor !== undefined) return evicting(spec, evictor);
  switch (spec.kind) {
    case 'reduce': {
      const { reduce, windowFn } = spec;
      return {
        add: (acc: IN | undefined, v: IN) => (acc === undefined ? v : reduce(acc, v)),
        merge: (a: IN, b: IN) => reduce(a, b),
        emit: (key, acc, ctx, out) => single(windowFn, key, acc, ctx, out),
        isEmpty: never,
        windowFn,
      };
    }
    case 'aggregate': {
      const { aggregate: agg, windowFn } = spec;
      return {
        add: (acc: unknown, v: IN) => agg.add(v, acc === undefined ? agg.createAccumulator() : acc),
        merge: typeof agg.merge === 'function' ? (a: unknown, b: unknown) => agg.merge!(a, b) : undefined,
        emit: (key, acc, ctx, out) => single(windowFn, key, agg.getResult(acc), ctx, out),
        isEmpty: never,
        windowFn,
      };
    }
    case 'process': {
      const { windowFn } = spec;
      return {
        add: (acc: IN[] | undefined, v: IN) => {
          if (acc === undefined) return [v];
          acc.push(v);
          return acc;
        },
        merge: (a: IN[], b: IN[]) => a.concat(b),
        emit: (key, acc: IN[], ctx, out) => windowFn.process(key, ctx, acc, out),
        isEmpty: never,
        windowFn,
      };
    }
  }
}

/** Flink's EvictingWindowOperator: contents are all elements with timestamps; evict, evaluate, evict. */
function evicting<IN, OUT, K, W extends Window>(spec: WindowFunctionSpec, evictor: Evictor<IN, W>): InternalWindowFunction<IN, TimestampedElement<IN>[], OUT, K, W> {
  const evaluate = (key: K, values: IN[], ctx: WindowFunctionContext<W>, out: Collector<OUT>): void => {
    switch (spec.kind) {
      case 'reduce': {
        if (values.length === 0) return;
        let acc = values[0]!;
        for (let i = 1; i < values.length; i++) acc = spec.reduce(acc, values[i]!);
        return single(spec.windowFn, key, acc, ctx, out);
      }
      case 'aggregate': {
        let acc = spec.aggregate.createAccumulator();
        for (const v of values) acc = spec.aggregate.add(v, acc);
        return single(spec.windowFn, key, spec.aggregate.getResult(acc), ctx, out);
      }
      case 'process':
        return spec.windowFn.process(key, ctx, values, out);
    }
  };
  return {
    add: (acc, value, timestamp) => {
      const e = { value, timestamp: timestamp === NO_TIMESTAMP ? undefined : timestamp };
      if (acc === undefined) return [e];
      acc.push(e);
      return acc;
    },
    merge: (a, b) => a.concat(b),
    emit: (key, acc, ctx, out) => {
      const w = ctx.window();
      evictor.evictBefore(acc, acc.length, w, ctx);
      evaluate(
        key,
        acc.map((e) => e.value),
        ctx,
        out,
      );
      evictor.evictAfter(acc, acc.length, w, ctx);
    },
    isEmpty: (acc) => acc.length === 0,
    windowFn: spec.windowFn,
  };
}

/** What the window function context needs from its operator. */
export interface WindowFunctionHost {
  currentProcessingTime(): number;
  currentWatermark(): number;
  collectSide<X>(tag: OutputTag<X>, value: X, timestamp: number): void;
}

/**
 * The context a window function (and an evictor) sees. One instance per operator; the operator sets
 * `current` (and the per-window state namespace) before every call.
 */
export class WindowFunctionContext<W extends Window> implements ProcessWindowContext<W>, EvictorContext {
  current!: W;
  constructor(
    private readonly host: WindowFunctionHost,
    /** Undefined for merging windows, which have no per-window state (as in Flink). */
    private readonly perWindow: StateAccess | undefined,
    private readonly global: StateAccess,
  ) {}
  window(): W {
    return this.current;
  }
  currentProcessingTime(): number {
    return this.host.currentProcessingTime();
  }
  currentWatermark(): number {
    return this.host.currentWatermark();
  }
  getCurrentProcessingTime(): number {
    return this.host.currentProcessingTime();
  }
  getCurrentWatermark(): number {
    return this.host.currentWatermark();
  }
  windowState(): StateAccess {
    if (this.perWindow === undefined) throw new EddyError('EDDY_CONFIG', 'per-window state is not available with merging (session) windows; use globalState()');
    return this.perWindow;
  }
  globalState(): StateAccess {
    return this.global;
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.host.collectSide(tag, value, this.current.maxTimestamp());
  }
}
