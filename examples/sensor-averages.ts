// Per-sensor averages over tumbling event-time windows: JSON readings from NATS `sensors.<id>` -> validate ->
// timestamps (bounded out-of-orderness) -> keyBy(sensor) -> TumblingEventTimeWindows -> average -> NATS
// `averages.<id>`; readings too late for their window go to a side output and on to NATS `late.sensors`.
//
//   eddy run examples/sensor-averages.ts [-- --seconds 15 --sensors 3 --rate 20 --window 5 --seed 42]
//   npx tsx examples/sensor-averages.ts --seconds 0      (0: until Ctrl-C)
//
// When run, it starts the job (on a private nats-server unless --nats/NATS_URL is given), publishes
// simulated readings stamped with the wall clock (now and then one from the past, which arrives late),
// prints the averages and late readings the job publishes, then cancels the job and exits.
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  EddyError,
  isMainModule,
  natsSink,
  OutputTag,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type AggregateFunction,
  type Collector,
  type DataStream,
  type JobResult,
  type ProcessWindowContext,
  type TimeWindow,
  natsConnectionOptions,
  redactNatsUrl,
} from 'eddy';
import { INVALID_READINGS, mulberry32, sensorSimulator, ValidateReadings, type InvalidReading, type Reading } from './sensor-alerts.ts';

/** What the job publishes to `averages.<id>` for every sensor and window. */
export interface SensorAverage {
  sensor: string;
  /** The window, [start, end) in epoch ms. */
  start: number;
  end: number;
  /** Mean temperature of the window's readings, rounded to 0.01°. */
  average: number;
  count: number;
  min: number;
  max: number;
}

export interface SensorAveragesOptions {
  /** Subject the readings arrive on (default `sensors.*`). */
  sensorSubject?: string;
  /** Averages go to `<averageSubjectPrefix>.<sensor>` (default `averages`). */
  averageSubjectPrefix?: string;
  /** Readings that arrive after their window closed (default `late.sensors`). */
  lateSubject?: string;
  /** Well-formed JSON that is not a reading (default `invalid.sensors`). */
  invalidSubject?: string;
  /** Window length in ms (default 5 000). */
  windowMs?: number;
  /** How far out of order readings may arrive before they count as late (default 1 000 ms). */
  outOfOrdernessMs?: number;
  /** How long a window keeps accepting late readings after it fired, re-publishing its average (default 0). */
  allowedLatenessMs?: number;
}

export const SENSOR_AVERAGES_DEFAULTS = {
  sensorSubject: 'sensors.*',
  averageSubjectPrefix: 'averages',
  lateSubject: 'late.sensors',
  invalidSubject: 'invalid.sensors',
  windowMs: 5_000,
  outOfOrdernessMs: 1_000,
  allowedLatenessMs: 0,
} as const satisfies Required<SensorAveragesOptions>;

/** Side output of the window: readings that came after their window was done. */
export const LATE_READINGS = new OutputTag<Reading>('late-readings');

interface Acc {
  sum: number;
  count: number;
  min: number;
  max: number;
}

/** Sum, count, min and max of a window's temperatures (mergeable, so windows could also be sessions or slides). */
export const temperatureStats: AggregateFunction<Reading, Acc, Acc> = {
  createAccumulator: () => ({ sum: 0, count: 0, min: Infinity, max: -Infinity }),
  add: (r, a) => ({ sum: a.sum + r.temperature, count: a.count + 1, min: Math.min(a.min, r.temperature), max: Math.max(a.max, r.temperature) }),
  getResult: (a) => a,
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) }),
};

/** The window function: the one aggregated value of a sensor's window becomes its SensorAverage. */
export function toAverage(sensor: string, ctx: ProcessWindowContext<TimeWindow>, [a]: readonly Acc[], out: Collector<SensorAverage>): void {
  const w = ctx.window();
  out.collect({ sensor, start: w.start, end: w.end, average: Math.round((a!.sum / a!.count) * 100) / 100, count: a!.count, min: a!.min, max: a!.max });
}

