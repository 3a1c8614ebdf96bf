// xstate v5's SCXML algorithms (domains, exit/entry sets, conflicts, selection) ported to compiled nodes; run once per configuration, never per step.
import type { StateValue } from 'xstate';
import type { CNode, CTrans, Op } from './compiled-lowering.ts';

/** A configuration: the full set of active state nodes (ancestors included), with everything a step needs precomputed lazily. */
export interface Config {
  /** Dense index in creation order (stable for one runner, not across processes). */
  index: number;
  /** Active nodes in document order. */
  nodes: CNode[];
  /** active[order] is 1 when that node is active. */
  active: Uint8Array;
  /** The canonical state value, deep-frozen and shared by every snapshot in this configuration. */
  value: StateValue;
  /** A top-level final state is active (xstate: status 'done'). */
  done: boolean;
  /** Per event index: the selection plan (null: no candidates anywhere, unhandled), built on first use. */
  plans: (Plan | null | undefined)[];
  /** Microsteps of multi-transition selections (parallel regions), keyed by the selected gids. */
  multi: Map<string, Micro> | undefined;
}

/** The outcome of one microstep from a configuration: the ops in xstate's order and the next configuration. */
export interface Micro {
  ops: Op[];
  target: Config;
}

/** Selection tree for one (configuration, event type): only nodes with candidates in their subtree. */
export interface PlanNode {
  cands: CTrans[];
  kids: PlanNode[];
}

/**
 * How to select transitions. `chain`: at most one region has candidates at every parallel node, so the
 * selection is "first enabled candidate, deepest state first" and `micros[i]` caches the microstep of chain[i].
 * Otherwise `tree` is walked like xstate's transitionNode and the selection keys `Config.multi`.
 */
export interface Plan {
  chain: CTrans[] | undefined;
  micros: (Micro | undefined)[];
  tree: PlanNode | undefined;
}

/** xstate's isDescendant, including its quirk that every node (root too) descends from `undefined`. */
export function isDescendant(child: CNode, parent: CNode | undefined): boolean {
  let m = child;
  while (m.parent !== undefined && m.parent !== parent) m = m.parent;
  return m.parent === parent;
}

function properAncestors(node: CNode, to: CNode | undefined): CNode[] {
  const out: CNode[] = [];
  if (to === node) return out;
  let m = node.parent;
  while (m !== undefined && m !== to) {
    out.push(m);
    m = m.parent;
  }
  return out;
}

function uniqueTargets(t: CTrans): CNode[] {
  return t.targets === undefined ? [] : [...new Set(t.targets)];
}

function leastCommonAncestor(nodes: CNode[]): CNode | undefined {
  const [head, ...tail] = nodes;
  for (const anc of properAncestors(head!, undefined)) {
    if (tail.every((n) => isDescendant(n, anc))) return anc;
  }
  return undefined;
}

function transitionDomain(t: CTrans, root: CNode): CNode | undefined {
  const targets = uniqueTargets(t);
  // Not reentering and all targets inside the source: the source is the domain (nothing above it exits).
  if (!t.reenter && targets.every((x) => x === t.source || isDescendant(x, t.source))) return t.source;
  const lca = leastCommonAncestor(targets.concat(t.source));
  if (lca !== undefined) return lca;
  return t.reenter ? undefined : root;
}

function exitSet(transitions: CTrans[], active: Set<CNode>, root: CNode): CNode[] {
  const out = new Set<CNode>();
  for (const t of transitions) {
    // A targetless transition exits nothing.
    if (t.targets === undefined || t.targets.length === 0) continue;
    const domain = transitionDomain(t, root);
    if (t.reenter && t.source === domain) out.add(domain);
    for (const n of active) if (isDescendant(n, domain)) out.add(n);
  }
  return [...out];
}

function intersects(a: CNode[], b: CNode[]): boolean {
  const s = new Set(a);
  return b.some((x) => s.has(x));
}

