// The compiled machine runner: steps a lowered machine through cached configurations and microsteps, matching xstate's transition().
import type { StateValue } from 'xstate';
import { EddyError } from '../errors.ts';
import {
  buildPlan,
  deepFreeze,
  initialTargets,
  microstepOps,
  nodesOfValue,
  valueOf,
  type Config,
  type Micro,
  type Plan,
  type PlanNode,
} from './compiled-algorithms.ts';
import {
  OP_ASSIGN_FN,
  OP_ASSIGN_OBJ,
  OP_CANCEL,
  OP_EMIT_CONST,
  OP_EMIT_FN,
  OP_SCHEDULE,
  type CGuard,
  type CNode,
  type CTrans,
  type LoweredMachine,
  type Op,
} from './compiled-lowering.ts';
import type { ActorEffects, ActorEvent, ActorSnapshot, MachineRunner } from './machine-contract.ts';

/** The argument object user functions receive; one per runner, refilled before every call (functions destructure it, never keep it). */
interface Args {
  context: unknown;
  event: ActorEvent;
}

const NO_EVENT: ActorEvent = { type: '' };

/**
 * Runs a machine of the compiled subset. Configurations (sets of active states) are created on first
 * sight and keep, per event type, the candidate transitions in xstate's selection order and the
 * microstep (ops + next configuration) of each selection; a step is then a value lookup, guard calls
 * and the ops, with no allocation beyond the contexts assign creates, emitted events and the snapshot.
 */
export class CompiledMachineRunner implements MachineRunner {
  readonly path = 'compiled' as const;
  readonly fallbackReason: string | undefined = undefined;
  handled = false;
  done = false;

  private readonly m: LoweredMachine;
  private readonly eventIndex = new Map<string, number>();
  private readonly configs: Config[] = [];
  /** Configurations by their node orders joined with ','. */
  private readonly byNodes = new Map<string, Config>();
  /** Configurations by string value (root compound whose active child is atomic). */
  private readonly byString = new Map<string, Config>();
  /**
   * Configurations by the orders of the states an object value names, in the value's key order
   * (see namedKey). The named states alone determine the configuration (resolution completes them
   * with initial states), so every key variant of one configuration maps to it; variants are few.
   */
  private readonly byNamed = new Map<string, Config>();
  /** The canonical (frozen) value objects this runner hands out: the common case skips even the key walk. */
  private readonly byObject = new WeakMap<object, Config>();
  /** Per node order: its children by key. */
  private readonly childByKey: Map<string, CNode>[];
  private readonly args: Args = { context: undefined, event: NO_EVENT };
  private initialMicro: Micro | undefined;

  constructor(lowered: LoweredMachine) {
    this.m = lowered;
    lowered.eventTypes.forEach((t, i) => this.eventIndex.set(t, i));
    this.childByKey = lowered.nodes.map((n) => new Map(n.children.map((c) => [c.key, c])));
  }

  initial(input: unknown, fx: ActorEffects): ActorSnapshot {
    const m = this.m;
    // xstate assigns the factory's result onto {} (assign semantics), so the initial context is a shallow copy.
    const context = m.contextFactory !== undefined ? Object.assign({}, m.contextFactory({ input })) : (m.contextValue ?? {});
    if (this.initialMicro === undefined) {
      const root = m.root;
      const init: CTrans = { gid: -1, source: root, targets: initialTargets(root), reenter: true, guard: undefined, actions: [] };
      const { ops, nodes } = microstepOps([root], [init], true, root);
      this.initialMicro = { ops, target: this.configOfNodes(nodes) };
    }
    const micro = this.initialMicro;
    const ctx = this.run(micro.ops, context, { type: 'xstate.init', input }, fx);
    this.handled = false;
    this.done = micro.target.done;
    return { value: micro.target.value, context: ctx };
  }

