// The window examples as libraries, on the shared test nats-server: sensor averages (with late readings) and user sessions.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectionOptions } from '../../src/transport/nats-url.ts';
import { describe, expect, inject, it } from 'vitest';
import { StreamEnvironment } from 'eddy';
import { buildSensorAveragesJob, runSensorAveragesDemo, type SensorAverage } from '../../examples/sensor-averages.ts';
import type { Reading } from '../../examples/sensor-alerts.ts';
import { buildUserSessionsJob, clickSimulator, runUserSessionsDemo, type Click, type Session } from '../../examples/user-sessions.ts';

const natsUrl = inject('natsUrl');
const env = (parallelism: number) => StreamEnvironment.create({ parallelism, nats: natsUrl, autoWatermarkIntervalMs: 50 });
const namespace = (): string => `t${randomBytes(4).toString('hex')}`;

/** Waits until `cond()` holds; fails naming `what` after a generous deadline (it only bounds a hang, it proves nothing). */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * An abort signal for a demo that runs until aborted: `check()` aborts once `cond()` holds, a generous
 * deadline aborts it too, and `expectReached()` then fails naming `what` unless `cond` was the reason.
 */
function stopWhen(cond: () => boolean, what: string, timeoutMs = 30_000) {
  const controller = new AbortController();
  let reached = false;
  const giveUp = setTimeout(() => controller.abort(), timeoutMs);
  return {
    signal: controller.signal,
    check: (): void => {
      if (!reached && cond()) {
        reached = true;
        controller.abort();
      }
    },
    expectReached: (): void => {
      clearTimeout(giveUp);
      expect(reached, `timed out after ${timeoutMs} ms waiting for ${what}`).toBe(true);
    },
  };
}

/** Subscribes to `subject` and collects the JSON messages. */
async function collect<T>(nc: NatsConnection, subject: string): Promise<T[]> {
  const got: T[] = [];
  nc.subscribe(subject, { callback: (_e, m) => void got.push(m.json<T>()) });
  await nc.flush();
  return got;
}

