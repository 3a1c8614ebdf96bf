// `eddy publish <subject> [file]`: sends JSON lines (a file or stdin) to a core NATS subject or, with --stream, to JetStream with deterministic message ids.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { findRunningJob } from '../api/job-registry.ts';
import { publishJson } from '../connectors/publisher.ts';
import { EddyError, previewValue } from '../errors.ts';
import { redactNatsUrl } from '../transport/nats-url.ts';
import { checkNatsUrl, UsageError, type Command } from './args.ts';
import type { CliIO } from './cli-io.ts';

export const PUBLISH_HELP = `Usage: eddy publish <subject> [file | -] [options]

Publishes JSON lines, one message per line, to a NATS subject: from the file, or from
standard input when no file (or -) is given. Blank lines are skipped; every other line
must be one JSON value, and is sent as written. Prints how many were published.

Options:
  --stream              publish through JetStream: the stream that captures the subject
                        stores each line, and every publish waits for its ack (256 in
                        flight). Each line gets a message id, <file name>:<line>:<hash of
                        the line> (stdin for standard input), so publishing the same file
                        again within the stream's duplicate window (default 2 minutes)
                        stores nothing twice. Without --stream: core NATS, at-most-once
                        (a subject nobody subscribes to drops the messages).
  --id-field F          with --stream: the message id of a line is its field F instead
                        (a string or number), e.g. --id-field orderId
  --rate N              at most N lines per second
  --skip-invalid        skip lines that are not JSON (or lack the --id-field), count them
                        and list them at the end, instead of failing at the first
  --nats URL            the NATS server (default: NATS_URL), e.g. nats://127.0.0.1:4222;
                        credentials go into the URL: prefer NATS_URL for those, since
                        other users can see command lines
  --job NAME            publish to the NATS server of job NAME, running on this machine
                        (e.g. a job on its private server, started by eddy run without
                        --nats); found under <state dir>/running/
  --state-dir DIR       the state dir of that job (default EDDY_STATE_DIR or .eddy)
  -h, --help            show this help

A server is needed: --nats, NATS_URL or --job (eddy publish starts none of its own).

Examples:
  eddy publish sensors.s1 readings.jsonl --nats nats://127.0.0.1:4222
  eddy publish orders.new orders.jsonl --stream --id-field id --rate 100
  eddy run examples/sensor-alerts.ts -- --seconds 0 &    # a job on its private server
  cat readings.jsonl | eddy publish sensors.s1 --job "sensor alerts"

A line that is not JSON stops eddy publish (exit 1) naming the line; the lines before it
were published (with --stream, publishing the fixed file again stores only the rest).

Exit codes: 0 every line was published, 1 publishing failed (a line that is not JSON,
NATS unreachable, a record JetStream did not acknowledge), 2 bad usage or configuration
(no server given, no stream captures the subject, no running job of that name).
`;

/** One input line that holds a JSON value. */
interface Line {
  /** 1-based line number in the input. */
  n: number;
  text: string;
  value: unknown;
}

/** How many skipped line numbers the summary lists. */
const LIST_SKIPPED = 10;

/** The message id of a line without --id-field: where it is (input and line number) and what it holds. */
function defaultId(source: string, line: Line): string {
  // The hash keeps two different inputs apart that share a name and line number (two runs of `cat x | eddy publish`);
  // name and line number keep equal lines of one input apart.
  return `${source}:${line.n}:${createHash('sha256').update(line.text).digest('hex').slice(0, 16)}`;
}

/** The --id-field value of a record, or why it has none. */
function fieldId(value: unknown, field: string): string | { problem: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { problem: `is not an object with field "${field}"` };
  const v = (value as Record<string, unknown>)[field];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return { problem: v === undefined ? `has no field "${field}"` : `has field "${field}" = ${previewValue(v, 40)}, not a non-empty string or a number` };
}

/**
 * The JSON lines of `input`, validated; with `skipInvalid` a bad line is recorded in `skipped`,
 * otherwise it throws `EDDY_DECODE` naming the line.
 */
async function* jsonLines(input: NodeJS.ReadableStream, where: string, idField: string | undefined, skipInvalid: boolean, skipped: number[]): AsyncGenerator<Line> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of rl) {
      n++;
      const text = n === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      if (text.trim() === '') continue;
      let problem: string | undefined;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        problem = `is not JSON (${(e as Error).message})`;
      }
      if (problem === undefined && idField !== undefined) {
        const id = fieldId(value, idField);
        if (typeof id !== 'string') problem = id.problem;
      }
      if (problem === undefined) {
        yield { n, text, value };
      } else if (skipInvalid) {
        skipped.push(n);
      } else {
        throw new EddyError(
          'EDDY_DECODE',
          `line ${n} of ${where} ${problem}: ${previewValue(text, 80)}. Nothing after it was published; the lines before it were. ` +
            'Fix the line and publish again (with --stream, lines already stored are deduplicated by their ids), or pass --skip-invalid to skip such lines.',
        );
      }
    }
  } finally {
    rl.close();
  }
}

