// The public operator test harness: drive one operator instance (or a user function) by hand, without NATS.
import type { OutputTag } from '../functions/output-tag.ts';
import { EddyError } from '../errors.ts';
import type { OperatorContext, OperatorSnapshot, StreamOperator } from '../operators/operator.ts';
import { attributeError } from '../operators/record-failure.ts';
import { HeapKeyedStateBackend } from '../state/heap-keyed-state-backend.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import { keyGroupOf, keyGroupRange, subtaskForKeyGroup } from '../state/key-group.ts';
import { ManualClock } from '../time/clock.ts';
import { MAX_WATERMARK, NO_TIMESTAMP } from '../time/watermark.ts';
import { FrameCodec } from '../transport/frame-codec.ts';
import { recordingOutput, type TimestampedValue } from './harness-output.ts';
import { mergeSnapshots } from './merge-snapshots.ts';
import { checkHarnessOptions, type OperatorHarnessOptions } from './operator-harness-options.ts';

export type { OperatorHarnessOptions } from './operator-harness-options.ts';
export type { TimestampedValue } from './harness-output.ts';

type Phase = 'created' | 'open' | 'ended' | 'closed';

/**
 * Runs one operator instance the way a task does, but driven by hand: feed records and watermarks,
 * move processing time, end the input, snapshot and restore, and read what the operator emitted.
 * Errors are reported as the runtime reports them: an `EddyError` naming the operator, with the
 * original error as `cause` (a plain `Error` from user code becomes `EDDY_USER_FUNCTION`).
 *
 * Snapshots are what a checkpoint stores: `snapshot()` encodes the operator's state with the wire codec
 * (msgpack) and decodes it again, so state that cannot be serialized fails at test time, and a snapshot
 * is a value that later input never changes. Restore with a new operator instance in a new harness:
 * `await new OperatorHarness(newOperator, options).open(snapshot)`; a different `parallelism` /
 * `subtaskIndex` restores only that subtask's key groups.
 *
 * @example
 * ```ts
 * const op = new MapOperator<number, number>('Double', (x) => x * 2);
 * const h = new OperatorHarness(op);
 * await h.open();
 * h.processElement(1, 100);
 * h.processElement(2);
 * h.processWatermark(100);
 * expect(h.getOutput()).toEqual([2, 4]);
 * expect(h.getRecordOutput()).toEqual([
 *   { value: 2, timestamp: 100 },
 *   { value: 4, timestamp: undefined },
 * ]);
 * expect(h.getWatermarks()).toEqual([100]);
 * await h.close();
 * ```
 */
export class OperatorHarness<IN, OUT> {
  /** The clock the operator reads processing time from. */
  readonly clock: ManualClock;
  /** The keyed state backend handed to the operator (keyed harnesses only); read it to inspect state. */
  readonly stateBackend: KeyedStateBackend | undefined;
  readonly parallelism: number;
  readonly subtaskIndex: number;
  readonly maxParallelism: number;
  /** The key groups this subtask owns (inclusive). */
  readonly keyGroups: { start: number; end: number };

  private readonly keySelector: ((value: IN) => unknown) | undefined;
  private readonly context: OperatorContext;
  private readonly codec = new FrameCodec();
  private readonly counters = new Map<string, number>();
  private readonly records: TimestampedValue<OUT>[] = [];
  private readonly watermarks: number[] = [];
  private readonly statuses: boolean[] = [];
  private readonly sides = new Map<string, TimestampedValue<unknown>[]>();
  private lastWatermark = Number.NEGATIVE_INFINITY;
  private phase: Phase = 'created';

