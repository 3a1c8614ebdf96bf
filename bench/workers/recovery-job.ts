// The job of bench/workers.ts's recovery measurement: a rate-limited generator -> keyBy -> running sum -> a sink that publishes each record's index (and when its writer was created) on a core NATS subject.
//   eddy run bench/workers/recovery-job.ts --workers 2 -p 2 -- --subject S --records N --rate R --heartbeat-timeout MS --interval MS --name NAME
import { parseArgs } from 'node:util';
import { StreamEnvironment, generatorSource, type Sink } from '../../index.ts';

/** What the sink publishes per record: the generator index, and when (epoch ms) and where the writer that published it was created. */
export interface RecoveryRecord {
  i: number;
  /** Date.now() when this sink writer was created: a writer created after the kill belongs to a restarted task. */
  born: number;
  pid: number;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    subject: { type: 'string' },
    records: { type: 'string' },
    rate: { type: 'string' },
    'heartbeat-timeout': { type: 'string' },
    interval: { type: 'string' },
    name: { type: 'string' },
  },
});
const subject = values.subject ?? 'bench.workers.recovery';
const records = Number(values.records ?? 60_000);
const rate = Number(values.rate ?? 10_000);

const env = StreamEnvironment.create({
  checkpointing: { intervalMs: Number(values.interval ?? 300) },
  restartPolicy: { kind: 'fixedDelay', delayMs: 100, maxAttempts: 10 },
  workerHeartbeatTimeoutMs: Number(values['heartbeat-timeout'] ?? 3000),
});

/** Publishes every record at once (no transaction: the bench wants to see when records flow, not exactly-once output). */
const publishIndex: Sink<{ k: number; i: number; sum: number }> = {
  name: 'publish index',
  createWriter: ({ operator }) => {
    const nc = operator.nats;
    if (nc === undefined) throw new Error('the recovery job needs a NATS connection');
    const born = Date.now();
    const enc = new TextEncoder();
    return {
      invoke: (r) => {
        const out: RecoveryRecord = { i: r.i, born, pid: process.pid };
        nc.publish(subject, enc.encode(JSON.stringify(out)));
      },
    };
  },
};

env
  .fromSource(generatorSource(records, (i) => ({ k: i % 64, i }), { ratePerSecond: rate }))
  .uid('numbers')
  .map((r) => ({ k: r.k, i: r.i, sum: r.i }))
  .keyBy((r) => r.k)
  .reduce((acc, r) => ({ k: r.k, i: r.i, sum: acc.sum + r.i }))
  .uid('sums')
  .sinkTo(publishIndex)
  .uid('out');
const result = await env.execute(values.name ?? 'bench-workers-recovery');
console.log(
  `RESULT ${JSON.stringify({ status: result.status, restarts: result.restarts.map((r) => ({ code: r.cause.code, checkpointId: r.checkpointId })), checkpoints: result.checkpoints?.completed ?? 0 })}`,
);
