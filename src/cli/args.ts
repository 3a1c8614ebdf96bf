// Command-line parsing of `eddy`: turns argv into a Command, or a UsageError (exit code 2) that says what is wrong.
import { parseArgs } from 'node:util';

/** The help texts: `eddy --help` (main) and each command's `eddy <command> --help`. */
export type HelpTopic = 'main' | 'run' | 'savepoint' | 'publish' | 'new' | 'status' | 'cancel' | 'list' | 'worker' | 'workers';

const TOPICS: readonly HelpTopic[] = ['run', 'savepoint', 'publish', 'new', 'status', 'cancel', 'list', 'worker', 'workers'];

/** What the user asked for. */
export type Command =
  | { kind: 'help'; topic: HelpTopic }
  | { kind: 'status' | 'cancel' | 'list' | 'workers'; job: string | undefined; nats: string | undefined; stateDir: string | undefined }
  /** `eddy worker`: its options are parsed by the command (src/cli/worker.ts). */
  | { kind: 'worker'; args: string[] }
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
      /** `--workers N|existing`: run the tasks on N local worker processes, or on the workers registered on the server. */
      workers: number | 'existing' | undefined;
      /** `--standby`: one of several job masters of the job; waits, and takes over when the active one dies. */
      standby: boolean;
    }
  | {
      kind: 'savepoint';
      /** The job name (as given to execute) of a job running on this machine, or (with `nats`) its name or id on that server. */
      job: string;
      stateDir: string | undefined;
      /** Find the job on this NATS server (from any machine) instead of in the local registry. */
      nats: string | undefined;
      /** Where to write the savepoint (default: `<state dir>/savepoints/...`). */
      directory: string | undefined;
    }
  | {
      kind: 'publish';
      /** The subject every line goes to. */
      subject: string;
      /** The file of JSON lines; undefined or '-' reads standard input. */
      file: string | undefined;
      /** `--stream`: publish through JetStream (the stream capturing the subject) and await acks. */
      stream: boolean;
      /** `--id-field F`: the message id of a line is its record's field F (default: derived from the input and line). */
      idField: string | undefined;
      /** `--rate N`: at most N records per second. */
      rate: number | undefined;
      nats: string | undefined;
      /** `--job NAME`: publish to the NATS server of that job, running on this machine. */
      job: string | undefined;
      stateDir: string | undefined;
      /** `--skip-invalid`: count and skip lines that are not JSON instead of failing. */
      skipInvalid: boolean;
    }
  | {
      kind: 'new';
      /** The project directory as given (resolved against the working directory by the caller). */
      directory: string;
      /** `--eddy SPEC`: the eddy dependency of the project's package.json (default: this eddy's). */
      eddy: string | undefined;
    };

