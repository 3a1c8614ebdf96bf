// The examples as libraries, on the shared test nats-server: word count against a plain count, and the
// sensor-alerts job against a deterministic sequence of readings (alerts, dead letters, invalid readings, cancel).
import { randomBytes } from 'node:crypto';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { describe, expect, inject, it } from 'vitest';
import { StreamEnvironment } from 'eddy';
import { defaultDeadLetterSubject } from '../../src/functions/record-failure-policy.ts';
import {
  buildSensorAlertsJob,
  mulberry32,
  runSensorAlertsDemo,
  sensorSimulator,
  type Alert,
  type InvalidReading,
  type Reading,
} from '../../examples/sensor-alerts.ts';
import { formatReport, SAMPLE_TEXT, tokenize, topWords, wordCount } from '../../examples/wordcount.ts';
import { tempDirMaker, until } from '../support/example-test-support.ts';

const natsUrl = inject('natsUrl');

const tempDir = tempDirMaker('eddy-examples-test-');

const env = (parallelism: number) => StreamEnvironment.create({ parallelism, nats: natsUrl, stateDir: tempDir() });

/** Subjects unique to one test, so tests sharing the server never see each other's messages. */
const namespace = (): string => `t${randomBytes(4).toString('hex')}`;


describe('examples/wordcount.ts', () => {
  it('tokenize: lowercase words, inner apostrophes kept, punctuation dropped', () => {
    expect(tokenize("To be, or NOT to be: there's the rub — wish'd 'tis Übermut 42")).toEqual([
      'to',
      'be',
      'or',
      'not',
      'to',
      'be',
      "there's",
      'the',
      'rub',
      "wish'd",
      'tis',
      'übermut',
      '42',
    ]);
    expect(tokenize('  ...  ')).toEqual([]);
  });

  // A larger, deterministic text: the sample plus generated lines with skewed word frequencies.
  const rand = mulberry32(7);
  const vocabulary = ['stream', 'Flink', 'eddy', 'nats', 'state', 'KEY', 'window', "don't", 'é', '数据', 'x'];
  const generated = Array.from({ length: 400 }, () =>
    Array.from({ length: Math.floor(rand() * 12) }, () => vocabulary[Math.floor(rand() * rand() * vocabulary.length)]!).join(rand() < 0.5 ? ' ' : ', '),
  );
  const lines = [...SAMPLE_TEXT.split('\n'), '', ...generated];
  const plain = new Map<string, number>();
  for (const l of lines) for (const w of tokenize(l)) plain.set(w, (plain.get(w) ?? 0) + 1);

  for (const p of [1, 4])
    it(`wordCount equals a plain JS count at parallelism ${p}`, async () => {
      const counts = await wordCount(env(p), lines);
      expect(counts).toEqual(plain);
      expect(topWords(counts, 5)).toEqual(topWords(plain, 5));
      expect(formatReport(counts, 20)).toBe(formatReport(plain, 20));
    });

  it('topWords sorts by count, then alphabetically', () => {
    expect(
      topWords(
        new Map([
          ['b', 2],
          ['a', 2],
          ['c', 5],
          ['d', 1],
        ]),
        3,
      ),
    ).toEqual([
      ['c', 5],
      ['a', 2],
      ['b', 2],
    ]);
  });
});

/** The alerting rule, written plainly: what the job must publish for a sequence of readings. */
function referenceAlerts(readings: readonly Reading[], rise = 10, limit = 90): Pick<Alert, 'sensor' | 'kind' | 'temperature' | 'previous'>[] {
  const previous = new Map<string, number>();
  const out: Pick<Alert, 'sensor' | 'kind' | 'temperature' | 'previous'>[] = [];
  for (const r of readings) {
    const prev = previous.get(r.sensor) ?? null;
    previous.set(r.sensor, r.temperature);
    if (r.temperature > limit) out.push({ sensor: r.sensor, kind: 'limit', temperature: r.temperature, previous: prev });
    else if (prev !== null && r.temperature - prev > rise) out.push({ sensor: r.sensor, kind: 'rise', temperature: r.temperature, previous: prev });
  }
  return out;
}

