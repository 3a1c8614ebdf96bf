// Argument checks shared by the DataStream builders: the EDDY_INVALID_ARGUMENT error and the function-or-object check.
import { EddyError } from '../errors.ts';

/** An `EDDY_INVALID_ARGUMENT` error with `msg`. */
export function invalid(msg: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', msg);
}

/** Throws unless `fn` is a function or an object with a `method()` method; `what` names the API call in the message. */
export function checkFunction(fn: unknown, method: string, what: string): void {
  if (typeof fn === 'function') return;
  if (fn !== null && typeof fn === 'object' && typeof (fn as Record<string, unknown>)[method] === 'function') return;
  throw invalid(`${what} needs a function or an object with a ${method}() method, got ${fn === null ? 'null' : typeof fn}`);
}
