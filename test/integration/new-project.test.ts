// `eddy new`: the files it writes, the eddy dependency it picks, and refusing a directory that is not empty (installing and type-checking a scaffold: package.test.ts).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommand, UsageError } from '../../src/cli/args.ts';
import { installation, type Installation } from '../../src/cli/installation.ts';
import { main, type CliIO } from '../../src/cli/main.ts';
import { eddyDependency, newProject, packageName } from '../../src/cli/new-project.ts';
import { EddyError } from '../../src/errors.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const repoManifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-new-test-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

function io(cwd: string) {
  const out = { stdout: '', stderr: '' };
  const cli: Partial<CliIO> = { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t), cwd, env: {} };
  return { cli, out };
}

describe('eddy new: parsing', () => {
  it('takes one directory and an optional --eddy spec; --help shows its help', () => {
    expect(parseCommand(['new', 'my-job'])).toEqual({ kind: 'new', directory: 'my-job', eddy: undefined });
    expect(parseCommand(['new', '--eddy', '../eddy-0.1.0.tgz', 'my-job'])).toEqual({ kind: 'new', directory: 'my-job', eddy: '../eddy-0.1.0.tgz' });
    expect(parseCommand(['new', '--help'])).toEqual({ kind: 'help', topic: 'new' });
    expect(parseCommand(['help', 'new'])).toEqual({ kind: 'help', topic: 'new' });
    for (const bad of [['new'], ['new', 'a', 'b'], ['new', 'a', '--force'], ['new', 'a', '--eddy', '']]) expect(() => parseCommand(bad), bad.join(' ')).toThrow(UsageError);
  });
});

