// Lowers an xstate machine's normalized state nodes to plain compiled nodes, or names the first feature outside the compiled subset.
import type { AnyStateMachine } from 'xstate';
import type { ActorEvent } from './machine-contract.ts';

// Op kinds are plain numbers: one monomorphic Op shape keeps the step loop fast.
/** Op kind: `assign(fn)`, context becomes Object.assign({}, context, fn(args, params)). */
export const OP_ASSIGN_FN = 0;
/** Op kind: `assign({ key: value | fn })`, every property function sees the context before this assign. */
export const OP_ASSIGN_OBJ = 1;
/** Op kind: `emit(eventObject)` (the same object every time, as in xstate). */
export const OP_EMIT_CONST = 2;
/** Op kind: `emit(fn)`. */
export const OP_EMIT_FN = 3;
/** Op kind: the schedule of an `after` timer (entry of its state). */
export const OP_SCHEDULE = 4;
/** Op kind: the cancel of an `after` timer (exit of its state). */
export const OP_CANCEL = 5;

type UserFn = (args: { context: unknown; event: ActorEvent }, params: unknown) => unknown;
type ParamsFn = (args: { context: unknown; event: ActorEvent }) => unknown;

/**
 * One executable action. Every field exists on every op (monomorphic); unused ones are undefined.
 * `hasParams`/`paramsFn`/`paramsValue` mirror xstate: `'params' in action` decides whether params are passed,
 * a params function is called with the context current at that point of the action list.
 */
export interface Op {
  kind: number;
  fn: UserFn | undefined;
  keys: string[] | undefined;
  vals: unknown[] | undefined;
  isFn: boolean[] | undefined;
  hasParams: boolean;
  paramsFn: ParamsFn | undefined;
  paramsValue: unknown;
  id: string;
  delay: number;
  event: ActorEvent | undefined;
}

/** A guard: the implementation and how its params are resolved (as xstate's evaluateGuard does). */
export interface CGuard {
  fn: UserFn;
  /** Prefix of the error a throwing guard is reported with, as xstate words it ("Unable to evaluate guard 'x' in transition for event 'e' in state node 'id':"). */
  errorPrefix: string;
  hasParams: boolean;
  paramsFn: ParamsFn | undefined;
  paramsValue: unknown;
}

/** One candidate transition. `gid` is unique per machine (keys microstep caches). */
export interface CTrans {
  gid: number;
  source: CNode;
  /** undefined for a targetless transition (exits and enters nothing). */
  targets: CNode[] | undefined;
  reenter: boolean;
  guard: CGuard | undefined;
  actions: Op[];
}

/** A state node. `order` is xstate's document order (pre-order index), also the index in `LoweredMachine.nodes`. */
export interface CNode {
  order: number;
  /** The path id: machine id plus keys joined by '.' (xstate's id unless the state sets a custom `id`). */
  pathId: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final';
  parent: CNode | undefined;
  /** Children in document order (history nodes are unsupported, so none are skipped). */
  children: CNode[];
  initialChild: CNode | undefined;
  /** Entry ops, including the `after` schedules xstate appends after the user's entry actions. */
  entry: Op[];
  /** Exit ops, including the `after` cancels xstate appends after the user's exit actions. */
  exit: Op[];
  /** Candidates per exact event type, in xstate's order (config order; `after` transitions under their event type). */
  on: Map<string, CTrans[]>;
}

/** A machine inside the compiled subset, as plain compiled nodes. */
export interface LoweredMachine {
  machine: AnyStateMachine;
  root: CNode;
  nodes: CNode[];
  /** Every event type some state has candidates for (other types are unhandled without a lookup). */
  eventTypes: string[];
  /** The machine's `context` config: a factory, or the initial object itself (xstate shares it, so do we). */
  contextFactory: ((args: { input: unknown }) => unknown) | undefined;
  contextValue: unknown;
}

/** Signals the first unsupported feature; caught by lowerMachine and turned into the fallback reason. */
class Unsupported extends Error {}

function unsupported(reason: string): never {
  throw new Unsupported(reason);
}

// User functions receive only { context, event } (and params) on the compiled path; xstate also passes
// spawn/self/system. A function whose source mentions one of those may need them: fall back.
const NEEDS_ACTOR = /\b(spawn|self|system)\b/;

function checkFn(fn: unknown, where: string): void {
  if (typeof fn === 'function' && NEEDS_ACTOR.test(Function.prototype.toString.call(fn))) {
    unsupported(`${where} uses a function that mentions spawn/self/system`);
  }
}

