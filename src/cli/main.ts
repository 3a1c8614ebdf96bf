// The `eddy` command: `eddy run <job>` sets the job's defaults from flags, loads the job script and reports its errors.
import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { onJobNotice, type JobNotice } from '../api/job-notices.ts';
import { registerShutdownHook } from '../transport/nats-server.ts';
import { checkNatsUrl, checkStateDir, MAX_PARALLELISM, parseCommand, parseParallelism, UsageError, type Command, type HelpTopic } from './args.ts';
import { jobLoadError } from './job-load-error.ts';
import { installation } from './installation.ts';
import { loadJob } from './load-job.ts';
import { PUBLISH_HELP, publishCommand } from './publish.ts';
import { SAVEPOINT_HELP, savepointCommand } from './savepoint.ts';
import { NEW_HELP, newCommand } from './new-project.ts';
import { CANCEL_HELP, cancelCommand, LIST_HELP, STATUS_HELP, statusCommand } from './jobs.ts';
import { WORKER_HELP, WORKERS_HELP, workerCommand, workersCommand } from './worker.ts';
import type { CliIO } from './cli-io.ts';

export type { CliIO } from './cli-io.ts';

function defaultIO(): CliIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    env: process.env,
    argv: process.argv,
    importJob: loadJob,
    stdin: () => process.stdin,
  };
}

/** Exit codes of `eddy` (signals: 128 + the signal's number, as a shell reports them). */
export const EXIT = { ok: 0, jobFailed: 1, usage: 2, sigint: 130, sigterm: 143 } as const;

/** Codes of mistakes found before a job runs (or before a command did anything): exit code 2, like usage errors. */
const BEFORE_RUN_CODES = new Set(['EDDY_CONFIG', 'EDDY_INVALID_ARGUMENT', 'EDDY_STATE_MISMATCH', 'EDDY_JOB_LOAD']);

/**
 * The exit code for an error that ended a command: 2 for usage and configuration mistakes (a bad flag,
 * a job file that does not load, a configuration the job or the restore refuses before anything
 * runs, a job that is not running), 1 for everything else (a failed job, an unreachable server).
 * A job that fails at run time rejects with EDDY_JOB_FAILED (1), whatever its cause's code.
 *
 * @example
 * ```ts
 * exitCodeOf(new EddyError('EDDY_CONFIG', 'parallelism must be >= 1')); // 2
 * ```
 */
export function exitCodeOf(e: unknown): number {
  return isEddyLike(e) && BEFORE_RUN_CODES.has(e.code) ? EXIT.usage : EXIT.jobFailed;
}

export const MAIN_HELP = `eddy - a stateful stream processor on NATS

Usage:
  eddy run <job.ts|job.js> [options] [job arguments...]
  eddy savepoint <job name> [options]
  eddy publish <subject> [file | -] [options]
  eddy new <directory> [--eddy SPEC]
  eddy status [<job>] [--nats URL]
  eddy cancel <job> [--nats URL]
  eddy list [--nats URL]
  eddy worker [--nats URL] [--slots N]
  eddy workers [--nats URL]
  eddy <command> --help         the options of a command (or: eddy help <command>)
  eddy --help                   show this help
  eddy --version                show the version

Commands:
  run        Runs a job script. Without --nats (or NATS_URL), eddy starts a private
             nats-server for the job (it admits only clients with a password made
             for this run) and stops it when the job ends.
  savepoint  Takes a savepoint of a running job (started on this machine with
             checkpointing) and prints its directory. It finds the job, its NATS
             server and that server's credential under <state dir>/running/.
  publish    Publishes JSON lines (a file or stdin) to a NATS subject; with --stream
             to JetStream with message ids, so publishing a file again stores
             nothing twice; to a running job's private server with --job NAME.
  new        Creates a job project (package.json, strict tsconfig, a job, a vitest
             test, README) in a new or empty directory: npm install && npm test.
  status     Lists the jobs running on a NATS server (or shows one), from any
             process connected to it.
  cancel     Cancels a running job by name or id and waits until it ended.
  list       Lists the running jobs on a NATS server, one line each.
  worker     Starts a worker process: it runs the tasks job masters place on its
             slots (eddy run job.ts --workers existing submits to such workers).
  workers    Lists the workers registered on a NATS server.

Examples:
  eddy run examples/wordcount.ts
  eddy run examples/wordcount.ts --parallelism 4 README.md
  eddy run job.ts --nats nats://127.0.0.1:4222
  eddy savepoint wordcount
  eddy status --nats nats://127.0.0.1:4222
  eddy run job.ts --from-savepoint .eddy/savepoints/wordcount-1a2b-1 -p 3
  eddy run job.ts --resume
  eddy publish sensors.s1 readings.jsonl --job "sensor alerts"

Exit codes: 0 done; 1 the job or the command failed; 2 bad usage or configuration,
found before the job ran (each command's --help says which); 130 / 143 stopped by
SIGINT / SIGTERM.
`;

