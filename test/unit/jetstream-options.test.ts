// JetStream connector options are checked where the job is built, with EDDY_INVALID_ARGUMENT; subject helpers.
import { describe, expect, it } from 'vitest';
import { jetStreamSink } from '../../src/connectors/jetstream-sink.ts';
import { isSubjectFilter, subjectsOverlap } from '../../src/connectors/jetstream-options.ts';
import { jetStreamSource } from '../../src/connectors/jetstream-source.ts';
import { expectEddyError } from '../support/eddy-error.ts';

describe('jetStreamSource options', () => {
  it.each([
    [{}, /stream must be a stream name/],
    [{ stream: 'A.B' }, /stream must be a stream name/],
    [{ stream: 'A B' }, /stream must be a stream name/],
    [{ stream: 'A', subjects: [] }, /non-empty array/],
    [{ stream: 'A', subjects: ['a.>.b'] }, /"a\.>\.b" is not a subject filter/],
    [{ stream: 'A', subjects: ['a..b'] }, /not a subject filter/],
    [{ stream: 'A', subjects: ['a.*', 'a.b'] }, /"a\.\*" and "a\.b" overlap/],
    [{ stream: 'A', format: 'xml' }, /format must be/],
    [{ stream: 'A', bounded: 'yes' }, /bounded must be a boolean/],
    [{ stream: 'A', startSeq: 0 }, /startSeq must be an integer >= 1/],
    [{ stream: 'A', startSeq: 1.5 }, /startSeq/],
    [{ stream: 'A', timestamp: 'event' }, /timestamp must be 'none' or 'jetstream'/],
    [{ stream: 'A', maxBuffered: 0 }, /maxBuffered/],
    [{ stream: 'A', subject: 'a' }, /unknown option "subject"/],
  ])('rejects %j', async (opts, message) => {
    const e = await expectEddyError(() => jetStreamSource(opts as never), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });

  it('accepts valid options; with fixed subjects the parallelism is capped at their number', () => {
    const s = jetStreamSource({ stream: 'ORDERS', subjects: ['orders.eu.*', 'orders.us.>'], format: 'msgpack', bounded: true, startSeq: 5, timestamp: 'jetstream' });
    expect(s).toMatchObject({ name: 'JetStream Source ORDERS', bounded: true, maxParallelism: 2 });
    const all = jetStreamSource({ stream: 'ORDERS' });
    expect(all.bounded).toBe(false);
    expect(all.maxParallelism).toBeUndefined();
  });
});

describe('jetStreamSink options', () => {
  it.each([
    [{}, /subject must be a string or a function/],
    [{ subject: 'a.*' }, /without spaces or wildcards/],
    [{ subject: 'a b' }, /without spaces or wildcards/],
    [{ subject: 'a', format: 'raw' }, /format must be 'json', 'msgpack' or 'string'/],
    [{ subject: 'a', stream: 'X.Y' }, /stream must be a stream name/],
    [{ subject: 'a', streams: 'X' }, /unknown option "streams"/],
  ])('rejects %j', async (opts, message) => {
    const e = await expectEddyError(() => jetStreamSink(opts as never), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });

  it('a sink writer needs a NATS connection', async () => {
    const sink = jetStreamSink({ subject: 'a.b' });
    expect(sink.name).toBe('JetStream Sink a.b');
    await expectEddyError(() => sink.createWriter({ operator: { nats: undefined, operatorName: 's' } as never, runtime: {} as never, restoredState: undefined }), 'EDDY_CONFIG');
  });
});

describe('subject helpers', () => {
  it('isSubjectFilter', () => {
    for (const s of ['a', 'a.b', 'a.*', '*.b', 'a.>', '>', 'a.*.>']) expect(isSubjectFilter(s)).toBe(true);
    for (const s of ['', 'a.', '.a', 'a..b', 'a.>.b', 'a b', 'a*', 'a.b>', 7]) expect(isSubjectFilter(s)).toBe(false);
  });
  it('subjectsOverlap', () => {
    const yes: [string, string][] = [['a.b', 'a.b'], ['a.*', 'a.b'], ['a.>', 'a.b.c'], ['*.c', 'a.>'], ['>', 'x'], ['*.*', 'a.*']];
    const no: [string, string][] = [['a.b', 'a.c'], ['a.*', 'a.b.c'], ['a.>', 'a'], ['a.*', 'b.>'], ['*', 'a.b']];
    for (const [x, y] of yes) expect([x, y, subjectsOverlap(x, y), subjectsOverlap(y, x)]).toEqual([x, y, true, true]);
    for (const [x, y] of no) expect([x, y, subjectsOverlap(x, y), subjectsOverlap(y, x)]).toEqual([x, y, false, false]);
  });
});
