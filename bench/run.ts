// `npm run bench [-- <suite>...] [--quick] [--runs N] [--no-write]`: runs benchmark suites on one private nats-server.
//   npm run bench                 every suite
//   npm run bench -- foundation   one suite
//   npm run bench -- --quick      a tenth of the events, one measured run (a smoke test, not a figure)
// Each benchmark: one warm-up run, then the best of 5 (--runs N) measured runs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startEmbeddedNatsServer } from '../src/transport/nats-server.ts';
import { clockTicksPerSecond, cpuModel } from './cpu.ts';
import { formatTable, type BenchContext, type SuiteResult } from './report.ts';

/** Suites by name; each module exports `run(ctx): Promise<SuiteResult>`. Add e.g. `nexmark` here. */
const SUITES: Record<string, () => Promise<{ run(ctx: BenchContext): Promise<SuiteResult> }>> = {
  foundation: () => import('./foundation.ts'),
  windows: () => import('./windows.ts'),
  checkpoints: () => import('./checkpoints.ts'),
  actors: () => import('./actors.ts'),
  // A soak, not a figure: only when named (`npm run bench -- chaos --seeds 20`), never in "every suite".
  chaos: () => import('./chaos.ts'),
  // Minutes, not seconds: only when named (`npm run bench -- nexmark [--query q5] ...`, see bench/nexmark/run.ts).
  nexmark: () => import('./nexmark/run.ts'),
  // Worker processes (recovery after a SIGKILL, Nexmark on 1-2 workers): only when named (`npm run bench -- workers`).
  workers: () => import('./workers.ts'),
};

/** Options read by bench/nexmark/run.ts itself, each with a value; checked here so a typo still fails fast. */
const NEXMARK_OPTIONS = new Set(['--query', '--events', '--parallelism', '--checkpoint-interval', '--rate', '--events-per-second']);

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error(`usage: npm run bench [-- [${Object.keys(SUITES).join('|')}]... [--quick] [--runs N] [--no-write] [--seeds N (chaos)] [--query q5,.. --events N --parallelism N --checkpoint-interval 10s|off --rate R --events-per-second E (nexmark)]]`);
  process.exit(2);
}

function parseArgs(argv: string[]): { suites: string[]; scale: number; runs: number | undefined; write: boolean } {
  const suites: string[] = [];
  let scale = 1;
  let runs: number | undefined;
  let write = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') scale = 0.1;
    else if (a === '--no-write') write = false;
    else if (a === '--runs') {
      runs = Number(argv[++i]);
      if (!Number.isInteger(runs) || runs < 1) usage('--runs needs a positive integer');
    } else if (a === '--seeds' || a === '--first-seed') {
      // Read by bench/chaos.ts itself; checked here so a typo still fails fast.
      if (!Number.isInteger(Number(argv[++i]))) usage(`${a} needs an integer`);
    } else if (NEXMARK_OPTIONS.has(a)) {
      if (argv[++i] === undefined) usage(`${a} needs a value`);
    } else if (a === '--help' || a === '-h') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (!(a in SUITES)) usage(`unknown suite "${a}"`);
    else suites.push(a);
  }
  return { suites: suites.length > 0 ? suites : Object.keys(SUITES).filter((s) => s !== 'chaos' && s !== 'nexmark' && s !== 'workers'), scale, runs, write };
}

/** A full GC between runs: --expose-gc is not on the npm script's command line, so enable it here. */
function gcFunction(): () => void {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return gc as () => void;
  } catch {
    // fall through
  }
  return () => {};
}

function git(...args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

const args = parseArgs(process.argv.slice(2));
const benchDir = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'eddy-bench-'));
const machine = {
  node: process.version,
  cpuModel: cpuModel(),
  nproc: availableParallelism(),
  clkTck: clockTicksPerSecond(),
  commit: git('rev-parse', '--short', 'HEAD') ?? 'unknown',
  /** Tracked files differ from the commit (other work in progress was measured too). */
  dirty: (git('status', '--porcelain', '--untracked-files=no') ?? '') !== '',
  date: new Date().toISOString(),
};
console.log(`eddy bench: ${args.suites.join(', ')} | node ${machine.node} | ${machine.nproc} x ${machine.cpuModel} | commit ${machine.commit}${machine.dirty ? ' (dirty)' : ''}`);

const server = await startEmbeddedNatsServer({ storeDir: join(tmp, 'nats') });
console.log(`private nats-server pid ${server.pid} at ${server.address}`);
const t0 = performance.now();
let exitCode = 0;
try {
  for (const name of args.suites) {
    const suite = await SUITES[name]!();
    const ctx: BenchContext = {
      natsUrl: server.url,
      natsPid: server.pid,
      stateDir: join(tmp, 'state'),
      scale: args.scale,
      runs: args.runs ?? (args.scale < 1 ? 1 : 5),
      gc: gcFunction(),
      log: (line) => console.log(line),
    };
    const result = await suite.run(ctx);
    console.log('\n' + formatTable([result]) + '\n');
    for (const c of result.comparisons)
      console.log(
        `${result.suite}/${c.name}: eddy reaches ${(c.ratio * 100).toFixed(1)}% of the baseline's events/s ` +
          `(target ${(c.target * 100).toFixed(0)}%: ${c.met ? 'met' : 'MISSED'}), ${(c.cpuRatio * 100).toFixed(1)}% of its events per CPU-second`,
      );
    if (args.write) {
      const dir = join(benchDir, 'results');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${machine.date.slice(0, 10)}-${result.suite}${args.scale === 1 ? '' : `-scale${args.scale}`}.json`);
      writeFileSync(file, JSON.stringify({ ...machine, scale: args.scale, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), ...result }, null, 2) + '\n');
      console.log(`wrote ${file}`);
    }
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
process.exit(exitCode);