/**
 * Adds the sensor-averages pipeline to `env` and returns the averages stream. Unbounded: run it
 * with `env.executeAsync(...)`. Source, validation and timestamps run at parallelism 1 (one watermark
 * sequence in the readings' arrival order); the windows run at the environment's parallelism.
 */
export function buildSensorAveragesJob(env: StreamEnvironment, options: SensorAveragesOptions = {}): DataStream<SensorAverage> {
  const o = { ...SENSOR_AVERAGES_DEFAULTS, ...options };
  for (const [name, v, min] of [
    ['windowMs', o.windowMs, 1],
    ['outOfOrdernessMs', o.outOfOrdernessMs, 0],
    ['allowedLatenessMs', o.allowedLatenessMs, 0],
  ] as const)
    if (!Number.isInteger(v) || v < min) throw new EddyError('EDDY_CONFIG', `${name} must be an integer >= ${min}, got ${v}`);
  const readings = env
    .fromNats<unknown>({ subject: o.sensorSubject, format: 'json' })
    .setParallelism(1)
    .process(new ValidateReadings())
    .name('Validate readings')
    .setParallelism(1);
  readings.getSideOutput(INVALID_READINGS).sinkTo(natsSink<InvalidReading>({ subject: o.invalidSubject, format: 'json' })).name('Invalid readings to NATS').setParallelism(1);
  const averages = readings
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Reading>(o.outOfOrdernessMs).withTimestampAssigner((r) => r.ts))
    .setParallelism(1)
    .keyBy((r) => r.sensor)
    .window(TumblingEventTimeWindows.of(o.windowMs))
    .allowedLateness(o.allowedLatenessMs)
    .sideOutputLateData(LATE_READINGS)
    .aggregate(temperatureStats, toAverage)
    .name('Average per sensor and window');
  averages.sinkTo(natsSink<SensorAverage>({ subject: (a) => `${o.averageSubjectPrefix}.${a.sensor}`, format: 'json' })).name('Averages to NATS');
  averages.getSideOutput(LATE_READINGS).sinkTo(natsSink<Reading>({ subject: o.lateSubject, format: 'json' })).name('Late readings to NATS');
  return averages;
}

export interface AveragesPublisherOptions {
  sensors?: readonly string[];
  /** Readings per second over all sensors (default 20). */
  ratePerSecond?: number;
  /** How long to publish; Infinity until `signal` aborts (default 15 000 ms). */
  durationMs?: number;
  seed?: number;
  subjectPrefix?: string;
  /** About one reading in this many is stamped `lateByMs` in the past (default 50; 0: never). */
  lateOneIn?: number;
  /** How far in the past a late reading is stamped (default 12 000 ms). */
  lateByMs?: number;
  signal?: AbortSignal;
  onReading?: (r: Reading) => void;
}

/** Publishes simulated readings stamped with the wall clock, a few of them from the past; resolves with how many. */
export async function publishSensorReadings(nc: NatsConnection, options: AveragesPublisherOptions = {}): Promise<number> {
  const sensors = options.sensors ?? ['s1', 's2', 's3'];
  const rate = options.ratePerSecond ?? 20;
  const duration = options.durationMs ?? 15_000;
  const prefix = options.subjectPrefix ?? 'sensors';
  const seed = options.seed ?? 42;
  const next = sensorSimulator(seed, sensors);
  const rand = mulberry32(seed + 1);
  const lateOneIn = options.lateOneIn ?? 50;
  const signal = options.signal;
  const aborted = (): boolean => signal?.aborted === true;
  const start = performance.now();
  let sent = 0;
  while (!aborted()) {
    const offset = (sent * 1000) / rate;
    if (offset >= duration) break;
    const wait = start + offset - performance.now();
    if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, wait));
    if (aborted()) break;
    const late = lateOneIn > 0 && rand() * lateOneIn < 1;
    const r = next(Date.now() - (late ? (options.lateByMs ?? 12_000) : 0));
    nc.publish(`${prefix}.${r.sensor}`, JSON.stringify(r));
    options.onReading?.(r);
    sent++;
  }
  await nc.flush();
  return sent;
}

