// Command-line parsing of `eddy`: turns argv into a Command, or a UsageError (exit code 2) that says what is wrong.
import { parseArgs } from 'node:util';

/** What the user asked for. */
export type Command =
  | { kind: 'help'; topic: 'main' | 'run' }
  | { kind: 'version' }
  | {
      kind: 'run';
      /** The job file as given (resolved against the working directory by the caller). */
      jobFile: string;
      /** Arguments for the job: positionals after the job file, and everything after `--`. */
      jobArgs: string[];
      parallelism: number | undefined;
      nats: string | undefined;
      stateDir: string | undefined;
      /** `--resume`: start from the latest checkpoint of the job (after its process was killed). */
      resume: boolean;
      /** `--from-savepoint <dir>`. */
      fromSavepoint: string | undefined;
      allowNonRestoredState: boolean;
    }
  | {
      kind: 'savepoint';
      /** The job name (as given to execute) of a job running on this machine. */
      job: string;
      stateDir: string | undefined;
      /** Where to write the savepoint (default: `<state dir>/savepoints/...`). */
      directory: string | undefined;
    };

/** A mistake on the command line: printed with its help hint, exit code 2. */
export class UsageError extends Error {
  readonly code = 'EDDY_CONFIG';
  constructor(
    message: string,
    /** Which help text to point to. */
    readonly topic: 'main' | 'run',
  ) {
    super(`EDDY_CONFIG: ${message}`);
    this.name = 'UsageError';
  }
}

/** Upper bound of parallelism, as in `StreamEnvironment.create` (src/api/config.ts). */
export const MAX_PARALLELISM = 32768;

/** The URL forms `StreamEnvironment.create` accepts for `nats` (src/api/config.ts). */
const NATS_URL = /^(nats|tls|ws|wss):\/\/|^[^:/]+:\d+$/;

/** Validates a parallelism given as text (flag or environment variable); `what` names its origin in the message. */
export function parseParallelism(text: string, what: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PARALLELISM)
    throw new UsageError(`${what} must be an integer from 1 to ${MAX_PARALLELISM}, got ${JSON.stringify(text)}`, 'run');
  return n;
}

/** Validates a NATS server URL (flag or environment variable). */
export function checkNatsUrl(text: string, what: string): string {
  if (!NATS_URL.test(text))
    throw new UsageError(`${what} must be a NATS URL such as nats://127.0.0.1:4222 (or host:port), got ${JSON.stringify(text)}`, 'run');
  return text;
}

/** Validates a state directory (flag or environment variable). */
export function checkStateDir(text: string, what: string): string {
  if (text.trim() === '') throw new UsageError(`${what} must be a non-empty path`, 'run');
  return text;
}

const RUN_OPTIONS = {
  parallelism: { type: 'string', short: 'p' },
  nats: { type: 'string' },
  'state-dir': { type: 'string' },
  resume: { type: 'boolean' },
  'from-savepoint': { type: 'string' },
  'allow-non-restored-state': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SAVEPOINT_OPTIONS = {
  'state-dir': { type: 'string' },
  dir: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Rewrites node's parseArgs messages (ERR_PARSE_ARGS_*) into ours. */
function parseError(e: unknown, topic: 'main' | 'run'): UsageError {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const opt = /'([^']+)'/.exec(err.message)?.[1] ?? '?';
    const hint = topic === 'run' ? ` (options for the job go after "--", e.g. eddy run job.ts -- ${opt})` : '';
    return new UsageError(`unknown option ${opt}${hint}`, topic);
  }
  if (err?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const opt = /'(?:-\w, )?(--[\w-]+)/.exec(err.message)?.[1] ?? 'an option';
    if (/argument missing/.test(err.message)) return new UsageError(`${opt} needs a value`, topic);
    if (/ambiguous/.test(err.message)) return new UsageError(`${opt} needs a value; a value that starts with "-" is written ${opt}=-VALUE`, topic);
    return new UsageError(err.message.split('\n')[0]!, topic);
  }
  return new UsageError(err instanceof Error ? err.message : String(e), topic);
}

