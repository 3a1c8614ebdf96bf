// Properties of the wire codec (src/transport/frame-codec.ts): frames round-trip plain data; bad records and bad bytes fail clearly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isEddyError } from '../../src/errors.ts';
import { FRAME_BARRIER, FRAME_DATA, FRAME_END_OF_INPUT, FRAME_STATUS, FRAME_WATERMARK, FrameCodec, type Frame } from '../../src/transport/frame-codec.ts';

/*
 * What "plain data" means here, decided by what msgpack (msgpackr) represents:
 * - null, booleans, strings, integers, doubles (incl. NaN and ±Infinity), bigints in the 64-bit range,
 *   arrays, plain objects, Maps, Dates, and `undefined` (as a value, in objects, arrays and Maps) round-trip.
 * - -0 becomes 0 (msgpack writes it as the integer 0). Generators map -0 to 0; a test pins the behaviour.
 * - Strings must be valid Unicode: a lone surrogate becomes U+FFFD (UTF-8 cannot encode it); generators use
 *   fast-check's 'binary' unit (all code points, no lone surrogates); a test pins the replacement.
 * - An own property named "__proto__" is mangled by msgpackr's prototype-pollution guard: excluded.
 * - bigints outside [-2^63, 2^64) cannot be encoded (EDDY_UNSERIALIZABLE_RECORD); a test pins it.
 * - Sets come back as arrays today (msgpackr `moreTypes` is off): excluded here, pinned as a known bug.
 * - Null-prototype objects come back with Object.prototype; class instances come back as plain objects.
 */

const RUNS = { numRuns: 200 };

const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 16 }), fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const fieldName = fc.oneof(fc.constantFrom('id', 'key', 'value', 'ts', 'a', 'b', ''), text).filter((k) => k !== '__proto__');
const noNegZero = (d: number) => (Object.is(d, -0) ? 0 : d);

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double().map(noNegZero),
  text,
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.date({ noInvalidDate: true, min: new Date(-8.64e15), max: new Date(8.64e15) }),
);
const mapKey = fc.oneof(text, fc.integer());

const { value: plainValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fieldName, tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.array(fc.tuple(mapKey, tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  ),
}));

/** Records of one shape (what a typed stream carries), to exercise msgpackr's record structures. */
const sameShape = fc.array(
  fc.record({ id: fc.integer(), key: text, value: fc.double().map(noNegZero), tags: fc.array(text, { maxLength: 3 }), when: fc.option(fc.maxSafeNat()) }, { noNullPrototype: true }),
  { maxLength: 40 },
);
/** Records of many shapes. */
const mixed = fc.array(plainValue, { maxLength: 20 });
const records = fc.oneof(sameShape as fc.Arbitrary<unknown[]>, mixed);
const timestamp = fc.oneof(fc.maxSafeInteger(), fc.double({ noNaN: true }).map(noNegZero), fc.constant(Number.NEGATIVE_INFINITY));
const recordsWithTimestamps = records.chain((rs) =>
  fc.tuple(fc.constant(rs), fc.option(fc.array(timestamp, { minLength: rs.length, maxLength: rs.length }), { nil: null })),
);
const u32 = fc.nat({ max: 2 ** 32 - 1 });

type AnyFrame = Frame;
/** Any frame, with the bytes a producer codec writes for it. */
const frameArb: fc.Arbitrary<AnyFrame> = fc.oneof(
  fc.tuple(u32, fc.maxSafeNat(), recordsWithTimestamps).map(([ch, seq, [rs, ts]]): AnyFrame => ({ type: FRAME_DATA, ch, seq, records: rs, timestamps: ts })),
  fc.tuple(u32, fc.maxSafeNat(), fc.double({ noNaN: true }).map(noNegZero)).map(([ch, seq, watermark]): AnyFrame => ({ type: FRAME_WATERMARK, ch, seq, watermark })),
  fc.tuple(u32, fc.maxSafeNat(), fc.maxSafeNat(), fc.constantFrom('checkpoint', 'savepoint'), text).map(
    ([ch, seq, checkpointId, k1, k2]): AnyFrame => ({ type: FRAME_BARRIER, ch, seq, checkpointId, kind: k2.length % 3 === 0 ? k2 : k1 }),
  ),
  fc.tuple(u32, fc.maxSafeNat()).map(([ch, seq]): AnyFrame => ({ type: FRAME_END_OF_INPUT, ch, seq })),
  fc.tuple(u32, fc.maxSafeNat(), fc.boolean()).map(([ch, seq, idle]): AnyFrame => ({ type: FRAME_STATUS, ch, seq, idle })),
);