function makeOp(kind: number): Op {
  return {
    kind,
    fn: undefined,
    keys: undefined,
    vals: undefined,
    isFn: undefined,
    hasParams: false,
    paramsFn: undefined,
    paramsValue: undefined,
    id: '',
    delay: 0,
    event: undefined,
  };
}

interface BuiltinAction {
  type?: unknown;
  resolve?: unknown;
  assignment?: unknown;
  event?: unknown;
  id?: unknown;
  delay?: unknown;
  sendId?: unknown;
}

function lowerBuiltin(impl: BuiltinAction, where: string, params: { has: boolean; value: unknown }): Op {
  const type = String(impl.type);
  let op: Op;
  if (type === 'xstate.assign') {
    const a = impl.assignment;
    if (typeof a === 'function') {
      checkFn(a, where);
      op = makeOp(OP_ASSIGN_FN);
      op.fn = a as UserFn;
    } else if (a !== null && typeof a === 'object') {
      op = makeOp(OP_ASSIGN_OBJ);
      const keys = Object.keys(a);
      // '__proto__' would behave differently with our direct property writes than with xstate's Object.assign.
      if (keys.includes('__proto__')) unsupported(`${where} assigns a '__proto__' key`);
      const vals = keys.map((k) => (a as Record<string, unknown>)[k]);
      for (const v of vals) checkFn(v, where);
      op.keys = keys;
      op.vals = vals;
      op.isFn = vals.map((v) => typeof v === 'function');
    } else {
      unsupported(`${where} uses assign() with a non-object assignment`);
    }
  } else if (type === 'xstate.emit') {
    const e = impl.event;
    if (typeof e === 'function') {
      checkFn(e, where);
      op = makeOp(OP_EMIT_FN);
      op.fn = e as UserFn;
    } else if (e !== null && typeof e === 'object') {
      op = makeOp(OP_EMIT_CONST);
      op.event = e as ActorEvent;
    } else {
      unsupported(`${where} uses emit() with a non-object event`);
    }
  } else {
    unsupported(`${where} uses \`${type.startsWith('xstate.') ? type.slice(7) : type}\``);
  }
  if (params.has) {
    op.hasParams = true;
    if (typeof params.value === 'function') op.paramsFn = params.value as ParamsFn;
    else op.paramsValue = params.value;
  }
  return op;
}

function lowerAction(machine: AnyStateMachine, action: unknown, where: string): Op {
  const impls = machine.implementations.actions as Record<string, unknown>;
  if (typeof action === 'function') {
    if (!('resolve' in action)) unsupported(`${where} uses a custom action function${action.name ? ` '${action.name}'` : ''}`);
    // Inline built-ins get no params (xstate: isInline => actionParams undefined).
    return lowerBuiltin(action as BuiltinAction, where, { has: false, value: undefined });
  }
  let name: string;
  let params = { has: false, value: undefined as unknown };
  if (typeof action === 'string') name = action;
  else if (action !== null && typeof action === 'object' && typeof (action as { type?: unknown }).type === 'string') {
    name = (action as { type: string }).type;
    if ('params' in action) params = { has: true, value: (action as { params: unknown }).params };
  } else return unsupported(`${where} has an action of an unknown form`);
  const impl = impls[name];
  if (impl === undefined) unsupported(`${where} uses action '${name}', which is not implemented`);
  if (typeof impl !== 'function' || !('resolve' in impl)) unsupported(`${where} uses the custom action '${name}'`);
  return lowerBuiltin(impl as BuiltinAction, `${where} (action '${name}')`, params);
}

function lowerActions(machine: AnyStateMachine, actions: readonly unknown[], where: string): Op[] {
  return actions.map((a) => lowerAction(machine, a, where));
}

function guardErrorPrefix(name: string | undefined, event: string, nodeId: string): string {
  return `Unable to evaluate guard ${name !== undefined ? `'${name}' ` : ''}in transition for event '${event}' in state node '${nodeId}':\n`;
}

