// Supervisor (actors/supervision/supervisor.machine.ts): OTP strategies, restart intensity, escalation, policy delays.
import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  childrenToRestart,
  initialSupervisorState,
  superviseFailure,
  supervisorMachine,
  validateSupervisorConfig,
  type SupervisorConfig,
  type SupervisorDecision,
  type SupervisorState,
} from '../../actors/supervision/supervisor.machine.ts';
import { Supervisor } from '../../actors/supervision/supervisor.ts';
import { isEddyError } from '../../src/errors.ts';
import { ManualClock } from '../../src/time/clock.ts';

const children = ['source', 'map', 'window', 'sink'];

function run(config: SupervisorConfig, failures: [child: string, now: number, cause?: unknown][]): SupervisorDecision[] {
  let state: SupervisorState = initialSupervisorState(config);
  return failures.map(([child, now, cause]) => {
    const r = superviseFailure(config, state, { type: 'CHILD_FAILED', child, cause: cause ?? `${child}@${now}`, now });
    state = r.state;
    return r.decision;
  });
}

describe('strategies (which children restart)', () => {
  const wide = { maxRestarts: 100, withinMs: 1000 };

  it('one-for-one restarts only the failed child', () => {
    const [d] = run({ children, strategy: 'one-for-one', intensity: wide }, [['window', 0]]);
    expect(d).toEqual({ type: 'RESTART', child: 'window', cause: 'window@0', stop: ['window'], restart: ['window'], delayMs: 0 });
  });

  it('one-for-all restarts every child: stop in reverse start order, start in start order', () => {
    const [d] = run({ children, strategy: 'one-for-all', intensity: wide }, [['map', 0]]);
    expect(d).toMatchObject({ type: 'RESTART', stop: ['sink', 'window', 'map', 'source'], restart: ['source', 'map', 'window', 'sink'] });
  });

  it('rest-for-one restarts the failed child and those started after it', () => {
    const cfg: SupervisorConfig = { children, strategy: 'rest-for-one', intensity: wide };
    expect(run(cfg, [['map', 0]])[0]).toMatchObject({ restart: ['map', 'window', 'sink'], stop: ['sink', 'window', 'map'] });
    expect(run(cfg, [['source', 0]])[0]).toMatchObject({ restart: children });
    expect(run(cfg, [['sink', 0]])[0]).toMatchObject({ restart: ['sink'], stop: ['sink'] });
  });

  it('childrenToRestart for every strategy and position', () => {
    expect(childrenToRestart(children, 'one-for-one', 'source')).toEqual(['source']);
    expect(childrenToRestart(children, 'one-for-all', 'sink')).toEqual(children);
    expect(childrenToRestart(children, 'rest-for-one', 'window')).toEqual(['window', 'sink']);
    expect(childrenToRestart(children, 'rest-for-one', 'nobody')).toEqual([]);
  });
});

