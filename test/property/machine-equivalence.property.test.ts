// Property: on random machines of the compiled subset, the compiled runner and xstate's transition() agree on every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign, emit, setup, type AnyStateMachine } from 'xstate';
import { analyzeMachine, machineSchema, statesOfValue } from '../../src/machines/machine-analysis.ts';
import { createMachineRunner, type ActorEffects, type ActorEvent, type ActorSnapshot, type MachineRunner } from '../../src/machines/machine-runner.ts';

const RUNS = { numRuns: Number(process.env.MRUNS ?? 300) };

// ---- machine specs (plain data; built into xstate machines below) ----

interface Shape {
  kind: 'atomic' | 'compound' | 'parallel' | 'final';
  children: Shape[];
}
type GuardSpec =
  | { kind: 'mod'; m: number; eq: number }
  | { kind: 'event'; k: number }
  | { kind: 'named'; max: number }
  | { kind: 'namedFn' }
  | { kind: 'never' };
type ActSpec = { kind: 'assignObj' | 'assignFn' | 'emitObj' | 'emitFn' | 'bump' | 'tell'; c: number };
interface TransSpec {
  event: number;
  target: number | null;
  style: number;
  reenter: boolean;
  guard: GuardSpec | null;
  actions: ActSpec[];
}
interface NodeSpec {
  /** A custom state `id` (targets then use '#<id>', after-event ids carry it). */
  customId: boolean;
  initial: number;
  on: TransSpec[];
  after: { delay: number; trans: TransSpec[] }[];
  entry: ActSpec[];
  exit: ActSpec[];
}
interface MachineSpec {
  shape: Shape;
  nodes: NodeSpec[];
  factory: boolean;
}

const ATOMIC: Shape = { kind: 'atomic', children: [] };

function shapeArb(depth: number): fc.Arbitrary<Shape> {
  if (depth >= 3) return fc.constant(ATOMIC);
  const kid = shapeArb(depth + 1);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(ATOMIC) },
    { weight: 1, arbitrary: fc.array(kid, { minLength: 1, maxLength: 3 }).map((children): Shape => ({ kind: 'compound', children })) },
    { weight: 1, arbitrary: fc.array(kid, { minLength: 2, maxLength: 3 }).map((children): Shape => ({ kind: 'parallel', children })) },
  );
}

const rootArb: fc.Arbitrary<Shape> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(fc.oneof({ weight: 4, arbitrary: shapeArb(1) }, { weight: 1, arbitrary: fc.constant<Shape>({ kind: 'final', children: [] }) }), { minLength: 1, maxLength: 4 })
      .map((children): Shape => ({ kind: 'compound', children })),
  },
  { weight: 1, arbitrary: fc.array(shapeArb(1), { minLength: 2, maxLength: 3 }).map((children): Shape => ({ kind: 'parallel', children })) },
);

/** Shapes share objects (fc.constant); machines need one object per state. */
function unshare(s: Shape): Shape {
  return { kind: s.kind, children: s.children.map(unshare) };
}

function flatten(s: Shape): Shape[] {
  return [s, ...s.children.flatMap(flatten)];
}

const guardArb: fc.Arbitrary<GuardSpec | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mod' as const), m: fc.integer({ min: 2, max: 3 }), eq: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('event' as const), k: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('named' as const), max: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'namedFn' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'never' as const }) },
);
const actArb: fc.Arbitrary<ActSpec> = fc.record({
  kind: fc.constantFrom('assignObj' as const, 'assignFn' as const, 'emitObj' as const, 'emitFn' as const, 'bump' as const, 'tell' as const),
  c: fc.integer({ min: 0, max: 3 }),
});
const actsArb = fc.array(actArb, { maxLength: 2 });
const transArb = (n: number): fc.Arbitrary<TransSpec> =>
  fc.record({
    event: fc.integer({ min: 0, max: 3 }),
    target: fc.option(fc.integer({ min: 0, max: n - 1 }), { freq: 4 }),
    style: fc.integer({ min: 0, max: 2 }),
    reenter: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 5, arbitrary: fc.constant(false) }),
    guard: guardArb,
    actions: actsArb,
  });
