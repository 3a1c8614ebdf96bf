// Async I/O (Flink's AsyncWaitOperator): one async call per record, at most `capacity` in flight, results ordered or unordered, the records in flight checkpointed.
import type { AsyncFunction, RuntimeContext } from '../functions/functions.ts';
import { EddyError, isEddyError, previewValue } from '../errors.ts';
import { AbstractStreamOperator, closeFunction, openFunction } from './abstract-operator.ts';
import { AsyncWaitQueue, DONE, SKIPPED, type QueueEntry } from './async-wait-queue.ts';
import type { InputPausingOperator } from './input-pause.ts';
import type { OperatorContext, OperatorSnapshot, Output } from './operator.ts';

/** `ordered`: results in input order; `unordered`: as they complete, never across a watermark. */
export type AsyncOutputMode = 'ordered' | 'unordered';

/** The operator's settings, already validated (see src/api/async-data-stream.ts). */
export interface AsyncWaitSettings {
  readonly mode: AsyncOutputMode;
  /** Records taken and not yet emitted, at most: calls in flight never exceed it. */
  readonly capacity: number;
  /** Per call, in ms of the job clock; `Infinity`: no timeout. */
  readonly timeoutMs: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const RESOLVED = Promise.resolve();

/**
 * Calls `fn` for each record and emits its result with the record's timestamp.
 *
 * - **Capacity.** At most `capacity` records are started and not yet emitted (so at most that many
 *   calls are in flight). The operator pauses its task's input while `capacity` records are queued
 *   (`InputPausingOperator`): the task then reads no frame and polls no source. Records that still
 *   arrive in the same synchronous burst (the rest of a frame, of a poll slice limited to the free
 *   slots, or a flatMap's fan-out before this operator) wait in the queue without a call: the
 *   overflow is bounded by one burst and never adds calls beyond `capacity`.
 * - **Order.** Ordered: results leave in input order. Unordered: as they complete, but watermarks
 *   cut the stream into sets and no result crosses a watermark. A watermark leaves after every
 *   record before it; end of input (`endInput`) resolves when every record has left.
 * - **Failures.** A call that rejects (or throws) or does not settle within `timeoutMs` (and has no
 *   `timeout(value)` fallback) goes through `ctx.recordFailed` (`EDDY_USER_FUNCTION` /
 *   `EDDY_ASYNC_TIMEOUT`): under `fail` the task fails through `ctx.failTask`, under `deadLetter`
 *   the record is skipped. A late result of a timed-out call is ignored. Results are emitted from
 *   promise callbacks, so an error downstream also fails the task through `ctx.failTask`; after a
 *   failure every call into the operator throws it.
 * - **Checkpoints.** The snapshot is the inputs of every queued record (running, or completed and
 *   not emitted, or not started) as list state, so it is redistributed when the parallelism
 *   changes. The snapshot is taken and the barrier forwarded in one synchronous step; a result
 *   emitted later travels after the barrier, and after a restore that record is called again and
 *   emitted once in the restored run: never lost, never twice in the committed output. Restored
 *   records are re-issued before new input, at the task's first call into the operator (not in
 *   `open`: a result sent before every downstream task subscribed would be lost).
 *   Watermarks waiting in the queue are not part of the snapshot: upstream emits watermarks again
 *   after a restore, so a restore can delay a watermark, never reorder one.
 */
export class AsyncWaitOperator<IN, OUT> extends AbstractStreamOperator<IN, OUT> implements InputPausingOperator {
  private queue!: AsyncWaitQueue<IN, OUT>;
  private readonly invoke: (value: IN) => unknown;
  private readonly fallback: ((value: IN) => unknown) | undefined;
  /** False until the task first calls in: restored records wait until then (see the class comment). */
  private issuing = false;
  private pumping = false;
  private closed = false;
  private failed = false;
  private failure: unknown;
  private resume: Deferred | undefined;
  private drained: Deferred | undefined;
  /** The most records queued at once so far: reported as the counter `queueHighWater`. */
  private highWater = 0;

  constructor(
    name: string,
    private readonly fn: AsyncFunction<IN, OUT>,
    private readonly settings: AsyncWaitSettings,
  ) {
    super(name);
    if (typeof fn === 'function') {
      this.invoke = fn;
      this.fallback = undefined;
    } else {
      this.invoke = (v) => fn.asyncInvoke(v);
      this.fallback = typeof fn.timeout === 'function' ? (v) => fn.timeout!(v) : undefined;
    }
  }

  override setup(ctx: OperatorContext, output: Output<OUT>): void {
    super.setup(ctx, output);
    this.queue = new AsyncWaitQueue<IN, OUT>(this.settings.mode === 'ordered', {
      emitRecord: (e) => output.collect(e.result as OUT, e.timestamp),
      emitWatermark: (wm) => {
        this.watermark = wm;
        output.emitWatermark(wm);
      },
    });
  }

