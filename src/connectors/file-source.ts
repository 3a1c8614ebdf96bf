// A bounded, replayable source over the lines of a file or of a directory's files (one split per file, byte offsets in checkpoints).
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EddyError, previewValue } from '../errors.ts';
import type { OperatorContext } from '../operators/operator.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import type { PollResult, Source, SourceOutput, SourceReader } from './source.ts';

/** How a line becomes a record: the line itself, or the JSON value it holds. */
export type FileSourceFormat = 'lines' | 'json-lines';

export interface FileSourceOptions {
  /** A file, or a directory whose regular files are read in name order (subdirectories are skipped). */
  path: string;
  /** 'lines' (default): each line is a string record; 'json-lines': each non-blank line is parsed as JSON. */
  format?: FileSourceFormat;
}

/**
 * A file split's checkpoint state: `offset` is the byte offset of the next unread line, `line` the
 * number of lines before it (for error messages; optional in restored state).
 */
export interface FileSplit {
  file: string;
  offset: number;
  line?: number;
}

/** Bytes read per `readSync`. */
const CHUNK = 64 * 1024;
/** Chunks read per poll at most, so one poll stays bounded even on a very long line. */
const CHUNKS_PER_POLL = 16;
const NEWLINE = 0x0a;
const CR = 0x0d;

/** A split being read: its state plus the open file and the bytes read but not yet emitted. */
interface OpenSplit {
  readonly file: string;
  /** Lines before `offset`, or undefined when restored state did not say. */
  line: number | undefined;
  fd: number | undefined;
  /** Bytes of the file from `bufStart`; `buf[pos]` is the first byte of the next unread line. */
  buf: Buffer;
  bufStart: number;
  pos: number;
  /** `buf` has no newline in [pos, scanFrom): the next search starts there. */
  scanFrom: number;
  eof: boolean;
}

/** Invariant: the byte offset of the next unread line is `bufStart + pos`. */
function offsetOf(s: OpenSplit): number {
  return s.bufStart + s.pos;
}

function openSplit(file: string, offset: number, line: number | undefined): OpenSplit {
  return { file, line, fd: undefined, buf: Buffer.alloc(0), bufStart: offset, pos: 0, scanFrom: 0, eof: false };
}


/**
 * Reads its splits one after the other, each from its offset to its end. Without restored state
 * the splits are the files under `path` in name order, file i going to subtask i mod parallelism;
 * listing happens at the first poll, so a restore never needs the directory again. Splits read to
 * the end are dropped from the state.
 */
class FileSourceReader<T> implements SourceReader<T> {
  private splits: OpenSplit[] | undefined;
  private readonly name: string;

  constructor(
    private readonly path: string,
    private readonly json: boolean,
    private readonly ctx: OperatorContext,
  ) {
    this.name = ctx.operatorName;
  }

  /** The files of this subtask on a fresh start. */
  private listSplits(): OpenSplit[] {
    let files: string[];
    let isDir: boolean;
    try {
      isDir = statSync(this.path).isDirectory();
    } catch (e) {
      throw new EddyError('EDDY_CONFIG', `${this.name}: cannot read path "${this.path}": ${(e as Error).message}`, { cause: e, operator: this.name });
    }
    if (isDir) {
      // Code-unit order: stable across locales, so every subtask deals the same list.
      const names = readdirSync(this.path).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      files = names.map((n) => join(this.path, n)).filter((f) => statSync(f, { throwIfNoEntry: false })?.isFile() === true);
    } else files = [this.path];
    const { subtaskIndex, parallelism } = this.ctx;
    return files.filter((_, i) => i % parallelism === subtaskIndex).map((f) => openSplit(f, 0, 0));
  }

  poll(out: SourceOutput<T>, max: number): PollResult {
    const splits = (this.splits ??= this.listSplits());
    let emitted = 0;
    let reads = 0;
    while (splits.length > 0) {
      const s = splits[0]!;
      const nl = s.buf.indexOf(NEWLINE, s.scanFrom);
      if (nl >= 0) {
        if (emitted >= max) return 'more';
        this.emitLine(s, out, s.pos, nl, nl + 1);
        emitted++;
        continue;
      }
      s.scanFrom = s.buf.length;
      if (!s.eof) {
        if (reads >= CHUNKS_PER_POLL) return 'more';
        reads++;
        this.readChunk(s);
        continue;
      }
      // End of file: a last line without newline, then the next split.
      if (s.pos < s.buf.length) {
        if (emitted >= max) return 'more';
        this.emitLine(s, out, s.pos, s.buf.length, s.buf.length);
        emitted++;
      }
      this.closeSplit(s);
      splits.shift();
    }
    return 'end';
  }