  step(snapshot: ActorSnapshot, event: ActorEvent, fx: ActorEffects): ActorSnapshot {
    const cfg = this.configOf(snapshot.value);
    this.handled = false;
    this.done = cfg.done;
    // A finished machine takes no more events (as an xstate actor: done stops it).
    if (cfg.done) return snapshot;
    const ev = this.eventIndex.get(event.type);
    if (ev === undefined) return snapshot;
    let plan = cfg.plans[ev];
    if (plan === undefined) plan = cfg.plans[ev] = buildPlan(this.m.root, cfg.active, event.type);
    if (plan === null) return snapshot;
    const ctx = snapshot.context;
    let micro: Micro | undefined;
    const chain = plan.chain;
    if (chain !== undefined) {
      for (let i = 0; i < chain.length; i++) {
        const t = chain[i]!;
        if (t.guard === undefined || this.guard(t.guard, ctx, event)) {
          micro = plan.micros[i] ?? (plan.micros[i] = this.microstep(cfg, [t]));
          break;
        }
      }
    } else {
      micro = this.selectTree(cfg, plan, ctx, event);
    }
    // Drop references to the caller's objects (the args object lives as long as the runner).
    this.args.context = undefined;
    this.args.event = NO_EVENT;
    if (micro === undefined) return snapshot;
    this.handled = true;
    const next = this.run(micro.ops, ctx, event, fx);
    this.done = micro.target.done;
    if (micro.target === cfg && next === ctx) return snapshot;
    return { value: micro.target.value, context: next };
  }

  /** The configuration of a state value (string, canonical object, or any equivalent object). */
  private configOf(value: StateValue): Config {
    if (typeof value === 'string') {
      const c = this.byString.get(value);
      return c ?? this.resolve(value, value);
    }
    if (value === null || typeof value !== 'object') throw new EddyError('EDDY_CONFIG', `machine '${this.m.machine.id}': invalid state value ${JSON.stringify(value)}`);
    const c = this.byObject.get(value);
    if (c !== undefined) return c;
    // A foreign object (e.g. decoded from keyed state): usually seen once, so it is not cached itself.
    const key = this.namedKey(this.m.root, value);
    if (key === undefined) return this.resolve(value, undefined); // throws: the value names a missing state
    let found = this.byNamed.get(key);
    if (found === undefined) {
      found = this.resolve(value, undefined);
      this.byNamed.set(key, found);
    }
    return found;
  }

