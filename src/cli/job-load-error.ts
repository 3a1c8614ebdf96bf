// Tells a job file that cannot be loaded (a syntax error, a missing module) from a job that ran and threw, and says where the problem is.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EddyError } from '../errors.ts';

/** The job file: its real path and how the user wrote it. */
export interface JobFile {
  path: string;
  shown: string;
  /** The directory paths in messages are shown relative to. */
  cwd: string;
}

/** esbuild's error lines, as tsx reports them: `<file>:<line>:<column>: ERROR: <text>`. */
const ESBUILD_ERROR = /^(.*):(\d+):(\d+): ERROR: (.*)$/;

function shownPath(file: string, job: JobFile): string {
  const rel = relative(job.cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * The file esbuild names. tsx names a `.mts`/`.cts` file with a `.ts` extension (its compile cache key);
 * map it back to the file that exists, so the message points at what the user edits.
 */
function realFile(file: string, job: JobFile): string {
  if (existsSync(file)) return file;
  const stem = file.replace(/\.[^./]+$/, '');
  if (job.path.replace(/\.[^./]+$/, '') === stem) return job.path;
  for (const ext of ['.mts', '.cts', '.tsx', '.mjs', '.cjs', '.jsx']) if (existsSync(stem + ext)) return stem + ext;
  return file;
}

/** The source line with a caret under the column (1-based line, 0-based column as esbuild and V8 count), or ''. */
function excerpt(file: string, line: number, column: number): string {
  try {
    const text = readFileSync(file, 'utf8').split('\n')[line - 1];
    if (text === undefined || text.length > 200) return '';
    return `\n    ${text.replace(/\t/g, ' ')}\n    ${' '.repeat(Math.max(0, column))}^`;
  } catch {
    return '';
  }
}

/** The CLI's own directory: its frames (the import of the job) are not the job's code. */
const CLI_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * True when no frame of the stack is in the job's code (only node's loader, packages, and the CLI that
 * imports the job): the error came from loading the modules (parsing, linking), not from running them.
 */
function thrownByLoader(e: Error): boolean {
  const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  return frames.every((l) => /\(node:|at node:|\/node_modules\//.test(l) || l.includes(CLI_DIR));
}

/** Where `node --check` finds the syntax error of a JavaScript file, or undefined (another module has it, or it cannot tell). */
function checkJavaScript(file: string): { line: number; column: number } | undefined {
  if (!/\.[cm]?jsx?$/.test(file)) return undefined;
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0 || typeof r.stderr !== 'string') return undefined;
  // "<file>:<line>\n<source line>\n<spaces>^^^\n\nSyntaxError: ..."
  const lines = r.stderr.split('\n');
  const at = /:(\d+)$/.exec(lines[0] ?? '');
  if (at === null) return undefined;
  const caret = (lines[2] ?? '').indexOf('^');
  return { line: Number(at[1]), column: Math.max(0, caret) };
}

/**
 * An `EDDY_JOB_LOAD` error when `e` says the job file could not be loaded: a TypeScript or JavaScript
 * syntax error (in the job or a module it imports, with file:line:column and the line itself) or a
 * module that is not found; undefined when the job was loaded and `e` is what it threw.
 *
 * @example
 * ```ts
 * jobLoadError(e, { path: '/src/job.ts', shown: 'job.ts', cwd: '/src' })?.message;
 * // 'EDDY_JOB_LOAD: cannot load job.ts: SyntaxError: Expected ")" but found ";" at job.ts:2:12\n    const y = (2;\n               ^'
 * ```
 */
export function jobLoadError(e: unknown, job: JobFile): EddyError | undefined {
  if (!(e instanceof Error)) return undefined;
  if (e.name === 'TransformError') {
    // esbuild (through tsx) compiled the file: "Transform failed with N error(s):\n<file>:<line>:<col>: ERROR: <text>\n..."
    const errors = e.message.split('\n').flatMap((l) => {
      const m = ESBUILD_ERROR.exec(l);
      return m === null ? [] : [m];
    });
    const first = errors[0];
    if (first === undefined) return new EddyError('EDDY_JOB_LOAD', `cannot load ${job.shown}: ${e.message}`, { cause: e });
    const file = realFile(first[1]!, job);
    const line = Number(first[2]);
    const column = Number(first[3]);
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
    return new EddyError('EDDY_JOB_LOAD', `cannot load ${job.shown}: SyntaxError: ${first[4]} at ${shownPath(file, job)}:${line}:${column + 1}${more}${excerpt(file, line, column)}`, {
      cause: e,
    });
  }
  if (e.name === 'SyntaxError' && thrownByLoader(e)) {
    // Node parsed a JavaScript module and dropped the location from the error; `node --check` finds it again for the job file.
    const at = checkJavaScript(job.path);
    const where = at === undefined ? ` (in ${job.shown} or a module it imports)` : ` at ${job.shown}:${at.line}:${at.column + 1}${excerpt(job.path, at.line, at.column)}`;
    return new EddyError('EDDY_JOB_LOAD', `cannot load ${job.shown}: SyntaxError: ${e.message}${where}`, { cause: e });
  }
  const code = (e as NodeJS.ErrnoException).code;
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && thrownByLoader(e))
    return new EddyError('EDDY_JOB_LOAD', `cannot load ${job.shown}: ${e.message.split('\n')[0]}`, { cause: e });
  return undefined;
}