function bySensor<T extends { sensor: string }>(xs: readonly T[]): Record<string, T[]> {
  const m: Record<string, T[]> = {};
  for (const x of xs) (m[x.sensor] ??= []).push(x);
  return m;
}

describe('examples/sensor-alerts.ts', () => {
  it('mulberry32 and the simulator are deterministic per seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(100);
    const s1 = sensorSimulator(1, ['a', 'b']);
    const s2 = sensorSimulator(1, ['a', 'b']);
    const r1 = Array.from({ length: 50 }, (_, i) => s1(i));
    expect(Array.from({ length: 50 }, (_, i) => s2(i))).toEqual(r1);
    expect(r1.map((r) => r.sensor).slice(0, 4)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('publishes exactly the expected alerts to alerts.<id>, dead-letters a malformed message and keeps running', async () => {
    const ns = namespace();
    const sensorSubject = `${ns}.sensors.*`;
    const alertSubjectPrefix = `${ns}.alerts`;
    const invalidSubject = `${ns}.invalid`;
    // An unbounded job dead-letters by default, to eddy.dlq.<job>.
    const dlq = defaultDeadLetterSubject('sensor alerts test');
    const e = env(2);
    buildSensorAlertsJob(e, { sensorSubject, alertSubjectPrefix, invalidSubject });
    const client = await e.executeAsync('sensor alerts test');
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({ ...natsConnectionOptions(natsUrl), name: 'examples-test' });
      const alerts: { subject: string; alert: Alert }[] = [];
      const deadLetters: Msg[] = [];
      const invalid: InvalidReading[] = [];
      nc.subscribe(`${alertSubjectPrefix}.>`, { callback: (_e, m) => void alerts.push({ subject: m.subject, alert: m.json<Alert>() }) });
      nc.subscribe(dlq, { callback: (_e, m) => void deadLetters.push(m) });
      nc.subscribe(invalidSubject, { callback: (_e, m) => void invalid.push(m.json<InvalidReading>()) });
      await nc.flush();

      const r = (sensor: string, temperature: number, ts: number): Reading => ({ sensor, temperature, ts });
      // Per sensor: a 25 -> 36 rises by 11 (alert), 40 -> 95 is over the limit (alert), 80 -> 91 is over the
      // limit and a rise (one 'limit' alert); b rises by exactly 10 (no alert), then by 10.5 (alert);
      // c's first reading is over the limit (alert), 10 -> 21 rises by 11 (alert), 21 -> 31 by 10 (no alert).
      const phase1 = [r('a', 20, 1), r('b', 50, 2), r('c', 95, 3), r('a', 25, 4), r('b', 60, 5), r('a', 36, 6), r('c', 10, 7)];
      const phase2 = [r('a', 40, 8), r('b', 70.5, 9), r('a', 95, 10), r('c', 21, 11), r('a', 80, 12), r('c', 31, 13), r('a', 91, 14)];
      const publish = (rs: Reading[]) => {
        for (const x of rs) nc!.publish(`${ns}.sensors.${x.sensor}`, JSON.stringify(x));
      };
      const expected = referenceAlerts([...phase1, ...phase2]);
      expect(expected).toHaveLength(6);
      const expectedFirst = referenceAlerts(phase1);

      publish(phase1);
      await until(() => alerts.length >= expectedFirst.length, `${expectedFirst.length} alerts of phase 1`);
      expect(alerts).toHaveLength(expectedFirst.length);

      // Not JSON: dead-lettered by the source. Valid JSON but not a reading: the job's invalid-readings output.
      nc.publish(`${ns}.sensors.x`, 'not json {');
      nc.publish(`${ns}.sensors.a`, JSON.stringify({ sensor: 'a', temperature: 'hot' }));
      publish(phase2);
      await until(() => alerts.length >= expected.length && deadLetters.length >= 1 && invalid.length >= 1, `${expected.length} alerts, a dead letter and an invalid reading`);

      // Nothing more may arrive: markers travel each path behind the records above (the source reads one
      // subject wildcard at parallelism 1, in publish order): a second malformed message (the source's
      // dead letters), a second invalid reading (validation and its sink, parallelism 1) and per sensor a
      // reading over the limit (same key: the same alerting subtask and, forward, the same sink subtask).
      // Anything more the records above cause comes out of its path before that path's marker.
      nc.publish(`${ns}.sensors.x`, 'still not json {');
      nc.publish(`${ns}.sensors.a`, JSON.stringify({ sensor: 'a', temperature: 'cold' }));
      const markers = [r('a', 100, 15), r('b', 100, 16), r('c', 100, 17)];
      publish(markers);
      const isMarker = (a: Alert) => a.temperature === 100 && markers.some((m) => m.sensor === a.sensor && m.ts === a.ts);
      await until(
        () => markers.every((m) => alerts.some(({ alert }) => alert.sensor === m.sensor && isMarker(alert))) && deadLetters.length >= 2 && invalid.length >= 2,
        'the alerts of the marker readings, the marker dead letter and the marker invalid reading',
      );

      for (const { subject, alert } of alerts) expect(subject).toBe(`${alertSubjectPrefix}.${alert.sensor}`);
      const got = alerts.map(({ alert }) => ({ sensor: alert.sensor, kind: alert.kind, temperature: alert.temperature, previous: alert.previous }));
      // Each sensor's alerts in order; sensors run on different subtasks, so only per-sensor order is defined.
      // The markers' alerts come last, after exactly the expected ones.
      expect(bySensor(got)).toEqual(bySensor(referenceAlerts([...phase1, ...phase2, ...markers])));
      expect(alerts.find((a) => a.alert.sensor === 'a' && a.alert.temperature === 36)?.alert).toMatchObject({
        kind: 'rise',
        ts: 6,
        message: 'sensor a: 36°C is 11° above its previous reading (25°C)',
      });

      expect(deadLetters.map((m) => m.string())).toEqual(['not json {', 'still not json {']);
      expect(deadLetters[0]!.headers?.get('Eddy-Subject')).toBe(`${ns}.sensors.x`);
      expect(deadLetters[0]!.headers?.get('Eddy-Error')).not.toBe('');
      expect(invalid).toEqual([
        { reason: 'temperature must be a finite number', value: { sensor: 'a', temperature: 'hot' } },
        { reason: 'temperature must be a finite number', value: { sensor: 'a', temperature: 'cold' } },
      ]);

      const result = await client.cancel();
      expect(result.status).toBe('canceled');
      expect(result.error).toBeUndefined();
    } finally {
      await client.cancel();
      await nc?.close();
    }
  });

  it('the demo publishes simulated readings, reports their alerts and cancels the job; an abort ends it early', async () => {
    const ns = namespace();
    const lines: string[] = [];
    const controller = new AbortController();
    const t0 = performance.now();
    let seen = 0;
    const { published, alerts, result } = await runSensorAlertsDemo({
      env: env(2),
      subjectPrefix: `${ns}.sensors`,
      alertSubjectPrefix: `${ns}.alerts`,
      invalidSubject: `${ns}.invalid`,
      sensors: ['s1', 's2', 's3'],
      ratePerSecond: 100,
      durationMs: Infinity,
      seed: 42,
      signal: controller.signal,
      // Ctrl-C, deterministically: abort after the 120th reading.
      onReading: () => {
        if (++seen === 120) controller.abort();
      },
      log: (l) => lines.push(l),
    });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(result.status).toBe('canceled');
    expect(published).toBe(120);
    // The simulator is deterministic: the alerts are those of its first `published` readings (the last
    // ones may still have been in flight at cancel time, so a prefix per sensor).
    const sim = sensorSimulator(42, ['s1', 's2', 's3']);
    const expected = bySensor(referenceAlerts(Array.from({ length: published }, (_, i) => sim(i))));
    const got = bySensor(alerts.map((a) => ({ sensor: a.sensor, kind: a.kind, temperature: a.temperature, previous: a.previous })));
    expect(alerts.length).toBeGreaterThan(0);
    for (const [sensor, list] of Object.entries(got)) expect(list).toEqual(expected[sensor]!.slice(0, list.length));
    expect(lines[0]).toMatch(/^job \w+ runs on nats:\/\/.+ until Ctrl-C$/);
    expect(lines.at(-1)).toBe(`published ${published} readings, received ${alerts.length} alerts; job canceled`);
    expect(lines.filter((l) => l.startsWith(`ALERT ${ns}.alerts.`))).toHaveLength(alerts.length);
  });
});
