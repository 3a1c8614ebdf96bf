// An exactly-once JetStream sink: a checkpoint's records are published when it completes, deduplicated by message id.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamPublishOptions, PubAck } from '@nats-io/jetstream';
import { EddyError } from '../errors.ts';
import type { Sink, SinkWriter } from '../operators/sink-operator.ts';
import { encodeString, isSubjectFilter, jetStreamInfo } from './jetstream-options.ts';
import { encoderFor } from './record-format.ts';
import { twoPhaseCommitWriter, type SinkTransaction } from './two-phase-commit.ts';

export interface JetStreamSinkOptions<T> {
  /** A subject, or a function computing one per record (e.g. `(o) => \`orders.${o.region}\``). */
  subject: string | ((value: T) => string);
  /** Payload format (default 'json'); 'string' writes strings as UTF-8. */
  format?: 'json' | 'msgpack' | 'string';
  /**
   * The stream that must capture the output. When given, the writer checks at creation that it
   * exists and has a duplicate window, and every publish expects this stream (a subject captured
   * by another stream fails instead of landing there).
   */
  stream?: string;
}

/** A record as held in a transaction: encoded when it arrives, so a commit cannot fail on a bad record. */
interface Encoded {
  s: string;
  d: Uint8Array;
}

const KNOWN_OPTIONS = new Set(['subject', 'format', 'stream']);
/** Publishes in flight per commit: enough to pipeline, few enough that a huge transaction does not queue everything at once. */
const IN_FLIGHT = 1024;

