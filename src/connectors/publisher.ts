// Publishes records to one NATS subject from code (and `eddy publish`): core NATS with periodic flushes, or JetStream with message ids and bounded acks, optionally rate-limited.
import { jetstream, jetstreamManager, type JetStreamPublishOptions } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { connectNats } from '../transport/connect-nats.ts';
import { isSubjectFilter } from './jetstream-options.ts';

/** Options of {@link publishJson}. */
export interface PublishJsonOptions<T> {
  /**
   * Publish through JetStream and wait for every acknowledgement: `true` (whichever stream captures the
   * subject) or a stream name (that stream must capture it, checked before the first record and by every
   * publish). Default: core NATS, at-most-once; nobody acknowledges, and a subject nobody listens on drops.
   */
  stream?: boolean | string;
  /**
   * The JetStream message id of a record (`Nats-Msg-Id`): the stream stores one message per id within its
   * duplicate window (default 2 minutes), so a re-run with the same ids stores nothing twice. Without it,
   * JetStream records carry no id and a re-run stores them again. Ignored for core NATS.
   */
  idOf?: (record: T, index: number) => string;
  /** The payload of a record (default `JSON.stringify`); a string is sent as UTF-8. */
  encode?: (record: T) => string | Uint8Array;
  /** At most this many records per second (default: as fast as NATS takes them). */
  ratePerSecond?: number;
  /** JetStream publishes awaiting their ack at once (default 256). */
  maxInFlight?: number;
  /** Paces the rate limit (default: the system clock); tests pass a ManualClock. */
  clock?: Clock;
  /** How a record is named in error messages (default `record <index>`), e.g. `line 7 of data.jsonl`. */
  describe?: (record: T, index: number) => string;
  /** Called with the running count as records are published (core NATS) or acknowledged (JetStream). */
  onPublished?: (count: number) => void;
  /** When `target` is a URL: how long to wait for the server (default 5 000 ms). */
  connectTimeoutMs?: number;
}

/** What {@link publishJson} did. */
export interface PublishJsonResult {
  /** Records handed to core NATS and flushed, or acknowledged by JetStream. */
  published: number;
  /** JetStream acks that reported a duplicate id: records the stream already held and did not store again. */
  duplicates: number;
  /** The JetStream stream that stored the records (undefined for core NATS). */
  stream: string | undefined;
}

/** Core NATS: flush after this many messages or bytes, so a large input never piles up in the client's buffer. */
const FLUSH_EVERY_MESSAGES = 1_000;
const FLUSH_EVERY_BYTES = 1 << 20;
const DEFAULT_MAX_IN_FLIGHT = 256;
/** The rate limit never catches up on more than this much lost time in one burst. */
const MAX_CATCH_UP_MS = 1_000;
const encoder = new TextEncoder();

/** Sends one record; resolves when the caller may send the next (flow control), rejects with the first failure. */
interface Sender<T> {
  send(payload: Uint8Array, record: T, index: number): Promise<void> | void;
  /** Waits for everything sent (a flush, or every pending ack); rejects with the first failure. */
  finish(): Promise<void>;
  /** Waits for what is in flight, ignoring failures: used when the input fails, before that error is thrown. */
  settle(): Promise<void>;
  readonly published: number;
  readonly duplicates: number;
  readonly stream: string | undefined;
}

/**
 * Spaces records `1000 / rate` ms apart on the clock: record i is due `i * interval` after the first.
 * A publisher held up longer than MAX_CATCH_UP_MS (a slow ack, a paused process) moves its schedule
 * instead of sending the whole backlog at once.
 */
class Pacer {
  private start: number | undefined;
  private readonly intervalMs: number;
  constructor(
    private readonly clock: Clock,
    ratePerSecond: number,
  ) {
    this.intervalMs = 1000 / ratePerSecond;
  }
  async wait(index: number): Promise<void> {
    const now = this.clock.monotonic();
    this.start ??= now;
    let due = this.start + index * this.intervalMs;
    if (now - due > MAX_CATCH_UP_MS) {
      this.start = now - MAX_CATCH_UP_MS - index * this.intervalMs;
      due = now - MAX_CATCH_UP_MS;
    }
    if (due > now) await this.clock.sleep(due - now);
  }
}