  override initializeState(snapshot: OperatorSnapshot | undefined): void {
    super.initializeState(snapshot);
    const list = snapshot?.list;
    if (list === undefined) return;
    for (const x of list) {
      if (!Array.isArray(x) || x.length !== 2 || typeof x[1] !== 'number')
        throw new EddyError('EDDY_STATE_MISMATCH', `operator "${this.name}": its snapshot holds ${previewValue(x)}, not a [record, timestamp] pair of an async operator; was the uid given to another operator?`, {
          operator: this.name,
        });
      // Queued now, so the task sees the operator full at once; the calls start at the task's first call in.
      this.queue.addRecord(x[0] as IN, x[1]);
    }
  }

  override async open(): Promise<void> {
    await openFunction(this.fn, this.functionContext());
  }

  processElement(value: IN, timestamp: number): void {
    if (this.failed) throw this.failure;
    this.issuing = true;
    const q = this.queue;
    q.addRecord(value, timestamp);
    if (q.records > this.highWater) {
      this.ctx.metrics.inc('queueHighWater', q.records - this.highWater);
      this.highWater = q.records;
    }
    this.pump();
    // A call that threw at once under the `fail` policy: the task fails, and so does this record call.
    if (this.failed) throw this.failure;
  }

  override processWatermark(watermark: number): void {
    if (this.failed) throw this.failure;
    this.issuing = true;
    this.pump();
    if (this.queue.addWatermark(watermark)) return;
    this.watermark = watermark;
    this.out.emitWatermark(watermark);
  }

  override processWatermarkStatus(idle: boolean): void {
    if (this.failed) throw this.failure;
    this.issuing = true;
    this.pump();
    super.processWatermarkStatus(idle);
  }

  /** Resolves when every queued record has been emitted (or skipped) and every queued watermark forwarded. */
  override endInput(): Promise<void> {
    if (this.failed) return Promise.reject(this.failure);
    this.issuing = true;
    this.pump();
    if (this.failed) return Promise.reject(this.failure);
    if (this.queue.isEmpty) return RESOLVED;
    this.drained ??= deferred();
    return this.drained.promise;
  }

  override snapshotState(checkpointId?: number): OperatorSnapshot {
    if (this.failed) throw this.failure;
    const snapshot = super.snapshotState(checkpointId);
    const list = this.queue.snapshot();
    if (list.length > 0) snapshot.list = list;
    return snapshot;
  }

