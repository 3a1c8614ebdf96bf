// AsyncDataStream: async I/O on a stream (Flink's AsyncDataStream.orderedWait / unorderedWait), where functions returning Promises belong.
import { EddyError } from '../errors.ts';
import type { OneInputTransformation } from '../graph/transformation.ts';
import { AsyncWaitOperator, type AsyncOutputMode, type AsyncWaitSettings } from '../operators/async-wait-operator.ts';
import { cloneFunction } from './clone-function.ts';
import { DataStream } from './data-stream.ts';
import type { AsyncFunction } from '../functions/functions.ts';

/** How an async operator calls its function. */
export interface AsyncWaitOptions {
  /**
   * How long one call may take, in ms of processing time (the job's clock): a call that has not
   * settled by then uses the function's `timeout(value)` fallback, or is a record failure
   * (`EDDY_ASYNC_TIMEOUT`: the task fails, or the record is dead-lettered, by the record-failure
   * policy). Default: no timeout (a call that never settles then stalls the operator).
   */
  timeoutMs?: number;
  /**
   * At most this many records per subtask taken and not yet emitted (so at most this many calls in
   * flight); when full, the task takes no more input. Default 100 (Flink's).
   */
  capacity?: number;
}

/** Flink's default queue capacity of an async operator. */
export const DEFAULT_ASYNC_CAPACITY = 100;

const OPTIONS = new Set(['timeoutMs', 'capacity']);

function invalid(msg: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', msg);
}

/**
 * Checks the options of `method` and fills in the defaults.
 *
 * @throws EddyError `EDDY_INVALID_ARGUMENT` for an unknown option, a capacity that is not an
 *   integer >= 1, or a timeout that is not a number > 0.
 */
export function resolveAsyncWaitOptions(options: AsyncWaitOptions | undefined, method: string, mode: AsyncOutputMode): AsyncWaitSettings {
  if (options === undefined) return { mode, capacity: DEFAULT_ASYNC_CAPACITY, timeoutMs: Number.POSITIVE_INFINITY };
  if (options === null || typeof options !== 'object') throw invalid(`${method}: options must be an object { timeoutMs?, capacity? }, got ${options === null ? 'null' : typeof options}`);
  for (const k of Object.keys(options)) if (!OPTIONS.has(k)) throw invalid(`${method}: unknown option "${k}"; the options are { timeoutMs?, capacity? }`);
  const { timeoutMs = Number.POSITIVE_INFINITY, capacity = DEFAULT_ASYNC_CAPACITY } = options;
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1) throw invalid(`${method}: capacity must be an integer >= 1, got ${String(capacity)}`);
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs <= 0) throw invalid(`${method}: timeoutMs must be a number > 0 (ms), got ${String(timeoutMs)}`);
  return { mode, capacity, timeoutMs };
}

function checkAsyncFunction(fn: unknown, method: string): void {
  if (typeof fn === 'function') return;
  if (fn !== null && typeof fn === 'object' && typeof (fn as { asyncInvoke?: unknown }).asyncInvoke === 'function') {
    const timeout = (fn as { timeout?: unknown }).timeout;
    if (timeout !== undefined && typeof timeout !== 'function') throw invalid(`${method}: the function's timeout must be a method timeout(value), got ${typeof timeout}`);
    return;
  }
  throw invalid(`${method} needs an async function (value) => Promise or an object with an asyncInvoke(value) method, got ${fn === null ? 'null' : typeof fn}`);
}

/** Adds an async operator (mode `mode`) to `stream`; `method` names the API call in errors. */
export function asyncWait<T, U>(method: string, stream: DataStream<T>, fn: AsyncFunction<T, U>, options: AsyncWaitOptions | undefined, mode: AsyncOutputMode): DataStream<U> {
  if (!(stream instanceof DataStream)) throw invalid(`${method} needs a DataStream as its first argument`);
  checkAsyncFunction(fn, method);
  const settings = resolveAsyncWaitOptions(options, method, mode);
  // AsyncDataStream adds an operator to a stream like DataStream's own methods do: it reaches the
  // stream's environment as they do (element access: `env` is protected to keep it off the public API).
  const env = stream['env'];
  const t: OneInputTransformation = {
    kind: 'one-input',
    id: env.nextId(),
    name: 'Async Wait',
    uid: undefined,
    parallelism: undefined,
    input: stream.transformation,
    stateKeySelector: undefined,
    // The name is read when the job is built, so `.name()` after the call reaches the operator.
    factory: () => new AsyncWaitOperator<T, U>(t.name, cloneFunction(fn), settings),
  };
  return new DataStream<U>(env, t);
}

/**
 * Async I/O (Flink's AsyncDataStream): calls an async function per record, with at most
 * `capacity` calls in flight per subtask, and emits each result with its record's timestamp. Use it
 * for lookups in databases and services; synchronous operators (map, filter, ...) reject a
 * function that returns a Promise (`EDDY_ASYNC_FUNCTION`).
 *
 * Records in flight are part of checkpoints (exactly-once: after a restore they are called again,
 * and each result is in the committed output once), so calls must be safe to repeat (lookups, or
 * idempotent writes). When `capacity` records are queued the task stops taking input (backpressure
 * to the sources). A rejected or timed-out call is a record failure, handled by the record-failure
 * policy (fail the task, or dead-letter the record).
 *
 * @example
 * ```ts
 * const enriched = AsyncDataStream.orderedWait(orders, (o) => customers.get(o.customerId).then((c) => ({ ...o, c })), {
 *   timeoutMs: 5_000,
 *   capacity: 50,
 * });
 * ```
 */
export class AsyncDataStream {
  private constructor() {}

  /** Results in input order: a slow call holds back the results after it (up to `capacity`). */
  static orderedWait<T, U>(stream: DataStream<T>, fn: AsyncFunction<T, U>, options?: AsyncWaitOptions): DataStream<U> {
    return asyncWait('AsyncDataStream.orderedWait', stream, fn, options, 'ordered');
  }

  /**
   * Results as their calls complete; watermarks still separate them (a result never crosses a
   * watermark, so event time stays correct), and end of input waits for every call.
   */
  static unorderedWait<T, U>(stream: DataStream<T>, fn: AsyncFunction<T, U>, options?: AsyncWaitOptions): DataStream<U> {
    return asyncWait('AsyncDataStream.unorderedWait', stream, fn, options, 'unordered');
  }
}
