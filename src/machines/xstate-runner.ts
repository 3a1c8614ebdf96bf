// The fallback machine runner: xstate's own pure initialTransition()/transition(), with returned actions turned into effects.
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { EddyError, errorText } from '../errors.ts';
import type { ActorEffects, ActorEvent, ActorSnapshot, MachineRunner } from './machine-contract.ts';

/** An executable action as transition() returns it (xstate's ExecutableActionObject, typed loosely). */
interface Executable {
  type: string;
  info: { self?: unknown };
  params: Record<string, unknown> | undefined;
  exec: ((info: unknown, params: unknown) => void) | undefined;
}

/**
 * Runs any machine on xstate. Nothing but the machine is kept between calls: every step rebuilds
 * xstate's snapshot from the plain `{ value, context }` with `machine.resolveState`, so a snapshot
 * written by the compiled path (or restored from a checkpoint) steps the same way. Invoked and
 * spawned actors do not run (transition() executes nothing, and children are not part of an
 * ActorSnapshot), so their onDone/onError never fire.
 */
export class XstateMachineRunner implements MachineRunner {
  readonly path = 'xstate' as const;
  handled = false;
  done = false;

  constructor(
    private readonly machine: AnyStateMachine,
    readonly fallbackReason: string | undefined,
  ) {}

  initial(input: unknown, fx: ActorEffects): ActorSnapshot {
    const [snap, actions] = initialTransition(this.machine, input);
    // getInitialSnapshot catches errors into an 'error' snapshot; surface them as the compiled path would (thrown).
    if (snap.status === 'error') throw snap.error;
    this.effects(actions as unknown as Executable[], fx);
    this.handled = false;
    this.done = snap.status === 'done';
    return { value: snap.value, context: snap.context };
  }

  step(snapshot: ActorSnapshot, event: ActorEvent, fx: ActorEffects): ActorSnapshot {
    const snap = this.resolve(snapshot);
    this.handled = false;
    this.done = snap.status === 'done';
    // A finished machine takes no more events (xstate actors stop when done; pure transition() would not check).
    if (this.done) return snapshot;
    // handled: what xstate's selection (transitionNode) picks for this event, guards evaluated.
    this.handled = this.machine.getTransitionData(snap, event as never).length > 0;
    const [next, actions] = transition(this.machine, snap, event as never);
    this.effects(actions as unknown as Executable[], fx);
    this.done = next.status === 'done';
    // transition() returns the very snapshot it was given when nothing changed.
    if (next === snap) return snapshot;
    return { value: next.value, context: next.context };
  }

  private resolve(s: ActorSnapshot): AnyMachineSnapshot {
    try {
      return this.machine.resolveState({ value: s.value, context: s.context } as never) as AnyMachineSnapshot;
    } catch (e) {
      throw new EddyError('EDDY_CONFIG', `machine '${this.machine.id}': state value ${JSON.stringify(s.value)} does not fit the machine: ${errorText(e)}`, { cause: e });
    }
  }

  /** Turns transition()'s actions into effects, in order. */
  private effects(actions: Executable[], fx: ActorEffects): void {
    for (const a of actions) {
      const p = a.params ?? {};
      switch (a.type) {
        case 'xstate.emit':
          fx.emit(p.event as ActorEvent);
          break;
        case 'xstate.raise':
          // An undelayed raise was already processed inside the macrostep (internal queue).
          if (typeof p.delay === 'number') fx.schedule(delayedId(p.id, p.delay, p.event), p.delay, p.event as ActorEvent);
          break;
        case 'xstate.sendTo':
          // To self: a delayed event; without a delay it is one too (delay 0): an actor receives it after the
          // current step, while transition()'s inert scope would drop it. Sends to other actors go nowhere here.
          if (p.to === a.info.self || p.targetId === '#_internal') {
            const delay = typeof p.delay === 'number' ? p.delay : 0;
            fx.schedule(delayedId(p.id, delay, p.event), delay, p.event as ActorEvent);
          } else a.exec?.(a.info, a.params);
          break;
        case 'xstate.cancel':
          fx.cancel(String(p.sendId));
          break;
        default:
          // Custom actions run here (user side effects); built-ins' exec only defers into the inert scope (a no-op).
          a.exec?.(a.info, a.params);
      }
    }
  }
}

/**
 * The timer id of a delayed raise/sendTo: its own id, else a deterministic one from delay and event type
 * (xstate would draw a random id; two such pending sends of the same type and delay share this id).
 */
function delayedId(id: unknown, delay: number, event: unknown): string {
  if (typeof id === 'string') return id;
  return `xstate.delayed.${delay}.${(event as ActorEvent | undefined)?.type ?? ''}`;
}
