// The barrier aligner's state machine without NATS: every legal transition, and illegal ones rejected with EDDY_INTERNAL.
import { describe, expect, it } from 'vitest';
import { isEddyError } from '../../src/errors.ts';
import { ALIGNER_TRANSITIONS, BarrierAligner, type AlignerEvent } from '../../src/transport/barrier-aligner.ts';

type Out = ['aligned', number, string] | ['alignment', boolean] | ['replay', number, string];

/** An aligner over `channels` whose frames are strings; unheld frames are "processed" into the log as ['replay', ch, f] too. */
function aligner(channels: number) {
  const log: Out[] = [];
  const a: BarrierAligner<string> = new BarrierAligner<string>(
    channels,
    {
      onAligned: (id, kind) => log.push(['aligned', id, kind]),
      onAlignment: (on) => log.push(['alignment', on]),
      replay: (ch, f) => {
        log.push(['replay', ch, f]);
        // A replayed barrier frame is fed back, as the gate does.
        const m = /^B(\d+)$/.exec(f);
        if (m) a.barrier(ch, Number(m[1]), 'checkpoint');
      },
    },
    'test-task',
  );
  /** What the gate does with an arriving frame. */
  const frame = (ch: number, f: string) => {
    if (a.hold(ch, f)) return;
    const m = /^B(\d+)$/.exec(f);
    if (m) a.barrier(ch, Number(m[1]), 'checkpoint');
    else log.push(['replay', ch, f]);
  };
  return { a, log, frame };
}

function expectInternal(fn: () => void, event: AlignerEvent): void {
  try {
    fn();
  } catch (e) {
    expect(isEddyError(e, 'EDDY_INTERNAL')).toBe(true);
    expect((e as Error).message).toContain(`(${event})`);
    return;
  }
  throw new Error(`expected EDDY_INTERNAL for ${event}`);
}