  /** Emits bytes [start, end) of the buffer as a record (a trailing CR dropped) and moves the offset to `next`. */
  private emitLine(s: OpenSplit, out: SourceOutput<T>, start: number, end: number, next: number): void {
    const buf = s.buf;
    if (end > start && buf[end - 1] === CR) end--;
    // A UTF-8 byte order mark at the start of a file is not part of the first line.
    if (s.bufStart + start === 0 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    const text = buf.toString('utf8', start, end);
    let value: unknown = text;
    const blank = this.json && text.trim() === '';
    if (this.json && !blank) {
      try {
        value = JSON.parse(text);
      } catch (e) {
        const where = s.line === undefined ? `the line at byte offset ${offsetOf(s)}` : `line ${s.line + 1}`;
        throw new EddyError('EDDY_DECODE', `${this.name}: ${s.file} ${where} is not JSON: ${(e as Error).message}`, { cause: e, operator: this.name });
      }
    }
    // The offset moves only once the line decoded (a restore retries a bad line, never skips it), and
    // before the record goes downstream: from here on it counts as emitted.
    s.pos = next;
    s.scanFrom = next;
    if (s.line !== undefined) s.line++;
    if (!blank) out.collect(value as T, NO_TIMESTAMP);
  }

  /** Appends the next chunk of the file to the unread bytes; sets `eof` when there is none. */
  private readChunk(s: OpenSplit): void {
    if (s.fd === undefined) {
      try {
        s.fd = openSync(s.file, 'r');
      } catch (e) {
        throw new EddyError('EDDY_CONFIG', `${this.name}: cannot open "${s.file}": ${(e as Error).message}`, { cause: e, operator: this.name });
      }
    }
    const rest = s.buf.subarray(s.pos);
    const chunk = Buffer.allocUnsafe(CHUNK);
    const n = readSync(s.fd, chunk, 0, CHUNK, s.bufStart + s.buf.length);
    if (n === 0) {
      s.eof = true;
      return;
    }
    // Keep only the unread bytes: the buffer holds at most the current partial line plus one chunk.
    s.bufStart += s.pos;
    s.scanFrom -= s.pos;
    s.pos = 0;
    s.buf = rest.length === 0 ? chunk.subarray(0, n) : Buffer.concat([rest, chunk.subarray(0, n)]);
  }

  private closeSplit(s: OpenSplit): void {
    if (s.fd !== undefined) closeSync(s.fd);
    s.fd = undefined;
  }

  available(): Promise<void> {
    return Promise.resolve();
  }

  snapshotState(): unknown[] {
    const splits = (this.splits ??= this.listSplits());
    return splits.map((s) => (s.line === undefined ? { file: s.file, offset: offsetOf(s) } : { file: s.file, offset: offsetOf(s), line: s.line }));
  }

  restoreState(splits: unknown[]): void {
    if (!Array.isArray(splits))
      throw new EddyError('EDDY_STATE_MISMATCH', `${this.name}: restored state must be a list of file splits, got ${previewValue(splits)}`, { operator: this.name });
    const restored: OpenSplit[] = [];
    splits.forEach((raw, i) => {
      const s = raw as Partial<FileSplit> | null;
      const ok =
        s !== null &&
        typeof s === 'object' &&
        typeof s.file === 'string' &&
        s.file !== '' &&
        Number.isSafeInteger(s.offset) &&
        s.offset! >= 0 &&
        (s.line === undefined || (Number.isSafeInteger(s.line) && s.line >= 0));
      if (!ok)
        throw new EddyError(
          'EDDY_STATE_MISMATCH',
          `${this.name}: restored split #${i} is ${previewValue(raw)}, not { file, offset } with a byte offset >= 0 (was the state written by another source?)`,
          { operator: this.name },
        );
      restored.push(openSplit(s!.file!, s!.offset!, s!.line));
    });
    this.close();
    this.splits = restored;
  }

  close(): void {
    for (const s of this.splits ?? []) this.closeSplit(s);
  }
}

/**
 * A bounded source reading lines of text from a file or a directory of files (each file one
 * split), with `\n` or `\r\n` line ends, UTF-8. Its checkpoint state is the byte offset of the next
 * unread line per file, so a restore, even at another parallelism, resumes right after the last
 * emitted line. The path is checked when the job starts (`EDDY_CONFIG` when it is missing); a line
 * that is not JSON in 'json-lines' fails the job with `EDDY_DECODE` naming file and line.
 *
 * @example
 * ```ts
 * const lines = env.fromSource(fileSource({ path: 'data/input.txt' }));
 * const events = env.fromSource(fileSource<Event>({ path: 'data/events/', format: 'json-lines' }));
 * ```
 */
export function fileSource(options: FileSourceOptions & { format?: 'lines' }): Source<string>;
export function fileSource<T = unknown>(options: FileSourceOptions & { format: 'json-lines' }): Source<T>;
export function fileSource<T>(options: FileSourceOptions): Source<T> {
  if (options === null || typeof options !== 'object' || typeof options.path !== 'string' || options.path === '')
    throw new EddyError('EDDY_INVALID_ARGUMENT', 'fileSource needs { path: string } naming a file or a directory');
  const format = options.format ?? 'lines';
  if (format !== 'lines' && format !== 'json-lines')
    throw new EddyError('EDDY_INVALID_ARGUMENT', `fileSource format must be 'lines' or 'json-lines', got ${previewValue(format)}`);
  // Resolved here, in the process that built the job, so a relative path means what the user meant.
  const path = resolve(options.path);
  return {
    name: `File Source ${options.path}`,
    bounded: true,
    createReader: (ctx) => new FileSourceReader<T>(path, format === 'json-lines', ctx),
  };
}
