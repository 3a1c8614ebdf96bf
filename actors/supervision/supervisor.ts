// A runtime wrapper around the supervisor machine: reads time from a Clock, stops/starts children through hooks, schedules delayed restarts.
import { createActor, type Actor } from 'xstate';
import { EddyError } from '../../src/errors.ts';
import type { Cancelable, Clock } from '../../src/time/clock.ts';
import { supervisorMachine, type SupervisorConfig, type SupervisorDecision } from './supervisor.machine.ts';

/** What the supervisor does to the outside world. Hooks are called synchronously, in the order documented. */
export interface SupervisorHooks {
  /** Stop these children (reverse start order). Called right after the decision. */
  stop(children: string[], decision: SupervisorDecision): void;
  /** Start these children again (start order). Called `delayMs` after the decision, through the clock. */
  start(children: string[], decision: SupervisorDecision): void;
  /** The supervisor gave up: report the original cause to the parent. Called after `stop` of every child. */
  escalate(decision: Extract<SupervisorDecision, { type: 'ESCALATE' }>): void;
}

/**
 * One live supervisor. Failures of children that are stopped and waiting for their restart are
 * stale reports and are ignored (they neither count towards the intensity nor restart anything).
 * After an escalation or `stop()`, pending restarts are canceled and every later report is ignored.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * const log: string[] = [];
 * const sup = new Supervisor(
 *   { children: ['a', 'b'], strategy: 'one-for-all', intensity: { maxRestarts: 1, withinMs: 1000 },
 *     restartPolicy: { kind: 'fixedDelay', delayMs: 100, maxAttempts: 5 } },
 *   clock,
 *   { stop: (c) => log.push(`stop ${c}`), start: (c) => log.push(`start ${c}`), escalate: (d) => log.push(`escalate ${d.cause}`) },
 * );
 * sup.childFailed('b', 'boom'); // log: ['stop b,a']
 * clock.advance(100);           // log: [..., 'start a,b']
 * sup.childFailed('a', 'again'); // log: [..., 'stop b,a', 'escalate again']
 * ```
 */
export class Supervisor {
  private readonly actor: Actor<typeof supervisorMachine>;
  private readonly pending = new Map<Cancelable, Set<string>>();

  constructor(
    config: SupervisorConfig,
    private readonly clock: Clock,
    private readonly hooks: SupervisorHooks,
  ) {
    this.actor = createActor(supervisorMachine, { input: config }).start();
  }

  /** 'supervising', 'escalated' or 'stopped'. */
  get status(): 'supervising' | 'escalated' | 'stopped' {
    return this.actor.getSnapshot().value as 'supervising' | 'escalated' | 'stopped';
  }

  /** Every restart decided so far, with its cause (for job status and the JobResult). */
  get restarts(): readonly Extract<SupervisorDecision, { type: 'RESTART' }>[] {
    return this.actor.getSnapshot().context.restarts;
  }

  /** Reports a failed child; returns the decision taken (IGNORE for stale or late reports). */
  childFailed(child: string, cause: unknown): SupervisorDecision {
    if (this.status !== 'supervising') return { type: 'IGNORE', child, reason: `the supervisor is ${this.status}` };
    for (const set of this.pending.values()) {
      if (set.has(child)) return { type: 'IGNORE', child, reason: `${JSON.stringify(child)} is waiting for its restart` };
    }
    this.actor.send({ type: 'CHILD_FAILED', child, cause, now: this.clock.now() });
    const decision = this.actor.getSnapshot().context.lastDecision;
    if (decision === null) throw new EddyError('EDDY_INTERNAL', `the supervisor took no decision after the failure of ${JSON.stringify(child)}; this is a bug in eddy, please report it`);
    if (decision.type === 'RESTART') {
      this.hooks.stop(decision.stop, decision);
      const waiting = new Set(decision.restart);
      const handle: Cancelable = this.clock.schedule(decision.delayMs, () => {
        this.pending.delete(handle);
        this.hooks.start(decision.restart, decision);
      });
      this.pending.set(handle, waiting);
    } else if (decision.type === 'ESCALATE') {
      this.cancelPending();
      this.hooks.stop(decision.stop, decision);
      this.hooks.escalate(decision);
    }
    return decision;
  }

  /** Stops supervising: cancels pending restarts; later reports are ignored. Does not stop children. */
  stop(): void {
    this.cancelPending();
    // After an escalation (a final state) or a first stop() the actor is done: sending again would only warn.
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'STOP' });
  }

  private cancelPending(): void {
    for (const h of this.pending.keys()) h.cancel();
    this.pending.clear();
  }
}
