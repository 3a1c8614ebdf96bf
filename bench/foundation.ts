// The "foundation" suite: eddy's two basic data paths against hand-written baselines in the same run.
//   chain:   generator -> map -> filter -> sink, parallelism 1 (one operator chain, no network) vs a plain loop.
//   shuffle: generator (p=2) -> keyBy -> sum -> sink across a NATS hash exchange vs raw msgpackr batches over NATS.
import { Packr, Unpackr } from 'msgpackr';
import { StreamEnvironment, type Sink } from '../index.ts';
import { connectNats } from '../src/transport/nats-server.ts';
import type { BenchContext, Measurement, SuiteResult } from './report.ts';
import { compare, fmtRate, measure, summarize } from './report.ts';

// ---------------------------------------------------------------------------------------------
// (a) chained map/filter pipeline vs a plain loop
// ---------------------------------------------------------------------------------------------

interface Event {
  id: number;
  v: number;
}
interface Enriched {
  id: number;
  v: number;
  bucket: number;
}

// The same three functions drive eddy and the plain loop.
const generate = (i: number): Event => ({ id: i, v: i * 3 });
const enrich = (e: Event): Enriched => ({ id: e.id, v: e.v, bucket: e.id % 10 });
const keep = (e: Enriched): boolean => e.bucket < 7;

interface ChainCheck {
  count: number;
  sum: number;
}

export async function chainEddy(ctx: Pick<BenchContext, 'natsUrl' | 'stateDir'>, n: number): Promise<ChainCheck> {
  const check: ChainCheck = { count: 0, sum: 0 };
  const sink: Sink<Enriched> = {
    name: 'sum',
    createWriter: () => ({
      invoke(e: Enriched): void {
        check.count++;
        check.sum += e.v;
      },
    }),
  };
  const env = StreamEnvironment.create({ parallelism: 1, nats: ctx.natsUrl, stateDir: ctx.stateDir });
  env.fromGenerator(n, generate).map(enrich).filter(keep).sinkTo(sink);
  const r = await env.execute('bench-chain');
  if (r.status !== 'finished') throw new Error(`chain job ended ${r.status}`);
  return check;
}

export function chainLoop(n: number): ChainCheck {
  let count = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = enrich(generate(i));
    if (keep(e)) {
      count++;
      sum += e.v;
    }
  }
  return { count, sum };
}

/** The expected count and sum for n events, in closed form (exact below 2^53, i.e. for any n used here). */
export function chainExpected(n: number): ChainCheck {
  // Block b holds i = 10b + r; r < 7 passes the filter, contributing 3 * (70b + 21) to the sum.
  const full = Math.floor(n / 10);
  let count = full * 7;
  let sum = 3 * ((70 * full * (full - 1)) / 2 + 21 * full);
  for (let i = full * 10; i < n; i++)
    if (i % 10 < 7) {
      count++;
      sum += 3 * i;
    }
  return { count, sum };
}

// ---------------------------------------------------------------------------------------------
// (b) keyed sum across a NATS shuffle (parallelism 2) vs raw msgpackr batches over NATS
// ---------------------------------------------------------------------------------------------

const KEYS = 1000;

interface Keyed {
  id: number;
  key: number;
  v: number;
}

const generateKeyed = (i: number): Keyed => ({ id: i, key: i % KEYS, v: i % 7 });

interface ShuffleCheck {
  /** Records the sink (eddy: rolling sums, one per input) or the subscribers (raw) saw. */
  count: number;
  totals: Map<number, number>;
}

export async function shuffleEddy(ctx: Pick<BenchContext, 'natsUrl' | 'stateDir'>, n: number): Promise<ShuffleCheck> {
  const check: ShuffleCheck = { count: 0, totals: new Map() };
  // The rolling sum emits the key's running total after every record: the last one per key is its total.
  const sink: Sink<Keyed> = {
    name: 'totals',
    createWriter: () => ({
      invoke(e: Keyed): void {
        check.count++;
        check.totals.set(e.key, e.v);
      },
    }),
  };
  const env = StreamEnvironment.create({ parallelism: 2, nats: ctx.natsUrl, stateDir: ctx.stateDir });
  env
    .fromGenerator(n, generateKeyed)
    .keyBy((e) => e.key)
    .sum('v')
    .sinkTo(sink);
  const r = await env.execute('bench-shuffle');
  if (r.status !== 'finished') throw new Error(`shuffle job ended ${r.status}`);
  return check;
}

