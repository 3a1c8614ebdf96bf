// Test support: Flink's field aggregations written as its Java reduce functions, and window results computed by plain loops.

/** A record with a key, the aggregated field and a tag that tells which element a result came from. */
export interface Rec {
  k: string;
  v: number;
  tag: number;
}

export type FieldKind = 'sum' | 'min' | 'max' | 'minBy' | 'maxBy';

/**
 * Flink's AggregationFunctions as its Java code has them (SumAggregator, ComparableAggregator):
 * `reduce(value1 = what the window holds, value2 = the next element)`.
 */
export function flinkReduce(kind: FieldKind, first: boolean): (a: Rec, b: Rec) => Rec {
  switch (kind) {
    case 'sum':
      return (a, b) => ({ ...a, v: a.v + b.v });
    case 'min':
      return (a, b) => (b.v <= a.v ? { ...a, v: b.v } : a);
    case 'max':
      return (a, b) => (b.v >= a.v ? { ...a, v: b.v } : a);
    case 'minBy':
      return (a, b) => (a.v < b.v ? a : a.v === b.v ? (first ? a : b) : b);
    case 'maxBy':
      return (a, b) => (a.v > b.v ? a : a.v === b.v ? (first ? a : b) : b);
  }
}

/**
 * Each fired window's elements in arrival order, folded with `reduce`: sorted "maxTimestamp json"
 * lines. Windows with `end - 1 > watermark` have not fired.
 */
export function windowReference(elements: readonly [Rec, number][], windowsOf: (ts: number) => [number, number][], watermark: number, reduce: (a: Rec, b: Rec) => Rec): string[] {
  const windows = new Map<string, { end: number; acc: Rec }>();
  for (const [r, ts] of elements)
    for (const [start, end] of windowsOf(ts)) {
      if (end - 1 > watermark) continue;
      const id = `${r.k}/${start}`;
      const w = windows.get(id);
      if (w === undefined) windows.set(id, { end, acc: r });
      else w.acc = reduce(w.acc, r);
    }
  return [...windows.values()].map((w) => `${w.end - 1} ${JSON.stringify(w.acc)}`).sort();
}

/** Tumbling windows of `size` (offset 0): the one window of a timestamp. */
export const tumbling =
  (size: number) =>
  (ts: number): [number, number][] => {
    const start = Math.floor(ts / size) * size;
    return [[start, start + size]];
  };

/** Sliding windows of `size` every `slide` (offset 0): the windows of a timestamp. */
export const sliding =
  (size: number, slide: number) =>
  (ts: number): [number, number][] => {
    const out: [number, number][] = [];
    for (let start = Math.floor(ts / slide) * slide; start > ts - size; start -= slide) out.push([start, start + size]);
    return out;
  };

/** Flink's count windows per key: every `slide` elements, the last `size` folded (tumbling: slide = size); sorted JSON. */
export function countReference(elements: readonly Rec[], size: number, slide: number, reduce: (a: Rec, b: Rec) => Rec): string[] {
  const seen = new Map<string, Rec[]>();
  const out: string[] = [];
  for (const r of elements) {
    const list = seen.get(r.k) ?? [];
    list.push(r);
    seen.set(r.k, list);
    if (list.length % slide === 0) out.push(JSON.stringify(list.slice(Math.max(0, list.length - size)).reduce(reduce)));
  }
  return out.sort();
}