  constructor(
    readonly operator: StreamOperator<IN, OUT>,
    options: OperatorHarnessOptions<IN> = {},
  ) {
    const { parallelism, subtaskIndex, maxParallelism } = checkHarnessOptions(operator, options);

    this.parallelism = parallelism;
    this.subtaskIndex = subtaskIndex;
    this.maxParallelism = maxParallelism;
    this.keyGroups = keyGroupRange(subtaskIndex, parallelism, maxParallelism);
    this.keySelector = options.keySelector;
    this.clock = options.clock ?? new ManualClock(0);
    this.stateBackend = this.keySelector === undefined ? undefined : new HeapKeyedStateBackend(operator.name, maxParallelism, { clock: this.clock });
    const counters = this.counters;
    this.context = {
      jobName: options.jobName ?? 'harness',
      jobId: 'harness-job',
      operatorName: operator.name,
      uid: options.uid ?? operator.name,
      subtaskIndex,
      parallelism,
      maxParallelism,
      clock: this.clock,
      metrics: { inc: (name, by = 1) => void counters.set(name, (counters.get(name) ?? 0) + by) },
      keyedState: this.stateBackend,
      nats: undefined,
      autoWatermarkIntervalMs: options.autoWatermarkIntervalMs ?? 200,
      checkpointing: options.checkpointing ?? false,
      // Timer and periodic-watermark errors surface from the harness call that moved the clock.
      recordFailed: (e) => {
        throw e;
      },
      failTask: (e) => {
        throw e;
      },
    };
  }

  /**
   * A harness for `operator` (a new instance) that starts from `snapshot`: shorthand for
   * `const h = new OperatorHarness(operator, options); await h.open(snapshot)`.
   *
   * @example
   * ```ts
   * const sum = () => new ReduceOperator<number>('Sum', (a, b) => a + b, () => 'all');
   * const first = new OperatorHarness(sum(), { keySelector: () => 'all' });
   * await first.open();
   * first.processElement(1);
   * first.processElement(2);
   * const snap = first.snapshot();
   * const second = await OperatorHarness.restore(sum(), snap, { keySelector: () => 'all' });
   * second.processElement(3);
   * expect(second.getOutput()).toEqual([6]);
   * ```
   */
  static async restore<IN, OUT>(
    operator: StreamOperator<IN, OUT>,
    snapshot: OperatorSnapshot,
    options: OperatorHarnessOptions<IN> = {},
  ): Promise<OperatorHarness<IN, OUT>> {
    const h = new OperatorHarness(operator, options);
    await h.open(snapshot);
    return h;
  }

  /**
   * Combines the snapshots of several subtasks into one, to test scaling in (e.g. the two snapshots of a
   * parallelism-2 run restored into one harness at parallelism 1). Keyed state is merged per state name;
   * at most one of the snapshots may carry operator (non-keyed) state, which is kept as is.
   * Throws `EDDY_STATE_MISMATCH` when the snapshots disagree on maxParallelism or on a state's kind.
   *
   * @example
   * ```ts
   * const count = () => new ReduceOperator<string>('Count', (a) => a + '+', (s) => s[0]!);
   * const keySelector = (s: string) => s[0]!;
   * const [a, b] = [0, 1].map((i) => new OperatorHarness(count(), { keySelector, parallelism: 2, subtaskIndex: i }));
   * await a!.open();
   * await b!.open();
   * for (const w of ['x', 'y', 'z']) (a!.keyGroups.end >= keyGroupOf(w, 128) ? a! : b!).processElement(w);
   * const merged = OperatorHarness.mergeSnapshots([a!.snapshot(), b!.snapshot()]);
   * const one = await OperatorHarness.restore(count(), merged, { keySelector });
   * one.processElements(['x', 'y', 'z']);
   * expect(one.getOutput()).toEqual(['x+', 'y+', 'z+']);
   * ```
   */
  static mergeSnapshots(snapshots: readonly OperatorSnapshot[]): OperatorSnapshot {
    return mergeSnapshots(snapshots);
  }

  /** The context the operator was set up with (what a task would hand it). */
  get operatorContext(): OperatorContext {
    return this.context;
  }

  /**
   * `setup` -> `initializeState(snapshot)` -> `open`. Pass a snapshot (from `snapshot()` of another
   * harness) to restore; keyed state outside this subtask's key groups is left out.
   */
  async open(snapshot?: OperatorSnapshot): Promise<void> {
    this.expectPhase('open', 'created');
    const op = this.operator;
    // A fresh copy per restore: restoring must never alias (and later mutate) the caller's snapshot.
    const restored = snapshot === undefined ? undefined : (this.codec.decodeValue(this.encodeSnapshot(snapshot)) as OperatorSnapshot);
    this.guard(() => {
      op.setup(this.context, recordingOutput(this.records, this.watermarks, this.statuses, this.sides));
      op.initializeState(restored);
    });
    this.phase = 'open';
    try {
      await op.open();
    } catch (e) {
      throw attributeError(e, op.name);
    }
  }