function checkOptions<T>(subject: string, o: PublishJsonOptions<T>): void {
  const bad = (why: string): never => {
    throw new EddyError('EDDY_INVALID_ARGUMENT', `publishJson: ${why}`);
  };
  if (!isSubjectFilter(subject) || /[*>]/.test(subject)) bad(`subject ${JSON.stringify(subject)} must be a subject without spaces or wildcards, e.g. "orders.new"`);
  if (o.stream !== undefined && typeof o.stream !== 'boolean' && !(typeof o.stream === 'string' && /^[^\s.*>/\\]+$/.test(o.stream)))
    bad(`stream must be true or a stream name (no spaces, '.', '*', '>', '/'), got ${JSON.stringify(o.stream)}`);
  if (o.ratePerSecond !== undefined && !(typeof o.ratePerSecond === 'number' && o.ratePerSecond > 0 && Number.isFinite(o.ratePerSecond)))
    bad(`ratePerSecond must be a positive number, got ${String(o.ratePerSecond)}`);
  if (o.maxInFlight !== undefined && !(Number.isSafeInteger(o.maxInFlight) && o.maxInFlight >= 1)) bad(`maxInFlight must be an integer >= 1, got ${String(o.maxInFlight)}`);
  for (const f of ['idOf', 'encode', 'describe', 'onPublished'] as const)
    if (o[f] !== undefined && typeof o[f] !== 'function') bad(`${f} must be a function, got ${typeof o[f]}`);
}

function coreSender<T>(nc: NatsConnection, subject: string, onPublished: ((n: number) => void) | undefined): Sender<T> {
  let published = 0;
  let unflushed = 0;
  let unflushedBytes = 0;
  return {
    async send(payload) {
      nc.publish(subject, payload);
      published++;
      unflushed++;
      unflushedBytes += payload.length;
      onPublished?.(published);
      // A flush is a round trip: the server has everything before it, and the client buffer is empty.
      if (unflushed >= FLUSH_EVERY_MESSAGES || unflushedBytes >= FLUSH_EVERY_BYTES) {
        unflushed = 0;
        unflushedBytes = 0;
        await nc.flush();
      }
    },
    finish: () => nc.flush(),
    settle: () => nc.flush().catch(() => undefined),
    get published() {
      return published;
    },
    duplicates: 0,
    stream: undefined,
  };
}

/** The stream that captures `subject`, with errors that say what to do. */
async function capturingStream(nc: NatsConnection, subject: string, expected: string | undefined): Promise<string> {
  let jsm;
  try {
    jsm = await jetstreamManager(nc);
  } catch (e) {
    throw new EddyError('EDDY_CONFIG', `publishJson: JetStream is not enabled on the NATS server at ${nc.getServer()} (start nats-server with -js), or publish to core NATS (publishJson without the stream option, eddy publish without --stream): ${(e as Error)?.message ?? e}`, { cause: e });
  }
  let name: string;
  try {
    name = await jsm.streams.find(subject);
  } catch (e) {
    throw new EddyError(
      'EDDY_CONFIG',
      `publishJson: no JetStream stream captures subject "${subject}" on ${nc.getServer()}; create one first, e.g. \`nats stream add ${expected ?? 'NAME'} --subjects '${subject}'\`, or publish to core NATS (publishJson without the stream option, eddy publish without --stream)`,
      { cause: e },
    );
  }
  if (expected !== undefined && name !== expected)
    throw new EddyError('EDDY_CONFIG', `publishJson: subject "${subject}" is captured by stream "${name}", not "${expected}"; pass stream: true to accept any stream, or publish to a subject of "${expected}"`);
  return name;
}

async function jetStreamSender<T>(nc: NatsConnection, subject: string, o: PublishJsonOptions<T>, describe: (record: T, index: number) => string): Promise<Sender<T>> {
  const expected = typeof o.stream === 'string' ? o.stream : undefined;
  const stream = await capturingStream(nc, subject, expected);
  const js = jetstream(nc);
  const maxInFlight = o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  // Acks settle in any order; each entry is already caught (failures land in `failure`), so awaiting the oldest never throws.
  const inFlight: Promise<void>[] = [];
  let failure: EddyError | undefined;
  let published = 0;
  let duplicates = 0;
  const fail = (e: unknown, record: T, index: number): void => {
    const msg = String((e as Error)?.message ?? e);
    failure ??= new EddyError(
      'EDDY_PUBLISH_FAILED',
      `publishJson: ${describe(record, index)} was not stored by JetStream stream "${stream}" (subject "${subject}"): ${msg}. ` +
        (o.idOf === undefined ? 'Records before it may be stored.' : 'Publishing again with the same ids stores only what is missing.'),
      { cause: e },
    );
  };
  return {
    async send(payload, record, index) {
      if (failure !== undefined) throw failure;
      let id: string | undefined;
      if (o.idOf !== undefined) {
        id = o.idOf(record, index);
        if (typeof id !== 'string' || id === '')
          throw new EddyError('EDDY_INVALID_ARGUMENT', `publishJson: idOf returned ${JSON.stringify(id)} for ${describe(record, index)}; message ids must be non-empty strings`);
      }
      const po: Partial<JetStreamPublishOptions> = {};
      if (id !== undefined) po.msgID = id;
      if (expected !== undefined) po.expect = { streamName: expected };
      inFlight.push(
        js.publish(subject, payload, po).then(
          (ack) => {
            published++;
            if (ack.duplicate) duplicates++;
            o.onPublished?.(published);
          },
          (e: unknown) => fail(e, record, index),
        ),
      );
      if (inFlight.length >= maxInFlight) await inFlight.shift();
      if (failure !== undefined) throw failure;
    },
    async finish() {
      await Promise.all(inFlight.splice(0));
      if (failure !== undefined) throw failure;
    },
    async settle() {
      await Promise.all(inFlight.splice(0));
    },
    get published() {
      return published;
    },
    get duplicates() {
      return duplicates;
    },
    stream,
  };
}

