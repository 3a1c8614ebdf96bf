// One supervisor as a pure reducer plus an xstate machine: which children to restart, or escalate (OTP strategies + intensity).
import { assign, setup } from 'xstate';
import { EddyError } from '../../src/errors.ts';
import { createRestartPolicy, type RestartPolicyConfig, type RestartPolicySnapshot } from './restart-policy.ts';

import type { RestartIntensity, SupervisionStrategy } from '../../src/api/fault-tolerance.ts';

/** OTP strategies and restart intensity are plain options of the API (src/api/fault-tolerance.ts). */
export type { RestartIntensity, SupervisionStrategy };

/** The static description of one supervisor. */
export interface SupervisorConfig {
  /** Child ids in start order (unique, at least one). */
  children: readonly string[];
  strategy: SupervisionStrategy;
  intensity: RestartIntensity;
  /**
   * Optional restart policy, asked once per restart decision for the delay; when it gives up the
   * supervisor escalates. Without one, restarts are immediate (`delayMs: 0`).
   */
  restartPolicy?: RestartPolicyConfig;
  /** Seed for the policy's jitter (default 0). */
  seed?: number;
}

/** A child failed at time `now` (ms) with `cause`. */
export interface ChildFailedEvent {
  type: 'CHILD_FAILED';
  child: string;
  cause: unknown;
  now: number;
}

/** The outcome of one CHILD_FAILED. */
export type SupervisorDecision =
  | {
      type: 'RESTART';
      /** The failed child. */
      child: string;
      cause: unknown;
      /** Children to stop, in reverse start order (OTP: last started stops first). */
      stop: string[];
      /** Children to (re)start after `delayMs`, in start order. */
      restart: string[];
      delayMs: number;
    }
  | {
      type: 'ESCALATE';
      child: string;
      /** The original cause, unchanged. */
      cause: unknown;
      /** Why the supervisor gave up (intensity exceeded or the restart policy failed). */
      reason: string;
      /** Every child, in reverse start order: the supervisor stops them all before escalating. */
      stop: string[];
    }
  | { type: 'IGNORE'; child: string; reason: string };

/** A supervisor's state, plain data. */
export interface SupervisorState {
  /** Times of the restarts that still count towards the intensity. */
  restartTimes: number[];
  /** Restart policy state, when a policy is configured. */
  policy: RestartPolicySnapshot | null;
  escalated: boolean;
  lastNow: number | null;
}

function bad(message: string): never {
  throw new EddyError('EDDY_CONFIG', `supervisor: ${message}`);
}

/**
 * Checks a supervisor config, throwing `EddyError('EDDY_CONFIG')` naming the bad field.
 *
 * @example
 * ```ts
 * validateSupervisorConfig({ children: ['a', 'a'], strategy: 'one-for-one', intensity: { maxRestarts: 3, withinMs: 1000 } });
 * // throws EddyError: "EDDY_CONFIG: supervisor: duplicate child id "a""
 * ```
 */
export function validateSupervisorConfig(config: SupervisorConfig): void {
  if (!Array.isArray(config.children) || config.children.length === 0) bad('children must be a non-empty array of ids');
  const seen = new Set<string>();
  for (const c of config.children) {
    if (typeof c !== 'string' || c === '') bad(`child ids must be non-empty strings, got ${JSON.stringify(c)}`);
    if (seen.has(c)) bad(`duplicate child id ${JSON.stringify(c)}`);
    seen.add(c);
  }
  if (!['one-for-one', 'one-for-all', 'rest-for-one'].includes(config.strategy)) {
    bad(`strategy must be one-for-one, one-for-all or rest-for-one, got ${JSON.stringify(config.strategy)}`);
  }
  const i = config.intensity;
  if (i === null || typeof i !== 'object') bad('intensity must be { maxRestarts, withinMs }');
  if (!Number.isInteger(i.maxRestarts) || i.maxRestarts < 0) bad(`intensity.maxRestarts must be an integer >= 0, got ${i.maxRestarts}`);
  if (typeof i.withinMs !== 'number' || !(i.withinMs > 0) || !Number.isFinite(i.withinMs)) {
    bad(`intensity.withinMs must be a finite number > 0, got ${i.withinMs}`);
  }
  if (config.restartPolicy !== undefined) createRestartPolicy(config.restartPolicy); // validates
}