  /** Feeds one record, with an event timestamp or none. Synchronous, like the runtime's data path. */
  processElement(value: IN, timestamp?: number): void {
    this.expectPhase('processElement', 'open');
    if (timestamp !== undefined && typeof timestamp !== 'number')
      throw new EddyError('EDDY_INVALID_ARGUMENT', `OperatorHarness.processElement: timestamp must be a number, got ${typeof timestamp}`);
    if (this.keySelector !== undefined) this.setKeyFrom(value, this.keySelector);
    const op = this.operator;
    this.guard(() => op.processElement(value, timestamp ?? NO_TIMESTAMP));
  }

  /** Feeds several records with the same timestamp (or none). */
  processElements(values: Iterable<IN>, timestamp?: number): void {
    for (const v of values) this.processElement(v, timestamp);
  }

  /** Feeds a watermark (the runtime only ever delivers increasing ones; the harness passes any). */
  processWatermark(watermark: number): void {
    this.expectPhase('processWatermark', 'open');
    if (typeof watermark !== 'number' || Number.isNaN(watermark))
      throw new EddyError('EDDY_INVALID_ARGUMENT', `OperatorHarness.processWatermark: a watermark must be a number, got ${String(watermark)}`);
    this.lastWatermark = watermark;
    const op = this.operator;
    this.guard(() => op.processWatermark(watermark));
  }

  /** Tells the operator its input went idle (`true`) or active again (`false`). */
  processWatermarkStatus(idle: boolean): void {
    this.expectPhase('processWatermarkStatus', 'open');
    const op = this.operator;
    this.guard(() => op.processWatermarkStatus(idle));
  }

  /** The watermark statuses the operator emitted, in order: `true` idle, `false` active. */
  getWatermarkStatuses(): boolean[] {
    return this.statuses.slice();
  }

  /** Moves processing time to `t` (never backwards), running what falls due on the clock. */
  setProcessingTime(t: number): void {
    this.guard(() => this.clock.setTime(t));
  }

  /** Moves processing time forward by `ms`. */
  advanceProcessingTime(ms: number): void {
    if (!(ms >= 0)) throw new EddyError('EDDY_INVALID_ARGUMENT', `OperatorHarness.advanceProcessingTime: ms must be >= 0, got ${String(ms)}`);
    this.guard(() => this.clock.advance(ms));
  }

  /** The current processing time. */
  currentProcessingTime(): number {
    return this.clock.now();
  }

  /**
   * End of input, as the runtime signals it: the watermark first moves to +Infinity (unless it is there
   * already), firing everything event-time, then the operator's `endInput` flushes what it buffers.
   */
  async endInput(): Promise<void> {
    this.expectPhase('endInput', 'open');
    if (this.lastWatermark < MAX_WATERMARK) this.processWatermark(MAX_WATERMARK);
    this.phase = 'ended';
    try {
      await this.operator.endInput();
    } catch (e) {
      throw attributeError(e, this.operator.name);
    }
  }

  /** Closes the operator (calls user functions' `close`). Closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase !== 'created';
    this.phase = 'closed';
    if (!wasOpen) return;
    try {
      await this.operator.close();
    } catch (e) {
      throw attributeError(e, this.operator.name);
    }
  }

  /**
   * The operator's state now, as a checkpoint would store it (encoded and decoded: a detached copy).
   * Pass a `checkpointId` to snapshot as at that checkpoint's barrier (two-phase sinks close a transaction).
   */
  snapshot(checkpointId?: number): OperatorSnapshot {
    this.expectPhase('snapshot', 'open', 'ended');
    const raw = this.guard(() => this.operator.snapshotState(checkpointId));
    // At a checkpoint the runtime snapshots keyed state itself; the harness adds it in full.
    if (checkpointId !== undefined && raw.keyed === undefined && this.stateBackend !== undefined) raw.keyed = this.stateBackend.snapshot();
    return this.codec.decodeValue(this.encodeSnapshot(raw)) as OperatorSnapshot;
  }