/**
 * Publishes `records` to `subject`, one message each (JSON by default), in order, and resolves when
 * they are all on the server: core NATS ends with a flush (at-most-once: a subject nobody subscribes
 * to drops them); with `stream`, each is published to JetStream and its ack awaited (up to
 * `maxInFlight` at once), and `idOf` gives message ids the stream deduplicates within its duplicate
 * window. `records` may be async (lines read from a file); an error it throws is rethrown after what
 * was already sent is flushed or acknowledged. `target` is a connection (left open) or a NATS URL,
 * credentials included (connected and drained here). `eddy publish` is built on this.
 *
 * @throws EddyError `EDDY_INVALID_ARGUMENT` for bad arguments; `EDDY_CONFIG` when JetStream is off or
 *   no stream captures the subject; `EDDY_RECORD_TOO_LARGE` for a record above the server's
 *   max_payload; `EDDY_PUBLISH_FAILED` when JetStream did not acknowledge a record; the
 *   `connectNats` errors for a URL nobody answers at.
 * @example
 * ```ts
 * const { published, duplicates } = await publishJson(process.env.NATS_URL!, 'orders.new', orders, {
 *   stream: true,                  // the stream capturing orders.new stores them
 *   idOf: (o) => `order-${o.id}`,  // a re-run stores nothing twice
 *   ratePerSecond: 500,
 * });
 * ```
 */
export async function publishJson<T>(
  target: NatsConnection | string,
  subject: string,
  records: Iterable<T> | AsyncIterable<T>,
  options: PublishJsonOptions<T> = {},
): Promise<PublishJsonResult> {
  checkOptions(subject, options);
  const clock = options.clock ?? systemClock;
  const describe = options.describe ?? ((_r: T, i: number) => `record ${i}`);
  const encode = options.encode ?? ((r: T) => JSON.stringify(r));
  const own = typeof target === 'string';
  const nc = own ? await connectNats(target, { name: 'eddy-publish', timeoutMs: options.connectTimeoutMs, clock }) : target;
  try {
    const useJetStream = options.stream !== undefined && options.stream !== false;
    const sender = useJetStream ? await jetStreamSender(nc, subject, options, describe) : coreSender<T>(nc, subject, options.onPublished);
    const pacer = options.ratePerSecond === undefined ? undefined : new Pacer(clock, options.ratePerSecond);
    const maxPayload = nc.info?.max_payload ?? Infinity;
    let index = 0;
    try {
      for await (const record of records) {
        const encoded = encode(record);
        const payload = typeof encoded === 'string' ? encoder.encode(encoded) : encoded;
        if (!(payload instanceof Uint8Array))
          throw new EddyError('EDDY_INVALID_ARGUMENT', `publishJson: encode must return a string or a Uint8Array, got ${typeof encoded} for ${describe(record, index)}`);
        if (payload.length > maxPayload)
          throw new EddyError('EDDY_RECORD_TOO_LARGE', `publishJson: ${describe(record, index)} is ${payload.length} bytes, more than the server's max_payload of ${maxPayload} bytes; split it, or raise max_payload in the server's config`);
        if (pacer !== undefined) await pacer.wait(index);
        await sender.send(payload, record, index);
        index++;
      }
    } catch (e) {
      // What was sent before the failure still reaches the server (and its acks are counted) before the error surfaces.
      await sender.settle();
      throw e;
    }
    await sender.finish();
    return { published: sender.published, duplicates: sender.duplicates, stream: sender.stream };
  } finally {
    if (own) await nc.drain().catch(() => nc.close());
  }
}
