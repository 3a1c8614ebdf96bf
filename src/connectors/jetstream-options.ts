// The JetStream connectors' options and shared helpers: subject filters, payload formats, stream info, source option checks.
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import type { StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import { decoderFor } from './record-format.ts';

/** Payload formats of the JetStream connectors: the record-format ones plus UTF-8 text. */
export type JetStreamFormat = 'json' | 'msgpack' | 'string' | 'raw';

export interface JetStreamSourceOptions {
  /** The stream to read; it must exist before the job starts. */
  stream: string;
  /**
   * Filter subjects, one split each (wildcards allowed, they must not overlap). Default: the
   * stream's own subjects, read from the stream when the reader is created.
   */
  subjects?: string[];
  /** Payload format (default 'json'); 'string' is UTF-8 text, 'raw' hands the bytes through. */
  format?: JetStreamFormat;
  /**
   * Read up to the stream's last sequence at the first start, then end. The end sequence is kept
   * in each split's state, so a restored job reads to the same end.
   */
  bounded?: boolean;
  /** The first stream sequence to read on a fresh start (default: the start of the stream). */
  startSeq?: number;
  /** 'jetstream': a record's timestamp is the message's JetStream timestamp in ms; 'none' (default): no timestamp. */
  timestamp?: 'none' | 'jetstream';
  /** Messages a reader buffers before it stops pulling (default 4096); memory stays bounded by this plus one pull batch per split. */
  maxBuffered?: number;
}

const KNOWN_OPTIONS = new Set(['stream', 'subjects', 'format', 'bounded', 'startSeq', 'timestamp', 'maxBuffered']);
/** Stream names may not hold whitespace, `.`, wildcards or path separators (nats-server's rule). */
const STREAM_NAME = /^[^\s.*>/\\]+$/;
const textDecoder = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();

/** True when `s` is a subject or subject filter: non-empty tokens, `*` tokens anywhere, `>` only as the last token. */
export function isSubjectFilter(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || /\s/.test(s)) return false;
  const tokens = s.split('.');
  return tokens.every((t, i) => t.length > 0 && (t === '*' || t === '>' ? t !== '>' || i === tokens.length - 1 : !/[*>]/.test(t)));
}

/** Whether some subject matches both filters (e.g. `a.*` and `a.b`, or `a.>` and `*.c`). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < x.length && i < y.length; i++) {
    if (x[i] === '>' || y[i] === '>') return true;
    if (x[i] !== '*' && y[i] !== '*' && x[i] !== y[i]) return false;
  }
  return x.length === y.length;
}

/** A decoder for a JetStream payload format; throws on a payload that is not of that format. */
export function jetStreamDecoder(format: unknown, where: string): (bytes: Uint8Array) => unknown {
  if (format === 'string') return (b) => textDecoder.decode(b);
  if (format === 'json' || format === 'msgpack' || format === 'raw') return decoderFor(format, where);
  throw new EddyError('EDDY_INVALID_ARGUMENT', `${where}: format must be 'json', 'msgpack', 'string' or 'raw', got ${JSON.stringify(format)}`);
}

/** UTF-8 encoding for the 'string' format: only strings, so a record never turns into "[object Object]". */
export function encodeString(v: unknown, where: string): Uint8Array {
  if (typeof v !== 'string') throw new EddyError('EDDY_UNSERIALIZABLE_RECORD', `${where}: format 'string' takes strings, got ${typeof v}`, { operator: where });
  return textEncoder.encode(v);
}

/** Whether `e` is JetStream's "stream not found". */
export function isStreamNotFound(e: unknown): boolean {
  // The client reports a missing stream as an API error with its code, or (from some calls) by message only.
  return (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) || (e instanceof Error && e.message === 'stream not found');
}

/**
 * The stream's info, with the errors a user can act on: no NATS connection, JetStream not enabled,
 * no such stream (and how to create it).
 *
 * @example
 * ```ts
 * const info = await jetStreamInfo(nc, 'ORDERS', 'JetStream Source ORDERS');
 * info.state.last_seq; // the last sequence stored
 * ```
 */
export async function jetStreamInfo(nc: NatsConnection | undefined, stream: string, where: string): Promise<StreamInfo> {
  if (nc === undefined) throw new EddyError('EDDY_CONFIG', `${where} needs a NATS connection (it cannot run in the operator harness)`);
  let jsm;
  try {
    jsm = await jetstreamManager(nc);
  } catch (e) {
    throw new EddyError('EDDY_CONFIG', `${where}: JetStream is not available on the NATS server (start nats-server with -js): ${String((e as Error)?.message ?? e)}`, { cause: e });
  }
  try {
    return await jsm.streams.info(stream);
  } catch (e) {
    if (isStreamNotFound(e))
      throw new EddyError(
        'EDDY_CONFIG',
        `${where}: JetStream stream "${stream}" does not exist; create it before the job starts, e.g. \`nats stream add ${stream} --subjects '<subject>.>'\` or \`(await jetstreamManager(nc)).streams.add({ name: '${stream}', subjects: ['<subject>.>'] })\``,
        { cause: e },
      );
    throw new EddyError('EDDY_CONFIG', `${where}: cannot read JetStream stream "${stream}": ${(e as Error)?.message ?? e}`, { cause: e });
  }
}

/** Checks the options once, where the job is built, so a mistake fails before anything runs. */
export function validateSourceOptions(opts: JetStreamSourceOptions): void {
  const bad = (why: string): never => {
    throw new EddyError('EDDY_INVALID_ARGUMENT', `jetStreamSource: ${why}`);
  };
  if (opts === null || typeof opts !== 'object') bad('needs { stream: string, ... }');
  for (const k of Object.keys(opts)) if (!KNOWN_OPTIONS.has(k)) bad(`unknown option "${k}" (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  if (typeof opts.stream !== 'string' || !STREAM_NAME.test(opts.stream)) bad(`stream must be a stream name (no spaces, '.', '*', '>', '/'), got ${JSON.stringify(opts.stream)}`);
  if (opts.subjects !== undefined) {
    if (!Array.isArray(opts.subjects) || opts.subjects.length === 0) bad('subjects must be a non-empty array of subjects');
    for (const s of opts.subjects!) if (!isSubjectFilter(s)) bad(`subject ${JSON.stringify(s)} is not a subject filter`);
    // Overlapping filters would deliver a message on two splits: emitted twice.
    for (let i = 0; i < opts.subjects!.length; i++)
      for (let j = i + 1; j < opts.subjects!.length; j++)
        if (subjectsOverlap(opts.subjects![i]!, opts.subjects![j]!)) bad(`subjects "${opts.subjects![i]}" and "${opts.subjects![j]}" overlap (a message would be read twice)`);
  }
  jetStreamDecoder(opts.format ?? 'json', 'jetStreamSource');
  if (opts.bounded !== undefined && typeof opts.bounded !== 'boolean') bad(`bounded must be a boolean, got ${JSON.stringify(opts.bounded)}`);
  if (opts.startSeq !== undefined && !(Number.isSafeInteger(opts.startSeq) && opts.startSeq >= 1)) bad(`startSeq must be an integer >= 1, got ${String(opts.startSeq)}`);
  if (opts.timestamp !== undefined && opts.timestamp !== 'none' && opts.timestamp !== 'jetstream')
    bad(`timestamp must be 'none' or 'jetstream', got ${JSON.stringify(opts.timestamp)}`);
  if (opts.maxBuffered !== undefined && !(Number.isSafeInteger(opts.maxBuffered) && opts.maxBuffered >= 1))
    bad(`maxBuffered must be an integer >= 1, got ${String(opts.maxBuffered)}`);
}
