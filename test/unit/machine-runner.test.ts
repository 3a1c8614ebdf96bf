// Machine runners on concrete machines: values, contexts, effect order, handled/done on both paths, fallback reasons and schemas.
import { describe, expect, it } from 'vitest';
import { assign, cancel, createMachine, emit, fromPromise, raise, sendTo, setup, type AnyStateMachine } from 'xstate';
import { isEddyError } from '../../src/errors.ts';
import { analyzeMachine, machineSchema, statesOfValue } from '../../src/machines/machine-analysis.ts';
import { createMachineRunner, type ActorEffects, type ActorEvent, type ActorSnapshot, type MachineRunner } from '../../src/machines/machine-runner.ts';

type Effect = ['emit', ActorEvent] | ['schedule', string, number, ActorEvent] | ['cancel', string];

function recorder(): ActorEffects & { log: Effect[] } {
  const log: Effect[] = [];
  return {
    log,
    emit: (e) => log.push(['emit', e]),
    schedule: (id, d, e) => log.push(['schedule', id, d, e]),
    cancel: (id) => log.push(['cancel', id]),
  };
}

const fraud = setup({
  types: {} as { context: { count: number }; events: { type: 'small'; amount: number } | { type: 'large'; amount: number }; emitted: { type: 'alert'; amount: number } },
}).createMachine({
  id: 'fraud',
  context: { count: 0 },
  initial: 'idle',
  states: {
    idle: { on: { small: { target: 'armed', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
    armed: {
      after: { 60000: 'idle' },
      on: { large: { target: 'idle', actions: emit(({ event }) => ({ type: 'alert' as const, amount: event.amount })) } },
    },
  },
});

const order = createMachine({
  types: {} as { context: { id: string; total: number }; input: { id: string } },
  id: 'order',
  context: ({ input }) => ({ id: input.id, total: 0 }),
  initial: 'created',
  states: {
    created: {
      after: { 1000: 'expired' },
      on: {
        pay: { target: 'paid', guard: ({ event }) => (event as unknown as { amount: number }).amount > 0, actions: assign({ total: ({ event }) => (event as unknown as { amount: number }).amount }) },
        cancel: 'cancelled',
      },
    },
    paid: { entry: emit(({ context }) => ({ type: 'paid', id: context.id })), on: { ship: 'shipped' } },
    shipped: { type: 'final', entry: emit({ type: 'shipped' }) },
    cancelled: { type: 'final' },
    expired: { type: 'final', entry: emit(({ context }) => ({ type: 'expired', id: context.id })) },
  },
});

const device = createMachine({
  types: {} as { context: { boots: number; touches: number } },
  id: 'device',
  context: { boots: 0, touches: 0 },
  initial: 'off',
  states: {
    off: { on: { power: 'on' } },
    on: {
      type: 'parallel',
      entry: assign({ boots: ({ context }) => context.boots + 1 }),
      exit: emit({ type: 'poweredOff' }),
      on: { power: 'off' },
      states: {
        display: {
          initial: 'dim',
          states: {
            dim: { on: { touch: 'bright' } },
            bright: { after: { 5000: 'dim' }, on: { touch: { actions: assign({ touches: ({ context }) => context.touches + 1 }) } } },
          },
        },
        network: {
          initial: 'offline',
          states: {
            offline: { on: { connect: 'online' } },
            online: { entry: emit(({ context }) => ({ type: 'connected', boots: context.boots })), on: { drop: 'offline', touch: { actions: emit({ type: 'ping' }) } } },
          },
        },
      },
    },
  },
});

/** Runs the same script on both paths and checks they agree step by step; returns the compiled path's trace. */
function both(machine: AnyStateMachine, input: unknown, events: ActorEvent[]): { snaps: ActorSnapshot[]; effects: Effect[][]; handled: boolean[]; done: boolean[] } {
  const c = createMachineRunner(machine);
  const x = createMachineRunner(machine, { path: 'xstate' });
  expect(c.path).toBe('compiled');
  expect(x.path).toBe('xstate');
  const fc = recorder();
  const fx = recorder();
  let sc = c.initial(input, fc);
  let sx = x.initial(input, fx);
  const out = { snaps: [sc], effects: [fc.log.splice(0)], handled: [c.handled], done: [c.done] };
  expect(sc).toEqual(sx);
  expect(out.effects[0]).toEqual(fx.log.splice(0));
  for (const e of events) {
    sc = c.step(sc, e, fc);
    sx = x.step(sx, e, fx);
    expect(sc.value).toEqual(sx.value);
    expect(sc.context).toEqual(sx.context);
    const eff = fc.log.splice(0);
    expect(eff).toEqual(fx.log.splice(0));
    expect([c.handled, c.done]).toEqual([x.handled, x.done]);
    out.snaps.push(sc);
    out.effects.push(eff);
    out.handled.push(c.handled);
    out.done.push(c.done);
  }
  return out;
}

describe('machine runners', () => {
  it('fraud machine: assign, emit, after timers', () => {
    const t = both(fraud, undefined, [
      { type: 'small', amount: 5 },
      { type: 'small', amount: 6 },
      { type: 'large', amount: 900 },
      { type: 'small', amount: 1 },
      { type: 'xstate.after.60000.fraud.armed' },
    ]);
    expect(t.snaps.map((s) => s.value)).toEqual(['idle', 'armed', 'armed', 'idle', 'armed', 'idle']);
    expect(t.snaps.map((s) => (s.context as { count: number }).count)).toEqual([0, 1, 1, 1, 2, 2]);
    expect(t.effects).toEqual([
      [],
      [['schedule', 'xstate.after.60000.fraud.armed', 60000, { type: 'xstate.after.60000.fraud.armed' }]],
      [],
      [['cancel', 'xstate.after.60000.fraud.armed'], ['emit', { type: 'alert', amount: 900 }]],
      [['schedule', 'xstate.after.60000.fraud.armed', 60000, { type: 'xstate.after.60000.fraud.armed' }]],
      [['cancel', 'xstate.after.60000.fraud.armed']],
    ]);
    expect(t.handled).toEqual([false, true, false, true, true, true]);
    expect(t.done.every((d) => !d)).toBe(true);
  });

  it('an unknown or unhandled event gives handled=false and the same snapshot object on both paths', () => {
    for (const path of ['auto', 'xstate'] as const) {
      const r = createMachineRunner(fraud, { path });
      const fx = recorder();
      const s0 = r.initial(undefined, fx);
      expect(r.step(s0, { type: 'nope' }, fx)).toBe(s0);
      expect(r.handled).toBe(false);
      expect(r.step(s0, { type: 'large', amount: 1 }, fx)).toBe(s0);
      expect(r.handled).toBe(false);
      expect(fx.log).toEqual([]);
      const s1 = r.step(s0, { type: 'small', amount: 1 }, fx);
      expect(s1).not.toBe(s0);
      expect(s0).toEqual({ value: 'idle', context: { count: 0 } });
    }
  });

  it('order lifecycle: context factory from input, guards, after timeout to a top-level final state', () => {
    const t = both(order, { id: 'o1' }, [{ type: 'pay', amount: 0 }, { type: 'xstate.after.1000.order.created' }, { type: 'pay', amount: 5 }]);
    expect(t.snaps[0]).toEqual({ value: 'created', context: { id: 'o1', total: 0 } });
    expect(t.handled).toEqual([false, false, true, false]);
    expect(t.snaps[2]!.value).toBe('expired');
    expect(t.done).toEqual([false, false, true, true]);
    // Reaching the final state cancels the timer, runs the final entry actions, then exit actions of all states.
    expect(t.effects[2]).toEqual([['cancel', 'xstate.after.1000.order.created'], ['emit', { type: 'expired', id: 'o1' }]]);
    // A done machine ignores events.
    expect(t.snaps[3]).toBe(t.snaps[2]);
    const paid = both(order, { id: 'o2' }, [{ type: 'pay', amount: 7 }, { type: 'ship' }]);
    expect(paid.snaps.map((s) => s.value)).toEqual(['created', 'paid', 'shipped']);
    expect(paid.snaps[2]!.context).toEqual({ id: 'o2', total: 7 });
    expect(paid.effects[1]).toEqual([['cancel', 'xstate.after.1000.order.created'], ['emit', { type: 'paid', id: 'o2' }]]);
    expect(paid.done).toEqual([false, false, true]);
  });

  it('nested and parallel device machine: multi-region transitions, entry/exit order', () => {
    const t = both(device, undefined, [
      { type: 'power' },
      { type: 'touch' },
      { type: 'connect' },
      { type: 'touch' },
      { type: 'xstate.after.5000.device.on.display.bright' },
      { type: 'touch' },
      { type: 'power' },
      { type: 'power' },
    ]);
    expect(t.snaps[1]!.value).toEqual({ on: { display: 'dim', network: 'offline' } });
    expect(t.snaps[4]!.value).toEqual({ on: { display: 'bright', network: 'online' } });
    // touch in two regions: both transitions are taken, in region order.
    expect(t.effects[4]).toEqual([['emit', { type: 'ping' }]]);
    expect(t.snaps[4]!.context).toEqual({ boots: 1, touches: 1 });
    expect(t.snaps[7]!.value).toBe('off');
    expect(t.effects[7]).toEqual([['cancel', 'xstate.after.5000.device.on.display.bright'], ['emit', { type: 'poweredOff' }]]);
    expect(t.snaps[8]!.context).toEqual({ boots: 2, touches: 1 });
  });

  it('steps snapshots written by the other path, including fresh (decoded) value objects', () => {
    const c = createMachineRunner(device);
    const x = createMachineRunner(device, { path: 'xstate' });
    const fx = recorder();
    const s = { value: { on: { network: 'online', display: 'bright' } }, context: { boots: 3, touches: 0 } };
    const a = c.step(structuredClone(s), { type: 'touch' }, fx);
    const b = x.step(structuredClone(s), { type: 'touch' }, fx);
    expect(a).toEqual(b);
    expect(a.context).toEqual({ boots: 3, touches: 1 });
    // Partial values complete with initial states, as xstate's resolveState does.
    for (const value of ['on', { on: {} }, { on: { network: 'online' } }]) {
      const p = { value, context: { boots: 1, touches: 0 } };
      const pc = c.step(structuredClone(p), { type: 'touch' }, fx);
      expect(pc).toEqual(x.step(structuredClone(p), { type: 'touch' }, fx));
      expect(c.handled).toBe(x.handled);
    }
    for (const r of [c, x]) {
      let err: unknown;
      try {
        r.step({ value: 'nowhere', context: {} }, { type: 'touch' }, fx);
      } catch (e) {
        err = e;
      }
      expect(isEddyError(err, 'EDDY_CONFIG')).toBe(true);
      expect(String(err)).toMatch(/nowhere/);
    }
  });

  it('a machine without states (atomic root) and root-level transitions with reenter', () => {
    const counter = createMachine({
      types: {} as { context: { n: number } },
      id: 'counter',
      context: { n: 0 },
      entry: emit({ type: 'hello' }),
      on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
    });
    const t = both(counter, undefined, [{ type: 'inc' }, { type: 'inc' }, { type: 'dec' }]);
    expect(t.snaps[2]).toEqual({ value: {}, context: { n: 2 } });
    expect(t.effects[0]).toEqual([['emit', { type: 'hello' }]]);
    const again = createMachine({
      id: 'again',
      initial: 'a',
      entry: emit({ type: 'rootEntry' }),
      exit: emit({ type: 'rootExit' }),
      on: { reset: { target: '.a', reenter: true }, soft: { target: '.a' } },
      states: { a: { entry: emit({ type: 'aEntry' }), exit: emit({ type: 'aExit' }), on: { next: 'b' } }, b: { after: { 10: 'a' } } },
    });
    const r = both(again, undefined, [{ type: 'reset' }, { type: 'soft' }, { type: 'next' }, { type: 'soft' }, { type: 'next' }, { type: 'reset' }]);
    // A reentering transition of the root exits and re-enters the root itself (xstate's reentrancy domain is then undefined).
    expect(r.effects[1]).toEqual([['emit', { type: 'aExit' }], ['emit', { type: 'rootExit' }], ['emit', { type: 'rootEntry' }], ['emit', { type: 'aEntry' }]]);
    // Without reenter the root stays, but the targeted child is still exited and entered again.
    expect(r.effects[2]).toEqual([['emit', { type: 'aExit' }], ['emit', { type: 'aEntry' }]]);
    expect(r.handled[2]).toBe(true);
  });

  it('named guards and actions with params from setup()', () => {
    const m = setup({
      types: {} as { context: { n: number }; events: { type: 'add'; k: number } },
      guards: { atMost: ({ context }, p: { max: number }) => context.n <= p.max },
      actions: {
        bump: assign({ n: ({ context }, p: { by: number }) => context.n + p.by }),
        tell: emit(({ context }) => ({ type: 'n', n: context.n })),
      },
    }).createMachine({
      id: 'named',
      context: { n: 0 },
      initial: 'a',
      states: {
        a: {
          on: {
            add: [
              { guard: { type: 'atMost', params: { max: 3 } }, actions: [{ type: 'bump', params: ({ event }) => ({ by: event.k }) }, 'tell'] },
              { target: 'b', actions: 'tell' },
            ],
          },
        },
        b: {},
      },
    });
    const t = both(m, undefined, [{ type: 'add', k: 2 }, { type: 'add', k: 2 }, { type: 'add', k: 2 }, { type: 'add', k: 1 }]);
    expect(t.snaps.map((s) => s.value)).toEqual(['a', 'a', 'a', 'b', 'b']);
    expect(t.effects.flat()).toEqual([['emit', { type: 'n', n: 2 }], ['emit', { type: 'n', n: 4 }], ['emit', { type: 'n', n: 4 }]]);
  });

  it('falls back to xstate, naming the first unsupported feature', () => {
    const withAlways = createMachine({
      id: 'fraud',
      initial: 'armed',
      states: { armed: { always: { target: 'idle', guard: () => false } }, idle: {} },
    });
    const withInvoke = createMachine({ id: 'm', initial: 'a', states: { a: { invoke: { src: fromPromise(async () => 1) } } } });
    let calls = 0;
    const withCustom = createMachine({
      id: 'c',
      initial: 'a',
      states: {
        a: {
          on: {
            go: {
              target: 'b',
              actions: function sideEffect() {
                calls++;
              },
            },
          },
        },
        b: {},
      },
    });
    const a = createMachineRunner(withAlways);
    expect(a.path).toBe('xstate');
    expect(a.fallbackReason).toBe("state 'fraud.armed' uses `always` (eventless transitions)");
    expect(analyzeMachine(withAlways)).toEqual({ supported: false, reason: a.fallbackReason });
    expect(createMachineRunner(withInvoke).fallbackReason).toBe("state 'm.a' uses `invoke`");
    const c = createMachineRunner(withCustom);
    expect(c.fallbackReason).toBe("state 'c.a' (on 'go') uses a custom action function 'sideEffect'");
    const fx = recorder();
    const s1 = c.step(c.initial(undefined, fx), { type: 'go' }, fx);
    expect([s1.value, calls, c.handled]).toEqual(['b', 1, true]);
    expect(createMachineRunner(fraud, { path: 'xstate' }).fallbackReason).toBeUndefined();
    expect(createMachineRunner(fraud).fallbackReason).toBeUndefined();
    expect(analyzeMachine(fraud)).toEqual({ supported: true });
  });

  it('xstate path: delayed raise, sendTo self and cancel become schedule/cancel effects; custom actions run', () => {
    const seen: string[] = [];
    const m = createMachine({
      id: 'x',
      initial: 'a',
      states: {
        a: {
          on: {
            go: {
              target: 'b',
              actions: [
                raise({ type: 'later' }, { id: 'r1', delay: 50 }),
                sendTo(({ self }) => self, { type: 'soon' }),
                sendTo(({ self }) => self, { type: 'tick' }, { delay: 7 }),
                ({ event }) => seen.push(event.type),
              ],
            },
          },
        },
        b: { on: { stop: { actions: cancel('r1') }, later: 'a' } },
      },
    });
    const r = createMachineRunner(m);
    expect(r.path).toBe('xstate');
    expect(r.fallbackReason).toBe("state 'x.a' (on 'go') uses `raise`");
    const fx = recorder();
    const s1 = r.step(r.initial(undefined, fx), { type: 'go' }, fx);
    expect(s1.value).toBe('b');
    expect(seen).toEqual(['go']);
    const s2 = r.step(s1, { type: 'stop' }, fx);
    expect([s2, r.handled]).toEqual([s1, true]);
    expect(fx.log).toEqual([
      ['schedule', 'r1', 50, { type: 'later' }],
      ['schedule', 'xstate.delayed.0.soon', 0, { type: 'soon' }],
      ['schedule', 'xstate.delayed.7.tick', 7, { type: 'tick' }],
      ['cancel', 'r1'],
    ]);
  });

  it('a throwing guard fails the step with the same message on both paths', () => {
    const m = setup({
      guards: {
        boom: () => {
          throw new Error('kaput');
        },
      },
    }).createMachine({ id: 'g', initial: 'a', states: { a: { on: { go: [{ guard: 'boom', target: 'b' }], jump: { guard: () => JSON.parse('{'), target: 'b' } } }, b: {} } });
    const messages = (['auto', 'xstate'] as const).map((path) => {
      const r = createMachineRunner(m, { path });
      const fx = recorder();
      const s0 = r.initial(undefined, fx);
      return ['go', 'jump'].map((type) => {
        try {
          r.step(s0, { type }, fx);
          return 'no error';
        } catch (e) {
          return (e as Error).message;
        }
      });
    });
    expect(messages[0]![0]).toBe("Unable to evaluate guard 'boom' in transition for event 'go' in state node 'g.a':\nkaput");
    expect(messages[0]).toEqual(messages[1]);
  });

  it('schema: stable hash, changes with structure; statesOfValue lists active states with ancestors', () => {
    const s1 = machineSchema(fraud);
    expect(s1.id).toBe('fraud');
    expect(s1.states).toEqual(['fraud', 'fraud.armed', 'fraud.idle']);
    expect(s1.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(machineSchema(fraud).hash).toBe(s1.hash);
    const cfg = (extra: Record<string, unknown>) =>
      createMachine({ id: 'fraud', initial: 'idle', states: { idle: { on: { small: 'armed' } }, armed: { after: { 60000: 'idle' } }, ...extra } });
    expect(machineSchema(cfg({})).hash).toBe(machineSchema(cfg({})).hash);
    expect(machineSchema(cfg({ blocked: {} })).hash).not.toBe(machineSchema(cfg({})).hash);
    const more = createMachine({ id: 'fraud', initial: 'idle', states: { idle: { on: { small: 'armed', large: 'armed' } }, armed: { after: { 60000: 'idle' } } } });
    expect(machineSchema(more).hash).not.toBe(machineSchema(cfg({})).hash);
    expect(statesOfValue('device', { on: { display: 'dim', network: 'offline' } })).toEqual([
      'device',
      'device.on',
      'device.on.display',
      'device.on.display.dim',
      'device.on.network',
      'device.on.network.offline',
    ]);
    expect(statesOfValue('fraud', 'idle')).toEqual(['fraud', 'fraud.idle']);
    expect(machineSchema(device).states).toContain('device.on.network.online');
  });

  it('measures us/step on the fraud machine (informational)', () => {
    const measure = (r: MachineRunner, n: number): number => {
      const fx: ActorEffects = { emit: () => {}, schedule: () => {}, cancel: () => {} };
      let s = r.initial(undefined, fx);
      const evs: ActorEvent[] = [
        { type: 'small', amount: 1 },
        { type: 'large', amount: 900 },
        { type: 'small', amount: 2 },
        { type: 'xstate.after.60000.fraud.armed' },
        { type: 'other' },
      ];
      for (let i = 0; i < 2000; i++) s = r.step(s, evs[i % evs.length]!, fx);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) s = r.step(s, evs[i % evs.length]!, fx);
      return ((performance.now() - t0) * 1000) / n;
    };
    const compiled = measure(createMachineRunner(fraud), 500_000);
    const xs = measure(createMachineRunner(fraud, { path: 'xstate' }), 10_000);
    console.log(`fraud machine: compiled ${compiled.toFixed(3)} us/step, xstate ${xs.toFixed(2)} us/step, ${(xs / compiled).toFixed(0)}x`);
    expect(compiled).toBeGreaterThan(0);
  });
});
