// Record-level failures: attributing an error to its operator, and applying the operator's policy (fail the task, or dead-letter the record and go on).
import { EddyError, isEddyError } from '../errors.ts';
import { isRecordLevel, type ResolvedRecordFailurePolicy } from '../functions/record-failure-policy.ts';

/** Attributes an error thrown inside an operator to it (the innermost operator wins). */
export function attributeError(e: unknown, operator: string): EddyError {
  if (isEddyError(e) && e.operator !== undefined) return e;
  if (isEddyError(e)) return new EddyError(e.code, `operator "${operator}": ${e.message.replace(/^[A-Z_]+: /, '')}`, { operator, cause: e.cause ?? e });
  const msg = e instanceof Error ? e.message : String(e);
  return new EddyError('EDDY_USER_FUNCTION', `operator "${operator}" threw: ${msg}`, { operator, cause: e });
}

/**
 * Errors an operator's policy already decided must fail the task. Every operator on the way back up
 * the chain rethrows them untouched: an outer operator with a dead-letter policy must not swallow
 * the failure of an inner one whose policy is `fail`.
 */
const fatal = new WeakSet<object>();

/** Marks `e` as decided: it fails the task. */
export function markFatal(e: EddyError): EddyError {
  fatal.add(e);
  return e;
}

/** True when an operator's policy has already decided that `e` fails the task. */
export function isFatal(e: unknown): boolean {
  return typeof e === 'object' && e !== null && fatal.has(e);
}

/** Where a dead letter goes: the runtime publishes it (the operator layer does no I/O). */
export type DeadLetterSink = (record: unknown, error: EddyError, headers: Record<string, string> | undefined) => void;

/**
 * The `recordFailed` of one operator: under `fail` (or for an error that is not about one record)
 * it throws the error attributed to the operator and marked fatal; under `deadLetter` it hands the
 * record to `deadLetter`, counts it with `count` and returns, so the caller skips the record.
 *
 * @example
 * ```ts
 * const letters: unknown[] = [];
 * const failed = createRecordFailureHandler('Parse', { kind: 'deadLetter', subject: 'dlq' }, (r) => letters.push(r), () => {});
 * failed(new Error('bad'), 'x'); // letters: ['x']
 * ```
 */
export function createRecordFailureHandler(
  operator: string,
  policy: ResolvedRecordFailurePolicy,
  deadLetter: DeadLetterSink,
  count: () => void,
): (error: unknown, record: unknown, headers?: Record<string, string>) => void {
  return (error, record, headers) => {
    if (isFatal(error)) throw error;
    const e = attributeError(error, operator);
    if (policy.kind === 'fail' || !isRecordLevel(e)) throw markFatal(e);
    count();
    deadLetter(record, e, headers);
  };
}