/** A mistake on the command line: printed with its help hint, exit code 2. */
export class UsageError extends Error {
  readonly code = 'EDDY_CONFIG';
  constructor(
    message: string,
    /** Which help text to point to. */
    readonly topic: HelpTopic,
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
export function checkNatsUrl(text: string, what: string, topic: HelpTopic = 'run'): string {
  if (!NATS_URL.test(text))
    throw new UsageError(`${what} must be a NATS URL such as nats://127.0.0.1:4222 (or host:port), got ${JSON.stringify(text)}`, topic);
  return text;
}

/** Validates a state directory (flag or environment variable). */
export function checkStateDir(text: string, what: string, topic: HelpTopic = 'run'): string {
  if (text.trim() === '') throw new UsageError(`${what} must be a non-empty path`, topic);
  return text;
}

const RUN_OPTIONS = {
  parallelism: { type: 'string', short: 'p' },
  nats: { type: 'string' },
  'state-dir': { type: 'string' },
  resume: { type: 'boolean' },
  'from-savepoint': { type: 'string' },
  'allow-non-restored-state': { type: 'boolean' },
  workers: { type: 'string' },
  standby: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Validates `--workers` (or EDDY_WORKERS): a count of local workers, or 'existing'. */
export function parseWorkers(text: string, what: string): number | 'existing' {
  if (text === 'existing') return 'existing';
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 256) throw new UsageError(`${what} must be a number of workers from 0 to 256, or "existing", got ${JSON.stringify(text)}`, 'run');
  return n;
}

const SAVEPOINT_OPTIONS = {
  'state-dir': { type: 'string' },
  nats: { type: 'string' },
  dir: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const PUBLISH_OPTIONS = {
  stream: { type: 'boolean' },
  'id-field': { type: 'string' },
  rate: { type: 'string' },
  nats: { type: 'string' },
  job: { type: 'string' },
  'state-dir': { type: 'string' },
  'skip-invalid': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** True when `--help`/`-h` comes before any `--`: it wins over other mistakes, as users type it to find out what the mistake was. */
function asksForHelp(args: readonly string[]): boolean {
  const terminator = args.indexOf('--');
  const before = terminator < 0 ? args : args.slice(0, terminator);
  return before.includes('--help') || before.includes('-h');
}

/** Rewrites node's parseArgs messages (ERR_PARSE_ARGS_*) into ours. */
function parseError(e: unknown, topic: HelpTopic): UsageError {
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
    const topic = rest[0];
    return { kind: 'help', topic: TOPICS.find((t) => t === topic) ?? 'main' };
  }
  if (first === '--version' || first === '-v' || first === 'version') return { kind: 'version' };
  if (first === 'savepoint') return parseSavepoint(rest);
  if (first === 'publish') return parsePublish(rest);
  if (first === 'new') return parseNew(rest);
  if (first === 'status' || first === 'cancel' || first === 'list' || first === 'workers') return parseJobCommand(first, rest);
  if (first === 'worker') return { kind: 'worker', args: [...rest] };
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
    if (asksForHelp(args)) return { kind: 'help', topic: 'run' };
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
    workers: values.workers === undefined ? undefined : parseWorkers(values.workers, '--workers'),
    standby: values.standby === true,
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
    if (asksForHelp(args)) return { kind: 'help', topic: 'savepoint' };
    throw parseError(e, 'savepoint');
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help', topic: 'savepoint' };
  const [job, ...extra] = positionals;
  if (job === undefined || job === '') throw new UsageError('eddy savepoint needs the name of a running job, e.g. eddy savepoint wordcount', 'savepoint');
  if (extra.length > 0) throw new UsageError(`eddy savepoint takes one job name, got also ${extra.join(' ')}`, 'savepoint');
  return {
    kind: 'savepoint',
    job,
    stateDir: values['state-dir'] === undefined ? undefined : checkStateDir(values['state-dir'], '--state-dir', 'savepoint'),
    nats: values.nats === undefined ? undefined : checkNatsUrl(values.nats, '--nats', 'savepoint'),
    directory: values.dir,
  };
}

const JOB_COMMAND_OPTIONS = {
  nats: { type: 'string' },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `eddy status [<job>]`, `eddy cancel <job>`, `eddy list` and `eddy workers`: a job by name or id, and where to ask. */
function parseJobCommand(kind: 'status' | 'cancel' | 'list' | 'workers', args: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: JOB_COMMAND_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    if (asksForHelp(args)) return { kind: 'help', topic: kind };
    throw parseError(e, kind);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help', topic: kind };
  const [job, ...extra] = positionals;
  if (kind === 'cancel' && (job === undefined || job === '')) throw new UsageError('eddy cancel needs the name or id of a running job, e.g. eddy cancel wordcount', kind);
  if ((kind === 'list' || kind === 'workers') && job !== undefined) throw new UsageError(`eddy ${kind} takes no job, got ${job}`, kind);
  if (extra.length > 0) throw new UsageError(`eddy ${kind} takes one job name or id, got also ${extra.join(' ')}`, kind);
  return {
    kind,
    job: job === '' ? undefined : job,
    nats: values.nats === undefined ? undefined : checkNatsUrl(values.nats, '--nats', kind),
    stateDir: values['state-dir'] === undefined ? undefined : checkStateDir(values['state-dir'], '--state-dir', kind),
  };
}

/** A literal subject (no wildcards): what one publish goes to. */
const PUBLISH_SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

function parsePublish(args: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: PUBLISH_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    if (asksForHelp(args)) return { kind: 'help', topic: 'publish' };
    throw parseError(e, 'publish');
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help', topic: 'publish' };
  const [subject, file, ...extra] = positionals;
  if (subject === undefined || subject === '') throw new UsageError('eddy publish needs a subject, e.g. eddy publish orders.new orders.jsonl', 'publish');
  if (!PUBLISH_SUBJECT.test(subject)) throw new UsageError(`${JSON.stringify(subject)} is not a subject to publish to: dot-separated tokens without spaces or wildcards (* >), e.g. orders.new`, 'publish');
  if (extra.length > 0) throw new UsageError(`eddy publish takes one subject and at most one file, got also ${extra.join(' ')}`, 'publish');
  if (file === '') throw new UsageError('the file must not be empty; use - (or nothing) for standard input', 'publish');
  const stream = values.stream === true;
  const idField = values['id-field'];
  if (idField !== undefined && !stream) throw new UsageError('--id-field sets JetStream message ids: it needs --stream (core NATS has no ids)', 'publish');
  if (idField !== undefined && idField === '') throw new UsageError('--id-field needs a field name', 'publish');
  let rate: number | undefined;
  if (values.rate !== undefined) {
    rate = /^\s*\d+(\.\d*)?\s*$/.test(values.rate) ? Number(values.rate) : Number.NaN;
    if (!(rate > 0) || !Number.isFinite(rate)) throw new UsageError(`--rate must be a positive number of records per second, got ${JSON.stringify(values.rate)}`, 'publish');
  }
  if (values.job !== undefined && values.nats !== undefined) throw new UsageError('--job and --nats exclude each other: --job publishes to the server of a running job, --nats to the one you name', 'publish');
  if (values.job === '') throw new UsageError('--job needs the name of a running job', 'publish');
  return {
    kind: 'publish',
    subject,
    file: file === '-' ? undefined : file,
    stream,
    idField,
    rate,
    nats: values.nats === undefined ? undefined : checkNatsUrl(values.nats, '--nats', 'publish'),
    job: values.job,
    stateDir: values['state-dir'] === undefined ? undefined : checkStateDir(values['state-dir'], '--state-dir', 'publish'),
    skipInvalid: values['skip-invalid'] === true,
  };
}

const NEW_OPTIONS = {
  eddy: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseNew(args: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: NEW_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    if (asksForHelp(args)) return { kind: 'help', topic: 'new' };
    throw parseError(e, 'new');
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help', topic: 'new' };
  const [directory, ...extra] = positionals;
  if (directory === undefined || directory.trim() === '') throw new UsageError('eddy new needs the directory of the new project, e.g. eddy new my-job', 'new');
  if (extra.length > 0) throw new UsageError(`eddy new takes one directory, got also ${extra.join(' ')}`, 'new');
  if (values.eddy !== undefined && values.eddy.trim() === '') throw new UsageError('--eddy needs a dependency spec, e.g. --eddy ^0.1.0 or --eddy ../eddy-0.1.0.tgz', 'new');
  return { kind: 'new', directory, eddy: values.eddy };
}
