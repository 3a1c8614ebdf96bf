// The error for a synchronous user function that returned a Promise: eddy's data path never awaits, so the result would be wrong.
import { EddyError } from '../errors.ts';

/**
 * `operator`'s function returned a Promise (an `async` function, or one returning a promise).
 * `promise` is the returned one (its rejection is silenced). Not a record-level failure: it fails the task under every record-failure policy, at the first record.
 *
 * @example
 * ```ts
 * asyncResultError('Map', 'map').code; // 'EDDY_ASYNC_FUNCTION'
 * ```
 */
export function asyncResultError(operator: string, what: string, promise?: Promise<unknown>): EddyError {
  // The task fails with this error; a later rejection of the abandoned promise must not crash the process as unhandled.
  promise?.catch(() => undefined);
  return new EddyError(
    'EDDY_ASYNC_FUNCTION',
    `operator "${operator}": its ${what} function returned a Promise, but ${what} runs synchronously (the Promise itself would become the result). ` +
      'For lookups against databases or services use AsyncDataStream.orderedWait(stream, fn, { timeoutMs, capacity }) ' +
      '(or unorderedWait, or stream.asyncMap(fn)); for plain computation remove `async`.',
    { operator },
  );
}
