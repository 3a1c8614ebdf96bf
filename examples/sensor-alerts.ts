// Unbounded sensor alerts: JSON readings from NATS `sensors.<id>` -> validate -> keyBy(sensor) ->
// KeyedProcessFunction with ValueState (previous temperature) -> JSON alerts to NATS `alerts.<id>`.
//
//   eddy run examples/sensor-alerts.ts [-- --seconds 10 --sensors 3 --rate 6 --seed 42]
//   npx tsx examples/sensor-alerts.ts --seconds 0      (0: until Ctrl-C)
//
// When run, it starts the job (on a private nats-server unless --nats/NATS_URL is given), publishes
// simulated readings, prints the alerts the job publishes, then cancels the job and exits.
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  isMainModule,
  EddyError,
  KeyedProcessFunction,
  natsSink,
  OutputTag,
  ProcessFunction,
  StreamEnvironment,
  ValueStateDescriptor,
  type Collector,
  type DataStream,
  type JobResult,
  type KeyedProcessContext,
  type ProcessContext,
  type RuntimeContext,
  type ValueState,
  natsConnectionOptions,
  redactNatsUrl,
} from 'eddy';

/** What sensors publish to `sensors.<id>`. */
export interface Reading {
  sensor: string;
  /** Degrees Celsius. */
  temperature: number;
  /** Epoch milliseconds. */
  ts: number;
}

/** What the job publishes to `alerts.<id>`. */
export interface Alert {
  sensor: string;
  /** 'rise': more than `riseThreshold` above the sensor's previous reading; 'limit': above `limit`. */
  kind: 'rise' | 'limit';
  temperature: number;
  /** The sensor's previous temperature, or null for its first reading. */
  previous: number | null;
  ts: number;
  message: string;
}

/** A reading the job could not use, published to `invalidSubject`. */
export interface InvalidReading {
  reason: string;
  value: unknown;
}

export interface SensorAlertsOptions {
  /** Subject the readings arrive on (default `sensors.*`). */
  sensorSubject?: string;
  /** Alerts go to `<alertSubjectPrefix>.<sensor>` (default `alerts`). */
  alertSubjectPrefix?: string;
  /** Well-formed JSON that is not a reading goes here (default `invalid.sensors`). */
  invalidSubject?: string;
  /** Alert when a reading is more than this many degrees above the sensor's previous one (default 10). */
  riseThreshold?: number;
  /** Alert when a reading is above this temperature (default 90). */
  limit?: number;
}

export const SENSOR_ALERTS_DEFAULTS = {
  sensorSubject: 'sensors.*',
  alertSubjectPrefix: 'alerts',
  invalidSubject: 'invalid.sensors',
  riseThreshold: 10,
  limit: 90,
} as const satisfies Required<SensorAlertsOptions>;

/** Sensor ids become subject tokens (`alerts.<id>`), so they are restricted to these characters. */
const SENSOR_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Side output of the validation step. */
export const INVALID_READINGS = new OutputTag<InvalidReading>('invalid-readings');

/** Passes on well-formed readings (with `ts` defaulting to processing time); the rest goes to INVALID_READINGS. */
export class ValidateReadings extends ProcessFunction<unknown, Reading> {
  processElement(value: unknown, ctx: ProcessContext, out: Collector<Reading>): void {
    const reason = problemOf(value);
    if (reason !== undefined) {
      ctx.output(INVALID_READINGS, { reason, value });
      return;
    }
    const r = value as { sensor: string | number; temperature: number; ts?: number };
    out.collect({ sensor: String(r.sensor), temperature: r.temperature, ts: r.ts ?? ctx.timerService().currentProcessingTime() });
  }
}

