// The machine core's contract as types: events, plain snapshots, the effects sink, and the runner both paths implement.
import type { StateValue } from 'xstate';

/** An event as machines see it. */
export type ActorEvent = { type: string; [k: string]: unknown };

/** A key's machine state as plain data (what keyed state stores, msgpack-able; no functions, no xstate objects). */
export interface ActorSnapshot {
  /** xstate's state value, e.g. 'idle' or { payment: 'pending', shipping: 'idle' }. */
  value: StateValue;
  context: unknown;
}

/** Side effects of one step, in the exact order xstate would execute them. */
export interface ActorEffects {
  /** xstate `emit(...)`: an event for the outside (becomes an output record). */
  emit(event: ActorEvent): void;
  /** A delayed event to self: `after` transitions (id 'xstate.after.<delay>.<stateNodeId>', event { type: same id }) and delayed raise/sendTo self. */
  schedule(id: string, delayMs: number, event: ActorEvent): void;
  /** Cancels a scheduled delayed event by id (e.g. leaving a state with `after`). */
  cancel(id: string): void;
}

/**
 * Steps one machine as plain snapshots. A runner holds no per-key state: one runner serves every key
 * of a subtask, and `handled`/`done` describe only the last call.
 */
export interface MachineRunner {
  readonly path: 'compiled' | 'xstate';
  /** Why the machine runs on xstate: the first unsupported feature found (undefined on the compiled path, or when xstate was requested). */
  readonly fallbackReason: string | undefined;
  /** After the last initial()/step(): whether any transition was enabled by the event (guards passed). initial() sets it to false (no event was offered). */
  handled: boolean;
  /** After the last initial()/step(): whether the machine reached a top-level final state. */
  done: boolean;
  /** The state of a new key; entry actions of the initial states run (assign, emit, after timers). */
  initial(input: unknown, fx: ActorEffects): ActorSnapshot;
  /**
   * Processes one event. Returns a new snapshot (or the same object when nothing changed). Never mutates `snapshot` or its context.
   * A snapshot that is already done (in a top-level final state) is returned unchanged with handled=false,
   * done=true and no effects, on both paths: a finished xstate actor takes no more events.
   */
  step(snapshot: ActorSnapshot, event: ActorEvent, fx: ActorEffects): ActorSnapshot;
}
