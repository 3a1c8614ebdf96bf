// How the LevelDB backend lays out keys and encodes values: `<key group><state>\0<key>` keys, msgpack values.
import { Packr } from 'msgpackr';
import type { NormalizedKey } from './key-group.ts';

/** Prefix of the entries that record each declared state's kind. */
export const KIND_PREFIX = Buffer.from([0xff, 0xff, 0x6b]);
// Records (structures embedded per value) keep plain objects and Maps apart: with useRecords: false a
// Map nested in a value (e.g. a window's namespace -> contents map) would decode as a plain object.
export const packr = new Packr({ moreTypes: true, structuredClone: false });

/** A normalized key as bytes: type tag, then the string (UTF-8), the number (float64 BE) or the bigint (decimal). */
export function encodeKey(k: NormalizedKey): Buffer {
  if (typeof k === 'string') {
    const b = Buffer.allocUnsafe(1 + Buffer.byteLength(k));
    b[0] = 0x73;
    b.write(k, 1);
    return b;
  }
  if (typeof k === 'number') {
    const b = Buffer.allocUnsafe(9);
    b[0] = 0x6e;
    b.writeDoubleBE(k === 0 ? 0 : k, 1); // -0 and 0 are one key, as in a JS Map
    return b;
  }
  return Buffer.from('b' + k.toString());
}

/** The key encoded at `at` of `b` (see encodeKey). */
export function decodeKey(b: Buffer, at: number): NormalizedKey {
  switch (b[at]) {
    case 0x73:
      return b.toString('utf8', at + 1);
    case 0x6e:
      return b.readDoubleBE(at + 1);
    default:
      return BigInt(b.toString('latin1', at + 1));
  }
}

