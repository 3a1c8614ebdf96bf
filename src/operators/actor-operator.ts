// The actor operator: one xstate machine per key, its snapshot as keyed state, its delayed events as durable keyed timers.
import type { TimeDomain } from '../functions/functions.ts';
import type { OutputTag } from '../functions/output-tag.ts';
import { EddyError } from '../errors.ts';
import type { ActorEffects, ActorEvent, ActorSnapshot, MachineRunner } from '../machines/machine-runner.ts';
import { machineRestoreMode, machineVersionOf, type MachineMigration, type MachineStateSchema, type RestoreMode } from '../machines/machine-version.ts';
import { ValueStateDescriptor } from '../state/descriptors.ts';
import { denormalizeKey, type NormalizedKey } from '../state/key-group.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import type { ValueState } from '../state/descriptors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator } from './abstract-operator.ts';
import type { OperatorSnapshot } from './operator.ts';
import { deadlineShared, nextDueTimer, withoutTimer, type StoredTimer } from './actor-timers.ts';
import { migrateActorKeys } from './actor-restore.ts';
import { answerActorQueries } from './actor-query.ts';

/** The time domain of an actor's delayed events. */
export type ActorTimeDomain = 'event' | 'processing';
/** How a processing-time timer resumes after a restore: same deadline, the time it had left, or its whole delay again. */
export type ProcessingTimeRestore = 'deadline' | 'remaining' | 'restart';
/** What happens to a record whose event no state of the key's machine handles. */
export type UnhandledPolicy = 'ignore' | 'side-output' | 'fail';

/** A record the key's machine did not handle (the side output of `onUnhandled: 'side-output'`). */
export interface UnhandledEvent<IN = unknown> {
  key: unknown;
  event: ActorEvent;
  /** The key's state value when the event arrived. */
  state: unknown;
  record: IN;
}

/** A key's machine as seen from outside the job (`JobClient.queryActor`). */
export interface ActorStateView {
  value: unknown;
  context: unknown;
  /** Pending delayed events: id and absolute deadline. */
  timers: { id: string; at: number }[];
}

/** Everything one actor operator instance needs (resolved and checked by the API). */
export interface ActorOperatorSpec<IN> {
  runner: MachineRunner;
  schema: MachineStateSchema;
  keySelector: (value: IN) => unknown;
  toEvent: ((record: IN) => ActorEvent) | undefined;
  input: ((key: unknown, record: IN) => unknown) | undefined;
  timeDomain: ActorTimeDomain;
  processingTimeRestore: ProcessingTimeRestore;
  onUnhandled: UnhandledPolicy;
  unhandledTag: OutputTag<UnhandledEvent<IN>> | undefined;
  /** Emitted event types that go to a side output instead of the main output. */
  emitTags: ReadonlyMap<string, OutputTag<ActorEvent>>;
  migrate: MachineMigration | undefined;
}

/** Keyed state names: the machine snapshot and the pending delayed events of each key. */
export const ACTOR_STATE = 'eddy.actor';
export const ACTOR_TIMERS = 'eddy.actor.timers';

/**
 * Runs `spec.runner` per key. The operator is the machine's effects sink (no object per record):
 * emitted events go downstream with the record's timestamp (side outputs by type), delayed events
 * become keyed timers at absolute deadlines stored with the key. Invariants:
 * - A key's snapshot and timers change only through whole steps; stored values and timer lists are
 *   replaced, never edited (the heap backend shares them with snapshots being encoded).
 * - Before a record of time t (the record's timestamp in event time, the clock in processing time),
 *   the key's timers due at or before t fire first: the machine sees time pass in order, whatever
 *   the watermark's pace.
 * - A machine in a top-level final state frees the key: snapshot and timers are cleared.
 */
export class ActorOperator<IN> extends AbstractStreamOperator<IN, ActorEvent> implements ActorEffects {
  private snapshots!: ValueState<ActorSnapshot>;
  private timerLists!: ValueState<StoredTimer[]>;
  private backend!: KeyedStateBackend;
  private ts = NO_TIMESTAMP;
  /** What delays count from in the step under way (event time: the record's or timer's time). */
  private base = 0;
  /** The current key's timers while a step runs: loaded on first use, written back once. */
  private keyTimers: StoredTimer[] | undefined;
  private timersLoaded = false;
  private timersChanged = false;
  private restoreMode: RestoreMode = 'same';
  private restoredSchema: MachineStateSchema | undefined;
  private restoredAt: number | undefined;
  private restored = false;
  private queries: { stop(): void } | undefined;

  constructor(
    name: string,
    private readonly spec: ActorOperatorSpec<IN>,
  ) {
    super(name);
  }

  override initializeState(snapshot: OperatorSnapshot | undefined): void {
    super.initializeState(snapshot);
    if (snapshot === undefined) return;
    this.restored = true;
    this.restoreMode = machineRestoreMode(snapshot.schema, this.spec.schema, this.name, 'the snapshot');
    if (snapshot.schema !== undefined) this.restoredSchema = snapshot.schema as MachineStateSchema;
    this.restoredAt = snapshot.takenAt;
  }

