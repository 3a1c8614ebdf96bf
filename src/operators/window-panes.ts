// Panes of sliding windows: per-key partial results per slide, the two-stack aggregate over them, the firing schedule.
import { EddyError } from '../errors.ts';
import type { AggregateFunction, ReduceFunction } from '../state/descriptors.ts';
import type { NormalizedKey } from '../state/key-group.ts';

/**
 * A key's panes (plain data: it is keyed state and snapshotted as it is). `idx[h..]` holds the indexes
 * of the non-empty panes in ascending order, `acc[h..]` their partial results. `fIdx`..`dirty` cache
 * the sliding aggregate of the windows firing in order: `fAgg[i]` combines the panes from `fIdx[i]`
 * up to `fe` (exclusive), `back` combines the panes in `[fe, be)`; `dirty` means a pane below `be`
 * changed. `nj` is the next window to fire in order, `cj` the window whose cleanup time drops the
 * oldest pane, `lf` the last window fired in order (all Infinity / -Infinity when none).
 */
export interface PaneState<ACC> {
  idx: number[];
  acc: ACC[];
  h: number;
  fs: number;
  fe: number;
  be: number;
  fIdx: number[];
  fAgg: ACC[];
  back: ACC | undefined;
  dirty: boolean;
  lf: number;
  nj: number;
  cj: number;
  /**
   * Processing time only: a window that already fired and was cleared gets elements again (in the
   * millisecond of its end): as in Flink, it fires once more with just those, from `[window, acc]`.
   */
  extra: [number, ACC][] | undefined;
}

export function newPaneState(): PaneState<any> {
  return { idx: [], acc: [], h: 0, fs: 0, fe: 0, be: 0, fIdx: [], fAgg: [], back: undefined, dirty: false, lf: -Infinity, nj: Infinity, cj: Infinity, extra: undefined };
}