const nodeArb = (n: number): fc.Arbitrary<NodeSpec> =>
  fc.record({
    customId: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 6, arbitrary: fc.constant(false) }),
    initial: fc.nat(3),
    on: fc.array(transArb(n), { maxLength: 3 }),
    after: fc.array(fc.record({ delay: fc.integer({ min: 1, max: 5 }), trans: fc.array(transArb(n), { minLength: 1, maxLength: 2 }) }), { maxLength: 2 }),
    entry: actsArb,
    exit: actsArb,
  });
const machineArb: fc.Arbitrary<MachineSpec> = rootArb.map(unshare).chain((shape) => {
  const n = flatten(shape).length;
  return fc.record({ shape: fc.constant(shape), nodes: fc.array(nodeArb(n), { minLength: n, maxLength: n }), factory: fc.boolean() });
});

// ---- building xstate machines from specs ----

type Ctx = { n: number; trace: string };
type Ev = ActorEvent & { k?: number };

function buildMachine(spec: MachineSpec): AnyStateMachine {
  const flat = flatten(spec.shape);
  const ids = new Map<Shape, string>();
  const parents = new Map<Shape, Shape | undefined>();
  const keys = new Map<Shape, string>();
  let counter = 0;
  const name = (s: Shape, id: string, parent: Shape | undefined): void => {
    // Children's default ids follow the path even below a custom id.
    const i = flat.indexOf(s);
    ids.set(s, i > 0 && spec.nodes[i]!.customId ? `custom${i}` : id);
    parents.set(s, parent);
    s.children.forEach((c) => {
      const key = `s${counter++}`;
      keys.set(c, key);
      name(c, `${id}.${key}`, s);
    });
  };
  name(spec.shape, 'm', undefined);
  let tagN = 0;
  const action = (a: ActSpec): unknown => {
    const tag = `${a.kind[0]}${tagN++}`;
    switch (a.kind) {
      case 'assignObj':
        return assign({ n: ({ context, event }: { context: Ctx; event: Ev }) => (context.n + (event.k ?? 0) + a.c) % 1000, trace: ({ context }: { context: Ctx }) => `${context.trace}${tag},` });
      case 'assignFn':
        return assign(({ context }: { context: Ctx }) => ({ n: (context.n * 2 + a.c) % 17, trace: `${context.trace}${tag},` }));
      case 'emitObj':
        return emit({ type: 'out', tag });
      case 'emitFn':
        return emit(({ context, event }: { context: Ctx; event: Ev }) => ({ type: 'out', tag, n: context.n, ev: event.type }));
      case 'bump':
        return { type: 'bump', params: a.c % 2 === 0 ? { by: a.c, tag } : ({ event }: { event: Ev }) => ({ by: event.k ?? 5, tag }) };
      case 'tell':
        return 'tell';
    }
  };
  const guard = (g: GuardSpec | null): unknown => {
    if (g === null) return undefined;
    switch (g.kind) {
      case 'mod':
        return ({ context }: { context: Ctx }) => context.n % g.m === g.eq;
      case 'event':
        return ({ context, event }: { context: Ctx; event: Ev }) => (context.n + (event.k ?? 0)) % 3 === g.k;
      case 'named':
        return { type: 'atMost', params: { max: g.max } };
      case 'namedFn':
        return { type: 'atMost', params: ({ event }: { event: Ev }) => ({ max: event.k ?? 1 }) };
      case 'never':
        return 'never';
    }
  };
  const transition = (from: Shape, t: TransSpec): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (t.target !== null) {
      const to = flat[t.target]!;
      const toParent = parents.get(to);
      // Styles: '#id'; a sibling key; '.child'. Each only where it resolves to the same state.
      if (t.style === 1 && toParent !== undefined && toParent === parents.get(from) && from !== spec.shape) out.target = keys.get(to);
      else if (t.style === 2 && toParent === from) out.target = `.${keys.get(to)}`;
      else out.target = `#${ids.get(to)}`;
    }
    if (t.reenter) out.reenter = true;
    const g = guard(t.guard);
    if (g !== undefined) out.guard = g;
    if (t.actions.length > 0) out.actions = t.actions.map(action);
    return out;
  };
  const config = (s: Shape, i: number): Record<string, unknown> => {
    const ns = spec.nodes[i]!;
    const c: Record<string, unknown> = {};
    if (i > 0 && ns.customId) c.id = `custom${i}`;
    if (s.kind === 'final') c.type = 'final';
    if (s.kind === 'parallel') c.type = 'parallel';
    if (s.children.length > 0) {
      const states: Record<string, unknown> = {};
      for (const ch of s.children) states[keys.get(ch)!] = config(ch, flat.indexOf(ch));
      c.states = states;
      if (s.kind === 'compound') c.initial = keys.get(s.children[ns.initial % s.children.length]!);
    }
    if (ns.entry.length > 0) c.entry = ns.entry.map(action);
    if (ns.exit.length > 0) c.exit = ns.exit.map(action);
    // Final states get no `on` (a done machine takes no events) but may have `after`: scheduled on entry, canceled when done.
    if (s.kind !== 'final') {
      const on: Record<string, unknown[]> = {};
      for (const t of ns.on) (on[`e${t.event}`] ??= []).push(transition(s, t));
      if (ns.on.length > 0) c.on = on;
    }
    {
      const after: Record<number, unknown[]> = {};
      for (const a of ns.after) for (const t of a.trans) (after[a.delay] ??= []).push(transition(s, t));
      if (ns.after.length > 0) c.after = after;
    }
    return c;
  };
  const root = config(spec.shape, 0);
  return setup({
    types: {} as { context: Ctx; events: Ev; input: number },
    guards: {
      atMost: ({ context }: { context: Ctx }, p: { max: number }) => context.n % 7 <= p.max,
      never: () => false,
    },
    actions: {
      bump: assign(({ context }: { context: Ctx }, p: { by: number; tag: string }) => ({ n: (context.n + p.by) % 1000, trace: `${context.trace}${p.tag},` })),
      tell: emit(({ context }: { context: Ctx }) => ({ type: 'tell', n: context.n, trace: context.trace })),
    },
  }).createMachine({
    id: 'm',
    ...root,
    context: spec.factory ? ({ input }: { input: number }) => ({ n: input, trace: '' }) : { n: 1, trace: '' },
  } as never) as unknown as AnyStateMachine;
}