/** The averages per sensor and tumbling window, computed plainly. */
function referenceAverages(readings: readonly Reading[], windowMs: number): SensorAverage[] {
  const groups = new Map<string, Reading[]>();
  for (const r of readings) {
    const start = Math.floor(r.ts / windowMs) * windowMs;
    const key = `${r.sensor}|${start}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups].map(([key, rs]) => {
    const [sensor, start] = key.split('|');
    const ts = rs.map((r) => r.temperature);
    const avg = Math.round((ts.reduce((a, b) => a + b, 0) / ts.length) * 100) / 100;
    return { sensor: sensor!, start: Number(start), end: Number(start) + windowMs, average: avg, count: ts.length, min: Math.min(...ts), max: Math.max(...ts) };
  });
}

const byWindow = (a: { sensor?: string; user?: string; start: number }, b: { sensor?: string; user?: string; start: number }) =>
  `${a.sensor ?? a.user}|${a.start}`.localeCompare(`${b.sensor ?? b.user}|${b.start}`);

describe('examples/sensor-averages.ts', () => {
  it('publishes the average of every sensor and window once the watermark passes it; a late reading goes to the late subject', async () => {
    const ns = namespace();
    const e = env(2);
    buildSensorAveragesJob(e, { sensorSubject: `${ns}.sensors.*`, averageSubjectPrefix: `${ns}.averages`, lateSubject: `${ns}.late`, invalidSubject: `${ns}.invalid`, windowMs: 1000, outOfOrdernessMs: 100 });
    const client = await e.executeAsync('sensor averages test');
    const nc = await connect({ ...natsConnectionOptions(natsUrl), name: 'window-examples-test' });
    try {
      const averages = await collect<SensorAverage>(nc, `${ns}.averages.>`);
      const late = await collect<Reading>(nc, `${ns}.late`);
      const r = (sensor: string, temperature: number, ts: number): Reading => ({ sensor, temperature, ts });
      const readings = [r('s1', 20, 100), r('s2', 30, 300), r('s1', 22.5, 450), r('s1', 19, 980), r('s2', 31, 1001), r('s1', 25, 1999), r('s2', 29, 2500)];
      // A reading far ahead moves the watermark past every window above (its own window stays open).
      for (const x of [...readings, r('clock', 0, 10_000)]) nc.publish(`${ns}.sensors.${x.sensor}`, JSON.stringify(x));
      const expected = referenceAverages(readings, 1000);
      await until(() => averages.length >= expected.length, `${expected.length} averages`);
      expect(averages.sort(byWindow)).toEqual(expected.sort(byWindow));
      // Behind the watermark (9899) by more than the allowed lateness (0): late.
      nc.publish(`${ns}.sensors.s1`, JSON.stringify(r('s1', 99, 500)));
      // Markers behind it, on its path (the one source subject wildcard, then key s1: the same window
      // instance and, forward, the same sink instances): a second late reading of s1, and a reading of
      // s1 in a new window that a later clock reading closes. Whatever the late reading caused (another
      // late output, an average re-fired by it) comes out of s1's instance before the markers do.
      const lateMarker = r('s1', 98, 600);
      const windowMarker = r('s1', 50, 10_500);
      for (const x of [lateMarker, windowMarker, r('clock', 0, 20_000)]) nc.publish(`${ns}.sensors.${x.sensor}`, JSON.stringify(x));
      // The clock reading at 20 000 closes s1's marker window and the clock's own [10 000, 11 000).
      const markerAverages = referenceAverages([windowMarker, r('clock', 0, 10_000)], 1000);
      const arrived = (a: SensorAverage) => averages.some((b) => byWindow(a, b) === 0);
      await until(() => late.length >= 2 && markerAverages.every(arrived), 'the late marker and the marker averages');
      expect(late).toEqual([r('s1', 99, 500), lateMarker]);
      expect(averages.sort(byWindow)).toEqual([...expected, ...markerAverages].sort(byWindow));
      expect(expected.find((a) => a.sensor === 's1' && a.start === 0)).toEqual({ sensor: 's1', start: 0, end: 1000, average: 20.5, count: 3, min: 19, max: 22.5 });
    } finally {
      await client.cancel();
      await nc.close();
    }
  });

  it('the demo publishes simulated readings, reports averages and late readings, and cancels the job', async () => {
    const ns = namespace();
    const lines: string[] = [];
    // It runs until it reported enough (not for a fixed time): 6 averages and a late reading of more than 100 readings.
    const count = { readings: 0, averages: 0, late: 0 };
    const stop = stopWhen(() => count.readings > 100 && count.averages > 5 && count.late > 0, 'more than 100 readings, 5 averages and a late reading');
    const { published, averages, late, result } = await runSensorAveragesDemo({
      env: env(2),
      subjectPrefix: `${ns}.sensors`,
      averageSubjectPrefix: `${ns}.averages`,
      lateSubject: `${ns}.late`,
      invalidSubject: `${ns}.invalid`,
      windowMs: 300,
      outOfOrdernessMs: 50,
      ratePerSecond: 100,
      durationMs: Infinity,
      signal: stop.signal,
      lateOneIn: 10,
      lateByMs: 5_000,
      onReading: () => {
        count.readings++;
        stop.check();
      },
      log: (l) => {
        lines.push(l);
        if (l.startsWith('AVERAGE ')) count.averages++;
        if (l.startsWith('LATE ')) count.late++;
        stop.check();
      },
    });
    stop.expectReached();
    expect(result.status).toBe('canceled');
    expect(published).toBeGreaterThan(100);
    expect(averages.length).toBeGreaterThan(5);
    for (const a of averages) {
      expect(a.average).toBeGreaterThanOrEqual(a.min - 0.01);
      expect(a.average).toBeLessThanOrEqual(a.max + 0.01);
      expect(a.end - a.start).toBe(300);
    }
    expect(late.length).toBeGreaterThan(0);
    expect(averages.reduce((n, a) => n + a.count, 0) + late.length).toBeLessThanOrEqual(published);
    expect(lines.at(-1)).toBe(`published ${published} readings, received ${averages.length} averages and ${late.length} late readings; job canceled`);
  });
});

/** Sessions per user computed plainly: clicks sorted by time, a gap longer than `gapMs` starts a new one. */
function referenceSessions(clicks: readonly Click[], gapMs: number): Session[] {
  const out: Session[] = [];
  const byUser = new Map<string, Click[]>();
  for (const c of clicks) byUser.set(c.user, [...(byUser.get(c.user) ?? []), c]);
  for (const [user, cs] of byUser) {
    let cur: Click[] = [];
    const flush = () => {
      if (cur.length === 0) return;
      const pages: string[] = [];
      for (const c of cur) if (!pages.includes(c.page)) pages.push(c.page);
      out.push({ user, start: cur[0]!.ts, lastClick: cur.at(-1)!.ts, end: cur.at(-1)!.ts + gapMs, clicks: cur.length, pages });
      cur = [];
    };
    for (const c of cs.sort((a, b) => a.ts - b.ts)) {
      if (cur.length > 0 && c.ts > cur.at(-1)!.ts + gapMs) flush();
      cur.push(c);
    }
    flush();
  }
  return out;
}

describe('examples/user-sessions.ts', () => {
  it('publishes each session once the watermark passes its end, with its clicks and pages', async () => {
    const ns = namespace();
    const e = env(3);
    buildUserSessionsJob(e, { clickSubject: `${ns}.clicks.*`, sessionSubjectPrefix: `${ns}.sessions`, invalidSubject: `${ns}.invalid`, gapMs: 1000, outOfOrdernessMs: 100 });
    const client = await e.executeAsync('user sessions test');
    const nc = await connect({ ...natsConnectionOptions(natsUrl), name: 'window-examples-test' });
    try {
      const sessions = await collect<Session>(nc, `${ns}.sessions.>`);
      const invalid = await collect<{ reason: string }>(nc, `${ns}.invalid`);
      const c = (user: string, page: string, ts: number): Click => ({ user, page, ts });
      const clicks = [
        c('ann', 'home', 0),
        c('bob', 'home', 100),
        c('ann', 'search', 300),
        c('ann', 'home', 1250), // within 1 s of the last click: same session
        c('bob', 'cart', 2200), // more than 1 s after bob's last: a new session
        c('ann', 'help', 5000),
        c('cy', 'product', 5400),
        c('ann', 'cart', 5999),
      ];
      for (const x of [...clicks, c('clock', 'x', 60_000)]) nc.publish(`${ns}.clicks.${x.user}`, JSON.stringify(x));
      nc.publish(`${ns}.clicks.bad`, JSON.stringify({ user: 'bad user!', page: 'x', ts: 1 }));
      const expected = referenceSessions(clicks, 1000);
      expect(expected).toHaveLength(5);
      await until(() => sessions.length >= expected.length && invalid.length >= 1, `${expected.length} sessions and 1 invalid click`);
      // Markers on the same paths: per user a click far later (same key: the same window instance and,
      // forward, the same sink instance), closed by a later clock click, and a second invalid click (all
      // at parallelism 1). Any further session of a user, or invalid report, comes out before its marker.
      const markers = ['ann', 'bob', 'cy'].map((u) => c(u, 'marker', 100_000));
      for (const x of [...markers, c('clock', 'x', 200_000)]) nc.publish(`${ns}.clicks.${x.user}`, JSON.stringify(x));
      nc.publish(`${ns}.clicks.bad`, JSON.stringify({ user: 'bad', page: 7, ts: 1 }));
      // The clock click at 200 000 closes the markers' sessions and the clock's session at 60 000.
      const markerSessions = referenceSessions([...markers, c('clock', 'x', 60_000)], 1000);
      const arrived = (m: Session) => sessions.some((s) => byWindow(m, s) === 0);
      await until(() => markerSessions.every(arrived) && invalid.length >= 2, 'the marker sessions and the marker invalid click');
      expect(sessions.sort(byWindow)).toEqual([...expected, ...markerSessions].sort(byWindow));
      expect(sessions.find((s) => s.user === 'ann' && s.start === 0)).toEqual({ user: 'ann', start: 0, lastClick: 1250, end: 2250, clicks: 3, pages: ['home', 'search'] });
      expect(invalid.map((i) => i.reason)).toEqual(['user must be 1-64 letters, digits, _ or -', 'page must be a string']);
    } finally {
      await client.cancel();
      await nc.close();
    }
  });

  it('the simulator is deterministic; the demo reports sessions that match the clicks it published', async () => {
    const a = clickSimulator(3, ['x', 'y'], 500);
    const b = clickSimulator(3, ['x', 'y'], 500);
    const times = Array.from({ length: 200 }, (_, i) => i * 50);
    expect(times.map((t) => b(t))).toEqual(times.map((t) => a(t)));

    const ns = namespace();
    const published: Click[] = [];
    // It runs until it reported 3 sessions (not for a fixed time).
    let reported = 0;
    const stop = stopWhen(() => reported > 2, '3 sessions');
    const { sessions, result } = await runUserSessionsDemo({
      env: env(2),
      subjectPrefix: `${ns}.clicks`,
      sessionSubjectPrefix: `${ns}.sessions`,
      invalidSubject: `${ns}.invalid`,
      gapMs: 250,
      outOfOrdernessMs: 20,
      users: ['u1', 'u2', 'u3'],
      durationMs: Infinity,
      signal: stop.signal,
      onClick: (c) => published.push(c),
      log: (l) => {
        if (l.startsWith('SESSION ')) reported++;
        stop.check();
      },
    });
    stop.expectReached();
    expect(result.status).toBe('canceled');
    expect(sessions.length).toBeGreaterThan(2);
    // Every reported session is one the clicks make (the last ones may still be open at cancel time).
    const expected = referenceSessions(published, 250).map((s) => JSON.stringify(s));
    for (const s of sessions) expect(expected).toContain(JSON.stringify(s));
  });
});
