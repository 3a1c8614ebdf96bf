// Watermark monotonicity and the min-over-active-channels rule of the input gate, for random frame sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InMemoryCreditReturner } from '../../src/transport/credit-returner.ts';
import { FrameCodec, FRAME_END_OF_INPUT, FRAME_STATUS, FRAME_WATERMARK, type Frame } from '../../src/transport/frame-codec.ts';
import { InputGate } from '../../src/transport/input-gate.ts';

type Step = { ch: number; kind: 'wm'; ts: number } | { ch: number; kind: 'idle' | 'active' | 'end' };

const CHANNELS = 4;
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ ch: fc.nat(CHANNELS - 1), kind: fc.constant('wm' as const), ts: fc.integer({ min: -50, max: 1000 }) }) },
  { weight: 1, arbitrary: fc.record({ ch: fc.nat(CHANNELS - 1), kind: fc.constantFrom('idle' as const, 'active' as const, 'end' as const) }) },
);

describe('input gate watermarks', () => {
  it('never go backwards, equal the minimum over active open channels, and reach +infinity only when all channels end', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const emitted: number[] = [];
        const statuses: boolean[] = [];
        let ended = false;
        const gate = new InputGate(
          [...Array(CHANNELS).keys()].map((i) => ({ producer: `p${i}`, inputIndex: 0 })),
          new InMemoryCreditReturner(),
          new FrameCodec(),
          {
            onRecords: () => undefined,
            onWatermark: (w) => emitted.push(w),
            onWatermarkStatus: (idle) => statuses.push(idle),
            onEndOfInput: () => (ended = true),
          },
          8,
          'prop',
        );
        // A plain model of the channels, after Flink's StatusWatermarkValve.
        const model = [...Array(CHANNELS).keys()].map(() => ({ wm: -Infinity, idle: false, ended: false }));
        const seq = new Array(CHANNELS).fill(0);
        let last = -Infinity;
        for (const s of steps) {
          const c = model[s.ch]!;
          if (c.ended) continue; // a real producer sends nothing after end of input
          let frame: Frame;
          if (s.kind === 'wm') {
            frame = { type: FRAME_WATERMARK, ch: s.ch, seq: seq[s.ch]++, watermark: s.ts };
            if (s.ts > c.wm) c.wm = s.ts;
          } else if (s.kind === 'end') {
            frame = { type: FRAME_END_OF_INPUT, ch: s.ch, seq: seq[s.ch]++ };
            c.ended = true;
          } else {
            frame = { type: FRAME_STATUS, ch: s.ch, seq: seq[s.ch]++, idle: s.kind === 'idle' };
            c.idle = s.kind === 'idle';
          }
          gate.process(frame);
          for (let i = 1; i < emitted.length; i++) expect(emitted[i]!).toBeGreaterThan(emitted[i - 1]!);
          const active = model.filter((m) => !m.ended && !m.idle);
          const allEnded = model.every((m) => m.ended);
          if (allEnded) expect(emitted.at(-1)).toBe(Infinity);
          else if (active.length > 0) {
            // The gate's watermark is the running maximum of the active minimum (it never goes back).
            const min = Math.min(...active.map((m) => m.wm));
            last = Math.max(last, min);
            if (last > -Infinity) expect(emitted.at(-1)).toBe(last);
          }
          if (!allEnded) expect(emitted.at(-1) ?? -Infinity).toBeLessThan(Infinity);
          // Idle exactly when every open channel is idle.
          const idleNow = !allEnded && active.length === 0;
          expect(statuses.at(-1) ?? false).toBe(idleNow);
        }
        expect(ended).toBe(model.every((m) => m.ended));
      }),
      { numRuns: 500, examples: [[[0, 1, 2, 3].map((ch) => ({ ch, kind: 'end' as const, ts: 0 }))]] },
    );
  });
});