/** xstate's removeConflictingTransitions: a descendant source preempts an ancestor's transition when their exit sets meet. */
function removeConflicts(enabled: CTrans[], active: Set<CNode>, root: CNode): CTrans[] {
  const filtered = new Set<CTrans>();
  for (const t1 of enabled) {
    let preempted = false;
    const remove = new Set<CTrans>();
    for (const t2 of filtered) {
      if (intersects(exitSet([t1], active, root), exitSet([t2], active, root))) {
        if (isDescendant(t1.source, t2.source)) remove.add(t2);
        else {
          preempted = true;
          break;
        }
      }
    }
    if (!preempted) {
      for (const t3 of remove) filtered.delete(t3);
      filtered.add(t1);
    }
  }
  return [...filtered];
}

function hasDescendantIn(set: Set<CNode>, child: CNode): boolean {
  for (const s of set) if (isDescendant(s, child)) return true;
  return false;
}

function addDescendants(node: CNode, toEnter: Set<CNode>): void {
  if (node.type === 'compound') {
    const init = node.initialChild!;
    toEnter.add(init);
    addDescendants(init, toEnter);
  } else if (node.type === 'parallel') {
    for (const child of node.children) {
      if (!hasDescendantIn(toEnter, child)) {
        toEnter.add(child);
        addDescendants(child, toEnter);
      }
    }
  }
}

function addAncestors(toEnter: Set<CNode>, ancestors: CNode[], reentrancyDomain: CNode | undefined): void {
  for (const anc of ancestors) {
    if (reentrancyDomain === undefined || isDescendant(anc, reentrancyDomain)) toEnter.add(anc);
    if (anc.type === 'parallel') {
      for (const child of anc.children) {
        if (!hasDescendantIn(toEnter, child)) {
          toEnter.add(child);
          addDescendants(child, toEnter);
        }
      }
    }
  }
}

/** xstate's computeEntrySet without history states (unsupported) and without default-entry tracking (initial actions are unsupported). */
function entrySet(transitions: CTrans[], root: CNode): Set<CNode> {
  const toEnter = new Set<CNode>();
  for (const t of transitions) {
    const domain = transitionDomain(t, root);
    const targets = uniqueTargets(t);
    for (const s of targets) {
      if (t.source !== s || t.source !== domain || t.reenter) toEnter.add(s);
      addDescendants(s, toEnter);
    }
    for (const s of targets) {
      const ancestors = properAncestors(s, domain);
      if (domain?.type === 'parallel') ancestors.push(domain);
      addAncestors(toEnter, ancestors, t.source.parent === undefined && t.reenter ? undefined : domain);
    }
  }
  return toEnter;
}

/** xstate's getInitialStateNodes: the root and the initial states below it, as targets of the initial transition. */
export function initialTargets(root: CNode): CNode[] {
  const set = new Set<CNode>();
  const iter = (n: CNode): void => {
    if (set.has(n)) return;
    set.add(n);
    if (n.type === 'compound') iter(n.initialChild!);
    else if (n.type === 'parallel') for (const c of n.children) iter(c);
  };
  iter(root);
  return [...set];
}

/**
 * One microstep from `active` over the selected `transitions`, as xstate's microstep: exit states
 * (innermost first, reverse document order), transition actions (selection order), entry states
 * (document order); reaching a top-level final state then runs the exit actions of every active
 * state (reverse document order), as xstate does when the machine is done.
 */
export function microstepOps(active: CNode[], transitions: CTrans[], isInitial: boolean, root: CNode): { ops: Op[]; nodes: CNode[] } {
  const mut = new Set(active);
  const filtered = removeConflicts(transitions, mut, root);
  const ops: Op[] = [];
  if (!isInitial) {
    const exits = exitSet(filtered, mut, root).sort((a, b) => b.order - a.order);
    for (const s of exits) {
      ops.push(...s.exit);
      mut.delete(s);
    }
  }
  for (const t of filtered) ops.push(...t.actions);
  let done = false;
  for (const s of [...entrySet(filtered, root)].sort((a, b) => a.order - b.order)) {
    mut.add(s);
    ops.push(...s.entry);
    // Lowering admits final states only as children of a compound root: entering one finishes the machine.
    if (s.type === 'final') done = true;
  }
  if (done) for (const s of [...mut].sort((a, b) => b.order - a.order)) ops.push(...s.exit);
  return { ops, nodes: [...mut].sort((a, b) => a.order - b.order) };
}