/** Frames a raw channel may have in flight before its consumer has processed them (eddy's default credits). */
const RAW_WINDOW = 8;
/** Records per published batch: eddy's default network.batchSize. */
const RAW_BATCH = 1000;

/** The msgpackr options of eddy's FrameCodec (records with inline structures, extended types). */
const CODEC_OPTIONS = { useRecords: true, moreTypes: true };

let rawRuns = 0;

/**
 * The raw baseline: 2 producer loops (generator subtasks s, s+2, ...) route records by key to 2
 * consumers, batch them per target, msgpackr-encode each batch (Packr useRecords, as FrameCodec)
 * and publish it; 2 subscriber callbacks decode and fold into per-key sums. Flow control is an
 * in-process window of RAW_WINDOW batches per producer->consumer channel (free, unlike eddy's
 * credit messages over NATS), so the server never sees a slow consumer.
 */
export async function shuffleRaw(ctx: Pick<BenchContext, 'natsUrl' | 'stateDir'>, n: number): Promise<ShuffleCheck> {
  const P = 2;
  const C = 2;
  const run = ++rawRuns;
  const subject = (c: number): string => `bench.raw.${process.pid}.${run}.${c}`;
  const pubNc = await connectNats(ctx.natsUrl, { name: 'bench-raw-pub' });
  const subNc = await connectNats(ctx.natsUrl, { name: 'bench-raw-sub' });
  const check: ShuffleCheck = { count: 0, totals: new Map() };
  try {
    // received[p * C + c]: batches of channel p->c the consumer has folded.
    const received = new Int32Array(P * C);
    const waiters: ((() => void) | undefined)[] = new Array(P).fill(undefined);
    let finish!: () => void;
    let failed!: (e: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      failed = reject;
    });
    if (n === 0) finish();

    for (let c = 0; c < C; c++) {
      const unpackr = new Unpackr(CODEC_OPTIONS);
      const totals = check.totals;
      subNc.subscribe(subject(c), {
        callback: (err, msg) => {
          if (err) return failed(err);
          const [p, records] = unpackr.unpack(msg.data) as [number, Keyed[]];
          for (let i = 0; i < records.length; i++) {
            const e = records[i]!;
            totals.set(e.key, (totals.get(e.key) ?? 0) + e.v);
          }
          check.count += records.length;
          received[p * C + c]!++;
          const w = waiters[p];
          if (w !== undefined) {
            waiters[p] = undefined;
            w();
          }
          if (check.count === n) finish();
        },
      });
    }
    // The server must know the subscriptions before anything is published.
    await subNc.flush();

    const producer = async (p: number): Promise<void> => {
      const packr = new Packr(CODEC_OPTIONS);
      const buffers: Keyed[][] = [];
      const sent = new Int32Array(C);
      for (let c = 0; c < C; c++) buffers.push([]);
      const publish = async (c: number): Promise<void> => {
        const bytes = packr.pack([p, buffers[c]]);
        buffers[c] = [];
        pubNc.publish(subject(c), bytes);
        sent[c]!++;
        while (sent[c]! - received[p * C + c]! >= RAW_WINDOW) await new Promise<void>((resolve) => (waiters[p] = resolve));
      };
      for (let i = p; i < n; i += P) {
        const e = generateKeyed(i);
        const c = e.key % C;
        if (buffers[c]!.push(e) >= RAW_BATCH) await publish(c);
      }
      for (let c = 0; c < C; c++) if (buffers[c]!.length > 0) await publish(c);
    };
    await Promise.all([producer(0), producer(1), done]);
    return check;
  } finally {
    await pubNc.drain().catch(() => undefined);
    await subNc.drain().catch(() => undefined);
  }
}

export function shuffleExpected(n: number): Map<number, number> {
  const totals = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const e = generateKeyed(i);
    totals.set(e.key, (totals.get(e.key) ?? 0) + e.v);
  }
  return totals;
}