/** The first position in ascending `xs[from..]` whose value is >= x. */
export function lowerBound(xs: readonly number[], x: number, from = 0): number {
  let lo = from;
  let hi = xs.length;
  // Panes are mostly looked up at either end (the oldest ones fire, new ones append).
  if (lo >= hi || xs[lo]! >= x) return lo;
  if (xs[hi - 1]! < x) return hi;
  if (xs[lo + 1]! >= x) return lo + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first live pane index >= x, or Infinity. */
export function firstPaneFrom(st: PaneState<unknown>, x: number): number {
  const i = lowerBound(st.idx, x, st.h);
  return i < st.idx.length ? st.idx[i]! : Infinity;
}

/** Drops the `k` oldest live panes (compacting the arrays now and then, never per pane). */
export function dropOldest(st: PaneState<unknown>, k: number): void {
  st.h += k;
  if (st.h > 32 && st.h * 2 > st.idx.length) {
    st.idx.splice(0, st.h);
    st.acc.splice(0, st.h);
    st.h = 0;
  }
}

/**
 * Adds elements to a pane and combines panes, for a ReduceFunction (values combine with `reduce`,
 * which must not modify its arguments) or an AggregateFunction (accumulators combine with
 * `merge(a, b)`, which may modify and return `a` but must leave `b` alone: combinations always start
 * from a fresh accumulator, so pane accumulators are never handed over as `a`).
 */
export class PaneCombiner<IN, ACC> {
  constructor(
    private readonly reduce: ReduceFunction<IN> | undefined,
    private readonly aggregate: AggregateFunction<IN, ACC, unknown> | undefined,
  ) {
    if ((reduce === undefined) === (aggregate === undefined)) throw new EddyError('EDDY_INTERNAL', 'PaneCombiner needs a reduce or an aggregate function');
  }

  /** True when panes can be combined (an AggregateFunction needs `merge`). */
  canCombine(): boolean {
    return this.reduce !== undefined || typeof this.aggregate!.merge === 'function';
  }

  add(acc: ACC | undefined, value: IN): ACC {
    const r = this.reduce;
    if (r !== undefined) return (acc === undefined ? value : r(acc as unknown as IN, value)) as unknown as ACC;
    const agg = this.aggregate!;
    return agg.add(value, acc === undefined ? agg.createAccumulator() : acc);
  }

  /** A combination of `a` then `b` that neither shares nor changes them. */
  fresh(a: ACC, b: ACC): ACC {
    const r = this.reduce;
    if (r !== undefined) return r(a as unknown as IN, b as unknown as IN) as unknown as ACC;
    const agg = this.aggregate!;
    return agg.merge!(agg.merge!(agg.createAccumulator(), a), b);
  }

  /** A copy of a pane's result that `into` may then change. */
  own(x: ACC): ACC {
    if (this.reduce !== undefined) return x;
    const agg = this.aggregate!;
    return agg.merge!(agg.createAccumulator(), x);
  }

  /** `acc` (owned) combined with `x` (left alone). */
  into(acc: ACC, x: ACC): ACC {
    const r = this.reduce;
    if (r !== undefined) return r(acc as unknown as IN, x as unknown as IN) as unknown as ACC;
    return this.aggregate!.merge!(acc, x);
  }

  /** What the window emits for a combined accumulator. */
  result(acc: ACC): unknown {
    return this.reduce !== undefined ? acc : this.aggregate!.getResult(acc);
  }

  /** The panes in [a, b) combined directly (late firings, one-pane windows), or undefined when there are none. */
  combineRange(st: PaneState<ACC>, a: number, b: number): ACC | undefined {
    let out: ACC | undefined;
    let owned = false;
    for (let i = lowerBound(st.idx, a, st.h); i < st.idx.length && st.idx[i]! < b; i++) {
      const x = st.acc[i]!;
      if (out === undefined) out = x;
      else if (owned) out = this.into(out, x);
      else {
        out = this.fresh(out, x);
        owned = true;
      }
    }
    return out;
  }
}

/**
 * The combined result of the panes in [a, b) for windows that fire in order (a and b never decrease):
 * new panes are folded into `back` once, and when the window start passes the front's end, the panes
 * still in the window are re-folded from the newest down into suffix results. Each pane is thus
 * combined a constant number of times, whatever the number of panes per window. A change below `be`
 * (a late element), or an out-of-order query, rebuilds from the panes.
 */
export function windowAccumulator<ACC>(st: PaneState<ACC>, c: PaneCombiner<any, ACC>, a: number, b: number): ACC | undefined {
  if (st.dirty || a < st.fs || a > st.be || b < st.be) {
    st.fs = st.fe = st.be = a;
    st.fIdx = [];
    st.fAgg = [];
    st.back = undefined;
    st.dirty = false;
  }
  const { idx, acc } = st;
  for (let i = lowerBound(idx, st.be, st.h); i < idx.length && idx[i]! < b; i++) st.back = st.back === undefined ? c.own(acc[i]!) : c.into(st.back, acc[i]!);
  st.be = b;
  if (a >= st.fe) {
    // Flip: suffix results of the panes in [a, be), newest first; the running result starts empty.
    const lo = lowerBound(idx, a, st.h);
    const hi = lowerBound(idx, st.be, lo);
    const fIdx = idx.slice(lo, hi);
    const fAgg = new Array<ACC>(hi - lo);
    let cur: ACC | undefined;
    for (let i = hi - 1; i >= lo; i--) fAgg[i - lo] = cur = cur === undefined ? acc[i]! : c.fresh(acc[i]!, cur);
    st.fIdx = fIdx;
    st.fAgg = fAgg;
    st.fs = a;
    st.fe = st.be;
    st.back = undefined;
  }
  const i = lowerBound(st.fIdx, a);
  const front = i < st.fIdx.length ? st.fAgg[i] : undefined;
  const back = st.back;
  return front === undefined ? back : back === undefined ? front : c.fresh(front, back);
}

/**
 * Which keys have something to do at which window index, earliest index first. Aligned windows end
 * at the same times for every key, so one list of keys per window end replaces a timer per key and
 * window. Not snapshotted: the operator rebuilds it from the keys' PaneStates on restore.
 */
export class WindowSchedule {
  private readonly keys = new Map<number, NormalizedKey[]>();
  private readonly heap: number[] = [];

  add(j: number, key: NormalizedKey): void {
    const list = this.keys.get(j);
    if (list !== undefined) {
      list.push(key);
      return;
    }
    this.keys.set(j, [key]);
    const h = this.heap;
    h.push(j);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (h[p]! <= h[i]!) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  /** The earliest window index with keys, or Infinity. */
  peek(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!;
  }

  /** Removes and returns the keys of the earliest index. */
  take(): NormalizedKey[] {
    const h = this.heap;
    const j = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    const keys = this.keys.get(j)!;
    this.keys.delete(j);
    return keys;
  }

  clear(): void {
    this.keys.clear();
    this.heap.length = 0;
  }
}