// ---- driving both paths ----

type Cmd = { kind: 'event'; e: number; k: number; cross: boolean } | { kind: 'advance'; ms: number } | { kind: 'stale'; node: number; delay: number };
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  // An after-event delivered directly (e.g. a timer of a state that may no longer be active).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stale' as const), node: fc.nat(12), delay: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('event' as const), e: fc.integer({ min: 0, max: 4 }), k: fc.integer({ min: 0, max: 2 }), cross: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 6 }) }) },
);

type Effect = unknown[];

/** One path: its runner, snapshot, a simulated timer queue (replace on same id) and the effects of the last step. */
class Sim implements ActorEffects {
  snap!: ActorSnapshot;
  now = 0;
  seq = 0;
  timers = new Map<string, { at: number; seq: number; event: ActorEvent }>();
  log: Effect[] = [];
  constructor(readonly runner: MachineRunner) {}
  emit(event: ActorEvent): void {
    this.log.push(['emit', event]);
  }
  schedule(id: string, delayMs: number, event: ActorEvent): void {
    this.log.push(['schedule', id, delayMs, event]);
    this.timers.set(id, { at: this.now + delayMs, seq: this.seq++, event });
  }
  cancel(id: string): void {
    this.log.push(['cancel', id]);
    this.timers.delete(id);
  }
  /** The next timer due by `until`: earliest deadline, ties in schedule order. */
  due(until: number): [string, { at: number; seq: number; event: ActorEvent }] | undefined {
    let best: [string, { at: number; seq: number; event: ActorEvent }] | undefined;
    for (const e of this.timers) if (e[1].at <= until && (best === undefined || e[1].at < best[1].at || (e[1].at === best[1].at && e[1].seq < best[1].seq))) best = e;
    return best;
  }
}