  override async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.stopCalls();
      this.resume?.resolve();
      this.resume = undefined;
      // Closed before the queue drained: the task was canceled or failed; whoever waits must not proceed as if it ended.
      this.drained?.reject(this.failure ?? new EddyError('EDDY_JOB_CANCELED', `operator "${this.name}" closed with ${this.queue.records} record(s) in flight`, { operator: this.name }));
      this.drained = undefined;
    }
    await closeFunction(this.fn);
    await super.close();
  }

  inputBudget(): number {
    if (!this.issuing) {
      this.issuing = true;
      this.pump();
    }
    return this.settings.capacity - this.queue.records;
  }

  whenInputResumes(): Promise<void> {
    if (this.closed || this.failed || this.inputBudget() > 0) return RESOLVED;
    this.resume ??= deferred();
    return this.resume.promise;
  }

  /** Starts waiting records while fewer than `capacity` are started; then wakes whoever waits for room or for the end. */
  private pump(): void {
    if (this.pumping) return; // a completion inside a call we are starting: the running loop goes on
    this.pumping = true;
    try {
      const q = this.queue;
      const capacity = this.settings.capacity;
      while (this.issuing && !this.closed && !this.failed && q.started < capacity) {
        const e = q.takeWaiting();
        if (e === undefined) break;
        this.start(e);
      }
    } finally {
      this.pumping = false;
    }
    const r = this.resume;
    if (r !== undefined && this.settings.capacity - this.queue.records > 0) {
      this.resume = undefined;
      r.resolve();
    }
    const d = this.drained;
    if (d !== undefined && this.queue.isEmpty) {
      this.drained = undefined;
      d.resolve();
    }
  }

  private start(e: QueueEntry<IN, OUT>): void {
    const attempt = e.attempt;
    const invoke = this.invoke;
    let r: unknown;
    try {
      r = invoke(e.value);
    } catch (err) {
      this.recordFailure(e, this.userError(err, e.value, 'asyncInvoke'));
      return;
    }
    this.follow(e, attempt, r);
    const ms = this.settings.timeoutMs;
    if (ms !== Number.POSITIVE_INFINITY) e.timer = this.ctx.clock.schedule(ms, () => this.timedOut(e, attempt));
  }

  /** Waits for `r` (a promise, or a plain value) on behalf of attempt `attempt` of `e`. */
  private follow(e: QueueEntry<IN, OUT>, attempt: number, r: unknown): void {
    Promise.resolve(r).then(
      (v) => this.succeeded(e, attempt, v as OUT),
      (err) => this.rejected(e, attempt, err),
    );
  }

  // Promise callbacks: nothing may escape them (it would be an unhandled rejection), so failures go to `fatal`.
  private succeeded(e: QueueEntry<IN, OUT>, attempt: number, v: OUT): void {
    if (attempt !== e.attempt || this.closed || this.failed) return;
    try {
      this.cancelTimer(e);
      e.result = v;
      this.complete(e, DONE);
    } catch (err) {
      this.failQuietly(err);
    }
  }

  private rejected(e: QueueEntry<IN, OUT>, attempt: number, err: unknown): void {
    if (attempt !== e.attempt || this.closed || this.failed) return;
    try {
      // Attempts above 0 are a timeout fallback's promise (a restored record starts a new entry at 0).
      this.recordFailure(e, this.userError(err, e.value, attempt > 0 ? 'timeout' : 'asyncInvoke'));
    } catch (thrown) {
      this.failQuietly(thrown);
    }
  }

  /** A clock callback: the call of attempt `attempt` took too long. Failures surface from `ctx.failTask` (the harness's throws from the call that moved its clock). */
  private timedOut(e: QueueEntry<IN, OUT>, attempt: number): void {
    if (attempt !== e.attempt || this.closed || this.failed) return;
    e.timer = undefined;
    e.attempt++; // the call's result, should it still come, is ignored from now on
    this.ctx.metrics.inc('timeouts');
    try {
      const fallback = this.fallback;
      if (fallback === undefined) return this.recordFailure(e, this.timeoutError(e.value));
      let r: unknown;
      try {
        r = fallback(e.value);
      } catch (err) {
        return this.recordFailure(e, this.userError(err, e.value, 'timeout'));
      }
      if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') return this.follow(e, e.attempt, r);
      e.result = r as OUT;
      this.complete(e, DONE);
    } catch (err) {
      if (this.failed) throw err; // the harness's failTask: let it reach the harness call
      this.fatal(err);
    }
  }

  /**
   * Record `e` failed: the record-failure policy decides. Under `fail`, `recordFailed` throws and
   * the task fails; under `deadLetter` it returns and the record leaves the queue without output.
   */
  private recordFailure(e: QueueEntry<IN, OUT>, error: EddyError): void {
    e.attempt++;
    this.cancelTimer(e);
    try {
      this.ctx.recordFailed(error, e.value);
    } catch (thrown) {
      this.fatal(thrown);
      return;
    }
    this.complete(e, SKIPPED);
  }

  /** `e` leaves (with its result, or skipped); what that releases is emitted. An error downstream fails the task. */
  private complete(e: QueueEntry<IN, OUT>, state: typeof DONE | typeof SKIPPED): void {
    try {
      this.queue.complete(e, state);
    } catch (err) {
      this.fatal(err);
      return;
    }
    this.pump();
  }

  /** Fails the task once: no more calls, results or emissions; waiters are released. May throw (the harness's failTask). */
  private fatal(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
    this.stopCalls();
    this.resume?.resolve();
    this.resume = undefined;
    this.drained?.reject(err);
    this.drained = undefined;
    this.ctx.failTask(err);
  }

  private failQuietly(err: unknown): void {
    if (this.failed) return; // fatal already ran: only a harness's failTask throws back here, and the failure is remembered
    try {
      this.fatal(err);
    } catch {
      // The harness's failTask throws; the next call into the operator throws the failure.
    }
  }

  /** Invalidates every call in flight and cancels their timeouts. */
  private stopCalls(): void {
    this.queue.forEachRecord((e) => {
      e.attempt++;
      this.cancelTimer(e);
    });
  }

  private cancelTimer(e: QueueEntry<IN, OUT>): void {
    const t = e.timer;
    if (t === undefined) return;
    e.timer = undefined;
    t.cancel();
  }

  private userError(err: unknown, value: IN, what: 'asyncInvoke' | 'timeout'): EddyError {
    if (isEddyError(err)) return err;
    const msg = err instanceof Error ? err.message : String(err);
    const call = what === 'timeout' ? 'the timeout fallback' : 'the async call';
    return new EddyError('EDDY_USER_FUNCTION', `operator "${this.name}": ${call} for ${previewValue(value)} failed: ${msg}`, { operator: this.name, cause: err });
  }

  private timeoutError(value: IN): EddyError {
    return new EddyError(
      'EDDY_ASYNC_TIMEOUT',
      `operator "${this.name}": the async call for ${previewValue(value)} did not complete within ${this.settings.timeoutMs} ms; raise timeoutMs, or give the function a timeout(value) fallback`,
      { operator: this.name },
    );
  }

  /** The RuntimeContext the function's `open` sees: no keyed state (results complete outside their record's key). */
  private functionContext(): RuntimeContext {
    const name = this.name;
    return {
      ...this.runtimeContext(),
      getState: () => {
        throw new EddyError(
          'EDDY_CONFIG',
          `operator "${name}": an async function cannot use keyed state (its calls complete outside their record's key); keep state in a keyed operator before or after it`,
          { operator: name },
        );
      },
    };
  }
}