describe('restart intensity', () => {
  it('TSDoc example: rest-for-one, 1 restart per second, the second escalates with its original cause', () => {
    const config = { children: ['src', 'map', 'sink'], strategy: 'rest-for-one', intensity: { maxRestarts: 1, withinMs: 1000 } } as const;
    const s = initialSupervisorState(config);
    const r1 = superviseFailure(config, s, { type: 'CHILD_FAILED', child: 'map', cause: 'boom', now: 0 });
    expect(r1.decision).toEqual({ type: 'RESTART', child: 'map', cause: 'boom', stop: ['sink', 'map'], restart: ['map', 'sink'], delayMs: 0 });
    const r2 = superviseFailure(config, r1.state, { type: 'CHILD_FAILED', child: 'src', cause: 'again', now: 10 });
    expect(r2.decision).toEqual({
      type: 'ESCALATE',
      child: 'src',
      cause: 'again',
      reason: 'restart intensity exceeded: 2 restarts within 1000 ms > maxRestarts 1',
      stop: ['sink', 'map', 'src'],
    });
    expect(s).toEqual(initialSupervisorState(config)); // the reducer never mutates its input
  });

  it('allows exactly maxRestarts restarts within withinMs; the next one escalates', () => {
    const cfg: SupervisorConfig = { children, strategy: 'one-for-one', intensity: { maxRestarts: 3, withinMs: 1000 } };
    const ds = run(cfg, [['map', 0], ['map', 100], ['sink', 200], ['source', 300]]);
    expect(ds.map((d) => d.type)).toEqual(['RESTART', 'RESTART', 'RESTART', 'ESCALATE']);
  });

  it('restarts older than withinMs no longer count (now - t >= withinMs leaves the window)', () => {
    const cfg: SupervisorConfig = { children, strategy: 'one-for-one', intensity: { maxRestarts: 2, withinMs: 1000 } };
    expect(run(cfg, [['map', 0], ['map', 500], ['map', 1000], ['map', 1499]]).map((d) => d.type)).toEqual([
      'RESTART',
      'RESTART',
      'RESTART', // 0 left the window at 1000
      'ESCALATE', // 500, 1000, 1499: three within 1000 ms
    ]);
    expect(run(cfg, [['map', 0], ['map', 999], ['map', 999]]).map((d) => d.type)).toEqual(['RESTART', 'RESTART', 'ESCALATE']);
  });

  it('a one-for-all restart counts once, however many children it restarts', () => {
    const cfg: SupervisorConfig = { children, strategy: 'one-for-all', intensity: { maxRestarts: 2, withinMs: 1000 } };
    expect(run(cfg, [['map', 0], ['sink', 1]]).map((d) => d.type)).toEqual(['RESTART', 'RESTART']);
  });

  it('maxRestarts 0 escalates on the first failure, keeping the cause object itself', () => {
    const cause = new Error('user code threw');
    const [d] = run({ children, strategy: 'one-for-one', intensity: { maxRestarts: 0, withinMs: 1000 } }, [['map', 0, cause]]);
    expect(d.type).toBe('ESCALATE');
    expect(d.type === 'ESCALATE' && d.cause).toBe(cause);
  });

  it('after escalation and for unknown children, failures are ignored', () => {
    const cfg: SupervisorConfig = { children, strategy: 'one-for-one', intensity: { maxRestarts: 0, withinMs: 1000 } };
    const ds = run(cfg, [['ghost', 0], ['map', 1], ['sink', 2]]);
    expect(ds[0]).toEqual({ type: 'IGNORE', child: 'ghost', reason: 'unknown child "ghost"' });
    expect(ds[1]?.type).toBe('ESCALATE');
    expect(ds[2]).toEqual({ type: 'IGNORE', child: 'sink', reason: 'the supervisor has already escalated' });
  });

  it('the state stays small: only the timestamps that can still matter are kept', () => {
    const cfg: SupervisorConfig = { children, strategy: 'one-for-one', intensity: { maxRestarts: 3, withinMs: 10 } };
    let state = initialSupervisorState(cfg);
    for (let t = 0; t < 10_000; t += 5) state = superviseFailure(cfg, state, { type: 'CHILD_FAILED', child: 'map', cause: 'x', now: t }).state;
    expect(state.escalated).toBe(false);
    expect(state.restartTimes.length).toBeLessThanOrEqual(3);
  });
});