export const RUN_HELP = `Usage: eddy run <job.ts|job.js> [options] [job arguments...]

Runs a job script: the script builds its pipeline with StreamEnvironment.create() and
runs it with execute(), executeAsync() or executeAndCollect(). The options below become the
defaults of StreamEnvironment.create(); what the script sets itself takes precedence.

Options:
  -p, --parallelism N   default parallelism of the job's operators, 1 to ${MAX_PARALLELISM}
                        (sets EDDY_PARALLELISM; default 1)
  --nats URL            the NATS server to run on, e.g. nats://127.0.0.1:4222 (sets NATS_URL);
                        credentials go into the URL (nats://user:pass@host:port or
                        nats://token@host:port): prefer NATS_URL for those, since other
                        users can see command lines; without it eddy starts a private
                        nats-server with a per-run password and stops it at exit
  --state-dir DIR       where eddy keeps state and the private server's store
                        (sets EDDY_STATE_DIR; default .eddy)
  --resume              continue from the latest completed checkpoint of the job (same
                        job name and state dir), e.g. after its process was killed;
                        prints the checkpoint it restored. Fails (exit 2) when the job
                        has no checkpoints under the state dir (one that finished or was
                        canceled deleted them); starts from empty state, and says so,
                        when its process died before the first checkpoint completed
  --from-savepoint DIR  start from a savepoint; parallelism may differ, operators are
                        matched by uid
  --allow-non-restored-state
                        drop savepoint state of operators the job no longer has
  --workers N|existing  run the tasks on N worker processes that eddy starts on this
                        machine (and stops after the job), or on the workers already
                        registered on the server (existing; start them with eddy
                        worker); checkpoints then go to JetStream (sets EDDY_WORKERS)
  --standby             run as a standby job master (needs --workers and a shared
                        --nats server): wait while another master holds the job's
                        lease, take over from its latest checkpoint when it dies, or
                        print its result when it ends; run alone, start the job
                        (sets EDDY_STANDBY)
  -h, --help            show this help

Arguments after the job file that are not options above, and everything after "--",
are passed to the job: it sees them as process.argv.slice(2).
  eddy run examples/sensor-alerts.ts -p 2 -- --seconds 5

Environment:
  EDDY_PARALLELISM, NATS_URL, EDDY_STATE_DIR   defaults when the flags are not given
  EDDY_DEBUG=1                                 print stack traces of errors
  EDDY_NATS_SERVER_BIN                         the nats-server binary for the private server

Exit codes: 0 the job script completed; 1 the job failed (or the script threw); 2 bad
usage or configuration found before the job ran: flags, a job file that is missing or does
not compile, EDDY_CONFIG, EDDY_INVALID_ARGUMENT or EDDY_STATE_MISMATCH from building or
restoring the job, --resume without checkpoints; 130 / 143 stopped by SIGINT / SIGTERM
(the job is canceled first, and the script may still print what it prints after it).
`;

/** The help text of each topic: `eddy --help`, `eddy <command> --help`, `eddy help <command>`. */
const HELP: Record<HelpTopic, string> = {
  main: MAIN_HELP,
  run: RUN_HELP,
  savepoint: SAVEPOINT_HELP,
  publish: PUBLISH_HELP,
  new: NEW_HELP,
  status: STATUS_HELP,
  cancel: CANCEL_HELP,
  list: LIST_HELP,
  worker: WORKER_HELP,
  workers: WORKERS_HELP,
};

/** The package version, from package.json. */
export function version(): string {
  return installation().version;
}

/** An EddyError or anything shaped like one (a job may load its own copy of eddy). */
interface EddyLike {
  code: string;
  message: string;
  stack?: string;
  cause?: unknown;
}

function isEddyLike(e: unknown): e is EddyLike {
  return (
    e !== null &&
    typeof e === 'object' &&
    typeof (e as EddyLike).code === 'string' &&
    (e as EddyLike).code.startsWith('EDDY_') &&
    typeof (e as EddyLike).message === 'string'
  );
}

/** Hints for failures whose own message does not say what to do. */
function hintFor(e: unknown): string | undefined {
  const msg = e instanceof Error ? e.message : '';
  if (/Top-level await is currently not supported with the "cjs" output format/.test(msg))
    return 'a module the job imports was loaded as CommonJS (the job file itself is always an ES module), where top-level await is not allowed: name it .mts (or .mjs), or give its package.json "type": "module"';
  if (/Cannot find (module|package) 'eddy(\/[\w-]+)?'/.test(msg))
    return 'eddy run provides "eddy" to ES modules only (the job file and the TypeScript modules it imports), not to require() in CommonJS: use import, or install eddy next to the job';
  return undefined;
}

