// An unbounded source from a core NATS subject (at-most-once, per-subject order at any parallelism); undecodable messages go through the record-failure policy.
import type { Msg } from '@nats-io/transport-node';
import { EddyError, errorText } from '../errors.ts';
import type { OperatorContext } from '../operators/operator.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { subscribeOwned } from './nats-subject-owner.ts';
import { decoderFor, type RecordFormat } from './record-format.ts';
import type { PollResult, Source, SourceOutput, SourceReader } from './source.ts';

export { subjectOwner } from './nats-subject-owner.ts';

export interface NatsSourceOptions {
  /** Subject to read; wildcards allowed (`sensors.*`, `orders.>`). */
  subject: string;
  format?: RecordFormat;
  /**
   * Shorthand for `onRecordFailure({ deadLetter: { subject } })` on the source: where messages that
   * do not decode go (raw, with `Eddy-Error` and `Eddy-Subject` headers). It must not match
   * `subject`. Default: the job's record-failure policy (dead letters to `eddy.dlq.<job>` for an
   * unbounded job).
   */
  deadLetterSubject?: string;
  /**
   * Messages buffered per subtask (default 10 000). Core NATS cannot pause a publisher: beyond the
   * buffer messages are dropped and counted as `<source>.droppedOverflow`.
   */
  maxBuffered?: number;
}

/**
 * One subtask's reader. Invariant: a subject belongs to exactly one subtask (`subjectOwner`), so a
 * publisher's messages on one subject enter the job through one subtask, in the order published
 * (see `subscribeOwned` for how the subscription is shared and why there is no queue group).
 */
class NatsSourceReader<T> implements SourceReader<T> {
  private buffer: Msg[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly decode: (b: Uint8Array) => unknown;
  private readonly format: RecordFormat;
  private closed = false;

  constructor(
    opts: NatsSourceOptions,
    private readonly ctx: OperatorContext,
  ) {
    const nc = ctx.nats;
    if (nc === undefined) throw new EddyError('EDDY_CONFIG', 'the NATS source needs a NATS connection (it cannot run in the operator harness)');
    this.format = opts.format ?? 'json';
    this.decode = decoderFor(this.format, `NATS source on "${opts.subject}"`);
    const max = opts.maxBuffered ?? 10_000;
    // Only messages of subjects this subtask owns arrive here: others' neither fill the buffer nor count as overflow.
    this.unsubscribe = subscribeOwned(nc, `${ctx.jobId}/${ctx.uid}`, opts.subject, ctx.subtaskIndex, ctx.parallelism, (msg) => {
      if (this.buffer.length - this.head >= max) {
        // Core NATS has no way to pause a publisher: beyond the buffer, messages are counted and dropped (at-most-once).
        ctx.metrics.inc('droppedOverflow');
        return;
      }
      this.buffer.push(msg);
      const w = this.wake;
      if (w !== undefined) {
        this.wake = undefined;
        w();
      }
    });
  }

  poll(out: SourceOutput<T>, max: number): PollResult {
    if (this.closed) return 'end';
    const buf = this.buffer;
    const end = Math.min(buf.length, this.head + max);
    for (let i = this.head; i < end; i++) {
      const msg = buf[i]!;
      let value: unknown;
      try {
        value = this.decode(msg.data);
      } catch (e) {
        // Under `fail` this throws (the task fails); under `deadLetter` the raw bytes are published aside.
        this.head = i + 1;
        this.ctx.recordFailed(
          new EddyError('EDDY_DECODE', `${this.ctx.operatorName}: the message on "${msg.subject}" is not valid ${this.format}: ${errorText(e)}`, { cause: e }),
          msg.data,
          { 'Eddy-Subject': msg.subject },
        );
        continue;
      }
      out.collect(value as T, NO_TIMESTAMP);
    }
    this.head = end;
    if (this.head === buf.length) {
      this.buffer = [];
      this.head = 0;
      return 'wait';
    }
    return 'more';
  }

  available(): Promise<void> {
    if (this.closed || this.buffer.length > this.head) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.wake?.();
  }
}

/** Whether a concrete subject matches a subscription pattern with `*` and `>` wildcards. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/**
 * Reads a core NATS subject: unbounded and at-most-once (core NATS keeps no history; use a JetStream
 * source for replay). A message that does not decode goes through the source's record-failure
 * policy: dead-lettered (raw bytes, `Eddy-Subject` header) and counted as `<source>.deadLetters`
 * while the job keeps running, or failing the task under `'fail'`.
 *
 * Order: each subject belongs to exactly one subtask (`subjectOwner`), so the messages of one
 * publisher on one subject enter the job in the order published, at any parallelism, and stay in
 * order through `keyBy` when the key is a function of the subject. Cost at parallelism p > 1 with a
 * wildcard subject: the subtasks on one NATS connection share one subscription that hashes each
 * subject once, so the server sends every message once per connection (once per job in-process,
 * once per worker process that runs a subtask of the source) and only the owner decodes it. A
 * literal subject is read by its owner only and the other subtasks idle (so does a subtask that
 * owns no active subject: give event-time jobs `withIdleness`). At parallelism 1 nothing is filtered.
 *
 * @example
 * ```ts
 * const readings = env.fromSource(natsSource<Reading>({ subject: 'sensors.*', format: 'json' }));
 * ```
 */
export function natsSource<T>(opts: NatsSourceOptions): Source<T> {
  if (opts === null || typeof opts !== 'object' || typeof opts.subject !== 'string' || opts.subject.length === 0)
    throw new EddyError('EDDY_INVALID_ARGUMENT', 'natsSource needs { subject: string }');
  decoderFor(opts.format ?? 'json', `NATS source on "${opts.subject}"`);
  const dlq = opts.deadLetterSubject;
  if (dlq !== undefined) {
    if (typeof dlq !== 'string' || /[\s*>]/.test(dlq) || dlq === '' || dlq.startsWith('.') || dlq.endsWith('.'))
      throw new EddyError('EDDY_INVALID_ARGUMENT', `natsSource deadLetterSubject "${dlq}" must be a subject without spaces or wildcards`);
    if (subjectMatches(opts.subject, dlq))
      throw new EddyError(
        'EDDY_INVALID_ARGUMENT',
        `natsSource on "${opts.subject}" would read its own dead letters from "${dlq}" (a bad message would loop); set deadLetterSubject to a subject outside "${opts.subject}"`,
      );
  }
  return {
    name: `NATS Source ${opts.subject}`,
    bounded: false,
    ...(dlq === undefined ? {} : { recordFailures: { deadLetter: { subject: dlq } } }),
    createReader: (ctx) => new NatsSourceReader<T>(opts, ctx),
  };
}
