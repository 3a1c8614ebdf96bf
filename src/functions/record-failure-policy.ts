// What happens to a record an operator cannot process: the policy users set per job or operator, validated and resolved to plain data.
import { EddyError, type EddyErrorCode } from '../errors.ts';

/**
 * How record-level failures are handled: a user function or key selector that throws on a record,
 * a message that does not decode, an async call that times out.
 *
 * - `'fail'`: the task fails (and restarts from the last checkpoint under the restart policy). The
 *   default for bounded jobs, as in Flink.
 * - `'deadLetter'` or `{ deadLetter: { subject?, stream? } }`: the record is published with the
 *   operator, error code and message (headers) to a core NATS subject (default `eddy.dlq.<job>`)
 *   or, with `stream`, stored in that JetStream stream (created when missing, on `subject` or
 *   `eddy.dlq.<stream>`); it is counted (`<operator>.deadLetters`, `JobResult.deadLetters`) and
 *   skipped. The default for jobs with an unbounded source.
 *
 * @example
 * ```ts
 * const policy: RecordFailurePolicy = { deadLetter: { subject: 'orders.dlq' } };
 * ```
 */
export type RecordFailurePolicy = 'fail' | 'deadLetter' | { deadLetter: { subject?: string; stream?: string } };

/** A policy resolved to plain data: where dead letters go is always known. */
export type ResolvedRecordFailurePolicy = { kind: 'fail' } | { kind: 'deadLetter'; subject: string; stream?: string };

/** Error codes that describe one record; anything else (bad configuration, internal errors, promises from sync functions) fails the task whatever the policy. */
const RECORD_LEVEL: ReadonlySet<EddyErrorCode> = new Set<EddyErrorCode>(['EDDY_USER_FUNCTION', 'EDDY_UNHASHABLE_KEY', 'EDDY_DECODE', 'EDDY_ASYNC_TIMEOUT']);

/** True when `e` concerns one record (a thrown user error, an unhashable key, a decode failure, an async timeout). */
export function isRecordLevel(e: unknown): boolean {
  return !(e instanceof EddyError) || RECORD_LEVEL.has(e.code);
}

const SUBJECT = /^[^\s*>.]+(\.[^\s*>.]+)*$/;
const STREAM = /^[^\s.*>/\\]+$/;

/** The default dead-letter subject of a job: `eddy.dlq.<job name as one token>`. */
export function defaultDeadLetterSubject(jobName: string): string {
  return `eddy.dlq.${jobName.replace(/[^A-Za-z0-9_-]+/g, '_') || 'job'}`;
}

/**
 * Checks a user-given policy; `where` names the option or operator for the message.
 *
 * @example
 * ```ts
 * validateRecordFailurePolicy('deadLetter', 'recordFailures'); // ok
 * validateRecordFailurePolicy('skip', 'recordFailures');       // throws EDDY_CONFIG
 * ```
 */
export function validateRecordFailurePolicy(p: unknown, where: string): RecordFailurePolicy {
  if (p === 'fail' || p === 'deadLetter') return p;
  const bad = (why: string): EddyError =>
    new EddyError('EDDY_CONFIG', `${where}: ${why}; use 'fail', 'deadLetter' or { deadLetter: { subject?: 'a.subject', stream?: 'STREAM' } }`);
  if (p === null || typeof p !== 'object' || !('deadLetter' in p)) throw bad(`unknown record-failure policy ${JSON.stringify(p)}`);
  const d = (p as { deadLetter: unknown }).deadLetter;
  if (d === null || typeof d !== 'object') throw bad('deadLetter must be an object');
  for (const k of Object.keys(d)) if (k !== 'subject' && k !== 'stream') throw bad(`unknown deadLetter option "${k}"`);
  const { subject, stream } = d as { subject?: unknown; stream?: unknown };
  if (subject !== undefined && (typeof subject !== 'string' || !SUBJECT.test(subject))) throw bad(`deadLetter.subject must be a subject without wildcards, got ${JSON.stringify(subject)}`);
  if (stream !== undefined && (typeof stream !== 'string' || !STREAM.test(stream))) throw bad(`deadLetter.stream must be a JetStream stream name, got ${JSON.stringify(stream)}`);
  return p as RecordFailurePolicy;
}

/**
 * The policy of one operator: its own (`onRecordFailure`), else the job's (`recordFailures`), else
 * the default (`fail` for bounded jobs, dead letters to `eddy.dlq.<job>` for unbounded ones).
 */
export function resolveRecordFailurePolicy(
  operatorPolicy: RecordFailurePolicy | undefined,
  jobPolicy: RecordFailurePolicy | undefined,
  job: { name: string; bounded: boolean },
): ResolvedRecordFailurePolicy {
  const p = operatorPolicy ?? jobPolicy ?? (job.bounded ? 'fail' : 'deadLetter');
  if (p === 'fail') return { kind: 'fail' };
  if (p === 'deadLetter') return { kind: 'deadLetter', subject: defaultDeadLetterSubject(job.name) };
  const { subject, stream } = p.deadLetter;
  if (stream !== undefined) return { kind: 'deadLetter', subject: subject ?? `eddy.dlq.${stream}`, stream };
  return { kind: 'deadLetter', subject: subject ?? defaultDeadLetterSubject(job.name) };
}