function encode(codec: FrameCodec, f: AnyFrame, operator = 'Producer'): Uint8Array {
  switch (f.type) {
    case FRAME_DATA:
      return codec.encodeData(f.ch, f.seq, f.records, f.timestamps, operator);
    case FRAME_WATERMARK:
      return codec.encodeWatermark(f.ch, f.seq, f.watermark);
    case FRAME_BARRIER:
      return codec.encodeBarrier(f.ch, f.seq, f.checkpointId, f.kind);
    case FRAME_END_OF_INPUT:
      return codec.encodeEndOfInput(f.ch, f.seq);
    case FRAME_STATUS:
      return codec.encodeStatus(f.ch, f.seq, f.idle);
  }
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('frames round-trip', () => {
  it('data frames with and without timestamps, decoded by the same codec', () => {
    const codec = new FrameCodec();
    fc.assert(
      fc.property(u32, fc.maxSafeNat(), recordsWithTimestamps, (ch, seq, [rs, ts]) => {
        expect(codec.decode(codec.encodeData(ch, seq, rs, ts, 'Op'))).toStrictEqual({ type: FRAME_DATA, ch, seq, records: rs, timestamps: ts });
      }),
      RUNS,
    );
  });

  it('every frame type, decoded by another codec instance (another process)', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        expect(new FrameCodec().decode(encode(new FrameCodec(), f))).toStrictEqual(f);
      }),
      RUNS,
    );
  });

  it('frames from several producers decode independently, in any interleaving, with one consumer codec', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), frameArb), { maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        (sends, order) => {
          const producers = [new FrameCodec(), new FrameCodec(), new FrameCodec()];
          const wire = sends.map(([p, f]) => ({ f, bytes: encode(producers[p]!, f) }));
          // deliver in a shuffled order: structures must not depend on earlier frames
          const shuffled = wire.map((w, i) => ({ w, r: order[i] ?? 0 })).sort((a, b) => a.r - b.r).map((x) => x.w);
          const consumer = new FrameCodec();
          for (const { f, bytes } of shuffled) expect(consumer.decode(bytes)).toStrictEqual(f);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('hundreds of distinct record shapes in one frame and across frames', () => {
    const shapes = Array.from({ length: 300 }, (_, i) => ({ [`field${i}`]: i, shared: `s${i % 7}` }));
    const a = new FrameCodec();
    const b = new FrameCodec();
    expect(b.decode(a.encodeData(0, 0, shapes, null, 'Op'))).toMatchObject({ records: shapes });
    for (let i = 0; i < shapes.length; i += 50) {
      const slice = shapes.slice(i, i + 50);
      expect(b.decode(a.encodeData(0, i, slice, null, 'Op'))).toMatchObject({ records: slice });
    }
  });

  it('undefined survives as a record, an object field, an array element and a Map value', () => {
    const c = new FrameCodec();
    const rs = [undefined, { a: undefined, b: 1 }, [undefined, 2], new Map([['k', undefined]])];
    const back = c.decode(c.encodeData(0, 0, rs, null, 'Op')) as { records: unknown[] };
    expect(back.records).toStrictEqual(rs);
    expect(Object.keys(back.records[1] as object)).toEqual(['a', 'b']);
  });

  it('documented: -0 comes back as 0', () => {
    const c = new FrameCodec();
    const back = c.decode(c.encodeData(0, 0, [-0, { x: -0 }], [-0, -0], 'Op')) as unknown as { records: [number, { x: number }]; timestamps: number[] };
    expect(Object.is(back.records[0], 0)).toBe(true);
    expect(Object.is(back.records[1].x, 0)).toBe(true);
    expect(Object.is(back.timestamps[0], 0)).toBe(true);
  });

  it('documented: a lone surrogate in a string comes back as U+FFFD', () => {
    const c = new FrameCodec();
    expect(c.decode(c.encodeData(0, 0, ['a\ud800b'], null, 'Op'))).toMatchObject({ records: ['a\ufffdb'] });
  });

  it('documented: bigints beyond 64 bits round-trip too', () => {
    const c = new FrameCodec();
    const big = [2n ** 64n, -(2n ** 70n), 123456789012345678901234567890n];
    expect((c.decode(c.encodeData(0, 0, big, null, 'Big')) as { records: unknown[] }).records).toEqual(big);
  });

  it('documented: a Uint8Array comes back as a Uint8Array (a Buffer) with the same bytes', () => {
    const c = new FrameCodec();
    const back = (c.decode(c.encodeData(0, 0, [new Uint8Array([1, 2, 255])], null, 'Op')) as { records: unknown[] }).records[0];
    expect(back).toBeInstanceOf(Uint8Array);
    expect([...(back as Uint8Array)]).toEqual([1, 2, 255]);
  });

  it('a Set comes back as a Set', () => {
    const c = new FrameCodec();
    expect(c.decode(c.encodeData(0, 0, [new Set([1, 2])], null, 'Op'))).toEqual({
      type: FRAME_DATA,
      ch: 0,
      seq: 0,
      records: [new Set([1, 2])],
      timestamps: null,
    });
  });

  it('encodeValue / decodeValue round-trip plain data', () => {
    const a = new FrameCodec();
    const b = new FrameCodec();
    fc.assert(
      fc.property(plainValue, (v) => {
        expect(b.decodeValue(a.encodeValue(v))).toStrictEqual(v);
      }),
      RUNS,
    );
  });
});