/** The initial state for `config` (validated). */
export function initialSupervisorState(config: SupervisorConfig): SupervisorState {
  validateSupervisorConfig(config);
  return {
    restartTimes: [],
    policy: config.restartPolicy === undefined ? null : createRestartPolicy(config.restartPolicy, { seed: config.seed ?? 0 }).snapshot(),
    escalated: false,
    lastNow: null,
  };
}

/** The children a strategy restarts when `child` fails, in start order. */
export function childrenToRestart(children: readonly string[], strategy: SupervisionStrategy, child: string): string[] {
  const i = children.indexOf(child);
  if (i < 0) return [];
  switch (strategy) {
    case 'one-for-one':
      return [child];
    case 'one-for-all':
      return [...children];
    case 'rest-for-one':
      return children.slice(i);
  }
}

/**
 * The pure reducer: given the state and a failure, the next state and the decision. Never mutates `state`.
 *
 * - A failure of an unknown child, or any failure after escalation, is ignored (`IGNORE`).
 * - Intensity (OTP): a restart decision counts once whatever the strategy; restarts at `t` still
 *   count while `now - t < withinMs`. If this restart would make more than `maxRestarts` in the
 *   window, the supervisor escalates with the original cause instead.
 * - Then the restart policy (if any) is asked for the delay; when it fails, the supervisor escalates.
 * - Time is taken as non-decreasing: a `now` earlier than one already seen counts as that later time.
 *
 * @example
 * ```ts
 * const config = { children: ['src', 'map', 'sink'], strategy: 'rest-for-one', intensity: { maxRestarts: 1, withinMs: 1000 } } as const;
 * let s = initialSupervisorState(config);
 * const r1 = superviseFailure(config, s, { type: 'CHILD_FAILED', child: 'map', cause: 'boom', now: 0 });
 * r1.decision; // { type: 'RESTART', child: 'map', cause: 'boom', stop: ['sink', 'map'], restart: ['map', 'sink'], delayMs: 0 }
 * const r2 = superviseFailure(config, r1.state, { type: 'CHILD_FAILED', child: 'src', cause: 'again', now: 10 });
 * r2.decision.type; // 'ESCALATE' (2 restarts within 1000 ms > maxRestarts 1), cause 'again'
 * ```
 */
export function superviseFailure(
  config: SupervisorConfig,
  state: SupervisorState,
  event: ChildFailedEvent,
): { state: SupervisorState; decision: SupervisorDecision } {
  const { child, cause } = event;
  if (typeof event.now !== 'number' || !Number.isFinite(event.now)) {
    throw new EddyError('EDDY_INVALID_ARGUMENT', `supervisor: now must be a finite number, got ${String(event.now)}`);
  }
  if (state.escalated) return { state, decision: { type: 'IGNORE', child, reason: 'the supervisor has already escalated' } };
  if (!config.children.includes(child)) {
    return { state, decision: { type: 'IGNORE', child, reason: `unknown child ${JSON.stringify(child)}` } };
  }
  const now = state.lastNow === null ? event.now : Math.max(event.now, state.lastNow);
  const stopAll = [...config.children].reverse();
  const { maxRestarts, withinMs } = config.intensity;
  const recent = state.restartTimes.filter((t) => now - t < withinMs);
  if (recent.length + 1 > maxRestarts) {
    return {
      state: { ...state, restartTimes: recent, escalated: true, lastNow: now },
      decision: {
        type: 'ESCALATE',
        child,
        cause,
        reason: `restart intensity exceeded: ${recent.length + 1} restarts within ${withinMs} ms > maxRestarts ${maxRestarts}`,
        stop: stopAll,
      },
    };
  }
  let delayMs = 0;
  let policy = state.policy;
  if (config.restartPolicy !== undefined && policy !== null) {
    const p = createRestartPolicy(config.restartPolicy, { state: policy });
    const d = p.onFailure(now);
    policy = p.snapshot();
    if (d.action === 'fail') {
      return {
        state: { ...state, restartTimes: recent, policy, escalated: true, lastNow: now },
        decision: { type: 'ESCALATE', child, cause, reason: `restart policy gave up: ${d.reason}`, stop: stopAll },
      };
    }
    delayMs = d.delayMs;
  }
  const restart = childrenToRestart(config.children, config.strategy, child);
  return {
    state: { restartTimes: [...recent, now].slice(-Math.max(1, maxRestarts)), policy, escalated: false, lastNow: now },
    decision: { type: 'RESTART', child, cause, stop: [...restart].reverse(), restart, delayMs },
  };
}

