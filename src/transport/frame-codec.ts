// Frames on a channel (msgpackr): data batches, watermarks, barriers and end of input, each with a sequence number.
import { Packr, Unpackr } from 'msgpackr';
import { EddyError, errorText, previewValue } from '../errors.ts';

export const FRAME_DATA = 0;
export const FRAME_WATERMARK = 1;
export const FRAME_BARRIER = 2;
export const FRAME_END_OF_INPUT = 3;
export const FRAME_STATUS = 4;

/** A decoded frame. `ch` is the channel index at the receiving subtask; `seq` counts frames per channel from 0. */
export type Frame =
  | { type: typeof FRAME_DATA; ch: number; seq: number; records: unknown[]; timestamps: number[] | null }
  | { type: typeof FRAME_WATERMARK; ch: number; seq: number; watermark: number }
  | { type: typeof FRAME_BARRIER; ch: number; seq: number; checkpointId: number; kind: string }
  | { type: typeof FRAME_END_OF_INPUT; ch: number; seq: number }
  | { type: typeof FRAME_STATUS; ch: number; seq: number; idle: boolean };

function rejectFunction(): never {
  throw new EddyError('EDDY_UNSERIALIZABLE_RECORD', 'a function cannot be serialized');
}

/**
 * Encodes and decodes frames. Records use msgpackr's record structures (each frame carries its own,
 * so frames from many producers decode independently). Functions and symbols are rejected, not dropped.
 */
export class FrameCodec {
  // moreTypes: Sets, typed arrays, Errors and RegExps keep their type instead of becoming arrays or objects.
  private readonly packr = new Packr({ useRecords: true, moreTypes: true, writeFunction: rejectFunction } as ConstructorParameters<typeof Packr>[0]);
  private readonly unpackr = new Unpackr({ useRecords: true, moreTypes: true });

  /** Encodes a data frame; throws `EDDY_UNSERIALIZABLE_RECORD` naming `operator` when a record cannot be encoded. */
  encodeData(ch: number, seq: number, records: unknown[], timestamps: number[] | null, operator: string): Uint8Array {
    try {
      return this.packr.pack([FRAME_DATA, ch, seq, records, timestamps]);
    } catch (e) {
      throw unserializable(records, operator, e);
    }
  }
  encodeWatermark(ch: number, seq: number, watermark: number): Uint8Array {
    return this.packr.pack([FRAME_WATERMARK, ch, seq, watermark]);
  }
  encodeBarrier(ch: number, seq: number, checkpointId: number, kind: string): Uint8Array {
    return this.packr.pack([FRAME_BARRIER, ch, seq, checkpointId, kind]);
  }
  /** Watermark status: the channel went idle (excluded from the watermark minimum) or active again. */
  encodeStatus(ch: number, seq: number, idle: boolean): Uint8Array {
    return this.packr.pack([FRAME_STATUS, ch, seq, idle]);
  }
  encodeEndOfInput(ch: number, seq: number): Uint8Array {
    return this.packr.pack([FRAME_END_OF_INPUT, ch, seq]);
  }
  /** Any value (control messages, results); throws `EDDY_UNSERIALIZABLE_RECORD` naming `operator`. */
  encodeValue(value: unknown, operator = 'control'): Uint8Array {
    try {
      return this.packr.pack(value);
    } catch (e) {
      throw unserializable([value], operator, e);
    }
  }
  decodeValue(bytes: Uint8Array): unknown {
    return this.unpackr.unpack(bytes);
  }

  /** Decodes a frame; throws `EDDY_DECODE` for bytes that are not one. */
  decode(bytes: Uint8Array): Frame {
    let a: unknown[];
    try {
      a = this.unpackr.unpack(bytes) as unknown[];
    } catch (e) {
      throw new EddyError('EDDY_DECODE', `a frame of ${bytes.length} bytes could not be decoded: ${(e as Error).message}`, { cause: e });
    }
    if (!Array.isArray(a) || typeof a[1] !== 'number' || typeof a[2] !== 'number')
      throw new EddyError('EDDY_DECODE', `a message of ${bytes.length} bytes is not an eddy frame`);
    const bad = (what: string): EddyError => new EddyError('EDDY_DECODE', `a frame of type ${String(a[0])} has ${what}`);
    switch (a[0]) {
      case FRAME_DATA: {
        const records = a[3];
        const timestamps = a[4] ?? null;
        if (!Array.isArray(records)) throw bad('records that are not an array');
        if (timestamps !== null && (!Array.isArray(timestamps) || timestamps.length !== records.length))
          throw bad('timestamps that do not match its records');
        return { type: FRAME_DATA, ch: a[1], seq: a[2], records, timestamps: timestamps as number[] | null };
      }
      case FRAME_WATERMARK:
        if (typeof a[3] !== 'number') throw bad('a watermark that is not a number');
        return { type: FRAME_WATERMARK, ch: a[1], seq: a[2], watermark: a[3] };
      case FRAME_BARRIER:
        if (typeof a[3] !== 'number' || typeof a[4] !== 'string') throw bad('a malformed checkpoint id or kind');
        return { type: FRAME_BARRIER, ch: a[1], seq: a[2], checkpointId: a[3], kind: a[4] };
      case FRAME_END_OF_INPUT:
        return { type: FRAME_END_OF_INPUT, ch: a[1], seq: a[2] };
      case FRAME_STATUS:
        if (typeof a[3] !== 'boolean') throw bad('a status that is not a boolean');
        return { type: FRAME_STATUS, ch: a[1], seq: a[2], idle: a[3] };
    }
    throw new EddyError('EDDY_DECODE', `unknown frame type ${String(a[0])}`);
  }
}

function unserializable(records: unknown[], operator: string, cause: unknown): EddyError {
  const bad = records.find((r) => {
    try {
      new Packr({ moreTypes: true, writeFunction: rejectFunction } as ConstructorParameters<typeof Packr>[0]).pack(r);
      return false;
    } catch {
      return true;
    }
  });
  return new EddyError(
    'EDDY_UNSERIALIZABLE_RECORD',
    `operator "${operator}" emitted a record that cannot be serialized (${errorText(cause)}): ${previewValue(bad)}. ` +
      'Records that cross the network must be plain data (objects, arrays, strings, numbers, bigints, booleans, null, Dates, Maps, Sets, Uint8Arrays); map functions, symbols and class instances with such fields to plain data first.',
    { operator, cause },
  );
}