/** xstate's getValueFromAdj over a configuration (doc-ordered children, which is the order xstate's values have). */
export function valueOf(node: CNode, active: Uint8Array): StateValue {
  const kids = node.children.filter((c) => active[c.order] === 1);
  if (node.type === 'compound') {
    const c = kids[0];
    if (c === undefined) return {};
    if (c.type === 'atomic' || c.type === 'final') return c.key;
  }
  const out: Record<string, StateValue> = {};
  for (const c of kids) out[c.key] = valueOf(c, active);
  return out;
}

/** Freezes a state value deeply: it is shared by every snapshot of its configuration. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

/**
 * The active nodes a state value denotes, completed like xstate's resolveState (getStateNodes +
 * getAllStateNodes): missing regions and unspecified compound children get their initial states.
 * Returns a message instead when the value names a state that does not exist.
 */
export function nodesOfValue(root: CNode, value: unknown): CNode[] | string {
  const set = new Set<CNode>([root]);
  const walk = (node: CNode, v: unknown): string | undefined => {
    if (typeof v === 'string') {
      const c = node.children.find((x) => x.key === v);
      if (c === undefined) return `state '${v}' does not exist on '${node.pathId}'`;
      set.add(c);
      return undefined;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return `invalid state value under '${node.pathId}': ${JSON.stringify(v)}`;
    for (const k of Object.keys(v)) {
      const c = node.children.find((x) => x.key === k);
      if (c === undefined) return `state '${k}' does not exist on '${node.pathId}'`;
      set.add(c);
      const err = walk(c, (v as Record<string, unknown>)[k]);
      if (err !== undefined) return err;
    }
    return undefined;
  };
  const err = walk(root, value);
  if (err !== undefined) return err;
  // Complete like getAllStateNodes: a compound without an active child enters its initial states; a parallel enters missing regions.
  for (const s of set) {
    if (s.type === 'compound' && !s.children.some((c) => set.has(c))) {
      for (const n of initialTargets(s)) set.add(n);
    } else if (s.type === 'parallel') {
      for (const c of s.children) if (!set.has(c)) for (const n of initialTargets(c)) set.add(n);
    }
  }
  for (const s of [...set]) for (let m = s.parent; m !== undefined; m = m.parent) set.add(m);
  // A compound with two active children is not a configuration (xstate would pick the first key silently; we refuse).
  for (const s of set) if (s.type === 'compound' && s.children.filter((c) => set.has(c)).length > 1) return `state value has two active children under compound '${s.pathId}'`;
  return [...set].sort((a, b) => a.order - b.order);
}

/** Builds the selection plan of `type` in a configuration (null when no active state has a candidate). */
export function buildPlan(root: CNode, active: Uint8Array, type: string): Plan | null {
  const rec = (n: CNode): PlanNode | null => {
    const kids: PlanNode[] = [];
    for (const c of n.children) {
      if (active[c.order] !== 1) continue;
      const p = rec(c);
      if (p !== null) kids.push(p);
    }
    const cands = n.on.get(type);
    if (kids.length === 0 && cands === undefined) return null;
    return { cands: cands ?? [], kids };
  };
  const tree = rec(root);
  if (tree === null) return null;
  const chain: CTrans[] = [];
  // Flatten when every plan node has at most one kid: sel(n) = sel(kid) || first enabled of n's own candidates.
  const flatten = (p: PlanNode): boolean => {
    if (p.kids.length > 1) return false;
    if (p.kids.length === 1 && !flatten(p.kids[0]!)) return false;
    chain.push(...p.cands);
    return true;
  };
  if (flatten(tree)) return { chain, micros: new Array<Micro | undefined>(chain.length).fill(undefined), tree: undefined };
  return { chain: undefined, micros: [], tree };
}
