// `eddy run` from the clone loads job files from any folder as ES modules (top-level await in .ts/.js/.mts), with `eddy` resolvable there.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const natsUrl = inject('natsUrl');

const work = mkdtempSync(join(tmpdir(), 'eddy-load-job-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `node bin/eddy.mjs run <job>` with the job's folder as working directory and the shared server as NATS_URL. */
function eddyRun(job: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: natsUrl };
  for (const k of ['EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_DEBUG', 'EDDY_JOB_FILE']) delete env[k];
  const child = spawn(process.execPath, [bin, 'run', job], { cwd: join(job, '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A job that imports eddy, awaits at the top level and prints the collected result. */
const JOB = `import { StreamEnvironment } from 'eddy';
const out = await StreamEnvironment.create().fromCollection([1, 2, 3]).map((x) => x * 10).executeAndCollect();
console.log('collected ' + JSON.stringify(out.sort((a, b) => a - b)));
`;

function folder(name: string, packageJson?: object): string {
  const dir = join(work, name);
  mkdirSync(dir);
  if (packageJson !== undefined) writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson));
  return dir;
}

describe('eddy run: job files outside the clone, with top-level await', () => {
  // Without "type": "module" (or any package.json), node and tsx take a .ts or .js file for CommonJS,
  // where top-level await is a syntax error: eddy loads the job file itself as an ES module.
  for (const [name, file, packageJson] of [
    ['a .ts job in a folder without package.json', 'job.ts', undefined],
    ['a .ts job in a CommonJS package', 'job.ts', { name: 'cjs-jobs' }],
    ['a .js job in a CommonJS package', 'job.js', { name: 'cjs-js-jobs', type: 'commonjs' }],
    ['a .mts job', 'job.mts', undefined],
  ] as const) {
    it(name, async () => {
      const job = join(folder(file.replace('.', '-') + '-' + (packageJson?.name ?? 'none'), packageJson), file);
      writeFileSync(job, JOB);
      const r = await eddyRun(job);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('collected [10,20,30]');
    });
  }

  it("the job's TypeScript modules load as ES modules with it (default exports work), unless their package.json says commonjs", async () => {
    const dir = folder('helpers');
    writeFileSync(join(dir, 'scale.ts'), 'export const factor: number = 10;\nexport default function scale(x: number): number {\n  return x * factor;\n}\n');
    mkdirSync(join(dir, 'legacy'));
    writeFileSync(join(dir, 'legacy', 'package.json'), JSON.stringify({ type: 'commonjs' }));
    writeFileSync(join(dir, 'legacy', 'where.ts'), 'export const where = typeof __dirname;\n');
    writeFileSync(
      join(dir, 'job.ts'),
      `import scale, { factor } from './scale.ts';
import { where } from './legacy/where.ts';
import { StreamEnvironment } from 'eddy';
const out = await StreamEnvironment.create().fromCollection([1, 2]).map((x) => scale(x) + factor).executeAndCollect();
console.log('scaled ' + JSON.stringify(out.sort((a, b) => a - b)) + ' __dirname ' + where);
`,
    );
    const r = await eddyRun(join(dir, 'job.ts'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('scaled [20,30] __dirname string');
  });

  it("'eddy' installed next to the job as a link to this clone resolves to the clone's sources, not its dist/", async () => {
    const dir = folder('linked', { name: 'linked' });
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(repoRoot, join(dir, 'node_modules', 'eddy'));
    writeFileSync(join(dir, 'job.ts'), `${JOB}console.log('eddy at ' + import.meta.resolve('eddy'));\n`);
    const r = await eddyRun(join(dir, 'job.ts'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('collected [10,20,30]');
    // One copy of eddy in the process, the one being edited: a build in dist/ may be stale (or missing).
    expect(r.stdout).toContain(`eddy at ${pathToFileURL(join(repoRoot, 'index.ts')).href}`);
  });
});