function problemOf(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'a reading must be an object {sensor, temperature, ts}';
  const r = v as Record<string, unknown>;
  const sensor = typeof r['sensor'] === 'number' ? String(r['sensor']) : r['sensor'];
  if (typeof sensor !== 'string' || !SENSOR_ID.test(sensor)) return 'sensor must be 1-64 letters, digits, _ or -';
  if (typeof r['temperature'] !== 'number' || !Number.isFinite(r['temperature'])) return 'temperature must be a finite number';
  if (r['ts'] !== undefined && (typeof r['ts'] !== 'number' || !Number.isFinite(r['ts']))) return 'ts must be a number (epoch ms) when given';
  return undefined;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * Per sensor (keyed state): remembers the previous temperature and raises an alert when a reading is
 * above `limit`, or else more than `riseThreshold` above the previous reading. At most one alert per reading.
 */
export class TemperatureAlerts extends KeyedProcessFunction<string, Reading, Alert> {
  private previous!: ValueState<number | null>;

  constructor(
    private readonly riseThreshold: number,
    private readonly limit: number,
  ) {
    super();
  }

  override open(ctx: RuntimeContext): void {
    this.previous = ctx.getState(new ValueStateDescriptor<number | null>('previous-temperature', null));
  }

  processElement(r: Reading, _ctx: KeyedProcessContext<string>, out: Collector<Alert>): void {
    const previous = this.previous.value();
    this.previous.update(r.temperature);
    const base = { sensor: r.sensor, temperature: r.temperature, previous, ts: r.ts };
    if (r.temperature > this.limit) {
      out.collect({ ...base, kind: 'limit', message: `sensor ${r.sensor}: ${r.temperature}°C is above the limit of ${this.limit}°C` });
    } else if (previous !== null && r.temperature - previous > this.riseThreshold) {
      out.collect({
        ...base,
        kind: 'rise',
        message: `sensor ${r.sensor}: ${r.temperature}°C is ${round1(r.temperature - previous)}° above its previous reading (${previous}°C)`,
      });
    }
  }
}

/**
 * Adds the sensor-alerts pipeline to `env` (source, validation, keyed alerting, NATS sinks) and returns
 * the alerts stream. Run it with `env.executeAsync(...)`: it is unbounded.
 *
 * The source keeps each subject's order at any parallelism (a subject belongs to one source
 * subtask), so a sensor's readings reach the keyed operator in the order published, which is what
 * "previous reading" relies on. Validation is light, so the source and it run with parallelism 1;
 * the keyed operator runs with the environment's parallelism.
 */
export function buildSensorAlertsJob(env: StreamEnvironment, options: SensorAlertsOptions = {}): DataStream<Alert> {
  const o = { ...SENSOR_ALERTS_DEFAULTS, ...options };
  if (!(o.riseThreshold >= 0) || !Number.isFinite(o.limit))
    throw new EddyError('EDDY_CONFIG', `riseThreshold must be a number >= 0 and limit a finite number, got ${o.riseThreshold} and ${o.limit}`);
  const readings = env
    .fromNats<unknown>({ subject: o.sensorSubject, format: 'json' })
    .setParallelism(1)
    .process(new ValidateReadings())
    .name('Validate readings')
    .setParallelism(1);
  readings
    .getSideOutput(INVALID_READINGS)
    .sinkTo(natsSink<InvalidReading>({ subject: o.invalidSubject, format: 'json' }))
    .name('Invalid readings to NATS')
    .setParallelism(1);
  const alerts = readings
    .keyBy((r) => r.sensor)
    .process(new TemperatureAlerts(o.riseThreshold, o.limit))
    .name('Temperature alerts');
  alerts.sinkTo(natsSink<Alert>({ subject: (a) => `${o.alertSubjectPrefix}.${a.sensor}`, format: 'json' })).name('Alerts to NATS');
  return alerts;
}

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Simulated sensors: each one drifts around 21°C, now and then jumps by 11-19° (a 'rise' alert) and
 * rarely overheats above 90°C (a 'limit' alert). Readings go round-robin over the sensors.
 */
export function sensorSimulator(seed: number, sensorIds: readonly string[]): (ts: number) => Reading {
  const rand = mulberry32(seed);
  const temps = sensorIds.map(() => 18 + rand() * 6);
  let i = 0;
  return (ts) => {
    const k = i++ % sensorIds.length;
    let t = temps[k]! + (21 - temps[k]!) * 0.3 + (rand() - 0.5) * 3;
    const roll = rand();
    if (roll < 0.01) t = 91 + rand() * 5;
    else if (roll < 0.06) t += 11 + rand() * 8;
    temps[k] = t;
    return { sensor: sensorIds[k]!, temperature: round1(t), ts };
  };
}

export interface PublisherOptions {
  /** Sensor ids (default s1..s3). */
  sensors?: readonly string[];
  /** Readings per second over all sensors (default 6). */
  ratePerSecond?: number;
  /** How long to publish; Infinity until `signal` aborts (default 10 000 ms). */
  durationMs?: number;
  seed?: number;
  /** Readings go to `<subjectPrefix>.<sensor>` (default `sensors`). */
  subjectPrefix?: string;
  signal?: AbortSignal;
  onReading?: (r: Reading) => void;
}

/** Publishes simulated readings as JSON until the duration is over or `signal` aborts; resolves with how many. */
export async function publishReadings(nc: NatsConnection, options: PublisherOptions = {}): Promise<number> {
  const sensors = options.sensors ?? ['s1', 's2', 's3'];
  const rate = options.ratePerSecond ?? 6;
  const duration = options.durationMs ?? 10_000;
  const prefix = options.subjectPrefix ?? 'sensors';
  const next = sensorSimulator(options.seed ?? 42, sensors);
  const signal = options.signal;
  const aborted = (): boolean => signal?.aborted === true;
  const start = performance.now();
  let sent = 0;
  while (!aborted()) {
    // Paced by the schedule, not by sleeps: delays do not accumulate.
    const offset = (sent * 1000) / rate;
    if (offset >= duration) break;
    const wait = start + offset - performance.now();
    if (wait > 0) await sleep(wait, signal);
    if (aborted()) break;
    const r = next(Date.now());
    nc.publish(`${prefix}.${r.sensor}`, JSON.stringify(r));
    options.onReading?.(r);
    sent++;
  }
  await nc.flush();
  return sent;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface DemoOptions extends PublisherOptions, SensorAlertsOptions {
  /** The environment to run on (default: StreamEnvironment.create(), i.e. eddy run's flags). */
  env?: StreamEnvironment;
  log?: (line: string) => void;
}

/** Starts the job, publishes readings, prints alerts, cancels the job: what running this file does. */
export async function runSensorAlertsDemo(options: DemoOptions = {}): Promise<{ published: number; alerts: Alert[]; result: JobResult }> {
  const log = options.log ?? ((l: string) => console.log(l));
  const env = options.env ?? StreamEnvironment.create();
  const prefix = options.alertSubjectPrefix ?? SENSOR_ALERTS_DEFAULTS.alertSubjectPrefix;
  const subjectPrefix = options.subjectPrefix ?? 'sensors';
  buildSensorAlertsJob(env, { ...options, sensorSubject: options.sensorSubject ?? `${subjectPrefix}.*` });
  const client = await env.executeAsync('sensor alerts');
  const alerts: Alert[] = [];
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ ...natsConnectionOptions(client.natsUrl), name: 'sensor-alerts-demo' });
    nc.subscribe(`${prefix}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const a = msg.json<Alert>();
        alerts.push(a);
        log(`ALERT ${msg.subject}  ${a.message}`);
      },
    });
    await nc.flush();
    const forever = options.durationMs === Infinity;
    log(
      `job ${client.jobId} runs on ${redactNatsUrl(client.natsUrl)}; publishing ${options.ratePerSecond ?? 6} readings/s to ${subjectPrefix}.<sensor> ` +
        (forever ? 'until Ctrl-C' : `for ${((options.durationMs ?? 10_000) / 1000).toFixed(1)} s`),
    );
    const published = await publishReadings(nc, options);
    // The last readings are in flight through the job: give their alerts a moment to arrive.
    await new Promise((r) => setTimeout(r, 300));
    const result = await client.cancel();
    log(`published ${published} readings, received ${alerts.length} alerts; job ${result.status}`);
    return { published, alerts, result };
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
    options: {
      seconds: { type: 'string' },
      sensors: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      rise: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const seconds = numberArg(values, 'seconds', 0) ?? 10;
  const sensorCount = Math.floor(numberArg(values, 'sensors', 1) ?? 3);
  const controller = new AbortController();
  // Ctrl-C ends the publisher; the job is then cancelled as after a normal run.
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    await runSensorAlertsDemo({
      durationMs: seconds === 0 ? Infinity : seconds * 1000,
      sensors: Array.from({ length: sensorCount }, (_, i) => `s${i + 1}`),
      ratePerSecond: numberArg(values, 'rate', 0.1) ?? 6,
      seed: numberArg(values, 'seed', 0) ?? 42,
      riseThreshold: numberArg(values, 'rise', 0) ?? SENSOR_ALERTS_DEFAULTS.riseThreshold,
      limit: numberArg(values, 'limit', -273) ?? SENSOR_ALERTS_DEFAULTS.limit,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
