// `eddy new <dir>`: scaffolds a job project (package.json depending on eddy, strict tsconfig, job, vitest test, README) into a new or empty directory.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { EddyError, isEddyError } from '../errors.ts';
import type { Command } from './args.ts';
import { installation, type Installation } from './installation.ts';
import type { CliIO } from './cli-io.ts';
import { projectFiles, type TemplateOptions } from './project-template.ts';

/**
 * The help of `eddy new`.
 *
 * @example
 * ```ts
 * await main(['new', '--help']); // prints NEW_HELP, exit code 0
 * ```
 */
export const NEW_HELP = `Usage: eddy new <directory> [--eddy SPEC]

Creates a job project in <directory> (created if missing; it must be empty, apart
from a .git directory):
  package.json       depends on eddy; scripts start (eddy run src/job.ts), test, typecheck
  tsconfig.json      strict, NodeNext, ES modules
  src/job.ts         a word count with keyed state
  test/job.test.ts   tests its functions with eddy/testing's harness and vitest
  README.md, .gitignore
Then: cd <directory> && npm install && npm test.

Options:
  --eddy SPEC   the eddy dependency in package.json: a version range, a path to a
                package tarball or directory (written as file:<absolute path>), a git
                URL. Default: for eddy run from a clone, file:<the clone> (which uses
                the clone's dist/: run npm run build there after changing eddy); for
                eddy installed in a project, what that project's package.json asks
                for (e.g. the tarball it was installed from); else ^<this version>
  -h, --help    show this help
`;

/** Ranges used when eddy's own package.json does not list a devDependency (it always does in a release). */
const FALLBACK_DEV_DEPENDENCIES: TemplateOptions['devDependencies'] = { typescript: '^5.9.3', vitest: '^4.1.12', '@types/node': '^20.19.43' };

/** Entries an otherwise empty directory may hold (a repository made with `git init` first). */
const IGNORED_ENTRIES = new Set(['.git']);

/** What `newProject` made. */
export interface NewProject {
  /** The absolute directory of the project. */
  directory: string;
  /** Its package name. */
  name: string;
  /** The eddy dependency spec written to its package.json. */
  eddySpec: string;
  /** The files written, relative to `directory`. */
  files: string[];
}

/**
 * The npm package name for a project in `directory`: its base name, lowercased, with characters npm
 * does not allow replaced by '-'. A project may not be called `eddy` (npm refuses to install a
 * dependency named like the package itself), so that name and an empty result become `eddy-job`.
 *
 * @example
 * ```ts
 * packageName('/home/me/My Clicks'); // 'my-clicks'
 * ```
 */
export function packageName(directory: string): string {
  const name = basename(resolve(directory))
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+/, '')
    .replace(/-+$/, '')
    .slice(0, 214);
  return name === '' || name === 'eddy' ? 'eddy-job' : name;
}

/** A spec as npm reads it in a package.json in `base`: paths (./x, ../x, /x, file:x, x.tgz) become `file:<absolute path>`. */
function absoluteSpec(spec: string, base: string): string {
  const path = spec.startsWith('file:') ? spec.slice('file:'.length) : spec;
  if (spec.startsWith('file:') || /^\.\.?(\/|$)/.test(spec) || isAbsolute(spec) || spec.endsWith('.tgz')) return `file:${resolve(base, path)}`;
  return spec;
}

/**
 * How the project around an installed eddy (`<project>/node_modules/eddy`) asked for it, made
 * absolute: a tarball or git URL it was installed from works for a new project too, where
 * `^<version>` would send npm to a registry that may not have this eddy. Undefined when eddy is not
 * in a project's node_modules (a global install) or the project does not name it.
 */
function installedFrom(here: Installation): string | undefined {
  if (basename(dirname(here.root)) !== 'node_modules') return undefined;
  const project = dirname(dirname(here.root));
  try {
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const spec = manifest['dependencies']?.['eddy'] ?? manifest['devDependencies']?.['eddy'];
    return spec === undefined ? undefined : absoluteSpec(spec, project);
  } catch {
    return undefined;
  }
}

/**
 * The eddy dependency of a new project: `given` (from `--eddy`) when set, with paths made absolute
 * against `cwd`. Otherwise, run from a clone's sources: `file:<clone>` (its version need not be on
 * any registry); installed in a project: the spec that project installed it with (a tarball, a git
 * URL, a range); else `^<version>` of the running eddy.
 *
 * @example
 * ```ts
 * eddyDependency('../eddy-0.1.0.tgz', '/home/me', here); // 'file:/home/eddy-0.1.0.tgz'
 * eddyDependency(undefined, '/home/me', here);            // 'file:/src/eddy' (a clone), or as installed, or '^0.1.0'
 * ```
 */
