// Interval join vs a nested-loop reference, for random timestamps, bounds, keys and watermark advances.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TwoInputOperatorHarness } from 'eddy/testing';
import { IntervalJoinOperator } from '../../src/operators/interval-join-operator.ts';

interface El {
  side: 'L' | 'R';
  k: string;
  ts: number;
  id: number;
}
type Step = { kind: 'el'; side: 'L' | 'R'; k: string; ts: number } | { kind: 'wm'; to: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('el' as const), side: fc.constantFrom('L' as const, 'R' as const), k: fc.constantFrom('a', 'b', 'c'), ts: fc.integer({ min: 0, max: 120 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wm' as const), to: fc.integer({ min: 0, max: 130 }) }) },
);
const bounds = fc.record({
  lower: fc.integer({ min: -25, max: 25 }),
  width: fc.integer({ min: 0, max: 30 }),
  lowerExclusive: fc.boolean(),
  upperExclusive: fc.boolean(),
});

describe('interval join (fast-check)', () => {
  it('emits exactly the pairs a nested loop finds among the elements not late on arrival, then holds no state', async () => {
    await fc.assert(
      fc.asyncProperty(bounds, fc.array(step, { maxLength: 120 }), async ({ lower, width, lowerExclusive, upperExclusive }, steps) => {
        const upper = lower + width;
        const op = new IntervalJoinOperator<El, El, string>(
          'Interval Join',
          { processElement: (l, r, ctx, out) => out.collect(`${l.id}-${r.id}@${ctx.getTimestamp()}`) },
          { lowerBound: lower, upperBound: upper, lowerBoundInclusive: !lowerExclusive, upperBoundInclusive: !upperExclusive },
          (e) => e.k,
          (e) => e.k,
        );
        const h = new TwoInputOperatorHarness(op, { keySelector1: (e: El) => e.k, keySelector2: (e: El) => e.k });
        await h.open();

        let wm = Number.NEGATIVE_INFINITY;
        let late = 0;
        const accepted: El[] = [];
        for (const [id, s] of steps.entries()) {
          if (s.kind === 'wm') {
            if (s.to > wm) h.processWatermark((wm = s.to));
            continue;
          }
          // An element at exactly the watermark breaks the watermark's promise (no more elements <= it);
          // Flink's operator accepts it but may already have dropped its partners. Not generated.
          if (s.ts === wm) continue;
          const e: El = { side: s.side, k: s.k, ts: s.ts, id };
          if (s.side === 'L') h.processElement1(e, e.ts);
          else h.processElement2(e, e.ts);
          if (e.ts < wm) late++;
          else accepted.push(e);
        }
        await h.endInput();

        const lo = lower + (lowerExclusive ? 1 : 0);
        const hi = upper - (upperExclusive ? 1 : 0);
        const expected: string[] = [];
        for (const l of accepted)
          for (const r of accepted)
            if (l.side === 'L' && r.side === 'R' && l.k === r.k && r.ts - l.ts >= lo && r.ts - l.ts <= hi)
              expected.push(`${l.id}-${r.id}@${Math.max(l.ts, r.ts)}`);

        expect(h.getOutput().sort()).toEqual(expected.sort());
        // Outputs carry their pair's timestamp.
        for (const { value, timestamp } of h.getRecordOutput()) expect(value.endsWith(`@${timestamp}`)).toBe(true);
        expect(h.metrics().get('lateRecordsDropped') ?? 0).toBe(late);
        // After the final watermark nothing is buffered and no cleanup timer is left.
        const b = h.stateBackend!;
        expect([...b.keys('LEFT_BUFFER')].length + [...b.keys('RIGHT_BUFFER')].length).toBe(0);
        expect(h.snapshot().timers).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });

  it('state is released while running: after watermark w, no buffered timestamp can still be joined', async () => {
    await fc.assert(
      fc.asyncProperty(bounds, fc.array(step, { maxLength: 80 }), async ({ lower, width }, steps) => {
        const upper = lower + width;
        const op = new IntervalJoinOperator<El, El, never>(
          'Interval Join',
          { processElement: () => {} },
          { lowerBound: lower, upperBound: upper, lowerBoundInclusive: true, upperBoundInclusive: true },
          (e) => e.k,
          (e) => e.k,
        );
        const h = new TwoInputOperatorHarness(op, { keySelector1: (e: El) => e.k, keySelector2: (e: El) => e.k });
        await h.open();
        let wm = Number.NEGATIVE_INFINITY;
        for (const [id, s] of steps.entries()) {
          if (s.kind === 'wm') {
            if (s.to > wm) h.processWatermark((wm = s.to));
          } else if (s.ts === wm) {
            // Not generated, as above: its cleanup timer is due already and fires with the next watermark.
          } else if (s.side === 'L') h.processElement1({ side: 'L', k: s.k, ts: s.ts, id }, s.ts);
          else h.processElement2({ side: 'R', k: s.k, ts: s.ts, id }, s.ts);
        }
        // Flink's cleanup times: a left element at t until the watermark reaches t + max(upper, 0),
        // a right one until it reaches t + max(-lower, 0).
        const snap = h.snapshot();
        for (const st of snap.keyed?.states ?? []) {
          const keep = st.name === 'LEFT_BUFFER' ? Math.max(upper, 0) : Math.max(-lower, 0);
          for (const [, buckets] of st.entries) for (const ts of (buckets as Map<number, unknown>).keys()) expect(ts + keep).toBeGreaterThan(wm);
        }
      }),
      { numRuns: 200 },
    );
  });
});