function lowerGuard(machine: AnyStateMachine, guard: unknown, where: string, event: string, nodeId: string): CGuard | undefined {
  if (guard === undefined) return undefined;
  const impls = machine.implementations.guards as Record<string, unknown>;
  if (typeof guard === 'function') {
    if ('check' in guard) unsupported(`${where} uses a built-in guard (stateIn/and/or/not)`);
    return { fn: guard as UserFn, errorPrefix: guardErrorPrefix(undefined, event, nodeId), hasParams: false, paramsFn: undefined, paramsValue: undefined };
  }
  let name: string;
  let hasParams = false;
  let paramsValue: unknown;
  if (typeof guard === 'string') name = guard;
  else if (guard !== null && typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    name = (guard as { type: string }).type;
    if ('params' in guard) {
      hasParams = true;
      paramsValue = (guard as { params: unknown }).params;
    }
  } else return unsupported(`${where} has a guard of an unknown form`);
  const impl = impls[name];
  if (impl === undefined) unsupported(`${where} uses guard '${name}', which is not implemented`);
  if (typeof impl !== 'function' || 'check' in impl) unsupported(`${where} uses guard '${name}', which is not a plain function`);
  return {
    fn: impl as UserFn,
    errorPrefix: guardErrorPrefix(name, event, nodeId),
    hasParams,
    paramsFn: typeof paramsValue === 'function' ? (paramsValue as ParamsFn) : undefined,
    paramsValue: typeof paramsValue === 'function' ? undefined : paramsValue,
  };
}

function toArray(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The subset of xstate's StateNode this module reads (xstate's public types hide some of it). */
interface XNode {
  id: string;
  key: string;
  type: string;
  order: number;
  path: string[];
  parent: XNode | undefined;
  states: Record<string, XNode>;
  config: Record<string, unknown>;
  entry: unknown[];
  exit: unknown[];
  invoke: unknown[];
  always: unknown[] | undefined;
  after: { eventType: string; delay: unknown }[];
  initial: { target: XNode[]; actions: unknown[] } | undefined;
  transitions: Map<string, { target: XNode[] | undefined; reenter: boolean; guard: unknown; actions: unknown[] }[]>;
}

/** How reasons name a state: xstate's node id ('fraud.armed', or the state's custom id). */
function describe(n: XNode): string {
  return `state '${n.id}'`;
}

function lowerNodes(machine: AnyStateMachine, x: XNode, parent: CNode | undefined, out: CNode[], byX: Map<XNode, CNode>): CNode {
  const where = parent === undefined ? `machine '${machine.id}'` : describe(x);
  if (x.type === 'history') unsupported(`${where} is a history state`);
  if (x.config.always !== undefined || (x.always?.length ?? 0) > 0) unsupported(`${where} uses \`always\` (eventless transitions)`);
  if (x.config.invoke !== undefined || x.invoke.length > 0) unsupported(`${where} uses \`invoke\``);
  if (x.config.onDone !== undefined) unsupported(`${where} uses \`onDone\``);
  if (x.config.route !== undefined) unsupported(`${where} uses \`route\``);
  const type = x.type as CNode['type'];
  if (type === 'final' && (parent === undefined || parent.parent !== undefined || parent.type !== 'compound')) {
    unsupported(`${where} is a final state that is not a direct child of a compound root (nested final states raise done events)`);
  }
  if (type !== 'atomic' && type !== 'compound' && type !== 'parallel' && type !== 'final') unsupported(`${where} has the unknown type '${x.type}'`);
  const childKeys = Object.keys(x.states);
  if ((type === 'compound' || type === 'parallel') && childKeys.length === 0) unsupported(`${where} is ${type} without child states`);
  if ((type === 'atomic' || type === 'final') && childKeys.length > 0) unsupported(`${where} is ${type} with child states`);
  if (x.initial !== undefined && x.initial.actions.length > 0) unsupported(`${where} has actions on its initial transition`);
  // xstate appends the `after` raise/cancel actions behind the user's entry/exit actions at machine creation.
  const userEntry = toArray(x.config.entry).length;
  const userExit = toArray(x.config.exit).length;
  for (const d of x.after) {
    if (typeof d.delay !== 'number' || !Number.isFinite(d.delay)) unsupported(`${where} has an \`after\` delay given by name or function (${String(d.delay)})`);
  }
  const entry = lowerActions(machine, x.entry.slice(0, userEntry), `${where} (entry)`);
  for (const a of x.entry.slice(userEntry)) entry.push(lowerAfterRaise(a, where));
  const exit = lowerActions(machine, x.exit.slice(0, userExit), `${where} (exit)`);
  for (const a of x.exit.slice(userExit)) exit.push(lowerAfterCancel(a, where));
  const node: CNode = {
    order: out.length,
    pathId: [machine.id, ...x.path].join('.'),
    key: x.key,
    type,
    parent,
    children: [],
    initialChild: undefined,
    entry,
    exit,
    on: new Map(),
  };
  if (x.order !== out.length) unsupported(`${where} has an unexpected document order`);
  out.push(node);
  byX.set(x, node);
  for (const k of childKeys) node.children.push(lowerNodes(machine, x.states[k]!, node, out, byX));
  if (type === 'compound') {
    const target = x.initial?.target[0];
    const child = target === undefined ? undefined : byX.get(target);
    if (child === undefined || child.parent !== node) unsupported(`${where} has no usable initial state`);
    node.initialChild = child;
  }
  return node;
}

