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
import { deadlineShared, isBareEvent, nextDueTimer, withoutTimer, type StoredTimer } from './actor-timers.ts';
import { restoreActorKeys } from './actor-restore.ts';
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

/** The keyed state of an actor operator: one record per key. */
export const ACTOR_STATE = 'eddy.actor';

/**
 * A key's machine as keyed state holds it: the runner's snapshot and the key's pending delayed
 * events (one entry per key: one read per record, one change per step, one entry per checkpoint).
 */
export interface ActorRecord extends ActorSnapshot {
  timers?: StoredTimer[] | undefined;
}

/**
 * Runs `spec.runner` per key. The operator is the machine's effects sink (no object per record):
 * emitted events go downstream with the record's timestamp (side outputs by type), delayed events
 * become keyed timers at absolute deadlines stored with the key. Invariants:
 * - A key's record changes only through whole steps; stored records and timer lists are replaced,
 *   never edited (the heap backend shares them with snapshots being encoded).
 * - The record's timers are the truth; the timer service holds one timer per key and deadline that
 *   wakes the key. Service timers are not part of the snapshot: a restore registers them again
 *   from the records (and moves processing-time deadlines by the restore policy on the way).
 * - Before a record of time t (the record's timestamp in event time, the clock in processing time),
 *   the key's timers due at or before t fire first: the machine sees time pass in order, whatever
 *   the watermark's pace.
 * - A machine in a top-level final state frees the key: its record and timers are cleared.
 */