describe('BarrierAligner transitions', () => {
  it('lists exactly these legal transitions', () => {
    expect(ALIGNER_TRANSITIONS).toEqual({
      idle: { 'barrier-new': 'aligning', 'barrier-stale': 'idle', 'end-open': 'idle', 'abort-other': 'idle' },
      aligning: {
        'barrier-current': 'aligning',
        'barrier-newer': 'aligning',
        'barrier-stale': 'aligning',
        'end-open': 'aligning',
        'abort-current': 'idle',
        'abort-newer': 'idle',
        'abort-other': 'aligning',
      },
    });
  });

  it('idle --barrier-new--> aligning(n, {ch}): the channel is held', () => {
    const { a, log, frame } = aligner(2);
    frame(0, 'B1');
    expect(a.state).toEqual({ phase: 'aligning', checkpointId: 1, kind: 'checkpoint', seen: [0], lastCheckpoint: -1 });
    frame(0, 'x');
    frame(1, 'y');
    expect(log).toEqual([['alignment', true], ['replay', 1, 'y']]);
  });

  it('idle --barrier-new--> idle at once when the channel is the only open one', () => {
    const { a, log, frame } = aligner(1);
    frame(0, 'B3');
    expect(log).toEqual([['alignment', true], ['aligned', 3, 'checkpoint'], ['alignment', false]]);
    expect(a.state).toEqual({ phase: 'idle', lastCheckpoint: 3 });
  });

  it('idle --barrier-stale--> idle: a barrier at or below the last checkpoint is ignored', () => {
    const { a, log, frame } = aligner(2);
    a.abort(4);
    frame(0, 'B4');
    frame(1, 'B2');
    expect(log).toEqual([]);
    expect(a.state).toEqual({ phase: 'idle', lastCheckpoint: 4 });
  });

  it('idle --end-open--> idle; later alignments wait only for open channels', () => {
    const { a, log, frame } = aligner(2);
    a.channelEnded(1);
    expect(a.state.phase).toBe('idle');
    frame(0, 'B1');
    expect(log).toEqual([['alignment', true], ['aligned', 1, 'checkpoint'], ['alignment', false]]);
  });

  it('idle --abort-other--> idle: the last checkpoint moves up, never down', () => {
    const { a } = aligner(2);
    a.abort(5);
    a.abort(3);
    expect(a.state).toEqual({ phase: 'idle', lastCheckpoint: 5 });
  });

  it('aligning --barrier-current--> aligning(n, seen + ch), then idle when complete: snapshot before the held frames replay in order', () => {
    const { a, log, frame } = aligner(3);
    frame(0, 'B1');
    frame(0, 'a1');
    frame(1, 'B1');
    frame(1, 'b1');
    frame(0, 'a2');
    expect(a.state).toMatchObject({ phase: 'aligning', seen: [0, 1] });
    frame(2, 'B1');
    expect(log).toEqual([
      ['alignment', true],
      ['aligned', 1, 'checkpoint'],
      ['alignment', false],
      ['replay', 0, 'a1'],
      ['replay', 0, 'a2'],
      ['replay', 1, 'b1'],
    ]);
    expect(a.state).toEqual({ phase: 'idle', lastCheckpoint: 1 });
  });

  it('aligning --barrier-newer--> aligning(m, {ch}): the older alignment is released without snapshot', () => {
    const { a, log, frame } = aligner(2);
    frame(0, 'B1');
    frame(0, 'a1');
    frame(1, 'B2');
    expect(log).toEqual([['alignment', true], ['alignment', false], ['replay', 0, 'a1'], ['alignment', true]]);
    expect(a.state).toEqual({ phase: 'aligning', checkpointId: 2, kind: 'checkpoint', seen: [1], lastCheckpoint: 1 });
  });

  it('aligning --barrier-newer--> a released barrier m joins: a held channel that already delivered m is held again', () => {
    const { a, log, frame } = aligner(3);
    frame(0, 'B1');
    frame(0, 'B2');
    frame(0, 'a-after-2');
    frame(1, 'B2');
    // Channel 0's replayed B2 starts aligning 2, its later frame is held again; channel 1 joins.
    expect(a.state).toEqual({ phase: 'aligning', checkpointId: 2, kind: 'checkpoint', seen: [0, 1], lastCheckpoint: 1 });
    frame(2, 'B2');
    expect(log.filter((o) => o[0] === 'aligned')).toEqual([['aligned', 2, 'checkpoint']]);
    expect(log.at(-1)).toEqual(['replay', 0, 'a-after-2']);
  });

  it('aligning --barrier-stale--> aligning: an older barrier does not hold its channel', () => {
    const { a, log, frame } = aligner(2);
    frame(0, 'B2');
    frame(1, 'B1');
    frame(1, 'b');
    expect(log).toEqual([['alignment', true], ['replay', 1, 'b']]);
    expect(a.state).toMatchObject({ phase: 'aligning', checkpointId: 2, seen: [0] });
  });

  it('aligning --end-open--> aligning, or idle when the ended channel was the last one missing', () => {
    const { a, log, frame } = aligner(3);
    frame(0, 'B1');
    a.channelEnded(1);
    expect(a.state).toMatchObject({ phase: 'aligning', seen: [0] });
    a.channelEnded(2);
    expect(log).toEqual([['alignment', true], ['aligned', 1, 'checkpoint'], ['alignment', false]]);
    expect(a.state.phase).toBe('idle');
  });

  it('aligning --abort-current--> idle: held frames flow, no snapshot, its barriers are stale', () => {
    const { a, log, frame } = aligner(2);
    frame(0, 'B5');
    frame(0, 'held');
    a.abort(5);
    frame(1, 'B5');
    expect(log).toEqual([['alignment', true], ['alignment', false], ['replay', 0, 'held']]);
    expect(a.state).toEqual({ phase: 'idle', lastCheckpoint: 5 });
  });

  it('aligning --abort-newer--> idle: the current checkpoint can no longer align here (its barriers are stale now)', () => {
    const { a, log, frame } = aligner(2);
    frame(0, 'B1');
    frame(0, 'held');
    a.abort(2);
    expect(log).toEqual([['alignment', true], ['alignment', false], ['replay', 0, 'held']]);
    expect(a.state).toEqual({ phase: 'idle', lastCheckpoint: 2 });
    frame(1, 'B1'); // stale: channel 1 keeps flowing and no snapshot 1 is taken
    frame(1, 'b');
    a.channelEnded(1);
    expect(log.filter((o) => o[0] === 'aligned')).toEqual([]);
  });

  it('aligning --abort-other--> aligning', () => {
    const { a, frame } = aligner(2);
    frame(0, 'B5');
    a.abort(3);
    expect(a.state).toMatchObject({ phase: 'aligning', checkpointId: 5, seen: [0], lastCheckpoint: 3 });
  });

  it('rejects illegal events with EDDY_INTERNAL and stays in its state', () => {
    const idle = aligner(2);
    idle.a.channelEnded(0);
    expectInternal(() => idle.a.barrier(0, 1, 'checkpoint'), 'barrier-ended');
    expectInternal(() => idle.a.channelEnded(0), 'end-ended');
    expect(idle.a.state).toEqual({ phase: 'idle', lastCheckpoint: -1 });

    const al = aligner(3);
    al.frame(0, 'B1');
    al.a.channelEnded(2);
    expectInternal(() => al.a.barrier(0, 1, 'checkpoint'), 'barrier-held');
    expectInternal(() => al.a.barrier(0, 2, 'checkpoint'), 'barrier-held');
    expectInternal(() => al.a.channelEnded(0), 'end-held');
    expectInternal(() => al.a.barrier(2, 1, 'checkpoint'), 'barrier-ended');
    expectInternal(() => al.a.channelEnded(2), 'end-ended');
    expect(al.a.state).toMatchObject({ phase: 'aligning', checkpointId: 1, seen: [0] });
  });
});
