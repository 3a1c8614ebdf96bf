// Stable error codes and the EddyError type every user-facing failure is reported with.

/** Every code eddy reports; codes are stable across releases so callers may switch on them. */
export type EddyErrorCode =
  | 'EDDY_CONFIG'
  | 'EDDY_INVALID_ARGUMENT'
  | 'EDDY_UNSERIALIZABLE_RECORD'
  | 'EDDY_UNHASHABLE_KEY'
  | 'EDDY_NATS_SERVER_MISSING'
  | 'EDDY_NATS_SERVER_FAILED'
  | 'EDDY_NATS_UNREACHABLE'
  | 'EDDY_NATS_AUTH'
  | 'EDDY_NATS_CONNECTION_LOST'
  | 'EDDY_SEQUENCE_GAP'
  | 'EDDY_USER_FUNCTION'
  | 'EDDY_JOB_FAILED'
  | 'EDDY_JOB_CANCELED'
  | 'EDDY_STATE_MISMATCH'
  | 'EDDY_DECODE'
  | 'EDDY_RECORD_TOO_LARGE'
  | 'EDDY_TASK_DIED'
  | 'EDDY_CHECKPOINT_FAILED'
  | 'EDDY_SINK_COMMIT_FAILED'
  | 'EDDY_ASYNC_TIMEOUT'
  | 'EDDY_ASYNC_FUNCTION'
  | 'EDDY_NOT_EXECUTED'
  | 'EDDY_PUBLISH_FAILED'
  | 'EDDY_JOB_LOAD'
  | 'EDDY_DIRECTORY_NOT_EMPTY'
  | 'EDDY_INVALID_EVENT'
  | 'EDDY_UNHANDLED_EVENT'
  | 'EDDY_QUERY_FAILED'
  | 'EDDY_PLAN_MISMATCH'
  | 'EDDY_WORKER_LOST'
  | 'EDDY_NO_SLOTS'
  | 'EDDY_MASTER_LOST'
  | 'EDDY_MASTER_FENCED'
  | 'EDDY_INTERNAL';

/**
 * An error with a stable `code`, the operator it concerns (when there is one) and its cause.
 *
 * @example
 * ```ts
 * const e = new EddyError('EDDY_CONFIG', 'parallelism must be >= 1, got 0');
 * e.code; // 'EDDY_CONFIG'
 * ```
 */
export class EddyError extends Error {
  readonly code: EddyErrorCode;
  readonly operator: string | undefined;
  constructor(code: EddyErrorCode, message: string, options: { cause?: unknown; operator?: string } = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EddyError';
    this.code = code;
    this.operator = options.operator;
  }
}

/** True when `e` is an EddyError, optionally with the given code. */
export function isEddyError(e: unknown, code?: EddyErrorCode): e is EddyError {
  return e instanceof EddyError && (code === undefined || e.code === code);
}

/**
 * The message of any thrown value without the `EDDY_...: ` code prefix, for quoting one error inside
 * another's message.
 *
 * @example
 * ```ts
 * errorText(new EddyError('EDDY_DECODE', 'bad byte')); // 'bad byte'
 * ```
 */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return e instanceof EddyError && text.startsWith(`${e.code}: `) ? text.slice(e.code.length + 2) : text;
}

/** A plain, serializable description of an error, as carried in control messages and job results. */
export interface ErrorInfo {
  code: string;
  message: string;
  operator?: string;
  subtask?: number;
  stack?: string;
  cause?: ErrorInfo;
}

/** Turns any thrown value into plain data that survives msgpack and JSON. */
export function toErrorInfo(e: unknown, depth = 0): ErrorInfo {
  if (e instanceof Error) {
    const info: ErrorInfo = {
      code: e instanceof EddyError ? e.code : 'EDDY_USER_FUNCTION',
      message: e.message,
    };
    if (e instanceof EddyError && e.operator !== undefined) info.operator = e.operator;
    if (e.stack !== undefined) info.stack = e.stack;
    if (e.cause !== undefined && depth < 4) info.cause = toErrorInfo(e.cause, depth + 1);
    return info;
  }
  return { code: 'EDDY_USER_FUNCTION', message: String(e) };
}

/**
 * A short, never-throwing text of a value for error messages: JSON where possible (functions,
 * symbols and bigints shown by name), else `String(v)`, cut to `max` characters.
 *
 * @example
 * ```ts
 * previewValue({ a: 1n }); // '{"a":"1n"}'
 * ```
 */
export function previewValue(v: unknown, max = 120): string {
  let s: string;
  try {
    s = String(
      JSON.stringify(v, (_k, x) =>
        typeof x === 'function' ? `[Function ${x.name || 'anonymous'}]` : typeof x === 'symbol' ? x.toString() : typeof x === 'bigint' ? `${x}n` : x,
      ),
    );
  } catch {
    s = String(v);
  }
  return s.length > max ? s.slice(0, max - 3) + '...' : s;
}