function validateSinkOptions<T>(opts: JetStreamSinkOptions<T>): void {
  const bad = (why: string): never => {
    throw new EddyError('EDDY_INVALID_ARGUMENT', `jetStreamSink: ${why}`);
  };
  if (opts === null || typeof opts !== 'object') bad('needs { subject: string | (record) => string, ... }');
  for (const k of Object.keys(opts)) if (!KNOWN_OPTIONS.has(k)) bad(`unknown option "${k}" (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  if (typeof opts.subject === 'string') {
    if (!isSubjectFilter(opts.subject) || /[*>]/.test(opts.subject)) bad(`subject ${JSON.stringify(opts.subject)} must be a subject without spaces or wildcards`);
  } else if (typeof opts.subject !== 'function') bad('subject must be a string or a function (record) => string');
  const f = opts.format ?? 'json';
  if (f !== 'json' && f !== 'msgpack' && f !== 'string') bad(`format must be 'json', 'msgpack' or 'string', got ${JSON.stringify(f)}`);
  if (opts.stream !== undefined && (typeof opts.stream !== 'string' || !/^[^\s.*>/\\]+$/.test(opts.stream)))
    bad(`stream must be a stream name (no spaces, '.', '*', '>', '/'), got ${JSON.stringify(opts.stream)}`);
}

/**
 * Writes records to JetStream through two-phase commit (two-phase-commit.ts):
 * - with checkpointing, the records of checkpoint n are published when n completes, each with
 *   the message id `<sinkUid>/<txn.id>/<i>` (txn.id is `<jobId>-<subtask>-<n>` of the job that
 *   opened the transaction, i the record's index in it); a transaction committed again after a
 *   crash is deduplicated by the server, so each record is stored exactly once — provided the
 *   re-commit happens within the stream's duplicate window (default 2 minutes);
 * - without checkpointing, records are published in batches (every 1000 per subtask and at the
 *   end of input): at-least-once.
 * Records are encoded when they arrive, so an unserializable record or a bad computed subject
 * fails at that record, never in a commit. A publish no stream captures fails the job (`EDDY_CONFIG`).
 *
 * @example
 * ```ts
 * orders.sinkTo(jetStreamSink<Order>({ subject: (o) => `orders.out.${o.region}`, stream: 'ORDERS_OUT' }));
 * ```
 */
export function jetStreamSink<T>(opts: JetStreamSinkOptions<T>): Sink<T> {
  validateSinkOptions(opts);
  const fixed = typeof opts.subject === 'string' ? opts.subject : undefined;
  const compute = typeof opts.subject === 'function' ? opts.subject : undefined;
  const format = opts.format ?? 'json';
  const stream = opts.stream;
  const name = `JetStream Sink ${fixed ?? '(computed subject)'}`;
  return {
    name,
    createWriter: async (ctx): Promise<SinkWriter<T>> => {
      const op = ctx.operator;
      const nc = op.nats;
      if (nc === undefined) throw new EddyError('EDDY_CONFIG', `${name} needs a NATS connection (it cannot run in the operator harness)`, { operator: op.operatorName });
      if (stream !== undefined) {
        const info = await jetStreamInfo(nc, stream, name);
        if (!(info.config.duplicate_window > 0))
          throw new EddyError('EDDY_CONFIG', `${name}: stream "${stream}" has no duplicate window, so a re-committed transaction would be stored twice; set duplicate_window > 0`, {
            operator: op.operatorName,
          });
      }
      const js = jetstream(nc);
      const where = op.operatorName;
      const encode = format === 'string' ? (v: unknown) => encodeString(v, where) : encoderFor(format, where);
      // The transaction id names the job and subtask that opened it (two-phase-commit.ts), so a re-commit by a
      // restarted job, whose own job id may differ, repeats the ids of the first attempt.
      const idPrefix = `${op.uid}/`;
      // Without checkpointing every batch has the same transaction id (`...-direct`): number the records across batches, so batches never share ids.
      let direct = 0;
      // A retried batch keeps its first offset, so the retry repeats the ids of the attempt that failed halfway.
      const offsets = new WeakMap<SinkTransaction<Encoded>, number>();
      const commit = async (txn: SinkTransaction<Encoded>): Promise<void> => {
        const records = txn.records;
        let offset = txn.checkpointId < 0 ? offsets.get(txn) : 0;
        if (offset === undefined) {
          offset = direct;
          offsets.set(txn, offset);
          direct += records.length;
        }
        const base = `${idPrefix}${txn.id}/`;
        // One answer per subject and attempt: a batch of failed publishes asks the server once.
        const captured = new Map<string, Promise<boolean>>();
        for (let from = 0; from < records.length; from += IN_FLIGHT) {
          const to = Math.min(records.length, from + IN_FLIGHT);
          const acks: Promise<PubAck>[] = [];
          for (let i = from; i < to; i++) {
            const r = records[i]!;
            const po: Partial<JetStreamPublishOptions> = stream === undefined ? { msgID: base + (offset + i) } : { msgID: base + (offset + i), expect: { streamName: stream } };
            acks.push(js.publish(r.s, r.d, po).catch((e) => publishError(e, r.s, txn.id, captured)));
          }
          await Promise.all(acks);
        }
      };
      /**
       * Whether a stream captures `subject`. A replicated stream whose leader was lost (a server of a
       * cluster died) answers publishes with "no responders" too until it elected another; unknown
       * (the API times out: the cluster elects its meta leader) counts as captured, so the commit is retried.
       */
      const capturedBy = async (subject: string): Promise<boolean> => {
        try {
          await (await jetstreamManager(nc)).streams.find(subject);
          return true;
        } catch (e) {
          // No stream, or nobody answers the JetStream API at all (JetStream is off).
          return !/no stream matches subject|no responders|503|not enabled/i.test(String((e as Error)?.message ?? e));
        }
      };
      const publishError = async (e: unknown, subject: string, txnId: string, captured: Map<string, Promise<boolean>>): Promise<never> => {
        const msg = String((e as Error)?.message ?? e);
        // The server answers a publish no stream captures with "no responders", which the client reports as "jetstream is not enabled".
        if (/no responders|503|not enabled/i.test(msg)) {
          let known = captured.get(subject);
          if (known === undefined) captured.set(subject, (known = capturedBy(subject)));
          if (!(await known))
          throw new EddyError('EDDY_CONFIG', `${name}: no JetStream stream captures subject "${subject}" (or JetStream is off); create a stream whose subjects include it`, {
            cause: e,
            operator: where,
          });
        }
        // Anything else (a timeout, a lost connection, a stream electing its leader) may pass: not EDDY_CONFIG, so the two-phase writer retries the commit.
        throw new EddyError('EDDY_SINK_COMMIT_FAILED', `${name}: publishing transaction ${txnId} to "${subject}" failed: ${msg}`, { cause: e, operator: where });
      };
      const inner = await twoPhaseCommitWriter<Encoded>({ ctx, commit });
      return {
        invoke(value: T, timestamp: number): void {
          let subject = fixed;
          if (subject === undefined) {
            subject = compute!(value);
            if (!isSubjectFilter(subject) || /[*>]/.test(subject))
              throw new EddyError('EDDY_USER_FUNCTION', `${where}: the subject function returned ${JSON.stringify(subject)}, which is not a valid subject`, { operator: where });
          }
          inner.invoke({ s: subject, d: encode(value) }, timestamp);
        },
        finish: () => inner.finish?.(),
        snapshotState: (checkpointId) => inner.snapshotState!(checkpointId),
        notifyCheckpointComplete: (checkpointId) => inner.notifyCheckpointComplete?.(checkpointId),
        close: () => inner.close?.(),
      };
    },
  };
}
