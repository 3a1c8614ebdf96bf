// Generator splits: every index exactly once across snapshot/restore at another parallelism, fused or not; state validation; rate limit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generatorSource } from '../../src/connectors/generator-source.ts';
import type { PollResult, SourceReader } from '../../src/connectors/source.ts';
import { isEddyError } from '../../src/errors.ts';
import type { FusedRun } from '../../src/operators/chain-fusion.ts';
import type { OperatorContext } from '../../src/operators/operator.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { operatorContext } from '../support/operator-context.ts';

function context(subtaskIndex: number, parallelism: number, clock = new ManualClock(0)): OperatorContext {
  return operatorContext({ jobId: 'job', operatorName: 'Generator Source', uid: 'gen', subtaskIndex, parallelism, clock, checkpointing: true });
}

/** A reader that collects into `sink`, optionally through a hand-made fused run (a map x => x, then the output). */
function reader(count: number, subtask: number, parallelism: number, sink: number[], fused: boolean, clock?: ManualClock, rate?: number): SourceReader<number> {
  const r = generatorSource(count, (i) => i, rate === undefined ? {} : { ratePerSecond: rate }).createReader(context(subtask, parallelism, clock)) as SourceReader<number>;
  if (fused) {
    const run: FusedRun = {
      fns: [(x: number) => x, { collect: (v: number) => sink.push(v) }],
      names: ['Map'],
      failed: [(e) => { throw e; }],
      lines: ['s = 0; x = v;', 'const a0 = f0(v);', 'f1.collect(a0, ts);'],
    };
    expect(r.fuse!(run, () => undefined)).toBe(true);
  }
  return r;
}

const out = (sink: number[]) => ({ collect: (v: number) => void sink.push(v) });

/** Polls `r` in slices of `slice` until `limit` records were emitted or it ends. */
function readUpTo(r: SourceReader<number>, sink: number[], limit: number, slice: number): PollResult {
  const start = sink.length;
  let res: PollResult = 'more';
  while (res === 'more' && sink.length - start < limit) res = r.poll(out(sink), Math.min(slice, limit - (sink.length - start)));
  return res;
}

/** Deals list state round-robin, as the runtime does on restore at another parallelism. */
function deal(splits: unknown[], parallelism: number): unknown[][] {
  const dealt: unknown[][] = Array.from({ length: parallelism }, () => []);
  splits.forEach((s, i) => dealt[i % parallelism]!.push(s));
  return dealt;
}

