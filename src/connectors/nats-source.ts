// An unbounded source from a core NATS subject (at-most-once); undecodable messages go to a dead-letter subject.
import type { Msg, Subscription } from '@nats-io/transport-node';
import { headers } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import type { OperatorContext } from '../operators/operator.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { decoderFor, type RecordFormat } from './record-format.ts';
import type { PollResult, Source, SourceOutput, SourceReader } from './source.ts';

export interface NatsSourceOptions {
  /** Subject to read; wildcards allowed (`sensors.*`, `orders.>`). */
  subject: string;
  format?: RecordFormat;
  /**
   * Where messages that do not decode go, with `Eddy-Error` and `Eddy-Subject` headers
   * (default `eddy.dlq.<subject without wildcards>`). It must not match `subject`.
   */
  deadLetterSubject?: string;
  /** Messages buffered per subtask before the subscription is paused (default 10 000). */
  maxBuffered?: number;
}

/** Each subtask joins one queue group, so every message goes to exactly one subtask. */
class NatsSourceReader<T> implements SourceReader<T> {
  private buffer: Msg[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private readonly sub: Subscription;
  private readonly decode: (b: Uint8Array) => unknown;
  private readonly dlq: string;
  private closed = false;

  constructor(
    opts: NatsSourceOptions,
    private readonly ctx: OperatorContext,
  ) {
    const nc = ctx.nats;
    if (nc === undefined) throw new EddyError('EDDY_CONFIG', 'the NATS source needs a NATS connection (it cannot run in the operator harness)');
    this.decode = decoderFor(opts.format ?? 'json', `NATS source on "${opts.subject}"`);
    this.dlq = deadLetterSubjectOf(opts);
    const max = opts.maxBuffered ?? 10_000;
    this.sub = nc.subscribe(opts.subject, {
      queue: `eddy.${ctx.jobId}.${ctx.uid.replace(/[^A-Za-z0-9_-]/g, '_')}`,
      callback: (err, msg) => {
        if (err) return;
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
      },
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
        this.deadLetter(msg, e);
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

  private deadLetter(msg: Msg, e: unknown): void {
    this.ctx.metrics.inc('deadLetters');
    const h = headers();
    h.set('Eddy-Error', String((e as Error)?.message ?? e).slice(0, 500));
    h.set('Eddy-Subject', msg.subject);
    h.set('Eddy-Operator', this.ctx.operatorName);
    this.ctx.nats!.publish(this.dlq, msg.data, { headers: h });
  }

  available(): Promise<void> {
    if (this.closed || this.buffer.length > this.head) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  close(): void {
    this.closed = true;
    this.sub.unsubscribe();
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

/** The dead-letter subject of a source: the option, or `eddy.dlq.<subject without wildcard tokens>`. */
export function deadLetterSubjectOf(opts: NatsSourceOptions): string {
  const base = opts.subject
    .split('.')
    .filter((t) => t !== '*' && t !== '>')
    .join('.');
  return opts.deadLetterSubject ?? `eddy.dlq.${base || 'all'}`;
}

/**
 * Reads a core NATS subject: unbounded and at-most-once (core NATS keeps no history; use a JetStream
 * source for replay). A message that does not decode is published to the dead-letter subject and
 * counted as `<source>.deadLetters`; the job keeps running.
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
  const dlq = deadLetterSubjectOf(opts);
  if (/[\s*>]/.test(dlq) || dlq.startsWith('.') || dlq.endsWith('.'))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `natsSource deadLetterSubject "${dlq}" must be a subject without spaces or wildcards`);
  if (subjectMatches(opts.subject, dlq))
    throw new EddyError(
      'EDDY_INVALID_ARGUMENT',
      `natsSource on "${opts.subject}" would read its own dead letters from "${dlq}" (a bad message would loop); set deadLetterSubject to a subject outside "${opts.subject}"`,
    );
  return {
    name: `NATS Source ${opts.subject}`,
    bounded: false,
    createReader: (ctx) => new NatsSourceReader<T>(opts, ctx),
  };
}
