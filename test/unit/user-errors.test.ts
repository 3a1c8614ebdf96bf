// Failures a user can cause are EddyErrors with a stable code and a message that says what to do; invariants are EDDY_INTERNAL.
import { describe, expect, it } from 'vitest';
import { AggregatingStateDescriptor, OutputTag, ReducingStateDescriptor, ValueStateDescriptor, type AggregateFunction, type ReduceFunction } from '../../index.ts';
import { decoderFor, encoderFor } from '../../src/connectors/record-format.ts';
import { EddyError, errorText } from '../../src/errors.ts';
import { isRecordLevel } from '../../src/functions/record-failure-policy.ts';
import { fieldAggregate } from '../../src/operators/field-aggregate.ts';
import { denormalizeKey, type NormalizedKey } from '../../src/state/key-group.ts';
import { FrameCodec } from '../../src/transport/frame-codec.ts';
import { checkToken } from '../../src/transport/subjects.ts';
import { expectEddyError } from '../support/eddy-error.ts';

describe('bad arguments: EDDY_INVALID_ARGUMENT', () => {
  it('a state descriptor without a name', async () => {
    const e = await expectEddyError(() => new ValueStateDescriptor(''), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toMatch(/a state descriptor needs a non-empty string name, got ""/);
  });

  it('a ReducingStateDescriptor without a reduce function, an AggregatingStateDescriptor without an AggregateFunction', async () => {
    const r = await expectEddyError(() => new ReducingStateDescriptor('sum', undefined as unknown as ReduceFunction<number>), 'EDDY_INVALID_ARGUMENT');
    expect(r.message).toMatch(/ReducingStateDescriptor "sum" needs a reduce function/);
    const a = await expectEddyError(() => new AggregatingStateDescriptor('avg', {} as AggregateFunction<number, number, number>), 'EDDY_INVALID_ARGUMENT');
    expect(a.message).toMatch(/AggregatingStateDescriptor "avg" needs an AggregateFunction \(an object with createAccumulator, add, getResult and merge\)/);
  });

  it('an OutputTag without an id', async () => {
    const e = await expectEddyError(() => new OutputTag(''), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toMatch(/OutputTag needs a non-empty string id/);
  });

  it('a subject token with a dot', async () => {
    const e = await expectEddyError(() => checkToken('a.b', 'job id'), 'EDDY_INVALID_ARGUMENT');
    expect(e.message).toMatch(/job id "a\.b" must match \[A-Za-z0-9_-\]\+/);
    expect(checkToken('a_b-1', 'job id')).toBe('a_b-1');
  });
});

describe('records', () => {
  it('a message that is not msgpack: EDDY_DECODE', async () => {
    const e = await expectEddyError(() => decoderFor('msgpack', 'NATS source')(Uint8Array.of(0xc1)), 'EDDY_DECODE');
    expect(e.message).toMatch(/0xc1 is not a MessagePack value/);
  });

  it('a function in a msgpack record: EDDY_UNSERIALIZABLE_RECORD, the cause quoted without its code', async () => {
    const e = await expectEddyError(() => encoderFor('msgpack', 'NATS sink')({ f: () => 1 }), 'EDDY_UNSERIALIZABLE_RECORD');
    expect(e.message).toMatch(/^EDDY_UNSERIALIZABLE_RECORD: NATS sink: cannot write object as msgpack: a function cannot be serialized/);
    const f = await expectEddyError(() => new FrameCodec().encodeValue({ f: () => 1 }, 'Map'), 'EDDY_UNSERIALIZABLE_RECORD');
    expect(f.message).toMatch(/operator "Map" emitted a record that cannot be serialized \(a function cannot be serialized\)/);
  });

  it('a field aggregation over a record whose field is no number: a record-level EDDY_USER_FUNCTION (dead-letterable)', async () => {
    const agg = fieldAggregate<{ v: unknown }>('sum', 'v');
    const e = await expectEddyError(() => agg.add({ v: 'x' }, agg.createAccumulator()), 'EDDY_USER_FUNCTION');
    expect(e.message).toMatch(/sum\("v"\) found string where a number or bigint was expected, in record \{"v":"x"\}/);
    expect(isRecordLevel(e)).toBe(true);
  });
});

describe('invariants: EDDY_INTERNAL', () => {
  it('a stored key that is not in normalized form', async () => {
    await expectEddyError(() => denormalizeKey('\u0000[s1:a' as NormalizedKey), 'EDDY_INTERNAL');
  });
});

describe('errorText', () => {
  it('quotes an error without its code prefix', () => {
    expect(errorText(new EddyError('EDDY_DECODE', 'bad byte'))).toBe('bad byte');
    expect(errorText(new TypeError('x is not a function'))).toBe('x is not a function');
    expect(errorText('plain')).toBe('plain');
  });
});