  /** Tells the operator that checkpoint `checkpointId` completed (two-phase sinks commit). */
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    this.expectPhase('notifyCheckpointComplete', 'open', 'ended');
    try {
      await this.operator.notifyCheckpointComplete?.(checkpointId);
    } catch (e) {
      throw attributeError(e, this.operator.name);
    }
  }

  /** The values emitted on the main output, in order. */
  getOutput(): OUT[] {
    return this.records.map((r) => r.value);
  }

  /** The records emitted on the main output with their timestamps (`undefined` when none). */
  getRecordOutput(): TimestampedValue<OUT>[] {
    return this.records.map((r) => ({ value: r.value, timestamp: r.timestamp }));
  }

  /** The watermarks the operator emitted, in order. */
  getWatermarks(): number[] {
    return this.watermarks.slice();
  }

  /** The values emitted to a side output. */
  getSideOutput<X>(tag: OutputTag<X>): X[] {
    return (this.sides.get(tag.id) ?? []).map((r) => r.value as X);
  }

  /** The records emitted to a side output, with their timestamps. */
  getSideRecordOutput<X>(tag: OutputTag<X>): TimestampedValue<X>[] {
    return (this.sides.get(tag.id) ?? []).map((r) => ({ value: r.value as X, timestamp: r.timestamp }));
  }

  /** Forgets everything emitted so far (main output, side outputs, watermarks). */
  clearOutput(): void {
    this.records.length = 0;
    this.watermarks.length = 0;
    this.statuses.length = 0;
    this.sides.clear();
  }

  /** The counters the operator bumped through `ctx.metrics.inc`, as a copy. */
  metrics(): Map<string, number> {
    return new Map(this.counters);
  }

  /**
   * Sets the current key from `value`, checking that this subtask owns its key group (the runtime
   * routes a key to one subtask; a harness must not accept what no task of it would receive).
   */
  protected setKeyFrom<V>(value: V, keySelector: (value: V) => unknown, input = ''): void {
    const name = this.operator.name;
    let key: unknown;
    try {
      key = keySelector(value);
    } catch (e) {
      throw attributeError(e, name);
    }
    const group = keyGroupOf(key, this.maxParallelism, name);
    if (group < this.keyGroups.start || group > this.keyGroups.end) {
      const owner = subtaskForKeyGroup(group, this.parallelism, this.maxParallelism);
      throw new EddyError(
        'EDDY_INVALID_ARGUMENT',
        `OperatorHarness: key ${safeKey(key)}${input} is in key group ${group}, which subtask ${owner} of ${this.parallelism} owns, not subtask ${this.subtaskIndex} (key groups ${this.keyGroups.start}..${this.keyGroups.end}); feed it to a harness with subtaskIndex ${owner}`,
        { operator: name },
      );
    }
    this.stateBackend!.setCurrentKey(key);
  }

  private encodeSnapshot(s: OperatorSnapshot): Uint8Array {
    return this.codec.encodeValue(s, this.operator.name);
  }

  private guard<R>(fn: () => R): R {
    try {
      return fn();
    } catch (e) {
      throw attributeError(e, this.operator.name);
    }
  }

  private expectPhase(call: string, ...allowed: Phase[]): void {
    if (allowed.includes(this.phase)) return;
    const hint =
      this.phase === 'created' ? 'call `await harness.open()` first' : this.phase === 'closed' ? 'the harness is closed' : 'the input has ended';
    throw new EddyError('EDDY_INVALID_ARGUMENT', `OperatorHarness.${call}() is not allowed now: ${hint}`, { operator: this.operator.name });
  }
}

function safeKey(k: unknown): string {
  if (typeof k === 'bigint') return `${k}n`;
  try {
    return JSON.stringify(k) ?? String(k);
  } catch {
    return String(k);
  }
}