describe('records that are not data', () => {
  const poison = fc.oneof(
    fc.func(fc.integer()),
    fc.constant(() => 1),
    fc.constant(class Foo {}),
    text.map((s) => Symbol(s)),
    fc.constant(Symbol.iterator),
  );
  /** A function or symbol hidden at any depth inside objects, arrays and Map values. */
  const poisoned = fc.tuple(poison, fc.array(fc.tuple(fc.constantFrom('object', 'array', 'map'), fieldName), { maxLength: 4 })).map(([bad, path]) => {
    let v: unknown = bad;
    for (const [kind, name] of path) v = kind === 'object' ? { [name]: v, ok: 1 } : kind === 'array' ? [1, v] : new Map<unknown, unknown>([[name, v]]);
    return v;
  });
  const opName = fc.oneof(fc.constantFrom('Map', 'Flat Map', 'Enrich users'), fc.string({ minLength: 1, maxLength: 12 }));

  it('a function or symbol anywhere in any record fails with EDDY_UNSERIALIZABLE_RECORD naming the operator', () => {
    const codec = new FrameCodec();
    fc.assert(
      fc.property(mixed, poisoned, fc.nat(), opName, fc.boolean(), (good, bad, at, op, withTs) => {
        const rs = [...good];
        rs.splice(at % (rs.length + 1), 0, bad);
        const e = errorOf(() => codec.encodeData(0, 0, rs, withTs ? rs.map(() => 1) : null, op));
        expect(isEddyError(e, 'EDDY_UNSERIALIZABLE_RECORD')).toBe(true);
        expect((e as { operator: string }).operator).toBe(op);
        expect((e as Error).message).toContain(`operator "${op}"`);
        // the codec is still usable afterwards
        expect(codec.decode(codec.encodeData(1, 2, good, null, op))).toEqual({ type: FRAME_DATA, ch: 1, seq: 2, records: good, timestamps: null });
      }),
      RUNS,
    );
  });

  it('encodeValue names its operator too (default "control")', () => {
    const c = new FrameCodec();
    expect((errorOf(() => c.encodeValue({ f: () => 0 }, 'Job master')) as { operator: string }).operator).toBe('Job master');
    expect((errorOf(() => c.encodeValue([Symbol('x')])) as { operator: string }).operator).toBe('control');
  });
});