/**
 * Parses the arguments after `eddy` (process.argv.slice(2)).
 *
 * @throws UsageError for anything malformed (unknown command or option, missing or bad value).
 * @example
 * ```ts
 * parseCommand(['run', 'job.ts', '-p', '2', '--', '--limit', '5']);
 * // { kind: 'run', jobFile: 'job.ts', jobArgs: ['--limit', '5'], parallelism: 2, nats: undefined, stateDir: undefined, resume: false, ... }
 * ```
 */
export function parseCommand(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given', 'main');
  if (first === '--help' || first === '-h' || first === 'help') {
    return { kind: 'help', topic: rest[0] === 'run' ? 'run' : 'main' };
  }
  if (first === '--version' || first === '-v' || first === 'version') return { kind: 'version' };
  if (first === 'savepoint') return parseSavepoint(rest);
  if (first !== 'run') {
    if (first.startsWith('-')) throw new UsageError(`unknown option ${first}`, 'main');
    throw new UsageError(`unknown command "${first}"`, 'main');
  }
  return parseRun(rest);
}

function parseRunOptions(args: readonly string[]) {
  return parseArgs({ args: [...args], options: RUN_OPTIONS, strict: true, allowPositionals: true });
}

function parseRun(args: readonly string[]): Command {
  let parsed: ReturnType<typeof parseRunOptions>;
  try {
    parsed = parseRunOptions(args);
  } catch (e) {
    // `--help` wins over any other mistake, as users type it to find out what the mistake was.
    const terminator = args.indexOf('--');
    const beforeTerminator = terminator < 0 ? args : args.slice(0, terminator);
    if (beforeTerminator.includes('--help') || beforeTerminator.includes('-h')) return { kind: 'help', topic: 'run' };
    throw parseError(e, 'run');
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help', topic: 'run' };
  const [jobFile, ...jobArgs] = positionals;
  if (jobFile === undefined || jobFile === '') throw new UsageError('eddy run needs a job file, e.g. eddy run examples/wordcount.ts', 'run');
  return {
    kind: 'run',
    jobFile,
    jobArgs,
    parallelism: values.parallelism === undefined ? undefined : parseParallelism(values.parallelism, '--parallelism'),
    nats: values.nats === undefined ? undefined : checkNatsUrl(values.nats, '--nats'),
    stateDir: values['state-dir'] === undefined ? undefined : checkStateDir(values['state-dir'], '--state-dir'),
    ...restoreFlags(values.resume === true, values['from-savepoint'], values['allow-non-restored-state'] === true),
  };
}

function restoreFlags(resume: boolean, fromSavepoint: string | undefined, allowNonRestoredState: boolean) {
  if (resume && fromSavepoint !== undefined) throw new UsageError('--resume and --from-savepoint exclude each other: resume continues the latest checkpoint, a savepoint starts from that savepoint', 'run');
  if (fromSavepoint !== undefined && fromSavepoint.trim() === '') throw new UsageError('--from-savepoint needs a directory', 'run');
  return { resume, fromSavepoint, allowNonRestoredState };
}

function parseSavepoint(args: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: SAVEPOINT_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    throw parseError(e, 'main');
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help', topic: 'main' };
  const [job, ...extra] = positionals;
  if (job === undefined || job === '') throw new UsageError('eddy savepoint needs the name of a running job, e.g. eddy savepoint wordcount', 'main');
  if (extra.length > 0) throw new UsageError(`eddy savepoint takes one job name, got also ${extra.join(' ')}`, 'main');
  return {
    kind: 'savepoint',
    job,
    stateDir: values['state-dir'] === undefined ? undefined : checkStateDir(values['state-dir'], '--state-dir'),
    directory: values.dir,
  };
}
