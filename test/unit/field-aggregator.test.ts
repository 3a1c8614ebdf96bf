// sum/min/max's field aggregator: the shape-specialized fast path gives exactly what the generic copy gives.
import { describe, expect, it } from 'vitest';
import { fieldAggregator } from '../../src/operators/reduce-operator.ts';

type Rec = Record<string | number, unknown>;

describe('fieldAggregator', () => {
  const shapes = [
    (i: number) => ({ k: i % 5, v: i, a: 'x' }),
    (i: number) => ({ k: i % 5, a: 'y', v: i }),
    (i: number) => ({ v: i, k: i % 5 }),
  ];
  for (const mix of [[0], [0, 1], [0, 2], [1], [0, 1, 2]])
    for (const kind of ['sum', 'min', 'max'] as const)
      it(`${kind} over shapes ${mix.join('+')} equals the generic copy, field order included`, () => {
        const fast = fieldAggregator<Rec>(kind, 'v');
        const generic = fieldAggregator<Rec>(kind, 'v'); // never given init: the generic path
        const f = new Map<unknown, Rec>();
        const g = new Map<unknown, Rec>();
        for (let i = 0; i < 200; i++) {
          const rec = shapes[mix[Math.floor(i / 7) % mix.length]!]!(i);
          const a = f.has(rec.k) ? fast(f.get(rec.k)!, rec) : fast.init(rec);
          const b = g.has(rec.k) ? generic(g.get(rec.k)!, rec) : rec;
          expect(Object.entries(a)).toEqual(Object.entries(b));
          f.set(rec.k, a);
          g.set(rec.k, b);
        }
      });

  it('tuples, numeric field names and symbol keys stay on the generic path and stay correct', () => {
    const tuple = fieldAggregator<unknown[]>('sum', 1);
    let acc = tuple.init([7, 1]);
    acc = tuple(acc, [7, 2]);
    expect(tuple(acc, [7, 4])).toEqual([7, 7]);
    const numericKey = fieldAggregator<Rec>('sum', 1);
    expect(numericKey(numericKey.init({ 0: 'x', 1: 5 }), { 0: 'x', 1: 1 })).toEqual({ 0: 'x', 1: 6 });
    const sym = Symbol('s');
    const withSymbol = fieldAggregator<Rec>('sum', 'v');
    const first = withSymbol.init({ v: 1, [sym]: 1 } as Rec);
    expect((withSymbol(first, { v: 2 }) as Record<symbol, unknown>)[sym]).toBe(1);
  });

  it('does not mutate the records it is given', () => {
    const sum = fieldAggregator<Rec>('sum', 'v');
    const first = { k: 1, v: 1 };
    const second = { k: 1, v: 2 };
    const acc = sum(sum.init(first), second);
    expect(acc).toEqual({ k: 1, v: 3 });
    expect([first, second]).toEqual([
      { k: 1, v: 1 },
      { k: 1, v: 2 },
    ]);
  });
});
