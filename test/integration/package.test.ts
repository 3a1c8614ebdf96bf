// eddy as a user installs it: npm pack, the tarball installed offline into a fresh CommonJS-typed project, a TS job with top-level await type-checked and run, eddy new.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { consumerLockfile } from '../support/consumer-lockfile.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const natsUrl = inject('natsUrl');

interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of child npm/node processes: npm's own variables go (under `npm test`,
 * npm_config_local_prefix would make the child npm work on this repository instead of its cwd),
 * except where the cache and registry are; so do vitest's and eddy's, and colours (outputs are matched).
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const lower = k.toLowerCase();
    if ((lower.startsWith('npm_') && !keep.has(lower)) || k === 'INIT_CWD' || k.startsWith('VITEST') || k.startsWith('EDDY_') || k === 'NATS_URL' || k === 'FORCE_COLOR') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs a command to its end (killed after `timeoutMs`, a generous bound for a loaded 2-core machine). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = childEnv(), timeoutMs = 120_000): Promise<Output> {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `run`, failing with the command's output when it does not exit 0. */
async function ok(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<Output> {
  const out = await run(cmd, args, cwd, env, timeoutMs);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${out.code}\n--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`);
  return out;
}

interface Packed {
  tarball: string;
  integrity: string;
  files: string[];
  manifest: { version: string; license?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; bin?: Record<string, string>; engines?: Record<string, string> };
}

/** Writes package.json and the offline lockfile of a consumer whose eddy is `eddySpec` (the tarball), then `npm ci --offline`. */
async function installOffline(dir: string, packed: Packed, eddySpec: string, devDependencies: Record<string, string>, extra: object = {}): Promise<void> {
  const name = basename(dir);
  const dependencies = { eddy: eddySpec };
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as object;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...manifest, name, dependencies, devDependencies, ...extra }, null, 2));
  const lock = consumerLockfile(join(repoRoot, 'package-lock.json'), {
    name,
    dependencies,
    devDependencies,
    eddy: { spec: eddySpec, integrity: packed.integrity, manifest: packed.manifest },
  });
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  await ok('npm', ['ci', '--offline', '--no-audit', '--no-fund'], dir);
}

const work = mkdtempSync(join(tmpdir(), 'eddy-package-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let packed: Packed;
/** A project without "type": "module" (its .ts files are CommonJS to node and tsx): the harder case. */
const consumer = join(work, 'consumer');

// One pack and one install for the whole file: a build, a pack and an install take most of a minute on a loaded machine.
beforeAll(async () => {
  // Packed from a copy, so the build writes the copy's dist/, never the shared working tree's.
  const source = join(work, 'source');
  const skip = new Set(['node_modules', '.git', '.eddy', 'dist', 'scratch']);
  cpSync(repoRoot, source, { recursive: true, filter: (path) => !skip.has(relative(repoRoot, path).split(sep)[0]!) });
  symlinkSync(join(repoRoot, 'node_modules'), join(source, 'node_modules'));
  mkdirSync(join(work, 'pack'));
  const out = await ok('npm', ['pack', '--json', '--pack-destination', join(work, 'pack')], source, childEnv(), 180_000);
  const [info] = JSON.parse(out.stdout) as [{ filename: string; integrity: string; files: { path: string }[] }];
  packed = {
    tarball: join(work, 'pack', info.filename),
    integrity: info.integrity,
    files: info.files.map((f) => f.path),
    manifest: JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as Packed['manifest'],
  };

  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ private: true }));
  const dev = packed.manifest.devDependencies ?? {};
  await installOffline(consumer, packed, `file:${relative(consumer, packed.tarball)}`, { typescript: dev['typescript']!, '@types/node': dev['@types/node']! });
  // The consumer's own strict configuration, as for code a TypeScript runner executes: checks eddy's .d.ts too (skipLibCheck off).
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'preserve',
        moduleResolution: 'bundler',
        strict: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
      },
      include: ['*.ts'],
    }),
  );
  writeFileSync(
    join(consumer, 'job.ts'),
    `import { StreamEnvironment } from 'eddy';
import { ProcessFunctionHarness } from 'eddy/testing';

const env = StreamEnvironment.create({ parallelism: 2 });
const words = env.fromCollection(['to be or not to be']).flatMap((line) => line.split(' '));
const running = await words.map((word) => ({ word, n: 1 })).keyBy((p) => p.word).sum('n').executeAndCollect('package test');
const totals = new Map<string, number>();
for (const { word, n } of running) totals.set(word, Math.max(n, totals.get(word) ?? 0));
console.log('counts ' + JSON.stringify([...totals].sort()));
console.log('harness ' + typeof ProcessFunctionHarness.forMap);

// The declarations carry real types: a string[] is no number (an unused directive fails the check).
// @ts-expect-error
const wrong: number = await env.fromCollection(['x']).executeAndCollect();
void wrong;
`,
  );
}, 300_000);

describe('npm pack', () => {
  it('ships JavaScript and declarations under dist/, bin/ and the README; no TypeScript sources', () => {
    for (const f of ['package.json', 'README.md', 'bin/eddy.mjs', 'dist/index.js', 'dist/index.d.ts', 'dist/src/testing/index.js', 'dist/src/testing/index.d.ts', 'dist/src/cli/main.js'])
      expect(packed.files, f).toContain(f);
    expect(packed.files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(packed.files.filter((f) => !/^(dist\/|bin\/|README\.md$|package\.json$)/.test(f))).toEqual([]);
    // Relative imports of the emitted JavaScript name .js files (rewriteRelativeImportExtensions).
    const entry = readFileSync(join(consumer, 'node_modules/eddy/dist/index.js'), 'utf8');
    expect(entry).toMatch(/from ["']\.\/src\/index\.js["']/);
  });
});

describe('a project that installed the tarball (no "type": "module")', () => {
  it("type-checks a job importing 'eddy' and 'eddy/testing' with top-level await under its own strict tsconfig", async () => {
    const out = await run('npx', ['--no-install', 'tsc', '--noEmit', '-p', '.'], consumer);
    expect(out.stdout + out.stderr).toBe('');
    expect(out.code).toBe(0);
  }, 120_000);

  it('npx eddy run job.ts runs the job from dist/ (as an ES module) against NATS_URL', async () => {
    const out = await run('npx', ['--no-install', 'eddy', 'run', 'job.ts'], consumer, childEnv({ NATS_URL: natsUrl }));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('counts [["be",2],["not",1],["or",1],["to",2]]');
    expect(out.stdout).toContain('harness function');
  }, 120_000);

  it('npx eddy --version is the packed version', async () => {
    const out = await ok('npx', ['--no-install', 'eddy', '--version'], consumer);
    expect(out.stdout.trim()).toBe(`eddy ${packed.manifest.version}`);
  });
});

describe('eddy new, from the installed package', () => {
  it('scaffolds a project that installs, type-checks, passes its tests and runs', async () => {
    const app = join(consumer, 'word-app');
    // No --eddy: the new project asks for eddy as the consumer did, i.e. the tarball (made absolute).
    const created = await ok('npx', ['--no-install', 'eddy', 'new', 'word-app'], consumer);
    expect(created.stdout).toContain(`eddy dependency: file:${packed.tarball}`);
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { name: string; type: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(manifest).toMatchObject({ name: 'word-app', type: 'module', dependencies: { eddy: `file:${packed.tarball}` } });
    // Installed on its own (not through the consumer's node_modules above it), as a user would.
    await installOffline(app, packed, manifest.dependencies['eddy']!, manifest.devDependencies);
    await ok('npm', ['run', 'typecheck'], app);
    const tests = await ok('npm', ['test'], app);
    expect(tests.stdout).toMatch(/Tests\s+3 passed/);
    const started = await ok('npm', ['start', '--silent', '--', '--', 'b a b'], app, childEnv({ NATS_URL: natsUrl }));
    expect(started.stdout.trim().split('\n')).toEqual(['b 2', 'a 1']);
  }, 240_000);
});
