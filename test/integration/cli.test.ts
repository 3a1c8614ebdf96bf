// The `eddy` executable as a user runs it: bin/eddy.mjs in a child process (help, flag checks, jobs, errors, no orphans).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { formatReport, SAMPLE_TEXT, tokenize } from '../../examples/wordcount.ts';
import { LevelCheckpointStorage } from '../../src/checkpoint/level-checkpoint-storage.ts';
import { parseCommand } from '../../src/cli/args.ts';
import { formatError, main, MAIN_HELP, RUN_HELP, type CliIO } from '../../src/cli/main.ts';
import { SAVEPOINT_HELP } from '../../src/cli/savepoint.ts';
import { PUBLISH_HELP } from '../../src/cli/publish.ts';
import { JobFailedError } from '../../src/api/stream-environment.ts';
import { EddyError } from '../../src/errors.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repoRoot, 'bin/eddy.mjs');
const natsUrl = inject('natsUrl');

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-cli-test-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/eddy.mjs ...args` from the repo root, with none of eddy's variables inherited unless given. */
function eddy(args: string[], env: Record<string, string> = {}, timeoutMs = 45_000): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NATS_URL', 'EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_DEBUG', 'EDDY_JOB_FILE', 'EDDY_NATS_SERVER_BIN']) delete base[k];
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Command lines of the running processes that mention `needle` (e.g. an embedded server's store dir). */
function processesMentioning(needle: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes(' ps -eo'))
    .map((l) => l.trim());
}

/** Polls until no process mentions `needle` (a positive condition: they are gone); returns those left at a generous deadline. */
async function noProcessesMentioning(needle: string, timeoutMs = 30_000): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  let left = processesMentioning(needle);
  while (left.length > 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesMentioning(needle);
  }
  return left;
}

function plainCount(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) for (const w of tokenize(line)) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

describe('main() in-process', () => {
  function io(over: Partial<CliIO> = {}) {
    const out = { stdout: '', stderr: '', imported: [] as string[] };
    const cli: Partial<CliIO> = {
      stdout: (t) => (out.stdout += t),
      stderr: (t) => (out.stderr += t),
      cwd: repoRoot,
      env: {},
      argv: ['/usr/bin/node', '/repo/bin/eddy.mjs'],
      importJob: async (url) => void out.imported.push(url),
      ...over,
    };
    return { cli, out };
  }

  it('parses flags anywhere before "--"; positionals after the job and everything after "--" go to the job', () => {
    expect(parseCommand(['run', '-p', '3', 'job.ts', 'in.txt', '--nats', 'nats://h:1', '--', '--seconds', '5', '-p'])).toEqual({
      kind: 'run',
      jobFile: 'job.ts',
      jobArgs: ['in.txt', '--seconds', '5', '-p'],
      parallelism: 3,
      nats: 'nats://h:1',
      stateDir: undefined,
      resume: false,
      fromSavepoint: undefined,
      allowNonRestoredState: false,
      standby: false,
    });
    expect(parseCommand(['run', 'job.ts', '--help'])).toEqual({ kind: 'help', topic: 'run' });
    expect(parseCommand(['run', '--bogus', '-h'])).toEqual({ kind: 'help', topic: 'run' });
  });

  it('run sets the environment and argv the job sees, then imports the job by file URL', async () => {
    const { cli, out } = io();
    const code = await main(['run', 'examples/wordcount.ts', '-p', '4', '--nats', 'nats://127.0.0.1:4222', '--state-dir', 'st', 'input.txt'], cli);
    expect(code).toBe(0);
    const job = join(repoRoot, 'examples/wordcount.ts');
    expect(cli.env).toEqual({ EDDY_PARALLELISM: '4', NATS_URL: 'nats://127.0.0.1:4222', EDDY_STATE_DIR: join(repoRoot, 'st'), EDDY_JOB_FILE: job });
    expect(cli.argv).toEqual(['/usr/bin/node', job, 'input.txt']);
    expect(out.imported).toEqual([`file://${job}`]);
  });

  it('flags win over the environment; values from the environment are kept', async () => {
    const { cli } = io({ env: { EDDY_PARALLELISM: '8', NATS_URL: 'nats://other:4222' } });
    expect(await main(['run', 'examples/wordcount.ts', '-p', '2'], cli)).toBe(0);
    expect(cli.env).toMatchObject({ EDDY_PARALLELISM: '2', NATS_URL: 'nats://other:4222' });
  });

  it('usage errors return 2 and import nothing; a throwing job returns 1 with its message', async () => {
    const bad = io();
    expect(await main(['run', 'examples/wordcount.ts', '--parallelism', '0'], bad.cli)).toBe(2);
    expect(bad.out.stderr).toMatch(/^eddy: EDDY_CONFIG: --parallelism must be/);
    expect(bad.out.imported).toEqual([]);
    const failing = io({
      importJob: async () => {
        throw new EddyError('EDDY_NATS_SERVER_MISSING', 'cannot start the embedded NATS server');
      },
    });
    expect(await main(['run', 'examples/wordcount.ts'], failing.cli)).toBe(1);
    expect(failing.out.stderr).toBe('eddy: EDDY_NATS_SERVER_MISSING: cannot start the embedded NATS server\n');
  });

  it('each command has its own help: eddy <command> --help, -h (winning over other mistakes), eddy help <command>', async () => {
    for (const [args, topic] of [
      [['savepoint', '--help'], 'savepoint'],
      [['savepoint', '--bogus', '-h'], 'savepoint'],
      [['publish', '-h'], 'publish'],
      [['publish', 'a.b', '--rate', 'x', '--help'], 'publish'],
      [['help', 'publish'], 'publish'],
      [['help', 'savepoint'], 'savepoint'],
      [['run', '--help'], 'run'],
      [['help'], 'main'],
    ] as const) {
      expect(parseCommand(args), args.join(' ')).toEqual({ kind: 'help', topic });
    }
    const texts = { main: MAIN_HELP, run: RUN_HELP, savepoint: SAVEPOINT_HELP, publish: PUBLISH_HELP };
    for (const [topic, text] of Object.entries(texts)) {
      const { cli, out } = io();
      expect(await main(topic === 'main' ? ['--help'] : [topic, '--help'], cli)).toBe(0);
      expect(out.stdout).toBe(text);
    }
    expect(SAVEPOINT_HELP).toMatch(/^Usage: eddy savepoint <job name>/);
    expect(PUBLISH_HELP).toMatch(/^Usage: eddy publish <subject>/);
    // A usage error points to the help of its command.
    const { cli, out } = io();
    expect(await main(['savepoint'], cli)).toBe(2);
    expect(out.stderr).toContain('Run "eddy savepoint --help" for usage.');
  });

  it('exit codes as the help says: 2 for usage and configuration errors before the job runs, 1 when the job fails or the script throws', async () => {
    // RUN_HELP names the codes that mean "bad configuration"; each of them, thrown by the job script, exits 2.
    const configCodes = ['EDDY_CONFIG', 'EDDY_INVALID_ARGUMENT', 'EDDY_STATE_MISMATCH'] as const;
    const exitSection = RUN_HELP.slice(RUN_HELP.indexOf('Exit codes:')).replace(/\s+/g, ' ');
    expect(exitSection).toContain('2 bad usage or configuration found before the job ran');
    for (const code of configCodes) {
      expect(exitSection).toContain(code);
      const { cli, out } = io({
        importJob: async () => {
          throw new EddyError(code, 'refused before the job ran');
        },
      });
      expect(await main(['run', 'examples/wordcount.ts'], cli), code).toBe(2);
      expect(out.stderr).toBe(`eddy: ${code}: refused before the job ran\n`);
    }
    const failed = new JobFailedError({ jobId: 'j', jobName: 'j', status: 'failed', durationMs: 1, metrics: {}, deadLetters: 0, restarts: [], error: { code: 'EDDY_CONFIG', message: 'x' } });
    for (const thrown of [failed, new TypeError('x is not a function'), new EddyError('EDDY_NATS_UNREACHABLE', 'nobody there')]) {
      const { cli } = io({
        importJob: async () => {
          throw thrown;
        },
      });
      expect(await main(['run', 'examples/wordcount.ts'], cli), String(thrown)).toBe(1);
    }
    expect(MAIN_HELP).toContain('2 bad usage or configuration');
  });

  it('formatError: other errors show their location and a debug hint; EDDY_DEBUG shows stack and causes', () => {
    const e = new TypeError('x is not a function');
    expect(formatError(e, false)).toMatch(/^eddy: the job threw TypeError: x is not a function\n {4}at .+\n\(set EDDY_DEBUG=1 to see the stack trace\)\n$/);
    const wrapped = new EddyError('EDDY_JOB_FAILED', 'job "j" failed', { cause: { code: 'EDDY_USER_FUNCTION', message: 'boom', operator: 'Map' } });
    expect(formatError(wrapped, false)).toBe('eddy: EDDY_JOB_FAILED: job "j" failed\n');
    expect(formatError(wrapped, true)).toContain('Caused by: EDDY_USER_FUNCTION: boom (operator "Map")');
    expect(formatError('just a string', false)).toContain('eddy: the job threw "just a string"');
  });
});

