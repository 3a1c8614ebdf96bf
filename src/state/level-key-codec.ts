// How the LevelDB backend lays out keys and encodes values: `<key group><state>\0<key>` keys, msgpack values.
import { Packr } from 'msgpackr';
import type { StateKind } from './descriptors.ts';
import type { NormalizedKey } from './key-group.ts';

/** Prefix of the entries that record each declared state's kind. */
export const KIND_PREFIX = Buffer.from([0xff, 0xff, 0x6b]);
/** Every data key is below this (key groups are < 32768). */
export const DATA_END = Buffer.from([0xff, 0xff]);
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


/** The first possible LevelDB key of a state (`prefix` = `<name>\0`) in key group `group`. */
export function groupStart(group: number, prefix: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + prefix.length);
  out.writeUInt16BE(group, 0);
  prefix.copy(out, 2);
  return out;
}

/** A stored value as bytes. MapState values are stored as an entries array (msgpackr would decode a Map as a plain object). */
export function encodeValue(kind: StateKind, v: unknown): Buffer {
  return packr.pack(kind === 'map' ? [...(v as Map<unknown, unknown>)] : v);
}

/** The stored value of `raw` (see encodeValue). */
export function decodeValue(kind: StateKind, raw: Buffer): unknown {
  const v = packr.unpack(raw);
  return kind === 'map' ? new Map(v as [unknown, unknown][]) : v;
}

/** The persisted kind record of a state: its kind, `+ttl` when its values carry timestamps. */
export function encodeKindRecord(kind: StateKind, ttl: boolean): string {
  return ttl ? `${kind}+ttl` : kind;
}

/** The kind and TTL form of a persisted kind record (see encodeKindRecord). */
export function decodeKindRecord(record: string): { kind: StateKind; ttl: boolean } {
  const ttl = record.endsWith('+ttl');
  return { kind: (ttl ? record.slice(0, -4) : record) as StateKind, ttl };
}