/** Context of the supervisor machine. */
export interface SupervisorContext {
  config: SupervisorConfig;
  state: SupervisorState;
  /** The decision for the last CHILD_FAILED (null before the first). */
  lastDecision: SupervisorDecision | null;
  /** Every RESTART decision so far, in order (for job status / JobResult). */
  restarts: Extract<SupervisorDecision, { type: 'RESTART' }>[];
}

/** The machine's output when done: the escalation with the original cause, or null after STOP. */
export type SupervisorOutput = Extract<SupervisorDecision, { type: 'ESCALATE' }> | null;

/**
 * One supervisor as an xstate machine (input: a {@link SupervisorConfig}).
 *
 * Legal transitions:
 * - `supervising --CHILD_FAILED [within intensity and policy]--> supervising` (decision RESTART)
 * - `supervising --CHILD_FAILED [unknown child]--> supervising` (decision IGNORE)
 * - `supervising --CHILD_FAILED [intensity exceeded or policy gave up]--> escalated` (decision ESCALATE)
 * - `supervising --STOP--> stopped`
 * - `escalated` and `stopped` are final; events there are ignored. Output: the ESCALATE decision, or null after STOP.
 *
 * @example
 * ```ts
 * const a = createActor(supervisorMachine, {
 *   input: { children: ['a', 'b', 'c'], strategy: 'one-for-all', intensity: { maxRestarts: 3, withinMs: 60_000 } },
 * }).start();
 * a.send({ type: 'CHILD_FAILED', child: 'b', cause: new Error('x'), now: 5 });
 * a.getSnapshot().context.lastDecision; // { type: 'RESTART', restart: ['a', 'b', 'c'], stop: ['c', 'b', 'a'], ... }
 * a.getSnapshot().value; // 'supervising'
 * ```
 */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as ChildFailedEvent | { type: 'STOP' },
    input: {} as SupervisorConfig,
    output: {} as SupervisorOutput,
  },
  actions: {
    decide: assign(({ context, event }) => {
      if (event.type !== 'CHILD_FAILED') return {};
      const { state, decision } = superviseFailure(context.config, context.state, event);
      return {
        state,
        lastDecision: decision,
        restarts: decision.type === 'RESTART' ? [...context.restarts, decision] : context.restarts,
      };
    }),
  },
  guards: {
    // The reducer is pure, so the guard may run it to see where the event leads.
    willEscalate: ({ context, event }) =>
      event.type === 'CHILD_FAILED' && superviseFailure(context.config, context.state, event).decision.type === 'ESCALATE',
  },
}).createMachine({
  id: 'supervisor',
  initial: 'supervising',
  context: ({ input }) => ({
    config: { ...input, children: [...input.children] },
    state: initialSupervisorState(input),
    lastDecision: null,
    restarts: [],
  }),
  states: {
    supervising: {
      on: {
        CHILD_FAILED: [{ guard: 'willEscalate', target: 'escalated', actions: 'decide' }, { actions: 'decide' }],
        STOP: 'stopped',
      },
    },
    escalated: { type: 'final' },
    stopped: { type: 'final' },
  },
  output: ({ context }) => (context.lastDecision?.type === 'ESCALATE' ? context.lastDecision : null),
});

export type SupervisorMachineState = 'supervising' | 'escalated' | 'stopped';
