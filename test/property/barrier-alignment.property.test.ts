// Aligned checkpoint barriers in the InputGate: the snapshot sees exactly the records before the barrier on every channel.
import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FRAME_BARRIER, FRAME_DATA, FRAME_END_OF_INPUT, FrameCodec, type Frame } from '../../src/transport/frame-codec.ts';
import { InputGate, type InputHandler } from '../../src/transport/input-gate.ts';

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect(natsConnectionOptions(inject('natsUrl')));
});
afterAll(async () => {
  await nc.close();
});

type Event = { kind: 'record'; value: string } | { kind: 'barrier'; id: number } | { kind: 'alignment'; on: boolean } | { kind: 'end' };

/** A gate over `channels` channels whose handler logs what the task would see. */
function gate(channels: number, log: Event[]): InputGate {
  const handler: InputHandler = {
    onRecords: (records) => {
      for (const r of records) log.push({ kind: 'record', value: r as string });
    },
    onWatermark: () => undefined,
    onWatermarkStatus: () => undefined,
    onEndOfInput: () => log.push({ kind: 'end' }),
    onBarrier: (id) => log.push({ kind: 'barrier', id }),
    onAlignment: (on) => log.push({ kind: 'alignment', on }),
  };
  const specs = Array.from({ length: channels }, (_, c) => ({ producer: `p${c}`, creditSubject: 'eddy.test.alignment.credit', creditKey: `k${c}`, inputIndex: 0 }));
  return new InputGate(specs, nc, new FrameCodec(), handler, 1000, 'alignment-test');
}

/** Per-channel frame builders with consecutive sequence numbers. */
function channel(ch: number) {
  let seq = 0;
  return {
    data: (...records: string[]): Frame => ({ type: FRAME_DATA, ch, seq: seq++, records, timestamps: null }),
    barrier: (checkpointId: number): Frame => ({ type: FRAME_BARRIER, ch, seq: seq++, checkpointId, kind: 'checkpoint' }),
    end: (): Frame => ({ type: FRAME_END_OF_INPUT, ch, seq: seq++ }),
  };
}

const records = (log: Event[]) => log.filter((e) => e.kind === 'record').map((e) => (e as { value: string }).value);

describe('InputGate barrier alignment', () => {
  it('holds a channel after its barrier until every channel delivered it, then replays what it held', () => {
    const log: Event[] = [];
    const g = gate(2, log);
    const [a, b] = [channel(0), channel(1)];
    for (const f of [a.data('a1'), a.barrier(1), a.data('a2'), b.data('b1'), b.barrier(1), b.data('b2')]) g.process(f);
    expect(log).toEqual([
      { kind: 'record', value: 'a1' },
      { kind: 'alignment', on: true },
      { kind: 'record', value: 'b1' },
      { kind: 'barrier', id: 1 },
      { kind: 'alignment', on: false },
      { kind: 'record', value: 'a2' },
      { kind: 'record', value: 'b2' },
    ]);
  });

  it('a newer barrier abandons the older alignment; abort releases; an ended channel does not block', () => {
    const log: Event[] = [];
    const g = gate(2, log);
    const [a, b] = [channel(0), channel(1)];
    for (const f of [a.barrier(1), a.data('a1'), b.barrier(2), b.data('b1'), a.barrier(2)]) g.process(f);
    expect(log.filter((e) => e.kind === 'barrier')).toEqual([{ kind: 'barrier', id: 2 }]);
    expect(records(log)).toEqual(['a1', 'b1']);

    const log2: Event[] = [];
    const g2 = gate(2, log2);
    const [c, d] = [channel(0), channel(1)];
    g2.process(c.barrier(5));
    g2.process(c.data('held'));
    expect(records(log2)).toEqual([]);
    g2.abortAlignment(5);
    expect(records(log2)).toEqual(['held']);
    g2.process(d.barrier(5)); // stale after the abort: ignored
    expect(log2.filter((e) => e.kind === 'barrier')).toEqual([]);

    const log3: Event[] = [];
    const g3 = gate(2, log3);
    const [e, f] = [channel(0), channel(1)];
    g3.process(f.end());
    g3.process(e.barrier(7));
    expect(log3.filter((x) => x.kind === 'barrier')).toEqual([{ kind: 'barrier', id: 7 }]);
  });

  it('held frames are still checked for sequence gaps when released', () => {
    const g = gate(2, []);
    const [a, b] = [channel(0), channel(1)];
    g.process(a.barrier(1));
    a.data('skipped');
    g.process(a.data('after a gap'));
    expect(() => g.process(b.barrier(1))).toThrow(/EDDY_SEQUENCE_GAP/);
  });

  it('property: for any interleaving, the snapshot point splits every channel exactly at its barrier', () => {
    // Each channel: `pre` records, barrier 1, `post` records, end; the channels' frames interleave at random.
    const arb = fc.record({
      counts: fc.array(fc.record({ pre: fc.nat(6), post: fc.nat(6) }), { minLength: 1, maxLength: 4 }),
      order: fc.array(fc.nat(), { maxLength: 60 }),
    });
    fc.assert(
      fc.property(arb, ({ counts, order }) => {
        const log: Event[] = [];
        const g = gate(counts.length, log);
        const queues = counts.map(({ pre, post }, ch) => {
          const c = channel(ch);
          return [
            ...Array.from({ length: pre }, (_, i) => c.data(`${ch}:pre:${i}`)),
            c.barrier(1),
            ...Array.from({ length: post }, (_, i) => c.data(`${ch}:post:${i}`)),
            c.end(),
          ];
        });
        let k = 0;
        while (queues.some((q) => q.length > 0)) {
          const open = queues.filter((q) => q.length > 0);
          g.process(open[(order[k++] ?? 0) % open.length]!.shift()!);
        }
        const at = log.findIndex((e) => e.kind === 'barrier');
        expect(at).toBeGreaterThanOrEqual(0);
        expect(log.filter((e) => e.kind === 'barrier')).toHaveLength(1);
        const before = records(log.slice(0, at));
        const after = records(log.slice(at));
        expect(before.every((v) => v.includes(':pre:'))).toBe(true);
        expect(after.every((v) => v.includes(':post:'))).toBe(true);
        expect(before).toHaveLength(counts.reduce((n, c) => n + c.pre, 0));
        expect(after).toHaveLength(counts.reduce((n, c) => n + c.post, 0));
        // Per channel, records keep their order.
        for (let ch = 0; ch < counts.length; ch++) {
          const mine = records(log).filter((v) => v.startsWith(`${ch}:`));
          expect(mine).toEqual([...Array.from({ length: counts[ch]!.pre }, (_, i) => `${ch}:pre:${i}`), ...Array.from({ length: counts[ch]!.post }, (_, i) => `${ch}:post:${i}`)]);
        }
        expect(log[log.length - 1]).toEqual({ kind: 'end' });
      }),
      { numRuns: 300 },
    );
  });
});
