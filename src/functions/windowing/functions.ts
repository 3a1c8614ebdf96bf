// Window function contracts (Flink's names): ProcessWindowFunction, ProcessAllWindowFunction, JoinFunction.
import type { StateAccess } from '../../state/descriptors.ts';
import type { Collector, RichFunction, RuntimeContext } from '../functions.ts';
import type { OutputTag } from '../output-tag.ts';
import type { TimeWindow, Window } from './windows.ts';

/**
 * What a window function sees besides the elements: the window, time, per-window state, side outputs.
 *
 * @example
 * ```ts
 * // In ProcessWindowFunction.process:
 * const firings = ctx.windowState().getState(new ValueStateDescriptor('firings', 0));
 * firings.update(firings.value() + 1);
 * if (elements.length < 2) ctx.output(small, elements.length);
 * out.collect(`${key} ${ctx.window().start} firing ${firings.value()}`);
 * ```
 */
export interface ProcessWindowContext<W extends Window = TimeWindow> {
  /** The window being evaluated. */
  window(): W;
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** State of the current key and window (not with merging windows); clean it up in `clear`. */
  windowState(): StateAccess;
  /** State of the current key, shared by all its windows. */
  globalState(): StateAccess;
  /** Emits to a side output, with the window's `maxTimestamp()` as timestamp. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Evaluates a window of a keyed stream: with `process` it sees every element; after `reduce` or
 * `aggregate` it sees the one pre-aggregated value. Results carry the window's `maxTimestamp()`.
 *
 * @example
 * ```ts
 * class CountPerWindow extends ProcessWindowFunction<Click, string, string, TimeWindow> {
 *   process(user: string, ctx: ProcessWindowContext<TimeWindow>, clicks: readonly Click[], out: Collector<string>) {
 *     out.collect(`${user}: ${clicks.length} clicks in [${ctx.window().start}, ${ctx.window().end})`);
 *   }
 * }
 * ```
 */
export abstract class ProcessWindowFunction<IN, OUT, K, W extends Window = TimeWindow> implements RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  /** `elements` is valid during the call only. */
  abstract process(key: K, ctx: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>): void;
  /** The window is being discarded: clear what `ctx.windowState()` holds for it. */
  clear?(ctx: ProcessWindowContext<W>): void;
}

/**
 * A ProcessWindowFunction as an object literal, or just its `process` as a function.
 *
 * @example
 * ```ts
 * keyed.window(TumblingEventTimeWindows.of(10)).process((key, ctx, elements, out) => out.collect(`${key}: ${elements.length}`));
 * ```
 */
export type ProcessWindowFunctionLike<IN, OUT, K, W extends Window = TimeWindow> =
  | (RichFunction & {
      process(key: K, ctx: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>): void;
      clear?(ctx: ProcessWindowContext<W>): void;
    })
  | ((key: K, ctx: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>) => void);

/**
 * Evaluates a window of a non-keyed stream (`windowAll`).
 *
 * @example
 * ```ts
 * class Top3 extends ProcessAllWindowFunction<number, number[], TimeWindow> {
 *   process(_ctx: ProcessWindowContext<TimeWindow>, xs: readonly number[], out: Collector<number[]>) {
 *     out.collect([...xs].sort((a, b) => b - a).slice(0, 3));
 *   }
 * }
 * ```
 */
export abstract class ProcessAllWindowFunction<IN, OUT, W extends Window = TimeWindow> implements RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
  abstract process(ctx: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>): void;
  clear?(ctx: ProcessWindowContext<W>): void;
}

/**
 * A ProcessAllWindowFunction as an object literal, or just its `process` as a function.
 *
 * @example
 * ```ts
 * stream.windowAll(TumblingEventTimeWindows.of(10)).process((ctx, elements, out) => out.collect(elements.length));
 * ```
 */
export type ProcessAllWindowFunctionLike<IN, OUT, W extends Window = TimeWindow> =
  | (RichFunction & {
      process(ctx: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>): void;
      clear?(ctx: ProcessWindowContext<W>): void;
    })
  | ((ctx: ProcessWindowContext<W>, elements: readonly IN[], out: Collector<OUT>) => void);

/**
 * Joins one pair of a window join: a function, or an object with `join`.
 *
 * @example
 * ```ts
 * const paid: JoinFunction<Order, Payment, { id: number; amount: number }> = (o, p) => ({ id: o.id, amount: p.amount });
 * ```
 */
export type JoinFunction<L, R, OUT> = ((left: L, right: R) => OUT) | (RichFunction & { join(left: L, right: R): OUT });