export function eddyDependency(given: string | undefined, cwd: string, here: Installation): string {
  if (given !== undefined) return absoluteSpec(given, cwd);
  if (here.fromSources) return `file:${here.root}`;
  return installedFrom(here) ?? `^${here.version}`;
}

/** Throws unless `directory` is missing or empty (apart from IGNORED_ENTRIES). */
function checkTarget(directory: string, shown: string): void {
  let entries: string[];
  try {
    if (!statSync(directory).isDirectory())
      throw new EddyError('EDDY_INVALID_ARGUMENT', `eddy new: ${shown} is a file, not a directory (${directory}); name a new or empty directory`);
    entries = readdirSync(directory);
  } catch (e) {
    if (isEddyError(e)) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new EddyError('EDDY_INVALID_ARGUMENT', `eddy new: cannot read ${directory}: ${(e as Error).message}`, { cause: e });
  }
  const present = entries.filter((e) => !IGNORED_ENTRIES.has(e)).sort();
  if (present.length > 0) {
    const listed = present.slice(0, 5).join(', ') + (present.length > 5 ? `, ... (${present.length} entries)` : '');
    throw new EddyError(
      'EDDY_DIRECTORY_NOT_EMPTY',
      `eddy new: ${directory} is not empty, it holds ${listed}; nothing was written. Name a new or empty directory, e.g. eddy new my-job`,
    );
  }
}

/**
 * Writes a new job project into `directory` (resolved against `cwd`), which must be missing or
 * empty: an existing file is never overwritten.
 *
 * @throws EddyError `EDDY_DIRECTORY_NOT_EMPTY` when the directory holds anything but `.git`;
 *   `EDDY_INVALID_ARGUMENT` when it is a file or cannot be read.
 * @example
 * ```ts
 * const p = newProject({ directory: 'clicks', cwd: process.cwd() });
 * p.files; // ['package.json', 'tsconfig.json', 'src/job.ts', 'test/job.test.ts', 'README.md', '.gitignore']
 * ```
 */
export function newProject(options: { directory: string; cwd: string; eddy?: string | undefined; installation?: Installation }): NewProject {
  const here = options.installation ?? installation();
  const directory = resolve(options.cwd, options.directory);
  checkTarget(directory, options.directory);
  const dev = here.manifest.devDependencies ?? {};
  const name = packageName(directory);
  const eddySpec = eddyDependency(options.eddy, options.cwd, here);
  const files = projectFiles({
    name,
    eddySpec,
    devDependencies: {
      typescript: dev['typescript'] ?? FALLBACK_DEV_DEPENDENCIES.typescript,
      vitest: dev['vitest'] ?? FALLBACK_DEV_DEPENDENCIES.vitest,
      '@types/node': dev['@types/node'] ?? FALLBACK_DEV_DEPENDENCIES['@types/node'],
    },
  });
  for (const [file, text] of Object.entries(files)) {
    const path = join(directory, file);
    mkdirSync(dirname(path), { recursive: true });
    // 'wx': fail rather than overwrite, should something appear in the directory meanwhile.
    writeFileSync(path, text, { flag: 'wx' });
  }
  return { directory, name, eddySpec, files: Object.keys(files) };
}

/**
 * `eddy new`: scaffolds the project and prints what to do next. Resolves with the exit code: 0, or 2
 * when the directory is not empty or not a directory (nothing is written then).
 *
 * @example
 * ```ts
 * await newCommand({ kind: 'new', directory: 'clicks', eddy: undefined }, { stdout, stderr, cwd: process.cwd() });
 * ```
 */
export async function newCommand(cmd: Extract<Command, { kind: 'new' }>, io: Pick<CliIO, 'stdout' | 'stderr' | 'cwd'>): Promise<number> {
  let project: NewProject;
  try {
    project = newProject({ directory: cmd.directory, cwd: io.cwd, eddy: cmd.eddy });
  } catch (e) {
    if (isEddyError(e, 'EDDY_DIRECTORY_NOT_EMPTY') || isEddyError(e, 'EDDY_INVALID_ARGUMENT')) {
      io.stderr(`eddy: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const shown = relative(io.cwd, project.directory) || '.';
  io.stdout(
    `Created ${project.name} in ${project.directory}: ${project.files.join(', ')}\n` +
      `eddy dependency: ${project.eddySpec}\n\n` +
      `Next:\n` +
      (shown === '.' ? '' : `  cd ${shown.includes(' ') ? JSON.stringify(shown) : shown}\n`) +
      `  npm install\n` +
      `  npm test     # the job's functions, through eddy/testing\n` +
      `  npm start    # eddy run src/job.ts (a private nats-server, or NATS_URL)\n`,
  );
  return 0;
}
