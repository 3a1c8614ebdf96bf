// Publishes records that an operator's policy dead-lettered: to a core NATS subject, or stored in a JetStream stream, with the failure in headers.
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { EddyError } from '../errors.ts';
import type { ResolvedRecordFailurePolicy } from '../functions/record-failure-policy.ts';
import { subjectMatches } from './nats-source.ts';

type DeadLetterTarget = Extract<ResolvedRecordFailurePolicy, { kind: 'deadLetter' }>;

/** Where a dead letter came from: the job, the operator (by name) and its subtask. */
export interface DeadLetterOrigin {
  jobName: string;
  jobId: string;
  operator: string;
  subtask: number;
}

const packr = new Packr({ useRecords: false });
const text = new TextEncoder();

/**
 * The payload of a dead letter and how it is encoded: raw bytes as they came (a message that did
 * not decode), else JSON, else msgpack (a record JSON cannot carry, e.g. with a Map).
 */
export function encodeDeadLetter(record: unknown): { data: Uint8Array; encoding: 'raw' | 'json' | 'msgpack' } {
  if (record instanceof Uint8Array) return { data: record, encoding: 'raw' };
  try {
    const json = JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    if (json !== undefined) return { data: text.encode(json), encoding: 'json' };
  } catch {
    // Cycles and the like: msgpack below.
  }
  try {
    return { data: packr.pack(record), encoding: 'msgpack' };
  } catch {
    return { data: text.encode(JSON.stringify(String(record))), encoding: 'json' };
  }
}

/**
 * One per task. Core NATS targets are published at once (at-most-once, like any core publish);
 * stream targets are created when missing (on the target's subject) and published with an
 * acknowledgement; a failed store fails the task through `fail`, so no dead letter vanishes
 * silently. Dead letters are at-least-once with respect to restarts: a record replayed after a
 * restore is dead-lettered again.
 */
export class DeadLetterPublisher {
  private js: JetStreamClient | undefined;
  private readonly streams = new Map<string, Promise<void>>();
  private inFlight: Promise<unknown> = Promise.resolve();
  /** The first dead letter that could not be stored: from then on `settled()` rejects with it. */
  private failure: EddyError | undefined;

  constructor(
    private readonly nc: NatsConnection | undefined,
    private readonly fail: (e: unknown) => void,
  ) {}

  publish(target: DeadLetterTarget, origin: DeadLetterOrigin, record: unknown, error: EddyError, extra?: Record<string, string>): void {
    const { data, encoding } = encodeDeadLetter(record);
    const h = headers();
    if (extra !== undefined) for (const [k, v] of Object.entries(extra)) h.set(k, v);
    h.set('Eddy-Job', origin.jobName);
    h.set('Eddy-Job-Id', origin.jobId);
    h.set('Eddy-Operator', origin.operator);
    h.set('Eddy-Subtask', String(origin.subtask));
    h.set('Eddy-Error-Code', error.code);
    h.set('Eddy-Error', error.message.replace(/[\r\n]+/g, ' ').slice(0, 1000));
    h.set('Eddy-Encoding', encoding);
    const nc = this.nc;
    if (nc === undefined) throw new EddyError('EDDY_CONFIG', `operator "${origin.operator}" dead-letters records but has no NATS connection`, { operator: origin.operator });
    if (target.stream === undefined) {
      nc.publish(target.subject, data, { headers: h });
      return;
    }
    const js = (this.js ??= jetstream(nc));
    const stored = this.ensureStream(nc, target.stream, target.subject).then(() => js.publish(target.subject, data, { headers: h }));
    const tracked = stored.catch((e: unknown) => {
      const err = new EddyError(
        'EDDY_CONFIG',
        `operator "${origin.operator}" could not store a dead letter in JetStream stream "${target.stream}" on "${target.subject}": ${(e as Error)?.message ?? e}`,
        { operator: origin.operator, cause: e },
      );
      this.failure ??= err;
      this.fail(err);
    });
    this.inFlight = Promise.all([this.inFlight, tracked]);
  }

  /** Resolves when every dead letter published so far to a stream was acknowledged; rejects when one could not be stored (the task fails too). */
  settled(): Promise<unknown> {
    return this.inFlight.then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }

  private ensureStream(nc: NatsConnection, stream: string, subject: string): Promise<void> {
    let ready = this.streams.get(stream);
    if (ready === undefined) {
      ready = (async () => {
        const jsm = await jetstreamManager(nc);
        try {
          const info = await jsm.streams.info(stream);
          if (!info.config.subjects?.some((s) => subjectMatches(s, subject)))
            throw new EddyError('EDDY_CONFIG', `JetStream stream "${stream}" does not capture the dead-letter subject "${subject}" (its subjects: ${(info.config.subjects ?? []).join(', ')}); set deadLetter.subject to one of them`);
        } catch (e) {
          if (e instanceof EddyError) throw e;
          await jsm.streams.add({ name: stream, subjects: [subject] });
        }
      })();
      this.streams.set(stream, ready);
    }
    return ready;
  }
}
