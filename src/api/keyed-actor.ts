// KeyedStream.actor: options of an actor operator, checked and resolved into the operator factory and its machine schema.
import type { AnyStateMachine } from 'xstate';
import { EddyError } from '../errors.ts';
import type { KeySelector } from '../functions/functions.ts';
import { OutputTag } from '../functions/output-tag.ts';
import { analyzeMachine, machineSchema } from '../machines/machine-analysis.ts';
import { createMachineRunner, type ActorEvent } from '../machines/machine-runner.ts';
import type { MachineMigration, MachineStateSchema } from '../machines/machine-version.ts';
import {
  ActorOperator,
  type ActorTimeDomain,
  type ProcessingTimeRestore,
  type UnhandledEvent,
  type UnhandledPolicy,
} from '../operators/actor-operator.ts';

/**
 * Options of `keyBy(...).actor(machine, options)`.
 *
 * @example
 * ```ts
 * const alerts = payments
 *   .keyBy((p) => p.card)
 *   .actor(fraudMachine, { toEvent: (p) => ({ type: p.amount < 10 ? 'small' : 'large', amount: p.amount }) });
 * ```
 */
export interface ActorOptions<IN, K> {
  /** Turns a record into the machine's event. Default: the record itself, which must then be an object with a string `type`. */
  toEvent?: (record: IN) => ActorEvent;
  /** The machine's `input` for a key's first record (its context factory sees it as `input`). */
  input?: (key: K, record: IN) => unknown;
  /** The clock of `after` and other delayed events: event time (default; records need timestamps) or processing time. */
  timeDomain?: ActorTimeDomain;
  /**
   * How a pending processing-time delay resumes after a restore: `'deadline'` (default: fires at its
   * original time, at once if that passed), `'remaining'` (the time it had left at the snapshot), or
   * `'restart'` (its whole delay again). Event-time delays always keep their deadline.
   */
  processingTimeRestore?: ProcessingTimeRestore;
  /** Events a key's machine does not handle: ignored (xstate's semantics, default), sent to `unhandledOutput`, or failing the record (`EDDY_UNHANDLED_EVENT`, under the record-failure policy). */
  onUnhandled?: UnhandledPolicy;
  /** The side output of unhandled events (required with `onUnhandled: 'side-output'`). */
  unhandledOutput?: OutputTag<UnhandledEvent<IN>>;
  /** Emitted event types that go to a side output instead of the main output, e.g. `{ audit: auditTag }`. */
  emitTo?: Record<string, OutputTag<any>>;
  /** Maps each key's snapshot written by an older machine onto this one (see MachineMigration). Without it, a restore that would leave keys in removed states fails with `EDDY_STATE_MISMATCH`. */
  migrate?: MachineMigration;
  /** `'xstate'` runs the machine on xstate itself even when it could be compiled (for comparison). Default `'auto'`. */
  path?: 'auto' | 'xstate';
}

/** What the API records for an actor operator: its factory and the machine schema checkpoints carry. */
export interface ActorTransformationParts<IN> {
  factory: () => ActorOperator<IN>;
  schema: MachineStateSchema & { path: 'compiled' | 'xstate'; fallbackReason?: string };
}

function invalid(message: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', `actor: ${message}`);
}

function isMachine(m: unknown): m is AnyStateMachine {
  const x = m as AnyStateMachine;
  return x !== null && typeof x === 'object' && typeof x.transition === 'function' && typeof x.getInitialSnapshot === 'function' && x.root !== undefined;
}

const ONE_OF = <T extends string>(v: unknown, allowed: readonly T[], name: string): T | undefined => {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw invalid(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
};

/**
 * Checks `machine` and `options` and returns the operator factory (one runner per subtask) and
 * the schema recorded in checkpoints.
 *
 * @throws EddyError `EDDY_INVALID_ARGUMENT` naming the bad option.
 */
export function actorParts<IN, K>(machine: AnyStateMachine, options: ActorOptions<IN, K> | undefined, keySelector: KeySelector<IN, K>): ActorTransformationParts<IN> {
  if (!isMachine(machine)) throw invalid(`the first argument must be an xstate v5 machine (createMachine(...) or setup(...).createMachine(...)), got ${typeof machine}`);
  const o = options ?? {};
  if (typeof o !== 'object') throw invalid(`options must be an object, got ${typeof o}`);
  for (const f of ['toEvent', 'input', 'migrate'] as const)
    if (o[f] !== undefined && typeof o[f] !== 'function') throw invalid(`${f} must be a function, got ${typeof o[f]}`);
  const timeDomain = ONE_OF(o.timeDomain, ['event', 'processing'] as const, 'timeDomain') ?? 'event';
  const processingTimeRestore = ONE_OF(o.processingTimeRestore, ['deadline', 'remaining', 'restart'] as const, 'processingTimeRestore') ?? 'deadline';
  const onUnhandled = ONE_OF(o.onUnhandled, ['ignore', 'side-output', 'fail'] as const, 'onUnhandled') ?? 'ignore';
  const path = ONE_OF(o.path, ['auto', 'xstate'] as const, 'path') ?? 'auto';
  if (o.unhandledOutput !== undefined && !(o.unhandledOutput instanceof OutputTag)) throw invalid('unhandledOutput must be an OutputTag');
  if (onUnhandled === 'side-output' && o.unhandledOutput === undefined) throw invalid(`onUnhandled: 'side-output' needs unhandledOutput: new OutputTag<UnhandledEvent<...>>('unhandled')`);
  const emitTags = new Map<string, OutputTag<ActorEvent>>();
  if (o.emitTo !== undefined) {
    if (o.emitTo === null || typeof o.emitTo !== 'object') throw invalid('emitTo must map event types to OutputTags');
    for (const [type, tag] of Object.entries(o.emitTo)) {
      if (!(tag instanceof OutputTag)) throw invalid(`emitTo["${type}"] must be an OutputTag`);
      emitTags.set(type, tag);
    }
  }
  const analysis = path === 'xstate' ? undefined : analyzeMachine(machine);
  const compiled = analysis?.supported === true;
  const schema: ActorTransformationParts<IN>['schema'] = {
    kind: 'machine',
    ...machineSchema(machine),
    migrates: o.migrate !== undefined,
    path: compiled ? 'compiled' : 'xstate',
    ...(analysis !== undefined && analysis.supported === false ? { fallbackReason: analysis.reason } : {}),
  };
  const spec = {
    schema,
    keySelector: keySelector as (v: IN) => unknown,
    toEvent: o.toEvent,
    input: o.input as ((key: unknown, record: IN) => unknown) | undefined,
    timeDomain,
    processingTimeRestore,
    onUnhandled,
    unhandledTag: o.unhandledOutput,
    emitTags,
    migrate: o.migrate,
  };
  return {
    schema,
    // One runner per subtask: runners keep per-step flags (handled, done).
    factory: () => new ActorOperator<IN>('Actor', { ...spec, runner: createMachineRunner(machine, { path }) }),
  };
}