export class ActorOperator<IN> extends AbstractStreamOperator<IN, ActorEvent> implements ActorEffects {
  private records!: ValueState<ActorRecord>;
  private backend!: KeyedStateBackend;
  private ts = NO_TIMESTAMP;
  /** What delays count from in the step under way (event time: the record's or timer's time). */
  private base = 0;
  /** The current key's record when the step under way began. */
  private current: ActorRecord | undefined;
  /** The current key's timers while a step runs: loaded on first use, written back once. */
  private keyTimers: StoredTimer[] | undefined;
  private timersLoaded = false;
  private timersChanged = false;
  private restoreMode: RestoreMode = 'same';
  private restoredSchema: MachineStateSchema | undefined;
  private restoredAt: number | undefined;
  private restored = false;
  private queries: { stop(): void } | undefined;
  /** `{ type: id }` events by timer id: what a stored timer without an event fires (the compiled runner shares them, so identity is the fast check). */
  private readonly bareEvents = new Map<string, ActorEvent>();

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
    this.records = backend.getState(new ValueStateDescriptor<ActorRecord>(ACTOR_STATE));
    this.queries = answerActorQueries(this.ctx, (key) => this.query(key));
    if (!this.restored) return;
    const { spec } = this;
    const migrate = this.restoreMode === 'migrate' ? spec.migrate : undefined;
    const rebase = spec.timeDomain === 'processing' && spec.processingTimeRestore !== 'deadline' && this.restoredAt !== undefined;
    await restoreActorKeys({
      operator: this.name,
      backend,
      stateName: ACTOR_STATE,
      records: this.records,
      migrate: migrate === undefined || this.restoredSchema === undefined ? undefined : (a) => migrate(a, machineVersionOf(this.restoredSchema!)),
      machineId: spec.schema.id,
      currentStates: new Set(spec.schema.states),
      rebase: rebase ? (t) => this.rebased(t) : undefined,
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
    let rec: ActorRecord | undefined = this.records.value();
    // Time passed for this key: its due timers fire before the record (see the class invariants).
    if (rec?.timers !== undefined) rec = this.fireDue(rec, now, timestamp);
    this.base = now;
    this.current = rec;
    let s: ActorSnapshot | undefined = rec;
    if (s === undefined) {
      s = spec.runner.initial(spec.input === undefined ? undefined : spec.input(key, record), this);
      if (spec.runner.done) {
        this.endStep(undefined, s, true);
        return;
      }
    }
    const next = spec.runner.step(s, event, this);
    if (!spec.runner.handled && spec.onUnhandled !== 'ignore') this.unhandled(key, event, s, record);
    this.endStep(rec, next, spec.runner.done);
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
    this.fireDue(this.records.value(), timestamp, this.ts);
  }

  /**
   * Fires the current key's timers due at or before `upTo`, one step each, in deadline order,
   * starting from its record `rec`; returns the key's record after them.
   */
  private fireDue(rec: ActorRecord | undefined, upTo: number, outputTs: number): ActorRecord | undefined {
    const saved = this.ts;
    for (;;) {
      const list = rec?.timers;
      if (rec === undefined || list === undefined) break;
      const i = nextDueTimer(list, upTo);
      if (i < 0) break;
      const t = list[i]!;
      if (!deadlineShared(list, t.at, i)) this.deleteServiceTimer(t.at);
      this.current = rec;
      this.keyTimers = withoutTimer(list, i);
      this.timersLoaded = true;
      this.timersChanged = true;
      // In event time the step happens at the deadline; output carries it (or the record's time when the record made it due).
      this.base = this.spec.timeDomain === 'event' ? t.at : this.ctx.clock.now();
      this.ts = this.spec.timeDomain === 'event' ? t.at : outputTs;
      const next = this.spec.runner.step(rec, t.event ?? this.bareEvent(t.id), this);
      rec = this.endStep(rec, next, this.spec.runner.done);
    }
    this.ts = saved;
    return rec;
  }

  /**
   * Writes the step's result back: a new record when the snapshot or the timers changed (the
   * runner's own snapshot object when the key has no timers); a final state frees the key.
   * `before` is the record the step started from (undefined for a new key); returns the key's
   * record now.
   */
  private endStep(before: ActorRecord | undefined, next: ActorSnapshot, done: boolean): ActorRecord | undefined {
    let after: ActorRecord | undefined = before;
    if (done) {
      this.loadTimers();
      for (const t of this.keyTimers ?? []) this.deleteServiceTimer(t.at);
      if (before !== undefined) this.records.clear();
      after = undefined;
    } else if (next !== before || this.timersChanged) {
      const timers = this.timersChanged ? this.keyTimers : before?.timers;
      if (timers === undefined || timers.length === 0) after = next === before ? { value: next.value, context: next.context } : next;
      else after = { value: next.value, context: next.context, timers };
      this.records.update(after);
    }
    this.current = undefined;
    this.keyTimers = undefined;
    this.timersLoaded = false;
    this.timersChanged = false;
    return after;
  }

  private bareEvent(id: string): ActorEvent {
    let e = this.bareEvents.get(id);
    if (e === undefined) this.bareEvents.set(id, (e = { type: id }));
    return e;
  }

  private loadTimers(): void {
    if (this.timersLoaded) return;
    this.keyTimers = this.current?.timers;
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
    let bare = this.bareEvents.get(id);
    if (bare === undefined && isBareEvent(event, id)) this.bareEvents.set(id, (bare = event));
    list.push(bare === event || (bare !== undefined && isBareEvent(event, id)) ? { id, at, delay: delayMs } : { id, at, delay: delayMs, event });
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
      const r = this.records.value();
      if (r === undefined) return undefined;
      return { value: r.value, context: r.context, timers: (r.timers ?? []).map((t) => ({ id: t.id, at: t.at })) };
    } finally {
      this.backend.setCurrentNormalizedKey(prev);
    }
  }

  override close(): void | Promise<void> {
    this.queries?.stop();
    return super.close();
  }

  /**
   * Keyed state is the whole state (the timer service is rebuilt from it on restore); at a
   * checkpoint the task snapshots it itself, in the harness it is included here. The schema and
   * the time let a restore check the machine and move processing-time deadlines.
   */
  override snapshotState(checkpointId?: number): OperatorSnapshot {
    const s: OperatorSnapshot = { schema: this.spec.schema, takenAt: this.ctx.clock.now() };
    const keyed = checkpointId === undefined ? this.ctx.keyedState?.snapshot() : undefined;
    if (keyed !== undefined) s.keyed = keyed;
    return s;
  }

  /** The key a timer fired for (tests and errors). */
  currentKey(): unknown {
    return denormalizeKey(this.backend.getCurrentKey());
  }
}