export interface AveragesDemoOptions extends AveragesPublisherOptions, SensorAveragesOptions {
  env?: StreamEnvironment;
  log?: (line: string) => void;
}

/** Starts the job, publishes readings, prints averages and late readings, cancels the job: what running this file does. */
export async function runSensorAveragesDemo(options: AveragesDemoOptions = {}): Promise<{ published: number; averages: SensorAverage[]; late: Reading[]; result: JobResult }> {
  const log = options.log ?? ((l: string) => console.log(l));
  const env = options.env ?? StreamEnvironment.create();
  const subjectPrefix = options.subjectPrefix ?? 'sensors';
  const o = { ...SENSOR_AVERAGES_DEFAULTS, ...options, sensorSubject: options.sensorSubject ?? `${subjectPrefix}.*` };
  buildSensorAveragesJob(env, o);
  const client = await env.executeAsync('sensor averages');
  const averages: SensorAverage[] = [];
  const late: Reading[] = [];
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ ...natsConnectionOptions(client.natsUrl), name: 'sensor-averages-demo' });
    nc.subscribe(`${o.averageSubjectPrefix}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const a = msg.json<SensorAverage>();
        averages.push(a);
        log(`AVERAGE ${a.sensor} [${new Date(a.start).toISOString().slice(11, 19)}, +${o.windowMs / 1000}s) ${a.average}°C over ${a.count} readings (min ${a.min}, max ${a.max})`);
      },
    });
    nc.subscribe(o.lateSubject, {
      callback: (err, msg) => {
        if (err) return;
        const r = msg.json<Reading>();
        late.push(r);
        log(`LATE ${r.sensor} ${r.temperature}°C stamped ${new Date(r.ts).toISOString().slice(11, 19)}: its window had closed`);
      },
    });
    await nc.flush();
    const forever = options.durationMs === Infinity;
    log(
      `job ${client.jobId} runs on ${redactNatsUrl(client.natsUrl)}; ${o.windowMs / 1000}s windows; publishing ${options.ratePerSecond ?? 20} readings/s to ${subjectPrefix}.<sensor> ` +
        (forever ? 'until Ctrl-C' : `for ${((options.durationMs ?? 15_000) / 1000).toFixed(1)} s`),
    );
    const published = await publishSensorReadings(nc, options);
    // Windows fire when the watermark passes their end: give the last complete ones a moment.
    await new Promise((r) => setTimeout(r, 500));
    const result = await client.cancel();
    log(`published ${published} readings, received ${averages.length} averages and ${late.length} late readings; job ${result.status}`);
    return { published, averages, late, result };
  } finally {
    await client.cancel();
    await nc?.close();
  }
}

function numberArg(values: Record<string, string | undefined>, name: string, min: number): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new EddyError('EDDY_INVALID_ARGUMENT', `--${name} must be a number >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

if (isMainModule(import.meta.url)) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { seconds: { type: 'string' }, sensors: { type: 'string' }, rate: { type: 'string' }, window: { type: 'string' }, seed: { type: 'string' } },
  });
  const seconds = numberArg(values, 'seconds', 0) ?? 15;
  const sensorCount = Math.floor(numberArg(values, 'sensors', 1) ?? 3);
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    await runSensorAveragesDemo({
      durationMs: seconds === 0 ? Infinity : seconds * 1000,
      sensors: Array.from({ length: sensorCount }, (_, i) => `s${i + 1}`),
      ratePerSecond: numberArg(values, 'rate', 0.1) ?? 20,
      windowMs: Math.round((numberArg(values, 'window', 0.001) ?? 5) * 1000),
      seed: numberArg(values, 'seed', 0) ?? 42,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
