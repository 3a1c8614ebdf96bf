// A transactional file sink: each committed transaction becomes one complete file, published by an atomic rename.
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EddyError, previewValue } from '../errors.ts';
import type { Sink, SinkWriter } from '../operators/sink-operator.ts';
import { twoPhaseCommitWriter, type SinkTransaction } from './two-phase-commit.ts';

/** How a record becomes a line: its text, or its JSON. */
export type FileSinkFormat = 'lines' | 'json-lines';

export interface FileSinkOptions {
  /** Where the files go; created when missing. */
  directory: string;
  /** 'lines' (default): strings (and numbers, bigints, booleans) as text; 'json-lines': one JSON value per line. */
  format?: FileSinkFormat;
  /** The start of every file name (default 'part'); no path separators. */
  prefix?: string;
}

/** The suffix of a file being written; only names without it are complete. */
export const IN_PROGRESS_SUFFIX = '.part.tmp';

const PREFIX = /^[^/\\\0]+$/;


/** Encodes a record as one line of text (without the newline), or throws `EDDY_UNSERIALIZABLE_RECORD`. */
function encoderFor(format: FileSinkFormat, operator: string): (value: unknown) => string {
  const fail = (v: unknown, why: string): never => {
    throw new EddyError('EDDY_UNSERIALIZABLE_RECORD', `${operator}: cannot write ${typeof v} ${previewValue(v)} as ${format}: ${why}`, { operator });
  };
  if (format === 'lines')
    return (v) => {
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
      return fail(v, "format 'lines' takes strings (use format 'json-lines' for objects)");
    };
  return (v) => {
    let s: string | undefined;
    try {
      s = JSON.stringify(v);
    } catch (e) {
      fail(v, (e as Error).message);
    }
    return s === undefined ? fail(v, 'JSON has no representation for it') : s;
  };
}

/**
 * Makes `txn` visible as the file `final`: writes `<final>.part.tmp` (truncating a leftover of a
 * crashed attempt), syncs it and renames it to `final`, so the complete file appears at once. When
 * `final` exists the commit already happened: a no-op, provided the content is the same; a
 * different content means another job (or an earlier run) wrote that name, which is refused
 * rather than silently keeping foreign data in place of ours.
 */
async function commitFile(final: string, lines: string[], operator: string): Promise<void> {
  const content = lines.length === 0 ? '' : lines.join('\n') + '\n';
  const existing = await stat(final).catch(() => undefined);
  if (existing !== undefined) {
    const same = existing.size === Buffer.byteLength(content) && (await readFile(final, 'utf8')) === content;
    if (same) return;
    throw new EddyError(
      'EDDY_CONFIG',
      `${operator}: "${final}" already exists with other content (left by an earlier job?): write to an empty directory or use another prefix`,
      { operator },
    );
  }
  const tmp = final + IN_PROGRESS_SUFFIX;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(content, 'utf8');
    // Durable before visible: after the rename the file must survive a crash complete.
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, final);
}

/**
 * A sink writing records as lines to files in `directory`, exactly once with checkpointing: the
 * records of checkpoint n form one transaction (see two-phase-commit.ts for its id, which names the
 * job, the subtask and n), written as the file `<prefix>-<txn.id>`; it appears (atomically, by
 * rename from `<name>.part.tmp`) only when checkpoint n completed, and a restore commits pending
 * transactions again, which leaves files already there unchanged. Without checkpointing it writes a
 * file per batch of 1000 records and one at the end, named `<prefix>-<txn.id>-<counter>` (the
 * direct transactions of a subtask share one id). Readers should skip names ending in `.part.tmp`:
 * every other file is complete.
 *
 * @example
 * ```ts
 * env.fromSource(fileSource({ path: 'in.txt' }))
 *   .map((line) => line.toUpperCase())
 *   .sinkTo(fileSink({ directory: 'out/' }));
 * ```
 */
export function fileSink<T>(options: FileSinkOptions): Sink<T> {
  if (options === null || typeof options !== 'object' || typeof options.directory !== 'string' || options.directory === '')
    throw new EddyError('EDDY_INVALID_ARGUMENT', 'fileSink needs { directory: string }');
  const format = options.format ?? 'lines';
  if (format !== 'lines' && format !== 'json-lines')
    throw new EddyError('EDDY_INVALID_ARGUMENT', `fileSink format must be 'lines' or 'json-lines', got ${previewValue(format)}`);
  const prefix = options.prefix ?? 'part';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix))
    throw new EddyError('EDDY_INVALID_ARGUMENT', `fileSink prefix must be a non-empty file name part without '/' or '\\', got ${previewValue(prefix)}`);
  // Resolved here, in the process that built the job, so a relative directory means what the user meant.
  const directory = resolve(options.directory);
  return {
    name: `File Sink ${options.directory}`,
    async createWriter(ctx): Promise<SinkWriter<T>> {
      const operator = ctx.operator.operatorName;
      try {
        await mkdir(directory, { recursive: true });
      } catch (e) {
        throw new EddyError('EDDY_CONFIG', `${operator}: cannot create directory "${directory}": ${(e as Error).message}`, { cause: e, operator });
      }
      const encode = encoderFor(format, operator);
      // Direct (unchecked) batches of a subtask all have the same id: a counter makes their names
      // unique. They are never committed twice, so idempotence does not need the counter stable;
      // checkpointed transactions are named by their id alone, the same on every re-commit.
      let direct = 0;
      const inner = await twoPhaseCommitWriter<string>({
        ctx,
        commit: (txn: SinkTransaction<string>) => {
          const name = txn.checkpointId < 0 ? `${prefix}-${txn.id}-${String(direct++).padStart(6, '0')}` : `${prefix}-${txn.id}`;
          return commitFile(join(directory, name), txn.records, operator);
        },
      });
      // Records are encoded on the way in: errors name the record's operator at once, and
      // transactions (checkpoint state) hold plain strings.
      return {
        invoke: (value: T, timestamp: number) => inner.invoke(encode(value), timestamp),
        finish: () => inner.finish?.(),
        snapshotState: (checkpointId: number) => inner.snapshotState!(checkpointId),
        notifyCheckpointComplete: (checkpointId: number) => inner.notifyCheckpointComplete?.(checkpointId),
        close: () => inner.close?.(),
      };
    },
  };
}