describe('eddy new: the project', () => {
  it('writes package.json, a strict tsconfig, the job, its test, a README and .gitignore into a new directory', () => {
    const cwd = tempDir();
    const p = newProject({ directory: 'Word Counts', cwd });
    expect(p.directory).toBe(join(cwd, 'Word Counts'));
    expect(filesUnder(p.directory)).toEqual(['.gitignore', 'README.md', 'package.json', 'src/job.ts', 'test/job.test.ts', 'tsconfig.json']);
    const pkg = JSON.parse(readFileSync(join(p.directory, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({
      name: 'word-counts',
      private: true,
      type: 'module',
      scripts: { start: 'eddy run src/job.ts', test: 'vitest run', typecheck: 'tsc --noEmit' },
      // Run from this clone: the clone itself (its version need not be on any registry).
      dependencies: { eddy: `file:${repoRoot}` },
      // The toolchain versions eddy itself is built and tested with.
      devDependencies: {
        typescript: repoManifest.devDependencies['typescript'],
        vitest: repoManifest.devDependencies['vitest'],
        '@types/node': repoManifest.devDependencies['@types/node'],
      },
    });
    const tsconfig = JSON.parse(readFileSync(join(p.directory, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', noEmit: true });
    expect(tsconfig.include).toEqual(['src', 'test']);
    const job = readFileSync(join(p.directory, 'src/job.ts'), 'utf8');
    expect(job).toMatch(/^\/\/ /);
    expect(job).toContain("from 'eddy'");
    expect(job).toContain('if (isMainModule(import.meta.url))');
    const test = readFileSync(join(p.directory, 'test/job.test.ts'), 'utf8');
    expect(test).toContain("import { ProcessFunctionHarness } from 'eddy/testing';");
    expect(test).toContain("from 'vitest'");
    expect(readFileSync(join(p.directory, 'README.md'), 'utf8')).toContain('npm install');
  });

  it('accepts an empty directory, or one holding only .git', () => {
    const empty = tempDir();
    expect(newProject({ directory: empty, cwd: '/' }).files).toHaveLength(6);
    const repo = tempDir();
    mkdirSync(join(repo, '.git'));
    newProject({ directory: repo, cwd: '/' });
    expect(filesUnder(repo)).toContain('src/job.ts');
  });

  it('refuses a directory that is not empty with EDDY_DIRECTORY_NOT_EMPTY, and writes nothing', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    let error: unknown;
    try {
      newProject({ directory: dir, cwd: '/' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EddyError);
    expect((error as EddyError).code).toBe('EDDY_DIRECTORY_NOT_EMPTY');
    expect((error as EddyError).message).toContain(`${dir} is not empty, it holds notes.txt; nothing was written`);
    expect(filesUnder(dir)).toEqual(['notes.txt']);
  });

  it('refuses a file with EDDY_INVALID_ARGUMENT', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'job'), '');
    expect(() => newProject({ directory: 'job', cwd: dir })).toThrow(/EDDY_INVALID_ARGUMENT: eddy new: job is a file, not a directory/);
  });
});

describe('eddy new: the eddy dependency', () => {
  const installed: Installation = { ...installation(), fromSources: false, version: '1.2.3' };

  it('is the clone for eddy run from sources, ^version for an installed eddy outside a project', () => {
    expect(eddyDependency(undefined, '/home/me', { ...installed, fromSources: true, root: '/src/eddy' })).toBe('file:/src/eddy');
    expect(eddyDependency(undefined, '/home/me', { ...installed, root: '/usr/lib/node_modules/eddy' })).toBe('^1.2.3');
  });

  it("installed in a project: what the project's package.json asks for, paths made absolute", () => {
    const project = tempDir();
    const root = join(project, 'node_modules', 'eddy');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ dependencies: { eddy: 'file:../eddy-1.2.3.tgz' } }));
    expect(eddyDependency(undefined, '/elsewhere', { ...installed, root })).toBe(`file:${join(project, '..', 'eddy-1.2.3.tgz')}`);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ devDependencies: { eddy: 'github:someone/eddy#v1' } }));
    expect(eddyDependency(undefined, '/elsewhere', { ...installed, root })).toBe('github:someone/eddy#v1');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ dependencies: {} }));
    expect(eddyDependency(undefined, '/elsewhere', { ...installed, root })).toBe('^1.2.3');
  });

  it('--eddy: paths and tarballs become absolute file: specs, anything else is kept', () => {
    expect(eddyDependency('../eddy-1.2.3.tgz', '/home/me/jobs', installed)).toBe('file:/home/me/eddy-1.2.3.tgz');
    expect(eddyDependency('file:../eddy', '/home/me/jobs', installed)).toBe('file:/home/me/eddy');
    expect(eddyDependency('eddy-1.2.3.tgz', '/home/me', installed)).toBe('file:/home/me/eddy-1.2.3.tgz');
    expect(eddyDependency('/opt/eddy', '/home/me', installed)).toBe('file:/opt/eddy');
    expect(eddyDependency('^2.0.0', '/home/me', installed)).toBe('^2.0.0');
    expect(eddyDependency('github:someone/eddy#v1', '/home/me', installed)).toBe('github:someone/eddy#v1');
  });

  it('the package name comes from the directory; "eddy" itself is not allowed as a dependent name', () => {
    expect(packageName('/x/My Clicks!')).toBe('my-clicks');
    expect(packageName('/x/eddy')).toBe('eddy-job');
    expect(packageName('/x/_.')).toBe('eddy-job');
  });
});

describe('eddy new on the command line (main)', () => {
  it('prints what it made and what to do next; exit 0', async () => {
    const cwd = tempDir();
    const { cli, out } = io(cwd);
    expect(await main(['new', 'app', '--eddy', '../eddy.tgz'], cli)).toBe(0);
    expect(out.stdout).toContain(`Created app in ${join(cwd, 'app')}`);
    expect(out.stdout).toContain(`eddy dependency: file:${join(cwd, '..', 'eddy.tgz')}`);
    expect(out.stdout).toContain('  cd app\n  npm install\n  npm test');
    expect(JSON.parse(readFileSync(join(cwd, 'app/package.json'), 'utf8')).dependencies).toEqual({ eddy: `file:${join(cwd, '..', 'eddy.tgz')}` });
  });

  it('a directory that is not empty: the error on stderr, exit 2', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'x'), '');
    const { cli, out } = io(cwd);
    expect(await main(['new', '.'], cli)).toBe(2);
    expect(out.stderr).toBe(`eddy: EDDY_DIRECTORY_NOT_EMPTY: eddy new: ${cwd} is not empty, it holds x; nothing was written. Name a new or empty directory, e.g. eddy new my-job\n`);
    expect(out.stdout).toBe('');
  });
});