/** The first stack frame of an error in user code ("at file:line:col"), for errors that are not EddyErrors. */
function firstFrame(e: Error): string | undefined {
  const line = e.stack?.split('\n').find((l) => /^\s+at /.test(l) && !/\(node:|at node:|\/node_modules\//.test(l));
  return line?.trim();
}

/** A plain `{code, message, stack}` (an ErrorInfo) or an Error, as found in `cause` chains. */
function describeCause(c: unknown): string {
  if (c instanceof Error) return c.stack ?? `${c.name}: ${c.message}`;
  if (c !== null && typeof c === 'object') {
    const info = c as { code?: unknown; message?: unknown; stack?: unknown; operator?: unknown };
    if (typeof info.stack === 'string') return info.stack;
    const op = typeof info.operator === 'string' ? ` (operator "${info.operator}")` : '';
    return `${String(info.code ?? 'Error')}: ${String(info.message ?? '')}${op}`;
  }
  return String(c);
}

/**
 * One readable message for an error that ended a job: the EddyError message (it starts with its code),
 * or the name, message and location of any other error. With `debug`, the stack and the cause chain.
 *
 * @example
 * ```ts
 * formatError(new EddyError('EDDY_CONFIG', 'parallelism must be ...'), false);
 * // 'eddy: EDDY_CONFIG: parallelism must be ...\n'
 * ```
 */
export function formatError(e: unknown, debug: boolean): string {
  const lines: string[] = [];
  const eddy = isEddyLike(e);
  if (eddy) {
    lines.push(`eddy: ${e.message.startsWith(e.code) ? e.message : `${e.code}: ${e.message}`}`);
  } else if (e instanceof Error) {
    lines.push(`eddy: the job threw ${e.name}: ${e.message}`);
    const at = firstFrame(e);
    if (!debug && at !== undefined) lines.push(`    ${at}`);
  } else {
    lines.push(`eddy: the job threw ${typeof e === 'string' ? JSON.stringify(e) : String(e)}`);
  }
  const hint = hintFor(e);
  if (hint !== undefined) lines.push(`hint: ${hint}`);
  if (debug) {
    if (e instanceof Error && e.stack !== undefined) lines.push(e.stack);
    let cause = (e as { cause?: unknown } | null)?.cause;
    for (let depth = 0; cause !== undefined && cause !== null && depth < 5; depth++) {
      lines.push(`Caused by: ${describeCause(cause)}`);
      cause = (cause as { cause?: unknown }).cause;
    }
  } else if (!eddy) {
    lines.push('(set EDDY_DEBUG=1 to see the stack trace)');
  }
  return lines.join('\n') + '\n';
}

/** True when EDDY_DEBUG asks for stack traces. */
export function debugEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = env['EDDY_DEBUG'];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** Checks the effective settings, sets the environment the job reads its defaults from, then loads the job. */
async function run(cmd: Extract<Command, { kind: 'run' }>, io: CliIO): Promise<number> {
  const env = io.env;
  // Flags win over the environment; values inherited from the environment are checked too, so a bad
  // EDDY_PARALLELISM fails here with exit code 2 rather than inside the job.
  const fromEnv = <T>(name: string, check: (text: string, what: string) => T): T | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : check(v, `the environment variable ${name}`);
  };
  const parallelism = cmd.parallelism ?? fromEnv('EDDY_PARALLELISM', parseParallelism);
  const nats = cmd.nats ?? fromEnv('NATS_URL', checkNatsUrl);
  const stateDir = cmd.stateDir ?? fromEnv('EDDY_STATE_DIR', checkStateDir);

  const jobPath = resolve(io.cwd, cmd.jobFile);
  let isFile = false;
  try {
    isFile = statSync(jobPath).isFile();
  } catch {
    throw new UsageError(`job file not found: ${cmd.jobFile} (looked for ${jobPath})`, 'run');
  }
  if (!isFile) throw new UsageError(`${cmd.jobFile} is not a file (looked at ${jobPath}); eddy run needs a job script such as job.ts`, 'run');
  // The module's import.meta.url is its real path: EDDY_JOB_FILE and argv[1] must compare equal to it.
  const real = realpathSync(jobPath);

  if (parallelism !== undefined) env['EDDY_PARALLELISM'] = String(parallelism);
  if (nats !== undefined) env['NATS_URL'] = nats;
  if (stateDir !== undefined) env['EDDY_STATE_DIR'] = resolve(io.cwd, stateDir);
  if (cmd.resume) env['EDDY_RESUME'] = '1';
  if (cmd.fromSavepoint !== undefined) env['EDDY_FROM_SAVEPOINT'] = resolve(io.cwd, cmd.fromSavepoint);
  if (cmd.allowNonRestoredState) env['EDDY_ALLOW_NON_RESTORED_STATE'] = '1';
  if (cmd.workers !== undefined) env['EDDY_WORKERS'] = String(cmd.workers);
  if (cmd.standby) env['EDDY_STANDBY'] = '1';
  env['EDDY_JOB_FILE'] = real;
  // The job sees the argv it would see under `node job.ts args...`.
  io.argv.splice(1, io.argv.length - 1, real, ...cmd.jobArgs);

  // Which checkpoint a restore used (or that there was none) is announced by the runtime; eddy run prints it.
  const stopNotices = onJobNotice((n) => io.stderr(describeNotice(n)));
  // On SIGINT/SIGTERM the embedded server's handler cancels the job, then waits (at most 5 s) for its
  // shutdown hooks before it stops the server and exits: this one holds it until the script has
  // finished, so what the script prints after its job ended (a summary) is not cut off.
  let interrupted: number | undefined;
  let scriptEnded!: () => void;
  const ended = new Promise<void>((r) => (scriptEnded = r));
  const unhook = registerShutdownHook(async (signal) => {
    interrupted = signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    await ended;
  });
  try {
    await io.importJob(pathToFileURL(real).href);
  } catch (e) {
    const err = jobLoadError(e, { path: real, shown: cmd.jobFile, cwd: io.cwd }) ?? e;
    io.stderr(formatError(err, debugEnabled(env)));
    return interrupted ?? exitCodeOf(err);
  } finally {
    scriptEnded();
    unhook();
    stopNotices();
  }
  return interrupted ?? EXIT.ok;
}

/** The line `eddy run` prints (on stderr) for a notice of the runtime. */
function describeNotice(n: JobNotice): string {
  if (n.kind === 'standby') return `eddy: standby for job "${n.jobName}": its master (pid ${n.holderPid} on ${n.holderHost}) is active; waiting to take over\n`;
  if (n.kind === 'took-over') return `eddy: took over job "${n.jobName}" from its master (pid ${n.previousPid} on ${n.previousHost}), which stopped renewing its lease\n`;
  if (n.kind === 'resume-empty') return `eddy: no completed checkpoint of job "${n.jobName}" under ${n.location}; starting from empty state\n`;
  if (n.kind === 'actor-path')
    return n.path === 'compiled'
      ? `eddy: actor operator "${n.operator}" runs its machine compiled\n`
      : `eddy: actor operator "${n.operator}" runs its machine on xstate${n.reason === undefined ? ' (asked for)' : `: ${n.reason}`}\n`;
  const taken = new Date(n.timestamp).toISOString();
  return n.from === 'checkpoint'
    ? `eddy: job "${n.jobName}" resumes from checkpoint ${n.checkpointId} taken at ${taken} (${n.location})\n`
    : `eddy: job "${n.jobName}" starts from savepoint ${n.checkpointId} taken at ${taken} (${n.location})\n`;
}

/**
 * Runs the `eddy` command with the arguments after the executable (`process.argv.slice(2)`) and
 * resolves with the exit code: 0 when the job script completed, 1 when it threw (a failed job, a
 * missing nats-server, ...), 2 for bad usage or configuration. Never throws.
 *
 * @example
 * ```ts
 * const code = await main(['run', 'examples/wordcount.ts', '--parallelism', '2']);
 * ```
 */
export async function main(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const cli: CliIO = { ...defaultIO(), ...io };
  if (argv.length === 0) {
    cli.stderr(MAIN_HELP);
    return EXIT.usage;
  }
  try {
    const cmd = parseCommand(argv);
    switch (cmd.kind) {
      case 'help':
        cli.stdout(HELP[cmd.topic]);
        return EXIT.ok;
      case 'version':
        cli.stdout(`eddy ${version()}\n`);
        return EXIT.ok;
      case 'run':
        return await run(cmd, cli);
      case 'savepoint':
        return await savepointCommand(cmd, cli);
      case 'publish':
        return await publishCommand(cmd, cli);
      case 'new':
        return await newCommand(cmd, cli);
      case 'status':
      case 'list':
        return await statusCommand({ ...cmd, kind: 'status' }, cli);
      case 'worker':
        return await workerCommand(cmd, cli);
      case 'workers':
        return await workersCommand(cmd, cli);
      case 'cancel':
        return await cancelCommand(cmd, cli);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      cli.stderr(`eddy: ${e.message}\nRun "eddy ${e.topic === 'main' ? '' : `${e.topic} `}--help" for usage.\n`);
      return EXIT.usage;
    }
    cli.stderr(formatError(e, debugEnabled(cli.env)));
    return exitCodeOf(e);
  }
}
