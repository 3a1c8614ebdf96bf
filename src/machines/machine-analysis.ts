// What a machine is made of: whether it fits the compiled subset, and a structural schema/hash for checkpoints.
import { createHash } from 'node:crypto';
import type { AnyStateMachine, StateValue } from 'xstate';
import { lowerMachine } from './compiled-lowering.ts';

/** A machine's identity as checkpoints record it: id, structural hash and every state's path id, sorted. */
export interface MachineSchema {
  id: string;
  hash: string;
  states: string[];
}

/** The subset of xstate's StateNode read here. */
interface XNode {
  id: string;
  key: string;
  type: string;
  path: string[];
  states: Record<string, XNode>;
  config: Record<string, unknown>;
  invoke: unknown[];
  after: { delay: unknown; eventType: string }[];
  initial: { target: XNode[] } | undefined;
  transitions: Map<string, { target: XNode[] | undefined; reenter: boolean; guard: unknown; actions: unknown[] }[]>;
}

function pathId(machineId: string, n: XNode): string {
  return [machineId, ...n.path].join('.');
}

/** A name for a guard or action: its name where named, 'inline' (with the built-in type when it has one) otherwise. */
function nameOf(x: unknown): unknown {
  if (x === undefined) return null;
  if (typeof x === 'string') return x;
  if (typeof x === 'function') {
    const t = (x as { type?: unknown }).type;
    return typeof t === 'string' ? `inline:${t}` : 'inline';
  }
  if (x !== null && typeof x === 'object' && typeof (x as { type?: unknown }).type === 'string') return (x as { type: string }).type;
  return 'inline';
}

function toArray(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function describeNode(machineId: string, n: XNode, out: unknown[]): void {
  out.push({
    id: pathId(machineId, n),
    customId: n.config.id ?? null,
    type: n.type,
    initial: n.initial?.target.map((t) => pathId(machineId, t)) ?? null,
    final: n.type === 'final',
    history: n.type === 'history' ? (n.config.history ?? 'shallow') : null,
    entry: toArray(n.config.entry).map(nameOf),
    exit: toArray(n.config.exit).map(nameOf),
    after: n.after.map((d) => String(d.delay)),
    always: n.config.always === undefined ? null : toArray(n.config.always).length,
    invoke: n.invoke.length,
    on: [...n.transitions].map(([event, list]) => [
      event,
      list.map((t) => ({
        targets: t.target?.map((x) => pathId(machineId, x)) ?? null,
        reenter: t.reenter === true,
        guard: nameOf(t.guard),
        actions: t.actions.map(nameOf),
      })),
    ]),
  });
  for (const k of Object.keys(n.states)) describeNode(machineId, n.states[k]!, out);
}

/**
 * The structural schema of `machine`: `states` lists every state node's path id (machine id and keys
 * joined by '.', xstate's node id unless a state sets a custom `id`), sorted; `hash` is the sha256 of a
 * canonical JSON of the structure (states, types, initial states, transitions with events, targets,
 * guard/action names and reentry, `after` delays, final flags). Implementations (function bodies) do
 * not count: the same machine always hashes the same; adding a state or transition changes the hash.
 *
 * @example
 * ```ts
 * machineSchema(fraud); // { id: 'fraud', hash: '3f1a…', states: ['fraud', 'fraud.armed', 'fraud.idle'] }
 * ```
 */
export function machineSchema(machine: AnyStateMachine): MachineSchema {
  const root = machine.root as unknown as XNode;
  const nodes: unknown[] = [];
  describeNode(machine.id, root, nodes);
  const states = nodes.map((n) => (n as { id: string }).id).sort();
  const canonical = JSON.stringify({ id: machine.id, nodes });
  return { id: machine.id, hash: createHash('sha256').update(canonical).digest('hex'), states };
}

/**
 * Whether `machine` runs on the compiled path; if not, the first unsupported feature.
 *
 * @example
 * ```ts
 * analyzeMachine(withAlways); // { supported: false, reason: "state 'fraud.armed' uses `always` (eventless transitions)" }
 * ```
 */
export function analyzeMachine(machine: AnyStateMachine): { supported: true } | { supported: false; reason: string } {
  const lowered = lowerMachine(machine);
  return typeof lowered === 'string' ? { supported: false, reason: lowered } : { supported: true };
}

/**
 * The path ids of the states active in `value`, ancestors included (the machine id first), in the
 * value's pre-order. Only the value is read: the ids are path ids, as in MachineSchema.states.
 *
 * @example
 * ```ts
 * statesOfValue('order', { payment: 'pending' }); // ['order', 'order.payment', 'order.payment.pending']
 * ```
 */
export function statesOfValue(machineId: string, value: StateValue): string[] {
  const out = [machineId];
  const walk = (prefix: string, v: unknown): void => {
    if (typeof v === 'string') {
      out.push(`${prefix}.${v}`);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    for (const k of Object.keys(v)) {
      const id = `${prefix}.${k}`;
      out.push(id);
      walk(id, (v as Record<string, unknown>)[k]);
    }
  };
  walk(machineId, value);
  return out;
}