function machineStates(machine: AnyStateMachine): string[] {
  const out: string[] = [];
  const walk = (n: { id: string; states: Record<string, unknown> }): void => {
    out.push(n.id);
    for (const c of Object.values(n.states)) walk(c as typeof n);
  };
  walk(machine.root as unknown as { id: string; states: Record<string, unknown> });
  return out;
}

function observe(s: Sim): unknown {
  const out = { value: s.snap.value, context: s.snap.context, log: s.log, handled: s.runner.handled, done: s.runner.done, timers: [...s.timers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  s.log = [];
  return out;
}

describe('compiled machines equal xstate', () => {
  it('random machines in the subset: same values, contexts, effects, handled and done after every step', () => {
    fc.assert(
      fc.property(machineArb, fc.integer({ min: 0, max: 9 }), fc.array(cmdArb, { minLength: 5, maxLength: 40, size: '+1' }), (spec, input, cmds) => {
        const machine = buildMachine(spec);
        expect(analyzeMachine(machine)).toEqual({ supported: true });
        // Every state a value names is in the schema (restores check values against it).
        const schemaStates = new Set(machineSchema(machine).states);
        const c = new Sim(createMachineRunner(machine));
        const x = new Sim(createMachineRunner(machine, { path: 'xstate' }));
        expect(c.runner.path).toBe('compiled');
        c.snap = c.runner.initial(input, c);
        x.snap = x.runner.initial(input, x);
        expect(observe(c)).toEqual(observe(x));
        const step = (event: ActorEvent, cross: boolean): void => {
          // cross: each path steps the other path's value (a fresh object, as decoded from keyed state).
          const cs: ActorSnapshot = cross ? { value: structuredClone(x.snap.value), context: c.snap.context } : c.snap;
          const xs: ActorSnapshot = cross ? { value: c.snap.value, context: x.snap.context } : x.snap;
          const cContext = structuredClone(cs.context);
          c.snap = c.runner.step(cs, event, c);
          x.snap = x.runner.step(xs, event, x);
          expect(cs.context).toEqual(cContext); // never mutated
          expect(observe(c)).toEqual(observe(x));
          for (const id of statesOfValue(machine.id, c.snap.value)) expect(schemaStates.has(id)).toBe(true);
        };
        for (const cmd of cmds) {
          if (cmd.kind === 'event') {
            step(cmd.e === 4 ? { type: 'unknown' } : { type: `e${cmd.e}`, k: cmd.k }, cmd.cross);
          } else if (cmd.kind === 'stale') {
            const states = machineStates(machine);
            step({ type: `xstate.after.${cmd.delay}.${states[cmd.node % states.length]}` }, false);
          } else {
            const until = c.now + cmd.ms;
            for (let t = c.due(until); t !== undefined; t = c.due(until)) {
              expect(x.due(until)?.[0]).toBe(t[0]);
              c.now = x.now = t[1].at;
              c.timers.delete(t[0]);
              x.timers.delete(t[0]);
              step(t[1].event, false);
            }
            c.now = x.now = until;
          }
        }
      }),
      RUNS,
    );
    // Large MRUNS runs take long: the timeout grows with them.
  }, 60_000 + RUNS.numRuns * 20);
});