  override async open(): Promise<void> {
    const backend = this.ctx.keyedState;
    if (backend === undefined)
      throw new EddyError('EDDY_CONFIG', `actor operator "${this.name}" needs a keyed stream; call keyBy(...) before actor(...)`, { operator: this.name });
    this.backend = backend;
    this.snapshots = backend.getState(new ValueStateDescriptor<ActorSnapshot>(ACTOR_STATE));
    this.timerLists = backend.getState(new ValueStateDescriptor<StoredTimer[]>(ACTOR_TIMERS));
    this.queries = answerActorQueries(this.ctx, (key) => this.query(key));
    if (!this.restored) return;
    const { spec } = this;
    const migrate = this.restoreMode === 'migrate' ? spec.migrate : undefined;
    const rebase = spec.timeDomain === 'processing' && spec.processingTimeRestore !== 'deadline' && this.restoredAt !== undefined;
    if (migrate === undefined && !rebase) return;
    await migrateActorKeys({
      operator: this.name,
      backend,
      snapshotState: ACTOR_STATE,
      timerState: ACTOR_TIMERS,
      snapshots: this.snapshots,
      timers: this.timerLists,
      migrate: migrate === undefined || this.restoredSchema === undefined ? undefined : (s) => migrate(s, machineVersionOf(this.restoredSchema!)),
      machineId: spec.schema.id,
      currentStates: new Set(spec.schema.states),
      rebase: rebase ? (t) => this.rebased(t) : undefined,
      deleteTimer: (at) => this.deleteServiceTimer(at),
      registerTimer: (at) => this.registerServiceTimer(at),
    });
  }

  /** A restored processing-time timer's new deadline under the restore policy. */
  private rebased(t: StoredTimer): number {
    const now = this.ctx.clock.now();
    return this.spec.processingTimeRestore === 'restart' ? now + t.delay : t.at + Math.max(0, now - this.restoredAt!);
  }

  processElement(record: IN, timestamp: number): void {
    const { spec } = this;
    this.ts = timestamp;
    const key = spec.keySelector(record);
    this.backend.setCurrentKey(key);
    const event = spec.toEvent === undefined ? (record as unknown as ActorEvent) : spec.toEvent(record);
    if (event === null || typeof event !== 'object' || typeof event.type !== 'string') {
      this.ctx.recordFailed(
        new EddyError(
          'EDDY_INVALID_EVENT',
          `actor operator "${this.name}": ${spec.toEvent === undefined ? 'the record' : 'toEvent(record)'} is not a machine event (an object with a string "type"); ` +
            `${spec.toEvent === undefined ? 'pass toEvent in the actor options to turn records into events' : 'return { type: ... } from toEvent'}`,
          { operator: this.name },
        ),
        record,
      );
      return;
    }
    const now = spec.timeDomain === 'event' ? timestamp : this.ctx.clock.now();
    // Time passed for this key: its due timers fire before the record (see the class invariants).
    if (this.timerLists.value() !== undefined) this.fireDue(now, timestamp);
    this.base = now;
    let s = this.snapshots.value();
    let created = false;
    if (s === undefined) {
      s = spec.runner.initial(spec.input === undefined ? undefined : spec.input(key, record), this);
      created = true;
      if (spec.runner.done) return this.endStep(undefined, s, true);
    }
    const next = spec.runner.step(s, event, this);
    if (!spec.runner.handled && spec.onUnhandled !== 'ignore') this.unhandled(key, event, s, record);
    this.endStep(created ? undefined : s, next, spec.runner.done);
  }

  private unhandled(key: unknown, event: ActorEvent, s: ActorSnapshot, record: IN): void {
    if (this.spec.onUnhandled === 'side-output') {
      this.out.collectSide(this.spec.unhandledTag!, { key, event, state: s.value, record }, this.ts);
      return;
    }
    this.ctx.recordFailed(
      new EddyError(
        'EDDY_UNHANDLED_EVENT',
        `actor operator "${this.name}": key ${JSON.stringify(key)} in state ${JSON.stringify(s.value)} does not handle event "${event.type}" (onUnhandled: 'fail')`,
        { operator: this.name },
      ),
      record,
    );
  }

  protected override onTimer(timestamp: number, domain: TimeDomain): void {
    this.ts = domain === 'EVENT_TIME' ? timestamp : NO_TIMESTAMP;
    this.fireDue(timestamp, this.ts);
  }

