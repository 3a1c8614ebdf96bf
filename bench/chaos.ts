// The "chaos" soak: many seeds of test/fixtures/chaos-job.ts (throws, task kills, every third seed a SIGKILL + --resume); fails if any output differs from the reference.
//   npm run bench -- chaos --seeds 20 [--first-seed 1000]
//   node --import tsx bench/chaos.ts --seeds 20        (standalone: starts its own nats-server)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainModule } from '../src/api/is-main-module.ts';
import { startEmbeddedNatsServer } from '../src/transport/nats-server.ts';
import { runChaosSeed, type ChaosRunReport } from '../test/support/chaos-driver.ts';
import type { BenchContext, SuiteResult } from './report.ts';

export interface ChaosSoakOptions {
  seeds: number;
  firstSeed: number;
}

/** `--seeds N` and `--first-seed S` from the command line (other arguments belong to bench/run.ts). */
export function chaosOptions(argv: string[]): ChaosSoakOptions {
  const { values } = parseArgs({ args: argv, options: { seeds: { type: 'string' }, 'first-seed': { type: 'string' } }, strict: false });
  const seeds = Number(values.seeds ?? 10);
  const firstSeed = Number(values['first-seed'] ?? 1000);
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds needs a positive integer, got ${String(values.seeds)}`);
  if (!Number.isInteger(firstSeed)) throw new Error(`--first-seed needs an integer, got ${String(values['first-seed'])}`);
  return { seeds, firstSeed };
}

function line(r: ChaosRunReport): string {
  const fmt = `seed ${r.seed}: ${r.ok ? 'ok  ' : 'FAIL'} restarts ${String(r.restarts).padStart(2)} (kills landed ${r.killsLanded}${r.sigkilled ? ', SIGKILL + --resume' : ''}) ${(r.durationMs / 1000).toFixed(1)} s`;
  return r.problem === undefined ? fmt : `${fmt}\n    ${r.problem}`;
}

/** Runs the seeds one after another on `natsUrl`; logs one line per seed; returns the reports. */
export async function soak(natsUrl: string, o: ChaosSoakOptions, log: (l: string) => void): Promise<ChaosRunReport[]> {
  const reports: ChaosRunReport[] = [];
  for (let seed = o.firstSeed; seed < o.firstSeed + o.seeds; seed++) {
    const sigkill = seed % 3 === 0;
    let r: ChaosRunReport;
    try {
      r = await runChaosSeed({ natsUrl, seed, tag: `soak_${process.pid}_${seed}`, ...(sigkill ? { sigkillAfterCheckpoints: 3 } : {}) });
    } catch (e) {
      // A driver error (e.g. the server refused a stream) counts as a failed seed, not as the end of the soak.
      r = { seed, ok: false, problem: String((e as Error)?.stack ?? e), expected: 0, got: 0, results: [], jobIds: [], killsLanded: 0, restarts: 0, causes: [], sigkilled: false, durationMs: 0 };
    }
    reports.push(r);
    log(line(r));
  }
  const failed = reports.filter((r) => !r.ok);
  const total = reports.reduce((n, r) => n + r.durationMs, 0);
  log(`chaos: ${reports.length - failed.length}/${reports.length} seeds ok, ${reports.reduce((n, r) => n + r.restarts, 0)} restarts, ${(total / 1000).toFixed(1)} s`);
  return reports;
}

/** The bench suite: throws (so bench/run.ts exits non-zero) when any seed failed. */
export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const o = chaosOptions(process.argv.slice(2));
  const reports = await soak(ctx.natsUrl, o, ctx.log);
  const failed = reports.filter((r) => !r.ok).map((r) => r.seed);
  if (failed.length > 0) throw new Error(`chaos: seeds ${failed.join(', ')} failed (their output differs from the reference or the job did not finish)`);
  return {
    suite: 'chaos',
    params: { seeds: o.seeds, firstSeed: o.firstSeed, restarts: reports.reduce((n, r) => n + r.restarts, 0), failed: 0 },
    comparisons: [],
  };
}

if (isMainModule(import.meta.url)) {
  const storeDir = mkdtempSync(join(tmpdir(), 'eddy-chaos-nats-'));
  const server = await startEmbeddedNatsServer({ storeDir });
  let failed = 1;
  try {
    const reports = await soak(server.url, chaosOptions(process.argv.slice(2)), (l) => console.log(l));
    failed = reports.filter((r) => !r.ok).length;
  } finally {
    await server.stop();
    rmSync(storeDir, { recursive: true, force: true });
  }
  process.exit(failed === 0 ? 0 : 1);
}