describe('eddy --help / --version', () => {
  it('--help exits 0 and shows the usage', async () => {
    const r = await eddy(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage:');
    expect(r.stdout).toContain('eddy run <job.ts|job.js>');
    expect(r.stderr).toBe('');
  });

  it('run --help shows the options of run', async () => {
    const r = await eddy(['run', '--help']);
    expect(r.code).toBe(0);
    for (const opt of ['--parallelism', '--nats', '--state-dir', 'EDDY_DEBUG']) expect(r.stdout).toContain(opt);
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = await eddy(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`eddy ${version}`);
  });

  it('no command: the usage on stderr, exit 2', async () => {
    const r = await eddy([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage:');
  });
});

describe('eddy run: bad usage exits 2 with EDDY_CONFIG before anything runs', () => {
  it('--parallelism 0', async () => {
    const r = await eddy(['run', 'examples/wordcount.ts', '--parallelism', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('EDDY_CONFIG');
    expect(r.stderr).toContain('--parallelism must be an integer from 1 to 32768, got "0"');
    expect(r.stdout).toBe('');
  });

  it('--parallelism without a value, a non-number, a bad --nats URL, an unknown option', async () => {
    for (const [args, text] of [
      [['--parallelism'], '--parallelism needs a value'],
      [['-p', 'two'], '--parallelism must be an integer'],
      [['--nats', 'localhost'], '--nats must be a NATS URL'],
      [['--frobnicate'], 'unknown option --frobnicate'],
    ] as const) {
      const r = await eddy(['run', 'examples/wordcount.ts', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('EDDY_CONFIG');
      expect(r.stderr).toContain(text);
    }
  });

  it('a bad EDDY_PARALLELISM in the environment', async () => {
    const r = await eddy(['run', 'examples/wordcount.ts'], { EDDY_PARALLELISM: 'lots' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('EDDY_CONFIG: the environment variable EDDY_PARALLELISM must be an integer');
  });

  it('a missing job file', async () => {
    const r = await eddy(['run', 'examples/no-such-job.ts'], { NATS_URL: natsUrl });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('job file not found: examples/no-such-job.ts');
    expect(r.stderr).toContain(join(repoRoot, 'examples/no-such-job.ts'));
  });

  it('no job file', async () => {
    const r = await eddy(['run', '--parallelism', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('eddy run needs a job file');
  });
});

describe('eddy run examples/wordcount.ts', () => {
  // The shared server's URL carries its credential: children get it as NATS_URL, never on their command line.
  it('counts a file given after the job, with NATS_URL and --parallelism 2', async () => {
    const file = join(tempDir(), 'words.txt');
    writeFileSync(file, 'The cat and the dog.\n\nTHE END, the end!\nA dog\n');
    const r = await eddy(['run', 'examples/wordcount.ts', '--parallelism', '2', file], { NATS_URL: natsUrl });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(parallelism 2,');
    expect(r.stdout).toContain('11 words, 6 distinct');
    const rows = r.stdout
      .split('\n')
      .filter((l) => /^\s+\d+\s{2}\S+$/.test(l))
      .map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([
      ['4', 'the'],
      ['2', 'dog'],
      ['2', 'end'],
      ['1', 'a'],
      ['1', 'and'],
      ['1', 'cat'],
    ]);
  });

  it('counts the built-in sample like a plain count (top 20)', async () => {
    const r = await eddy(['run', 'examples/wordcount.ts', '--parallelism', '2'], { NATS_URL: natsUrl });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(formatReport(plainCount(SAMPLE_TEXT), 20));
  });

  it('without --nats starts a private nats-server under --state-dir and leaves no process behind', async () => {
    const stateDir = tempDir();
    const r = await eddy(['run', 'examples/wordcount.ts', '--state-dir', stateDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(formatReport(plainCount(SAMPLE_TEXT), 20));
    // The embedded server wrote its config into <state dir>/nats, and was started with that store dir.
    expect(existsSync(join(stateDir, 'nats', 'nats-server.conf'))).toBe(true);
    // It holds the server's per-run credential: readable by its owner only.
    expect(statSync(join(stateDir, 'nats', 'nats-server.conf')).mode & 0o777).toBe(0o600);
    expect(await noProcessesMentioning(stateDir)).toEqual([]);
  });
});

describe('eddy run: errors of the job exit 1 with one readable message', () => {
  it('a job whose map throws names the operator and the cause, without a stack', async () => {
    const r = await eddy(['run', 'test/fixtures/failing-job.ts'], { NATS_URL: natsUrl });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('eddy: EDDY_JOB_FAILED: job "failing job" failed in operator "Explode"');
    expect(r.stderr).toContain('cannot handle record 3');
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('EDDY_DEBUG=1 adds the stack and the cause chain', async () => {
    const r = await eddy(['run', 'test/fixtures/failing-job.ts'], { NATS_URL: natsUrl, EDDY_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('EDDY_JOB_FAILED');
    expect(r.stderr).toMatch(/^\s+at /m);
    expect(r.stderr).toContain('Caused by:');
    expect(r.stderr).toContain('failing-job.ts');
  });

  it('a NATS_URL whose password the server rejects is EDDY_NATS_AUTH, with what to do and without the password', async () => {
    const wrong = natsUrl.replace(/:[0-9a-f]{64}@/, `:${'0'.repeat(64)}@`);
    expect(wrong).not.toBe(natsUrl);
    const r = await eddy(['run', 'examples/wordcount.ts'], { NATS_URL: wrong });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('eddy: EDDY_NATS_AUTH: NATS at nats://***@127.0.0.1:');
    expect(r.stderr).toContain('nats://user:pass@host:port');
    expect(r.stderr).not.toContain('0'.repeat(64));
  });

  it('a missing nats-server binary (no --nats) is EDDY_NATS_SERVER_MISSING, with what to do', async () => {
    const stateDir = tempDir();
    const r = await eddy(['run', 'examples/wordcount.ts', '--state-dir', stateDir], { EDDY_NATS_SERVER_BIN: join(stateDir, 'no-nats-server') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('eddy: EDDY_NATS_SERVER_MISSING');
    expect(r.stderr).toContain('--nats URL');
  });
});

describe('eddy run examples/sensor-alerts.ts', () => {
  it('runs the unbounded demo on a private server, cancels the job and exits 0 without leftovers', async () => {
    const stateDir = tempDir();
    const r = await eddy(['run', 'examples/sensor-alerts.ts', '-p', '2', '--state-dir', stateDir, '--', '--seconds', '1', '--rate', '30']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The private server's URL carries its credential: the demo prints it redacted.
    expect(r.stdout).toMatch(/^job \w+ runs on nats:\/\/\*\*\*@127\.0\.0\.1:\d+; publishing 30 readings\/s/m);
    expect(r.stdout).toMatch(/^published 30 readings, received \d+ alerts; job canceled$/m);
    expect(await noProcessesMentioning(stateDir)).toEqual([]);
  });
});

/** A child `eddy` whose stdout lines can be waited for. */
function startEddy(args: string[], env: Record<string, string>) {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NATS_URL', 'EDDY_PARALLELISM', 'EDDY_STATE_DIR', 'EDDY_DEBUG', 'EDDY_JOB_FILE', 'EDDY_RESUME', 'EDDY_FROM_SAVEPOINT']) delete base[k];
  const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const m = stdout.match(w.re);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    check();
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    /** Resolves with the first match of `re` in stdout; rejects if the process ends first. */
    waitFor(re: RegExp): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        check();
        void closed.then(() => reject(new Error(`eddy ended before printing ${re}; stdout: ${stdout}; stderr: ${stderr}`)));
      });
    },
    async done(): Promise<Run> {
      const { code, signal } = await closed;
      return { code, signal, stdout, stderr };
    },
  };
}

describe('eddy run: a job file that does not compile', () => {
  it('is reported as a load error of the file with line, column and the line itself, exit 2', async () => {
    const job = join(tempDir(), 'broken.ts');
    writeFileSync(job, 'const x = 1;\nconst y = (2;\nconsole.log(x, y);\n');
    const r = await eddy(['run', job], { NATS_URL: natsUrl });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`eddy: EDDY_JOB_LOAD: cannot load ${job}: SyntaxError: Expected ")" but found ";" at ${job}:2:13\n    const y = (2;\n                ^\n`);
    expect(r.stderr).not.toContain('TransformError');
    expect(r.stderr).not.toContain('the job threw');
  });
});

describe('eddy run --resume and stale registrations', () => {
  /** An unbounded job with checkpoints: prints its id, then a line after its first checkpoint; with "cancel" it cancels itself then. */
  const JOB = `
import { StreamEnvironment, generatorSource } from 'eddy';
const env = StreamEnvironment.create({ checkpointing: 100 });
env
  .fromSource(generatorSource(Infinity, (i) => ({ k: i % 4, n: 1 }), { ratePerSecond: 500 }))
  .uid('numbers')
  .keyBy((r) => r.k)
  .sum('n')
  .uid('counts')
  .sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
const client = await env.executeAsync('resume-cli');
console.log('STARTED ' + client.jobId);
while ((client.status().checkpoints?.completed ?? 0) < 1) await new Promise((r) => setTimeout(r, 20));
console.log('CHECKPOINTED');
if (process.argv.includes('cancel')) console.log('RESULT ' + (await client.cancel()).status);
`;

  it('fails without checkpoints, says so for an empty checkpoint directory, and prints the checkpoint it restored; a killed job is not running', async () => {
    const work = tempDir();
    const job = join(work, 'resume-job.ts');
    writeFileSync(job, JOB);
    const stateDir = join(work, 'state');
    const checkpoints = join(stateDir, 'checkpoints', 'resume-cli');

    // Nothing to resume: Flink fails on a restore path that does not exist, and so does eddy.
    const none = await eddy(['run', job, '--state-dir', stateDir, '--resume'], { NATS_URL: natsUrl });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`eddy: EDDY_CONFIG: no checkpoint of job "resume-cli" under ${checkpoints}: nothing to resume`);

    // A checkpoint directory without a completed checkpoint (the process died before its first one): empty state, said so.
    const empty = await LevelCheckpointStorage.open(checkpoints);
    await empty.close();
    const fresh = await eddy(['run', job, '--state-dir', stateDir, '--resume', '--', 'cancel'], { NATS_URL: natsUrl });
    expect(fresh.code).toBe(0);
    expect(fresh.stderr).toBe(`eddy: no completed checkpoint of job "resume-cli" under ${checkpoints}; starting from empty state\n`);
    expect(fresh.stdout).toContain('RESULT canceled');

    // A run killed after its first checkpoint leaves the checkpoint, and its registration.
    const first = startEddy(['run', job, '--state-dir', stateDir], { NATS_URL: natsUrl });
    const jobId = (await first.waitFor(/^STARTED (\w+)$/m))[1]!;
    await first.waitFor(/^CHECKPOINTED$/m);
    first.child.kill('SIGKILL');
    const killed = await first.done();
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(stateDir, 'running', 'resume-cli.json'))).toBe(true);

    // The server still answers (NATS_URL), the job does not: said so instead of "no responders".
    const stale = await eddy(['savepoint', 'resume-cli', '--state-dir', stateDir]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain(`eddy: EDDY_CONFIG: job "resume-cli" is not running (its process ${first.child.pid} is gone)`);
    expect(stale.stderr).not.toContain('no responders');

    const resumed = await eddy(['run', job, '--state-dir', stateDir, '--resume', '--', 'cancel'], { NATS_URL: natsUrl });
    expect(resumed.code).toBe(0);
    const m = /^eddy: job "resume-cli" resumes from checkpoint (\d+) taken at (\S+) \((.+)\)$/m.exec(resumed.stderr);
    expect(m, resumed.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(1);
    expect(Number.isNaN(Date.parse(m![2]!))).toBe(false);
    expect(m![3]).toBe(checkpoints);
    // The resumed job continues the checkpointed one.
    expect(resumed.stdout).toContain(`STARTED ${jobId}`);
    expect(resumed.stdout).toContain('RESULT canceled');
  });
});

describe('eddy run: Ctrl-C', () => {
  it("cancels the job, lets the script print its summary, then exits 130 without leftovers", async () => {
    const stateDir = tempDir();
    const run = startEddy(['run', 'examples/sensor-alerts.ts', '--state-dir', stateDir, '--', '--seconds', '0', '--rate', '40'], {});
    await run.waitFor(/^job \w+ runs on .* until Ctrl-C$/m);
    run.child.kill('SIGINT');
    const r = await run.done();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(130);
    // Printed after the job was canceled, which the embedded server's signal handler used to cut off.
    expect(r.stdout).toMatch(/^published \d+ readings, received \d+ alerts; job canceled$/m);
    expect(await noProcessesMentioning(stateDir)).toEqual([]);
  });
});