  /** Fires the current key's timers due at or before `upTo`, one step each, in deadline order. */
  private fireDue(upTo: number, outputTs: number): void {
    const saved = this.ts;
    for (;;) {
      const list = this.timerLists.value();
      if (list === undefined) break;
      const i = nextDueTimer(list, upTo);
      if (i < 0) break;
      const t = list[i]!;
      const rest = withoutTimer(list, i);
      if (!deadlineShared(list, t.at, i)) this.deleteServiceTimer(t.at);
      this.keyTimers = rest;
      this.timersLoaded = true;
      this.timersChanged = true;
      const s = this.snapshots.value();
      if (s === undefined) {
        this.endStep(undefined, undefined, false);
        continue;
      }
      // In event time the step happens at the deadline; output carries it (or the record's time when the record made it due).
      this.base = this.spec.timeDomain === 'event' ? t.at : this.ctx.clock.now();
      this.ts = this.spec.timeDomain === 'event' ? t.at : outputTs;
      const next = this.spec.runner.step(s, t.event, this);
      this.endStep(s, next, this.spec.runner.done);
    }
    this.ts = saved;
  }

  /** Writes the step's result back: the snapshot when it changed, the timers when touched; a final state frees the key. */
  private endStep(before: ActorSnapshot | undefined, next: ActorSnapshot | undefined, done: boolean): void {
    if (done) {
      this.loadTimers();
      for (const t of this.keyTimers ?? []) this.deleteServiceTimer(t.at);
      this.snapshots.clear();
      this.timerLists.clear();
    } else {
      if (next !== undefined && next !== before) this.snapshots.update(next);
      if (this.timersChanged) {
        if (this.keyTimers === undefined || this.keyTimers.length === 0) this.timerLists.clear();
        else this.timerLists.update(this.keyTimers);
      }
    }
    this.keyTimers = undefined;
    this.timersLoaded = false;
    this.timersChanged = false;
  }

  private loadTimers(): void {
    if (this.timersLoaded) return;
    this.keyTimers = this.timerLists.value();
    this.timersLoaded = true;
  }

  emit(event: ActorEvent): void {
    const tag = this.spec.emitTags.size === 0 ? undefined : this.spec.emitTags.get(event.type);
    if (tag === undefined) this.out.collect(event, this.ts);
    else this.out.collectSide(tag, event, this.ts);
  }

  schedule(id: string, delayMs: number, event: ActorEvent): void {
    if (this.spec.timeDomain === 'event' && this.base === NO_TIMESTAMP)
      throw new EddyError(
        'EDDY_CONFIG',
        `actor operator "${this.name}" scheduled "${id}" in event time, but the record has no timestamp; assign timestamps (assignTimestampsAndWatermarks) or use timeDomain: 'processing'`,
        { operator: this.name },
      );
    this.loadTimers();
    const old = this.keyTimers ?? [];
    const at = this.base + delayMs;
    const list: StoredTimer[] = [];
    for (let i = 0; i < old.length; i++) {
      const t = old[i]!;
      if (t.id !== id) list.push(t);
      else if (!deadlineShared(old, t.at, i)) this.deleteServiceTimer(t.at);
    }
    list.push({ id, at, delay: delayMs, event });
    this.registerServiceTimer(at);
    this.keyTimers = list;
    this.timersChanged = true;
  }

  cancel(id: string): void {
    this.loadTimers();
    const old = this.keyTimers;
    if (old === undefined) return;
    const i = old.findIndex((t) => t.id === id);
    if (i < 0) return;
    if (!deadlineShared(old, old[i]!.at, i)) this.deleteServiceTimer(old[i]!.at);
    this.keyTimers = withoutTimer(old, i);
    this.timersChanged = true;
  }

  private registerServiceTimer(at: number): void {
    if (this.spec.timeDomain === 'event') this.timers().registerEventTimeTimer(at);
    else this.timers().registerProcessingTimeTimer(at);
  }

  private deleteServiceTimer(at: number): void {
    if (this.spec.timeDomain === 'event') this.timers().deleteEventTimeTimer(at);
    else this.timers().deleteProcessingTimeTimer(at);
  }

  /**
   * The machine of `key` as seen from outside (a query between records: the backend's current key
   * is put back). Undefined when the key has no machine (never seen, or finished).
   */
  query(key: unknown): ActorStateView | undefined {
    const prev: NormalizedKey = this.backend.getCurrentKey();
    try {
      this.backend.setCurrentKey(key);
      const s = this.snapshots.value();
      if (s === undefined) return undefined;
      return { value: s.value, context: s.context, timers: (this.timerLists.value() ?? []).map((t) => ({ id: t.id, at: t.at })) };
    } finally {
      this.backend.setCurrentNormalizedKey(prev);
    }
  }

  override close(): void | Promise<void> {
    this.queries?.stop();
    return super.close();
  }

  override snapshotState(checkpointId?: number): OperatorSnapshot {
    const s = super.snapshotState(checkpointId);
    s.schema = this.spec.schema;
    s.takenAt = this.ctx.clock.now();
    return s;
  }

  /** The key a timer fired for (tests and errors). */
  currentKey(): unknown {
    return denormalizeKey(this.backend.getCurrentKey());
  }
}