describe('with a restart policy', () => {
  it('uses the policy delay, and escalates when the policy gives up', () => {
    const cfg: SupervisorConfig = {
      children,
      strategy: 'one-for-one',
      intensity: { maxRestarts: 100, withinMs: 1000 },
      restartPolicy: { kind: 'fixedDelay', delayMs: 250, maxAttempts: 2 },
    };
    const ds = run(cfg, [['map', 0], ['map', 10_000], ['map', 20_000, 'third']]);
    expect(ds.map((d) => (d.type === 'RESTART' ? d.delayMs : d.type))).toEqual([250, 250, 'ESCALATE']);
    expect(ds[2]).toMatchObject({
      cause: 'third',
      reason: 'restart policy gave up: fixedDelay: 2 restart attempts exhausted (maxAttempts 2)',
    });
  });

  it('exponential delays with a seed are deterministic and the state is plain data', () => {
    const cfg: SupervisorConfig = {
      children,
      strategy: 'one-for-all',
      intensity: { maxRestarts: 100, withinMs: 1000 },
      restartPolicy: { kind: 'exponentialDelay', initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2, resetAfterMs: 60_000 },
      seed: 5,
    };
    const a = run(cfg, [['map', 0], ['map', 1], ['map', 2]]);
    expect(run(cfg, [['map', 0], ['map', 1], ['map', 2]])).toEqual(a);
    const delays = a.map((d) => (d.type === 'RESTART' ? d.delayMs : -1));
    expect(delays[0]).toBeGreaterThanOrEqual(80);
    expect(delays[0]).toBeLessThanOrEqual(120);
    expect(delays[2]).toBeGreaterThanOrEqual(320);
    const state = initialSupervisorState(cfg);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});

describe('config validation', () => {
  it('TSDoc example: duplicate child ids', () => {
    expect(() =>
      validateSupervisorConfig({ children: ['a', 'a'], strategy: 'one-for-one', intensity: { maxRestarts: 3, withinMs: 1000 } }),
    ).toThrow('EDDY_CONFIG: supervisor: duplicate child id "a"');
  });

  const bad: [SupervisorConfig, RegExp][] = [
    [{ children: [], strategy: 'one-for-one', intensity: { maxRestarts: 1, withinMs: 1 } }, /children must be a non-empty array/],
    [{ children: [''], strategy: 'one-for-one', intensity: { maxRestarts: 1, withinMs: 1 } }, /child ids must be non-empty strings/],
    [{ children: ['a'], strategy: 'one-for-some' as 'one-for-one', intensity: { maxRestarts: 1, withinMs: 1 } }, /strategy must be/],
    [{ children: ['a'], strategy: 'one-for-one', intensity: { maxRestarts: -1, withinMs: 1 } }, /maxRestarts must be an integer >= 0/],
    [{ children: ['a'], strategy: 'one-for-one', intensity: { maxRestarts: 1, withinMs: 0 } }, /withinMs must be a finite number > 0/],
    [
      { children: ['a'], strategy: 'one-for-one', intensity: { maxRestarts: 1, withinMs: 1 }, restartPolicy: { kind: 'fixedDelay', delayMs: -5, maxAttempts: 1 } },
      /restart policy: fixedDelay.delayMs must be >= 0/,
    ],
  ];
  it.each(bad)('rejects %j', (cfg, msg) => {
    let err: unknown;
    try {
      initialSupervisorState(cfg);
    } catch (e) {
      err = e;
    }
    expect(isEddyError(err, 'EDDY_CONFIG')).toBe(true);
    expect((err as Error).message).toMatch(msg);
  });

  it('a non-finite now is EDDY_INVALID_ARGUMENT', () => {
    const cfg: SupervisorConfig = { children, strategy: 'one-for-one', intensity: { maxRestarts: 1, withinMs: 1 } };
    expect(() => superviseFailure(cfg, initialSupervisorState(cfg), { type: 'CHILD_FAILED', child: 'map', cause: 1, now: Number.NaN })).toThrow(
      /EDDY_INVALID_ARGUMENT/,
    );
  });
});

describe('supervisorMachine', () => {
  it('TSDoc example: one-for-all restart keeps supervising', () => {
    const a = createActor(supervisorMachine, {
      input: { children: ['a', 'b', 'c'], strategy: 'one-for-all', intensity: { maxRestarts: 3, withinMs: 60_000 } },
    }).start();
    a.send({ type: 'CHILD_FAILED', child: 'b', cause: new Error('x'), now: 5 });
    expect(a.getSnapshot().context.lastDecision).toMatchObject({ type: 'RESTART', restart: ['a', 'b', 'c'], stop: ['c', 'b', 'a'] });
    expect(a.getSnapshot().value).toBe('supervising');
  });

  it('escalates past the intensity, ends in the final state with the original cause as output', () => {
    const clock = new ManualClock(1_000);
    const a = createActor(supervisorMachine, {
      input: { children, strategy: 'rest-for-one', intensity: { maxRestarts: 2, withinMs: 10_000 } },
    }).start();
    const causes = [new Error('one'), new Error('two'), new Error('three')];
    for (const cause of causes) {
      a.send({ type: 'CHILD_FAILED', child: 'window', cause, now: clock.now() });
      clock.advance(1_000);
    }
    const snap = a.getSnapshot();
    expect(snap.value).toBe('escalated');
    expect(snap.status).toBe('done');
    expect(snap.output).toMatchObject({ type: 'ESCALATE', child: 'window', stop: ['sink', 'window', 'map', 'source'] });
    expect(snap.output?.cause).toBe(causes[2]);
    expect(snap.context.restarts.map((r) => r.cause)).toEqual([causes[0], causes[1]]);
    expect(snap.context.restarts[0]?.restart).toEqual(['window', 'sink']);
  });

  it('unknown children are ignored without leaving supervising; STOP ends it with null output', () => {
    const a = createActor(supervisorMachine, { input: { children: ['a'], strategy: 'one-for-one', intensity: { maxRestarts: 0, withinMs: 1 } } }).start();
    a.send({ type: 'CHILD_FAILED', child: 'zzz', cause: 'x', now: 0 });
    expect(a.getSnapshot().value).toBe('supervising');
    expect(a.getSnapshot().context.lastDecision?.type).toBe('IGNORE');
    a.send({ type: 'STOP' });
    expect(a.getSnapshot().value).toBe('stopped');
    expect(a.getSnapshot().output).toBeNull();
  });

  it('the input config is copied: mutating the caller array later changes nothing', () => {
    const kids = ['a', 'b'];
    const a = createActor(supervisorMachine, { input: { children: kids, strategy: 'rest-for-one', intensity: { maxRestarts: 5, withinMs: 1 } } }).start();
    kids.push('c');
    a.send({ type: 'CHILD_FAILED', child: 'a', cause: 'x', now: 0 });
    expect(a.getSnapshot().context.lastDecision).toMatchObject({ restart: ['a', 'b'] });
  });
});

describe('Supervisor (runtime wrapper)', () => {
  function make(config: SupervisorConfig) {
    const clock = new ManualClock(0);
    const log: string[] = [];
    const sup = new Supervisor(config, clock, {
      stop: (c) => log.push(`stop ${c}`),
      start: (c) => log.push(`start ${c}`),
      escalate: (d) => log.push(`escalate ${String(d.cause)}`),
    });
    return { clock, log, sup };
  }

  it('TSDoc example: stop, delayed start through the clock, then escalation', () => {
    const { clock, log, sup } = make({
      children: ['a', 'b'],
      strategy: 'one-for-all',
      intensity: { maxRestarts: 1, withinMs: 1000 },
      restartPolicy: { kind: 'fixedDelay', delayMs: 100, maxAttempts: 5 },
    });
    sup.childFailed('b', 'boom');
    expect(log).toEqual(['stop b,a']);
    clock.advance(99);
    expect(log).toEqual(['stop b,a']);
    clock.advance(1);
    expect(log).toEqual(['stop b,a', 'start a,b']);
    sup.childFailed('a', 'again');
    expect(log).toEqual(['stop b,a', 'start a,b', 'stop b,a', 'escalate again']);
    expect(sup.status).toBe('escalated');
    expect(sup.restarts.map((r) => r.cause)).toEqual(['boom']);
  });

  it('ignores stale failures of children waiting for their restart; escalation cancels pending restarts', () => {
    const { clock, log, sup } = make({
      children: ['a', 'b', 'c'],
      strategy: 'rest-for-one',
      intensity: { maxRestarts: 1, withinMs: 10_000 },
      restartPolicy: { kind: 'fixedDelay', delayMs: 500, maxAttempts: 5 },
    });
    expect(sup.childFailed('b', 'x').type).toBe('RESTART');
    expect(sup.childFailed('c', 'stale')).toMatchObject({ type: 'IGNORE', reason: '"c" is waiting for its restart' });
    expect(sup.childFailed('a', 'y').type).toBe('ESCALATE');
    clock.advance(10_000);
    expect(log).toEqual(['stop c,b', 'stop c,b,a', 'escalate y']); // the pending start of b,c never ran
    expect(sup.childFailed('a', 'late')).toMatchObject({ type: 'IGNORE', reason: 'the supervisor is escalated' });
  });

  it('stop() cancels pending restarts and ignores later reports', () => {
    const { clock, log, sup } = make({ children: ['a'], strategy: 'one-for-one', intensity: { maxRestarts: 5, withinMs: 10 } });
    sup.childFailed('a', 'x'); // delay 0: scheduled, not yet run
    sup.stop();
    clock.advance(1);
    expect(log).toEqual(['stop a']);
    expect(sup.status).toBe('stopped');
    expect(sup.childFailed('a', 'y').type).toBe('IGNORE');
  });
});