describe('generator splits survive rescaling (fast-check)', () => {
  it('reading at p1, snapshotting, dealing to p2 (then p3) and reading to the end emits 0..count-1 exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 2, maxLength: 4 }),
        fc.array(fc.nat(120), { minLength: 28, maxLength: 28 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        (count, parallelisms, cuts, slice, fused) => {
          const sink: number[] = [];
          let cut = 0;
          // Generation 0 starts fresh; each later one restores the dealt splits of the one before.
          let state: unknown[][] | undefined;
          for (let g = 0; g < parallelisms.length; g++) {
            const p = parallelisms[g]!;
            const last = g === parallelisms.length - 1;
            const readers = [...Array(p).keys()].map((s) => reader(count, s, p, sink, fused));
            if (state !== undefined) readers.forEach((r, s) => r.restoreState!(state![s]!));
            const snapshot: unknown[] = [];
            for (const r of readers) {
              if (last) while (readUpTo(r, sink, Infinity, slice) !== 'end');
              // Through JSON: the state must be plain data and must not alias the reader's.
              else {
                readUpTo(r, sink, cuts[cut++ % cuts.length]!, slice);
                snapshot.push(...(JSON.parse(JSON.stringify(r.snapshotState!())) as unknown[]));
              }
            }
            state = deal(snapshot, parallelisms[g + 1] ?? 1);
          }
          expect([...sink].sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('generator reader', () => {
  it('a reader with several splits reads them in turn, so unbounded splits all advance', () => {
    const sink: number[] = [];
    const r = reader(Infinity, 0, 1, sink, false);
    r.restoreState!([
      { next: 0, step: 3 },
      { next: 1, step: 3 },
      { next: 2, step: 3 },
    ]);
    for (let k = 0; k < 3; k++) expect(r.poll(out(sink), 2)).toBe('more');
    expect(sink).toEqual([0, 3, 1, 4, 2, 5]);
    expect(r.snapshotState!()).toEqual([
      { next: 6, step: 3 },
      { next: 7, step: 3 },
      { next: 8, step: 3 },
    ]);
  });

  it('a reader without splits ends at once, bounded or not; exhausted splits leave the state', () => {
    for (const count of [10, Infinity]) {
      const r = reader(count, 0, 1, [], false);
      r.restoreState!([]);
      expect(r.poll(out([]), 100)).toBe('end');
      expect(r.snapshotState!()).toEqual([]);
    }
    const sink: number[] = [];
    const r = reader(3, 4, 5, sink, false); // subtask 4 of 5 owns nothing below 3
    expect(r.poll(out(sink), 100)).toBe('end');
    expect(sink).toEqual([]);
    const done = reader(4, 0, 2, sink, true);
    expect(done.poll(out(sink), 100)).toBe('end');
    expect(done.snapshotState!()).toEqual([]);
  });

  it('a snapshot is a copy: it does not move on with the reader', () => {
    const sink: number[] = [];
    const r = reader(100, 1, 2, sink, false);
    r.poll(out(sink), 3);
    const snap = r.snapshotState!();
    r.poll(out(sink), 3);
    expect(snap).toEqual([{ next: 7, step: 2 }]);
  });

  it.each([
    ['not a list', { next: 0, emitted: 0 }],
    ['the old { next, emitted } form', [{ next: 0, emitted: 3 }]],
    ['a negative next', [{ next: -1, step: 2 }]],
    ['a zero step', [{ next: 0, step: 0 }]],
    ['a fractional step', [{ next: 0, step: 1.5 }]],
    ['a number', [3]],
    ['null', [null]],
  ])('restored state that is %s fails with EDDY_STATE_MISMATCH', (_what, state) => {
    const r = reader(10, 0, 1, [], false);
    let error: unknown;
    try {
      r.restoreState!(state as unknown[]);
    } catch (e) {
      error = e;
    }
    expect(isEddyError(error, 'EDDY_STATE_MISMATCH')).toBe(true);
    expect((error as Error).message).toMatch(/Generator Source: restored/);
  });

  it('keeps the rate limit across several splits (fused too), counting from the reader start', () => {
    for (const fused of [false, true]) {
      const clock = new ManualClock(0);
      const sink: number[] = [];
      // 1000/s over 2 subtasks: this reader may emit 0.5 records per ms, whatever its split count.
      const r = reader(Infinity, 0, 2, sink, fused, clock, 1000);
      r.restoreState!([
        { next: 0, step: 2 },
        { next: 1, step: 2 },
      ]);
      expect(r.poll(out(sink), 100)).toBe('wait');
      clock.advance(20);
      expect(r.poll(out(sink), 100)).toBe('more');
      expect(sink).toHaveLength(10);
      expect(r.poll(out(sink), 100)).toBe('wait');
      clock.advance(100);
      while (r.poll(out(sink), 7) === 'more');
      expect(sink).toHaveLength(60);
      expect(new Set(sink).size).toBe(60);
    }
  });

  it('an error in the fused generator function goes through the source policy and fails only that record', () => {
    const ctx = context(0, 1);
    const r = generatorSource(10, (i) => {
      if (i === 4) throw new Error('boom');
      return i;
    }).createReader({ ...ctx, recordFailed: (e) => { throw Object.assign(e as Error, { op: 'gen' }); } }) as SourceReader<number>;
    const sink: number[] = [];
    const run: FusedRun = { fns: [{ collect: (v: number) => sink.push(v) }], names: [], failed: [], lines: ['f0.collect(v, ts);'] };
    r.fuse!(run, () => undefined);
    expect(() => r.poll(out(sink), 100)).toThrow(expect.objectContaining({ message: 'boom', op: 'gen' }));
    expect(sink).toEqual([0, 1, 2, 3]);
    expect(r.snapshotState!()).toEqual([{ next: 5, step: 1 }]);
  });

  for (const fused of [true, false])
    it(`a record-failure policy that dead-letters skips the failing index and reads on (${fused ? 'fused' : 'unfused'})`, () => {
      const letters: unknown[] = [];
      const r = generatorSource(10, (i) => {
        if (i === 4 || i === 7) throw new Error('boom');
        return i;
      }).createReader({ ...context(0, 1), recordFailed: (_e, rec) => void letters.push(rec) }) as SourceReader<number>;
      const sink: number[] = [];
      if (fused) r.fuse!({ fns: [{ collect: (v: number) => sink.push(v) }], names: [], failed: [], lines: ['f0.collect(v, ts);'] }, () => undefined);
      expect(r.poll(out(sink), 100)).toBe('end');
      expect(sink).toEqual([0, 1, 2, 3, 5, 6, 8, 9]);
      expect(letters).toEqual([4, 7]);
    });
});