function sameTotals(a: Map<number, number>, b: Map<number, number>): string | undefined {
  if (a.size !== b.size) return `${a.size} keys vs ${b.size}`;
  for (const [k, v] of a) if (b.get(k) !== v) return `key ${k}: ${v} vs ${b.get(k)}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------


function fmtCheck(c: ChainCheck): string {
  return `count ${c.count}, sum ${c.sum}`;
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const chainN = Math.max(1000, Math.round(50_000_000 * ctx.scale));
  const shuffleN = Math.max(1000, Math.round(5_000_000 * ctx.scale));
  const runs = ctx.runs;

  // ---- (a) chain
  ctx.log(`chain: generator -> map -> filter -> sink, parallelism 1, ${chainN.toLocaleString('en-US')} events, warm-up + best of ${runs}`);
  const expectChain = chainExpected(chainN);
  const verifyChain = (who: string, c: ChainCheck): void => {
    if (c.count !== expectChain.count || c.sum !== expectChain.sum)
      throw new Error(`chain: ${who} produced ${fmtCheck(c)}, expected ${fmtCheck(expectChain)}`);
  };
  const chainEddyRuns: Measurement[] = [];
  const chainLoopRuns: Measurement[] = [];
  for (let r = 0; r <= runs; r++) {
    const e = await measure(ctx, chainN, () => chainEddy(ctx, chainN));
    verifyChain('eddy', e.check);
    const l = await measure(ctx, chainN, () => chainLoop(chainN));
    verifyChain('plain loop', l.check);
    const tag = r === 0 ? 'warm-up' : `run ${r}`;
    ctx.log(`  ${tag.padEnd(7)} eddy ${fmtRate(e.m.eventsPerSecond)} ev/s  loop ${fmtRate(l.m.eventsPerSecond)} ev/s`);
    if (r > 0) {
      chainEddyRuns.push(e.m);
      chainLoopRuns.push(l.m);
    }
  }

  // ---- (b) shuffle
  ctx.log(`shuffle: generator(p=2) -> keyBy -> sum -> sink over NATS, ${shuffleN.toLocaleString('en-US')} events, ${KEYS} keys, warm-up + best of ${runs}`);
  const expectTotals = shuffleExpected(shuffleN);
  const verifyShuffle = (who: string, c: ShuffleCheck): void => {
    if (c.count !== shuffleN) throw new Error(`shuffle: ${who} saw ${c.count} records, expected ${shuffleN}`);
    const diff = sameTotals(c.totals, expectTotals);
    if (diff !== undefined) throw new Error(`shuffle: ${who}'s per-key totals differ from the expected ones (${diff})`);
  };
  const shuffleEddyRuns: Measurement[] = [];
  const shuffleRawRuns: Measurement[] = [];
  for (let r = 0; r <= runs; r++) {
    const e = await measure(ctx, shuffleN, () => shuffleEddy(ctx, shuffleN));
    verifyShuffle('eddy', e.check);
    const b = await measure(ctx, shuffleN, () => shuffleRaw(ctx, shuffleN));
    verifyShuffle('raw baseline', b.check);
    const tag = r === 0 ? 'warm-up' : `run ${r}`;
    ctx.log(`  ${tag.padEnd(7)} eddy ${fmtRate(e.m.eventsPerSecond)} ev/s  raw ${fmtRate(b.m.eventsPerSecond)} ev/s`);
    if (r > 0) {
      shuffleEddyRuns.push(e.m);
      shuffleRawRuns.push(b.m);
    }
  }

  return {
    suite: 'foundation',
    params: { chainEvents: chainN, shuffleEvents: shuffleN, keys: KEYS, runs, batchSize: RAW_BATCH, window: RAW_WINDOW },
    comparisons: [
      compare({
        name: 'chain',
        description: 'generator -> map -> filter -> sink, parallelism 1 (one chain) vs plain loop',
        eddy: summarize('eddy', chainEddyRuns),
        baseline: summarize('plain loop', chainLoopRuns),
        target: 0.3,
      }),
      compare({
        name: 'shuffle',
        description: 'generator(p=2) -> keyBy -> sum -> sink across NATS vs raw msgpackr batches over NATS',
        eddy: summarize('eddy', shuffleEddyRuns),
        baseline: summarize('raw NATS', shuffleRawRuns),
        target: 0.6,
      }),
    ],
  };
}
