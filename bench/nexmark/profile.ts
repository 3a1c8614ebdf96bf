// Profiles one Nexmark query's eddy job (or its plain loop) alone on a private nats-server:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/nexmark/profile.ts q7 [events] [repeats] [parallelism] [loop]
//   node --import tsx bench/profile-top.ts /tmp/prof 40
// Same job as the bench (checkpoints every 10 s, counting sink, 10 M events/s of event time).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamEnvironment } from '../../index.ts';
import { startEmbeddedNatsServer } from '../../src/transport/nats-server.ts';
import { CpuMeter } from '../cpu.ts';
import { BASELINES, DIGESTS, RowCounter } from './baselines.ts';
import { countingSink } from './measure.ts';
import type { NexmarkConfig } from './model.ts';
import { nexmarkEvents, QUERIES } from './queries/index.ts';

const [q = 'q7', eventsArg, repeatsArg, parallelismArg, loopArg] = process.argv.slice(2);
if (!(q in QUERIES)) {
  console.error(`usage: bench/nexmark/profile.ts ${Object.keys(QUERIES).join('|')} [events] [repeats] [parallelism] [loop]`);
  process.exit(2);
}
const config: NexmarkConfig = { events: Number(eventsArg ?? 3_000_000), eventsPerSecond: 10_000_000 };
const repeats = Number(repeatsArg ?? 3);
const parallelism = Number(parallelismArg ?? 1);
const tmp = mkdtempSync(join(tmpdir(), 'eddy-nexmark-profile-'));
const server = await startEmbeddedNatsServer({ storeDir: join(tmp, 'nats') });
try {
  const meter = new CpuMeter([server.pid]);
  for (let r = 0; r < repeats; r++) {
    const s = meter.sample();
    const counter = new RowCounter(DIGESTS[q]!);
    if (loopArg === 'loop') BASELINES[q]!(config, counter);
    else {
      const env = StreamEnvironment.create({ parallelism, nats: server.url, stateDir: join(tmp, 'state'), checkpointing: 10_000 });
      QUERIES[q]!(env, nexmarkEvents(env, config)).sinkTo(countingSink(counter, undefined));
      await env.execute(`profile-${q}`);
    }
    const d = meter.since(s);
    console.log(
      `${q}${loopArg === 'loop' ? ' loop' : ''} run ${r + 1}: ${(config.events / d.wallSeconds / 1e6).toFixed(2)} M events/s, ` +
        `${(config.events / d.totalCpu / 1e6).toFixed(2)} M events/CPU-s (node ${d.selfCpu.toFixed(2)} s, nats-server ${d.otherCpu.toFixed(2)} s), ${counter.rows} rows`,
    );
  }
} finally {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
}