/** The NATS URL to publish to: --job's server, --nats, NATS_URL, else a usage error (there is no job's server to fall back to). */
async function serverUrl(cmd: Extract<Command, { kind: 'publish' }>, io: CliIO): Promise<string> {
  if (cmd.job !== undefined) {
    const stateDir = resolve(io.cwd, cmd.stateDir ?? (io.env['EDDY_STATE_DIR'] || '.eddy'));
    return (await findRunningJob(stateDir, cmd.job)).natsUrl;
  }
  if (cmd.nats !== undefined) return cmd.nats;
  const fromEnv = io.env['NATS_URL'];
  if (fromEnv !== undefined && fromEnv !== '') return checkNatsUrl(fromEnv, 'the environment variable NATS_URL', 'publish');
  throw new UsageError(
    'eddy publish needs a NATS server: --nats URL, the NATS_URL environment variable, or --job NAME for the server of a job running on this machine ' +
      '(a job run without --nats has a private server that only eddy knows the password of)',
    'publish',
  );
}

/**
 * Runs `eddy publish`: reads JSON lines from the file or stdin and publishes them through
 * {@link publishJson}, then prints what it did. Resolves with the exit code; throws what `main` reports.
 *
 * @example
 * ```ts
 * await publishCommand({ kind: 'publish', subject: 'orders.new', file: 'orders.jsonl', stream: true, ... }, io);
 * // stdout: published 3 lines to orders.new (JetStream stream ORDERS: 3 stored, 0 duplicates)
 * ```
 */
export async function publishCommand(cmd: Extract<Command, { kind: 'publish' }>, io: CliIO): Promise<number> {
  const url = await serverUrl(cmd, io);
  let input: NodeJS.ReadableStream;
  let where: string;
  let source: string;
  if (cmd.file === undefined) {
    input = io.stdin();
    where = 'standard input';
    source = 'stdin';
    if ((input as { isTTY?: boolean }).isTTY === true) io.stderr('eddy: reading JSON lines from standard input (end with Ctrl-D)\n');
  } else {
    const path = resolve(io.cwd, cmd.file);
    const stream = createReadStream(path);
    // A missing file fails here, before anything is published, as a usage error.
    await new Promise<void>((ok, fail) => {
      stream.once('ready', ok);
      stream.once('error', (e) => fail(new UsageError(`cannot read ${cmd.file} (${path}): ${(e as NodeJS.ErrnoException).code ?? e.message}`, 'publish')));
    });
    input = stream;
    where = cmd.file;
    source = basename(path);
  }
  const skipped: number[] = [];
  const idField = cmd.idField;
  const result = await publishJson<Line>(url, cmd.subject, jsonLines(input, where, idField, cmd.skipInvalid, skipped), {
    stream: cmd.stream,
    encode: (l) => l.text,
    idOf: cmd.stream ? (l) => (idField === undefined ? defaultId(source, l) : (fieldId(l.value, idField) as string)) : undefined,
    ratePerSecond: cmd.rate,
    describe: (l) => `line ${l.n} of ${where}`,
  }).catch((e: unknown) => {
    if (e instanceof EddyError) {
      // The job's server is gone although its process is alive: it is ending (connectNats's advice is about NATS_URL).
      if (e.code === 'EDDY_NATS_UNREACHABLE' && cmd.job !== undefined)
        throw new EddyError('EDDY_NATS_UNREACHABLE', `the NATS server of job "${cmd.job}" (${redactNatsUrl(url)}) does not answer: the job is ending or has ended`, { cause: e });
      throw e;
    }
    // Anything else (a connection closed mid-way, a failed flush) is the publish's failure, not "the job threw".
    throw new EddyError('EDDY_PUBLISH_FAILED', `publishing ${where} to ${cmd.subject} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  });
  const lines = `${result.published} line${result.published === 1 ? '' : 's'}`;
  let summary =
    result.stream === undefined
      ? `published ${lines} to ${cmd.subject}`
      : `published ${lines} to ${cmd.subject} (JetStream stream ${result.stream}: ${result.published - result.duplicates} stored, ${result.duplicates} duplicate${result.duplicates === 1 ? '' : 's'})`;
  if (skipped.length > 0) {
    const shown = skipped.slice(0, LIST_SKIPPED).join(', ') + (skipped.length > LIST_SKIPPED ? ', ...' : '');
    summary += `; skipped ${skipped.length} invalid line${skipped.length === 1 ? '' : 's'} (${shown})`;
  }
  io.stdout(summary + '\n');
  return 0;
}