describe('bytes that are not frames', () => {
  const FRAME_TYPES = new Set([FRAME_DATA, FRAME_WATERMARK, FRAME_BARRIER, FRAME_END_OF_INPUT]);
  /** Garbage either fails with EDDY_DECODE or happens to be a frame; never any other error. */
  function decodeGarbage(codec: FrameCodec, bytes: Uint8Array): Frame | 'EDDY_DECODE' {
    try {
      const f = codec.decode(bytes);
      expect(FRAME_TYPES.has(f.type)).toBe(true);
      expect(typeof f.ch === 'number' && typeof f.seq === 'number').toBe(true);
      return f;
    } catch (e) {
      expect(isEddyError(e, 'EDDY_DECODE'), String(e)).toBe(true);
      return 'EDDY_DECODE';
    }
  }

  it('random bytes fail with EDDY_DECODE (or, by chance, decode to a frame) and never throw anything else', () => {
    const codec = new FrameCodec();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodeGarbage(codec, bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('empty input, a reserved msgpack byte, and non-array values fail with EDDY_DECODE', () => {
    const codec = new FrameCodec();
    expect(decodeGarbage(codec, new Uint8Array())).toBe('EDDY_DECODE');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), (tail) => {
        expect(decodeGarbage(codec, Uint8Array.of(0xc1, ...tail))).toBe('EDDY_DECODE');
      }),
      RUNS,
    );
    fc.assert(
      fc.property(plainValue, (v) => {
        fc.pre(!Array.isArray(v));
        expect(decodeGarbage(codec, codec.encodeValue(v))).toBe('EDDY_DECODE');
      }),
      RUNS,
    );
    expect(decodeGarbage(codec, codec.encodeValue([9, 0, 0]))).toBe('EDDY_DECODE'); // unknown frame type
    expect(decodeGarbage(codec, codec.encodeValue([FRAME_DATA, 'ch', 0, [], null]))).toBe('EDDY_DECODE');
  });

  it('every truncation of a valid frame fails with EDDY_DECODE', () => {
    const producer = new FrameCodec();
    const consumer = new FrameCodec();
    fc.assert(
      fc.property(frameArb, fc.nat(), (f, n) => {
        const bytes = encode(producer, f);
        const cut = n % bytes.length;
        expect(decodeGarbage(consumer, bytes.subarray(0, cut))).toBe('EDDY_DECODE');
      }),
      RUNS,
    );
  });

  it('garbage does not disturb the decoder: valid frames after it still decode', () => {
    const consumer = new FrameCodec();
    fc.assert(
      fc.property(fc.array(fc.oneof(frameArb, fc.uint8Array({ maxLength: 48 })), { maxLength: 10 }), (items) => {
        const producer = new FrameCodec();
        for (const it of items) {
          if (it instanceof Uint8Array) decodeGarbage(consumer, it);
          else expect(consumer.decode(encode(producer, it))).toStrictEqual(it);
        }
      }),
      RUNS,
    );
  });

  it('a frame whose fields have the wrong types fails with EDDY_DECODE', () => {
    const codec = new FrameCodec();
    expect(decodeGarbage(codec, codec.encodeValue([FRAME_WATERMARK, 0, 0, 'late']))).toBe('EDDY_DECODE');
    expect(decodeGarbage(codec, codec.encodeValue([FRAME_DATA, 0, 0, 'abc', 7]))).toBe('EDDY_DECODE');
  });
});
