// The input gate's units without NATS: credits through an injected returner, the NATS returner's message format, the watermark valve.
import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { InMemoryCreditReturner, NatsCreditReturner } from '../../src/transport/credit-returner.ts';
import { FRAME_DATA, FRAME_END_OF_INPUT, FrameCodec, type Frame } from '../../src/transport/frame-codec.ts';
import { InputGate } from '../../src/transport/input-gate.ts';
import { isEddyError } from '../../src/errors.ts';
import { WatermarkValve } from '../../src/transport/watermark-valve.ts';

const data = (ch: number, seq: number): Frame => ({ type: FRAME_DATA, ch, seq, records: [seq], timestamps: null });

function gate(credits: InMemoryCreditReturner, window: number) {
  const got: unknown[] = [];
  let ended = false;
  const g = new InputGate(
    [
      { producer: 'p0', inputIndex: 0 },
      { producer: 'p1', inputIndex: 1 },
    ],
    credits,
    new FrameCodec(),
    { onRecords: (r, _t, input) => got.push([input, ...r]), onWatermark: () => undefined, onWatermarkStatus: () => undefined, onEndOfInput: () => (ended = true) },
    window,
    'gate-test',
  );
  return { g, got, isEnded: () => ended };
}

describe('InputGate', () => {
  it('returns credit per channel in halves of the window', () => {
    const credits = new InMemoryCreditReturner();
    const { g, got } = gate(credits, 8);
    for (let s = 0; s < 9; s++) g.process(data(0, s));
    for (let s = 0; s < 3; s++) g.process(data(1, s));
    expect(credits.calls).toEqual([
      [0, 4],
      [0, 4],
    ]);
    expect(got.slice(-1)).toEqual([[1, 2]]);
  });

  it('fails a sequence gap or repeat with EDDY_SEQUENCE_GAP naming the producer', () => {
    const { g } = gate(new InMemoryCreditReturner(), 8);
    g.process(data(1, 0));
    try {
      g.process(data(1, 2));
      throw new Error('no error');
    } catch (e) {
      expect(isEddyError(e, 'EDDY_SEQUENCE_GAP')).toBe(true);
      expect((e as Error).message).toContain('from p1 delivered frame 2 but 1 was next; 1 frame(s) were lost');
    }
  });

  it('ends its input when every channel ended (a repeated end is ignored)', () => {
    const { g, isEnded } = gate(new InMemoryCreditReturner(), 8);
    g.process({ type: FRAME_END_OF_INPUT, ch: 0, seq: 0 });
    g.process({ type: FRAME_END_OF_INPUT, ch: 0, seq: 1 });
    expect(isEnded()).toBe(false);
    g.process({ type: FRAME_END_OF_INPUT, ch: 1, seq: 0 });
    expect(isEnded()).toBe(true);
  });
});

describe('NatsCreditReturner', () => {
  it('publishes [[creditKey, n]] on the producer credit subject, as OutputGate expects', () => {
    const sent: [string, Uint8Array][] = [];
    const nc = { publish: (subject: string, bytes: Uint8Array) => sent.push([subject, bytes]) } as unknown as NatsConnection;
    const codec = new FrameCodec();
    const r = new NatsCreditReturner(nc, codec, [
      { creditSubject: 'eddy.j.credit.1.0', creditKey: '3:0' },
      { creditSubject: 'eddy.j.credit.1.1', creditKey: '3:0' },
    ]);
    r.returnCredit(1, 4);
    expect(sent.map(([s, b]) => [s, codec.decodeValue(b)])).toEqual([['eddy.j.credit.1.1', [['3:0', 4]]]]);
  });
});

describe('WatermarkValve', () => {
  it('takes the minimum over active open channels, skips idle ones and never goes backwards', () => {
    const out: (number | string)[] = [];
    const v = new WatermarkValve(3, { onWatermark: (w) => out.push(w), onWatermarkStatus: (idle) => out.push(idle ? 'idle' : 'active') });
    v.watermark(0, 10);
    v.watermark(1, 5);
    expect(out).toEqual([]); // channel 2 has none yet
    v.watermark(2, 7);
    v.status(1, true); // min over 0 and 2
    v.watermark(0, 3); // backwards on a channel: ignored
    v.status(1, false); // channel 1 is back at 5: the combined watermark stays at 7
    expect(out).toEqual([5, 7]);
    expect(v.current).toBe(7);
    v.status(0, true);
    v.status(1, true);
    v.status(2, true);
    expect(v.isIdle).toBe(true);
    expect(v.end(0)).toBe(2);
    expect(v.end(1)).toBe(1);
    v.status(2, false);
    // End of all input is watermark +infinity (DESIGN 4), even when a producer ended without sending it; no status change after the last end.
    expect(v.end(2)).toBe(0);
    expect(out).toEqual([5, 7, 'idle', 'active', Infinity]);
  });
});
