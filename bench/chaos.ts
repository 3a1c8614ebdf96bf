// The "chaos" soak: many seeds of test/fixtures/chaos-job.ts (throws and kills always; by seed also a savepoint, a failing commit, a nats-server restart, a SIGKILL + --resume, or all); fails if any output differs from the reference.
//   npm run bench -- chaos --seeds 24 [--first-seed 1000]
//   node --import tsx bench/chaos.ts --seeds 24        (standalone: starts its own nats-server)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isMainModule } from '../src/api/is-main-module.ts';
import { startEmbeddedNatsServer } from '../src/transport/nats-server.ts';
import { describeFaults, soakFaults, SOAK_KINDS, type SoakKind } from '../test/fixtures/chaos-plan.ts';
import { emptyChaosReport, runChaosSeed, type ChaosRunReport } from '../test/support/chaos-driver.ts';
import type { BenchContext, SuiteResult } from './report.ts';

export interface ChaosSoakOptions {
  seeds: number;
  firstSeed: number;
}

/** `--seeds N` and `--first-seed S` from the command line (other arguments belong to bench/run.ts). */
export function chaosOptions(argv: string[]): ChaosSoakOptions {
  const { values } = parseArgs({ args: argv, options: { seeds: { type: 'string' }, 'first-seed': { type: 'string' } }, strict: false });
  const seeds = Number(values.seeds ?? 12);
  const firstSeed = Number(values['first-seed'] ?? 1000);
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds needs a positive integer, got ${String(values.seeds)}`);
  if (!Number.isInteger(firstSeed)) throw new Error(`--first-seed needs an integer, got ${String(values['first-seed'])}`);
  return { seeds, firstSeed };
}

/** A seed's report with the kind of faults it ran. */
export interface SoakReport extends ChaosRunReport {
  kind: SoakKind;
}

function line(r: SoakReport): string {
  const faults =
    `kills ${r.killsLanded}/${r.killsDue}` +
    (r.faults.savepoints > 0 ? `, savepoint failovers ${r.postSavepointFailures}/${r.faults.savepoints} (${r.savepointsTaken} taken)` : '') +
    (r.faults.commitFaults > 0 ? `, commit faults ${r.commitFaultsFired}/${r.faults.commitFaults}` : '') +
    (r.faults.serverRestarts > 0 ? `, server restarts ${r.serverRestarts} (reconnects ${r.reconnects})` : '') +
    (r.faults.sigkill ? `, SIGKILL ${r.sigkilled ? '+ --resume' : 'not landed'}` : '');
  const fmt =
    `seed ${r.seed} ${r.kind.padEnd(14)} ${r.ok ? 'ok  ' : 'FAIL'} ${String(r.lost).padStart(3)} lost ${String(r.twice).padStart(3)} twice, ` +
    `restarts ${String(r.restarts).padStart(2)}, ${faults}, ${(r.durationMs / 1000).toFixed(1)} s`;
  return r.problem === undefined ? fmt : `${fmt}\n    ${r.problem}`;
}

/** Runs the seeds one after another (server-restart seeds on a private server, the rest on `natsUrl`); logs one line per seed and a summary. */
export async function soak(natsUrl: string, o: ChaosSoakOptions, log: (l: string) => void): Promise<SoakReport[]> {
  const reports: SoakReport[] = [];
  for (let seed = o.firstSeed; seed < o.firstSeed + o.seeds; seed++) {
    const { kind, faults } = soakFaults(seed);
    let r: SoakReport;
    try {
      r = { kind, ...(await runChaosSeed({ natsUrl, seed, tag: `soak_${process.pid}_${seed}`, faults })) };
    } catch (e) {
      // A driver error (e.g. the server refused a stream) counts as a failed seed, not as the end of the soak.
      r = { kind, ...emptyChaosReport(seed, faults), problem: `${describeFaults(faults)}: ${String((e as Error)?.stack ?? e)}` };
    }
    reports.push(r);
    log(line(r));
  }
  const failed = reports.filter((r) => !r.ok);
  const total = reports.reduce((n, r) => n + r.durationMs, 0);
  const byKind = SOAK_KINDS.map((k) => {
    const of = reports.filter((r) => r.kind === k);
    return of.length === 0 ? undefined : `${k} ${of.filter((r) => r.ok).length}/${of.length}`;
  }).filter((s) => s !== undefined);
  log(
    `chaos: ${reports.length - failed.length}/${reports.length} seeds ok (${byKind.join(', ')}); ` +
      `${reports.reduce((n, r) => n + r.lost, 0)} lost, ${reports.reduce((n, r) => n + r.twice, 0)} twice, ${reports.reduce((n, r) => n + r.wrong, 0)} wrong; ` +
      `${reports.reduce((n, r) => n + r.restarts, 0)} restarts, ${(total / 1000).toFixed(1)} s`,
  );
  return reports;
}

/** The bench suite: throws (so bench/run.ts exits non-zero) when any seed failed. */
export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const o = chaosOptions(process.argv.slice(2));
  const reports = await soak(ctx.natsUrl, o, ctx.log);
  const failed = reports.filter((r) => !r.ok).map((r) => `${r.seed} (${r.kind})`);
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