function lowerAfterRaise(a: unknown, where: string): Op {
  const r = a as BuiltinAction;
  const ev = r.event as ActorEvent | undefined;
  if (typeof a !== 'function' || r.type !== 'xstate.raise' || typeof r.delay !== 'number' || typeof r.id !== 'string' || ev === undefined || ev.type !== r.id) {
    unsupported(`${where} has an unexpected entry action`);
  }
  const op = makeOp(OP_SCHEDULE);
  op.id = r.id as string;
  op.delay = r.delay as number;
  op.event = ev;
  return op;
}

function lowerAfterCancel(a: unknown, where: string): Op {
  const c = a as BuiltinAction;
  if (typeof a !== 'function' || c.type !== 'xstate.cancel' || typeof c.sendId !== 'string') unsupported(`${where} has an unexpected exit action`);
  const op = makeOp(OP_CANCEL);
  op.id = c.sendId as string;
  return op;
}

function lowerTransitions(machine: AnyStateMachine, x: XNode, byX: Map<XNode, CNode>, gid: { n: number }, events: Set<string>): void {
  const node = byX.get(x)!;
  const where = node.parent === undefined ? `machine '${machine.id}'` : describe(x);
  const afterTypes = new Set(x.after.map((d) => d.eventType));
  for (const [descriptor, list] of x.transitions) {
    if (descriptor === '*' || descriptor.endsWith('.*')) unsupported(`${where} uses the wildcard event '${descriptor}'`);
    if (descriptor.startsWith('xstate.') && !afterTypes.has(descriptor)) unsupported(`${where} handles the internal event '${descriptor}'`);
    const cands: CTrans[] = [];
    for (const t of list) {
      const tw = `${where} (on '${descriptor}')`;
      let targets: CNode[] | undefined;
      if (t.target !== undefined) {
        if (t.target.length !== 1) unsupported(`${tw} has ${t.target.length} targets`);
        targets = t.target.map((tx) => {
          const c = byX.get(tx);
          if (c === undefined) return unsupported(`${tw} targets a state outside the machine`);
          return c;
        });
      }
      cands.push({
        gid: gid.n++,
        source: node,
        targets,
        reenter: t.reenter === true,
        guard: lowerGuard(machine, t.guard, tw, descriptor, x.id),
        actions: lowerActions(machine, t.actions, tw),
      });
    }
    node.on.set(descriptor, cands);
    events.add(descriptor);
  }
  for (const k of Object.keys(x.states)) lowerTransitions(machine, x.states[k]!, byX, gid, events);
}

/**
 * Lowers `machine` to compiled nodes, or returns the first unsupported feature as a sentence.
 * Never throws for machines outside the subset; a bug-free machine inside it always lowers.
 */
export function lowerMachine(machine: AnyStateMachine): LoweredMachine | string {
  try {
    const rootX = machine.root as unknown as XNode;
    const context = (machine.config as { context?: unknown }).context;
    if (typeof context === 'function') checkFn(context, `machine '${machine.id}' context factory`);
    const nodes: CNode[] = [];
    const byX = new Map<XNode, CNode>();
    const root = lowerNodes(machine, rootX, undefined, nodes, byX);
    if (root.type === 'final') unsupported(`machine '${machine.id}' root is a final state`);
    const events = new Set<string>();
    lowerTransitions(machine, rootX, byX, { n: 0 }, events);
    return {
      machine,
      root,
      nodes,
      eventTypes: [...events],
      contextFactory: typeof context === 'function' ? (context as (args: { input: unknown }) => unknown) : undefined,
      contextValue: typeof context === 'function' ? undefined : context,
    };
  } catch (e) {
    if (e instanceof Unsupported) return e.message;
    return `machine '${machine.id}' could not be analyzed: ${e instanceof Error ? e.message : String(e)}`;
  }
}
