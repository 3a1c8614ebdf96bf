// A small driver for profiling one benchmark workload on its own private nats-server:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts shuffle-eddy [events] [repeats]
//   node --import tsx bench/profile-top.ts /tmp/prof        (self time per function)
// Workloads: chain-eddy, chain-loop, shuffle-eddy, shuffle-raw, checkpoints-on, checkpoints-off.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedNatsServer } from '../src/transport/nats-server.ts';
import { throughputJob } from './checkpoints/throughput.ts';
import { CpuMeter } from './cpu.ts';
import { chainEddy, chainLoop, shuffleEddy, shuffleRaw } from './foundation.ts';

const [which = 'shuffle-eddy', eventsArg, repeatsArg] = process.argv.slice(2);
const defaults: Record<string, number> = { 'chain-eddy': 20_000_000, 'chain-loop': 20_000_000, 'shuffle-eddy': 3_000_000, 'shuffle-raw': 3_000_000, 'checkpoints-on': 10_000_000, 'checkpoints-off': 10_000_000 };
if (!(which in defaults)) {
  console.error(`usage: bench/profile.ts ${Object.keys(defaults).join('|')} [events] [repeats]`);
  process.exit(2);
}
const n = eventsArg === undefined ? defaults[which]! : Number(eventsArg);
const repeats = repeatsArg === undefined ? 4 : Number(repeatsArg);
const tmp = mkdtempSync(join(tmpdir(), 'eddy-profile-'));
const server = await startEmbeddedNatsServer({ storeDir: join(tmp, 'nats') });
const ctx = { natsUrl: server.url, stateDir: join(tmp, 'state') };
try {
  const meter = new CpuMeter([server.pid]);
  for (let r = 0; r < repeats; r++) {
    const s = meter.sample();
    if (which === 'chain-eddy') await chainEddy(ctx, n);
    else if (which === 'chain-loop') chainLoop(n);
    else if (which === 'shuffle-eddy') await shuffleEddy(ctx, n);
    else if (which === 'checkpoints-on' || which === 'checkpoints-off') await throughputJob(ctx, n, which === 'checkpoints-on');
    else await shuffleRaw(ctx, n);
    const d = meter.since(s);
    console.log(
      `${which} run ${r + 1}: ${(n / d.wallSeconds / 1e6).toFixed(2)} M events/s, ${(n / d.totalCpu / 1e6).toFixed(2)} M events/CPU-s ` +
        `(node ${d.selfCpu.toFixed(2)} s, nats-server ${d.otherCpu.toFixed(2)} s)`,
    );
  }
} finally {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
}
