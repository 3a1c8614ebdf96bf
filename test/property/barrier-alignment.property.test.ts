// Aligned checkpoint barriers in the InputGate (no NATS: in-memory credits): each snapshot sees exactly the records before its barrier on every channel.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InMemoryCreditReturner } from '../../src/transport/credit-returner.ts';
import { FRAME_BARRIER, FRAME_DATA, FRAME_END_OF_INPUT, FrameCodec, type Frame } from '../../src/transport/frame-codec.ts';
import { InputGate, type InputHandler } from '../../src/transport/input-gate.ts';

type Event = { kind: 'record'; value: string } | { kind: 'barrier'; id: number } | { kind: 'alignment'; on: boolean } | { kind: 'end' } | { kind: 'abort'; id: number };

/** A gate over `channels` channels whose handler logs what the task would see; credits go to `credits`. */
function gate(channels: number, log: Event[], credits = new InMemoryCreditReturner(), window = 1000): InputGate {
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
  const specs = Array.from({ length: channels }, (_, c) => ({ producer: `p${c}`, inputIndex: 0 }));
  return new InputGate(specs, credits, new FrameCodec(), handler, window, 'alignment-test');
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

describe('InputGate alignment with several checkpoints, skipped barriers, aborts and credits', () => {
  /** Channel `ch`'s frames: records, some of the barriers 1..3 (a skipped one was abandoned upstream), end. */
  function script(ch: number, segments: number[], carries: boolean[]) {
    const c = channel(ch);
    const frames: Frame[] = [];
    /** The records each carried barrier follows, by checkpoint id. */
    const before = new Map<number, string[]>();
    const all: string[] = [];
    segments.forEach((n, s) => {
      for (let i = 0; i < n; i++) {
        const v = `${ch}:${s}:${i}`;
        all.push(v);
        frames.push(c.data(v));
      }
      if (s < 3 && carries[s]) {
        before.set(s + 1, [...all]);
        frames.push(c.barrier(s + 1));
      }
    });
    frames.push(c.end());
    return { frames, before, all };
  }

  it('property: an aligned checkpoint n sees exactly what precedes barrier n on every channel (or all of an ended one), and none aborted', () => {
    const arb = fc.record({
      chans: fc.array(fc.record({ segments: fc.array(fc.nat(4), { minLength: 4, maxLength: 4 }), carries: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) }), { minLength: 1, maxLength: 4 }),
      order: fc.array(fc.nat(), { maxLength: 80, size: 'max' }),
      window: fc.integer({ min: 1, max: 16 }),
      aborts: fc.array(fc.record({ at: fc.nat(40), id: fc.integer({ min: 1, max: 3 }) }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(arb, ({ chans, order, window, aborts }) => {
        const log: Event[] = [];
        const credits = new InMemoryCreditReturner();
        const g = gate(chans.length, log, credits, window);
        const scripts = chans.map(({ segments, carries }, ch) => script(ch, segments, carries));
        const queues = scripts.map((s) => [...s.frames]);
        let k = 0;
        while (queues.some((q) => q.length > 0)) {
          for (const { at, id } of aborts)
            if (at === k) {
              log.push({ kind: 'abort', id });
              g.abortAlignment(id);
            }
          const open = queues.filter((q) => q.length > 0);
          g.process(open[(order[k++] ?? 0) % open.length]!.shift()!);
        }
        expect(g.isAligning).toBe(false);
        // No checkpoint aligns once it, or a newer one, was aborted.
        log.forEach((e, at) => {
          if (e.kind === 'barrier') expect(log.slice(0, at).some((x) => x.kind === 'abort' && x.id >= e.id)).toBe(false);
        });
        const seenBarriers: number[] = [];
        log.forEach((e, at) => {
          if (e.kind !== 'barrier') return;
          seenBarriers.push(e.id);
          const prior = records(log.slice(0, at));
          scripts.forEach((s, ch) => {
            const mine = prior.filter((v) => v.startsWith(`${ch}:`));
            // A channel that skipped barrier n can only have let n align by ending first.
            expect(mine).toEqual(s.before.get(e.id) ?? s.all);
          });
        });
        for (let i = 1; i < seenBarriers.length; i++) expect(seenBarriers[i]!).toBeGreaterThan(seenBarriers[i - 1]!);
        // Every record exactly once, per channel in order; end of input last.
        scripts.forEach((s, ch) => expect(records(log).filter((v) => v.startsWith(`${ch}:`))).toEqual(s.all));
        expect(log[log.length - 1]).toEqual({ kind: 'end' });
        // Credits go back in halves of the window: never more than was consumed, never a half window left over.
        const threshold = Math.max(1, window >> 1);
        scripts.forEach((s, ch) => {
          const returned = credits.returned[ch] ?? 0;
          expect(s.all.length - returned).toBeGreaterThanOrEqual(0);
          expect(s.all.length - returned).toBeLessThan(threshold);
        });
        for (const [, n] of credits.calls) expect(n).toBe(threshold);
      }),
      { numRuns: 300 },
    );
  });

  it('a barrier older than the one being aligned is stale: its channel keeps flowing until it delivers the current one', () => {
    const log: Event[] = [];
    const g = gate(2, log);
    const [a, b] = [channel(0), channel(1)];
    // a skipped checkpoint 1 (abandoned upstream) and delivers 2; b delivers 1, a record, then 2.
    for (const f of [a.barrier(2), a.data('a-after-2'), b.barrier(1), b.data('b-before-2'), b.barrier(2)]) g.process(f);
    expect(log).toEqual([
      { kind: 'alignment', on: true },
      { kind: 'record', value: 'b-before-2' },
      { kind: 'barrier', id: 2 },
      { kind: 'alignment', on: false },
      { kind: 'record', value: 'a-after-2' },
    ]);
  });
});
