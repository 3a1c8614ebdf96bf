// The async I/O API: AsyncDataStream.orderedWait / unorderedWait and stream.asyncMap validate their arguments and build the async operator.
import { describe, expect, it } from 'vitest';
import { AsyncDataStream, StreamEnvironment, isEddyError } from '../../index.ts';
import { AsyncWaitOperator } from '../../src/operators/async-wait-operator.ts';

describe('API', () => {
  const env = StreamEnvironment.create({ parallelism: 1 });
  const stream = env.fromCollection([1, 2, 3]);
  const fn = async (x: number) => x;

  it('validates capacity, timeout, options and the function with EDDY_INVALID_ARGUMENT', () => {
    const bad: [string, () => unknown, RegExp][] = [
      ['capacity 0', () => AsyncDataStream.orderedWait(stream, fn, { capacity: 0 }), /capacity must be an integer >= 1, got 0/],
      ['capacity 1.5', () => AsyncDataStream.unorderedWait(stream, fn, { capacity: 1.5 }), /capacity must be an integer >= 1/],
      ['timeout 0', () => AsyncDataStream.orderedWait(stream, fn, { timeoutMs: 0 }), /timeoutMs must be a number > 0/],
      ['timeout NaN', () => stream.asyncMap(fn, { timeoutMs: Number.NaN }), /asyncMap: timeoutMs must be a number > 0/],
      ['typo', () => stream.asyncMap(fn, { timeout: 5 } as never), /unknown option "timeout"/],
      ['no function', () => stream.asyncMap(42 as never), /needs an async function/],
      ['bad fallback', () => stream.asyncMap({ asyncInvoke: fn, timeout: 5 } as never), /timeout must be a method/],
    ];
    for (const [what, call, message] of bad) {
      let e: unknown;
      try {
        call();
      } catch (x) {
        e = x;
      }
      expect(isEddyError(e, 'EDDY_INVALID_ARGUMENT'), what).toBe(true);
      expect((e as Error).message, what).toMatch(message);
    }
  });

  it('builds an "Async Wait" operator that takes .name() and .uid()', () => {
    const out = AsyncDataStream.unorderedWait(stream, fn, { capacity: 5, timeoutMs: 1_000 }).name('Enrich').uid('enrich');
    expect(out.transformation).toMatchObject({ kind: 'one-input', name: 'Enrich', uid: 'enrich' });
    const t = out.transformation as unknown as { factory(): AsyncWaitOperator<number, number> };
    const op = t.factory();
    expect(op).toBeInstanceOf(AsyncWaitOperator);
    expect(op.name).toBe('Enrich');
    expect(stream.asyncMap(fn).transformation.name).toBe('Async Wait');
  });
});
