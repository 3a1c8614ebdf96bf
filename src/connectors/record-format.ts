// Payload formats of the NATS connectors: JSON, msgpack or raw bytes.
import { C1, Packr, Unpackr } from 'msgpackr';
import { EddyError, errorText } from '../errors.ts';

export type RecordFormat = 'json' | 'msgpack' | 'raw';

const textDecoder = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();

function checkFormat(format: unknown, where: string): RecordFormat {
  if (format === 'json' || format === 'msgpack' || format === 'raw') return format;
  throw new EddyError('EDDY_INVALID_ARGUMENT', `${where}: format must be 'json', 'msgpack' or 'raw', got ${JSON.stringify(format)}`);
}

/** A decoder for a format; throws on a payload that is not of that format. */
export function decoderFor(format: unknown, where: string): (bytes: Uint8Array) => unknown {
  switch (checkFormat(format, where)) {
    case 'json':
      return (b) => JSON.parse(textDecoder.decode(b));
    case 'msgpack': {
      const u = new Unpackr({ useRecords: true, mapsAsObjects: true });
      return (b) => {
        const v = u.unpack(b);
        // msgpackr decodes the never-used byte 0xc1 to a marker instead of throwing.
        if (v === C1) throw new EddyError('EDDY_DECODE', 'the byte 0xc1 is not a MessagePack value; the message was not written as msgpack, so set the format that matches the publisher');
        return v;
      };
    }
    case 'raw':
      return (b) => b;
  }
}

/** An encoder for a format; throws `EDDY_UNSERIALIZABLE_RECORD` naming `operator` for a value it cannot write. */
export function encoderFor(format: unknown, where: string): (value: unknown) => Uint8Array {
  const fail = (v: unknown, why: string): never => {
    throw new EddyError('EDDY_UNSERIALIZABLE_RECORD', `${where}: cannot write ${typeof v} as ${format}: ${why}`, { operator: where });
  };
  switch (checkFormat(format, where)) {
    case 'json':
      return (v) => {
        let s: string | undefined;
        try {
          s = JSON.stringify(v);
        } catch (e) {
          fail(v, errorText(e));
        }
        if (s === undefined) fail(v, 'JSON has no representation for it');
        return textEncoder.encode(s);
      };
    case 'msgpack': {
      const p = new Packr({
        useRecords: false,
        writeFunction: () => {
          throw new EddyError('EDDY_UNSERIALIZABLE_RECORD', 'a function cannot be serialized; map records to plain data before the sink');
        },
      } as ConstructorParameters<typeof Packr>[0]);
      return (v) => {
        try {
          return p.pack(v);
        } catch (e) {
          return fail(v, errorText(e));
        }
      };
    }
    case 'raw':
      return (v) => (v instanceof Uint8Array ? v : typeof v === 'string' ? textEncoder.encode(v) : fail(v, "format 'raw' takes a Uint8Array or a string"));
  }
}