  /**
   * The orders of the states `v` names below `node`, in the value's key order, each followed by ','
   * (undefined when a key names no child: resolve() then reports the error).
   */
  private namedKey(node: CNode, v: unknown): string | undefined {
    const kids = this.childByKey[node.order]!;
    if (typeof v === 'string') {
      const c = kids.get(v);
      return c === undefined ? undefined : `${c.order},`;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    let s = '';
    for (const k of Object.keys(v)) {
      const c = kids.get(k);
      if (c === undefined) return undefined;
      const below = this.namedKey(c, (v as Record<string, unknown>)[k]);
      if (below === undefined) return undefined;
      s += `${c.order},${below}`;
    }
    return s;
  }

  private resolve(value: StateValue, asString: string | undefined): Config {
    const nodes = nodesOfValue(this.m.root, value);
    if (typeof nodes === 'string') throw new EddyError('EDDY_CONFIG', `machine '${this.m.machine.id}': ${nodes}`);
    const cfg = this.configOfNodes(nodes);
    if (asString !== undefined) this.byString.set(asString, cfg);
    return cfg;
  }

  /** The configuration of a doc-ordered active node set, created (value computed and frozen) on first sight. */
  private configOfNodes(nodes: CNode[]): Config {
    const key = nodes.map((n) => n.order).join(',');
    let cfg = this.byNodes.get(key);
    if (cfg !== undefined) return cfg;
    const active = new Uint8Array(this.m.nodes.length);
    for (const n of nodes) active[n.order] = 1;
    const value = deepFreeze(valueOf(this.m.root, active));
    cfg = {
      index: this.configs.length,
      nodes,
      active,
      value,
      done: nodes.some((n) => n.type === 'final'),
      plans: new Array<Plan | null | undefined>(this.eventIndex.size).fill(undefined),
      multi: undefined,
    };
    this.configs.push(cfg);
    this.byNodes.set(key, cfg);
    // Register the canonical value too, so values this runner returns resolve without a key computation.
    if (typeof value === 'string') this.byString.set(value, cfg);
    else {
      this.byObject.set(value, cfg);
      this.byNamed.set(this.namedKey(this.m.root, value)!, cfg);
    }
    return cfg;
  }

  private microstep(cfg: Config, transitions: CTrans[]): Micro {
    const { ops, nodes } = microstepOps(cfg.nodes, transitions, false, this.m.root);
    return { ops, target: this.configOfNodes(nodes) };
  }

  /** General selection (several parallel regions with candidates): xstate's transitionNode over the plan tree. */
  private selectTree(cfg: Config, plan: Plan, ctx: unknown, event: ActorEvent): Micro | undefined {
    const selected: CTrans[] = [];
    const sel = (p: PlanNode): boolean => {
      let any = false;
      for (const k of p.kids) if (sel(k)) any = true;
      if (any) return true;
      for (const t of p.cands) {
        if (t.guard === undefined || this.guard(t.guard, ctx, event)) {
          selected.push(t);
          return true;
        }
      }
      return false;
    };
    sel(plan.tree!);
    if (selected.length === 0) return undefined;
    const key = selected.map((t) => t.gid).join(',');
    const multi = (cfg.multi ??= new Map());
    let micro = multi.get(key);
    if (micro === undefined) {
      micro = this.microstep(cfg, selected);
      multi.set(key, micro);
    }
    return micro;
  }

  private guard(g: CGuard, ctx: unknown, event: ActorEvent): boolean {
    const args = this.args;
    args.context = ctx;
    args.event = event;
    // Errors are reworded like xstate's StateNode.next, so both paths fail with the same message.
    try {
      const params = g.hasParams ? (g.paramsFn !== undefined ? g.paramsFn(args) : g.paramsValue) : undefined;
      args.context = ctx;
      args.event = event;
      return !!g.fn(args, params);
    } catch (e) {
      throw new Error(g.errorPrefix + (e as { message?: unknown } | undefined)?.message);
    }
  }

  /** Runs ops in order; each sees the context the previous assign produced (as xstate's action resolution). */
  private run(ops: Op[], context: unknown, event: ActorEvent, fx: ActorEffects): unknown {
    let ctx = context;
    const args = this.args;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      switch (op.kind) {
        case OP_ASSIGN_FN: {
          if (!ctx) throw new Error('Cannot assign to undefined `context`. Ensure that `context` is defined in the machine config.');
          const params = this.params(op, ctx, event);
          args.context = ctx;
          args.event = event;
          ctx = Object.assign({}, ctx, op.fn!(args, params));
          break;
        }
        case OP_ASSIGN_OBJ: {
          if (!ctx) throw new Error('Cannot assign to undefined `context`. Ensure that `context` is defined in the machine config.');
          const params = this.params(op, ctx, event);
          // Every property function sees the context before this assign (xstate builds the whole partial update first).
          const next: Record<string, unknown> = Object.assign({}, ctx);
          const keys = op.keys!;
          const vals = op.vals!;
          const isFn = op.isFn!;
          for (let k = 0; k < keys.length; k++) {
            args.context = ctx;
            args.event = event;
            next[keys[k]!] = isFn[k] ? (vals[k] as (a: Args, p: unknown) => unknown)(args, params) : vals[k];
          }
          ctx = next;
          break;
        }
        case OP_EMIT_CONST:
          fx.emit(op.event!);
          break;
        case OP_EMIT_FN: {
          const params = this.params(op, ctx, event);
          args.context = ctx;
          args.event = event;
          fx.emit(op.fn!(args, params) as ActorEvent);
          break;
        }
        case OP_SCHEDULE:
          fx.schedule(op.id, op.delay, op.event!);
          break;
        case OP_CANCEL:
          fx.cancel(op.id);
          break;
      }
    }
    args.context = undefined;
    args.event = NO_EVENT;
    return ctx;
  }

  private params(op: Op, ctx: unknown, event: ActorEvent): unknown {
    if (!op.hasParams) return undefined;
    if (op.paramsFn === undefined) return op.paramsValue;
    const args = this.args;
    args.context = ctx;
    args.event = event;
    return op.paramsFn(args);
  }
}
