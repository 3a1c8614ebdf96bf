// Common base of the built-in operators: setup wiring, watermark forwarding, keyed state plumbing.
import type { RichFunction, RuntimeContext, TimeDomain } from '../functions/functions.ts';
import { EddyError } from '../errors.ts';
import { keyGroupRange } from '../state/key-group.ts';
import type { StateDescriptor, StateOf } from '../state/descriptors.ts';
import type { OperatorContext, OperatorSnapshot, Output, StreamOperator } from './operator.ts';
import { InternalTimerService } from './timer-service.ts';

/** Shared plumbing; subclasses implement `processElement` and, when they buffer, `endInput`. */
export abstract class AbstractStreamOperator<IN, OUT> implements StreamOperator<IN, OUT> {
  protected ctx!: OperatorContext;
  protected out!: Output<OUT>;
  protected watermark = Number.NEGATIVE_INFINITY;
  private timerServiceInstance: InternalTimerService | undefined;

  constructor(readonly name: string) {}

  setup(ctx: OperatorContext, output: Output<OUT>): void {
    this.ctx = ctx;
    this.out = output;
  }

  initializeState(snapshot: OperatorSnapshot | undefined): void {
    if (snapshot?.keyed === undefined && snapshot?.timers === undefined) return;
    const backend = this.ctx.keyedState;
    if (backend === undefined)
      throw new EddyError('EDDY_STATE_MISMATCH', `operator "${this.name}" is not keyed but its snapshot holds keyed state`, {
        operator: this.name,
      });
    const range = keyGroupRange(this.ctx.subtaskIndex, this.ctx.parallelism, this.ctx.maxParallelism);
    if (snapshot.keyed !== undefined) backend.restore([snapshot.keyed], range);
    if (snapshot.timers !== undefined) this.timers().restore([snapshot.timers], range, this.ctx.maxParallelism);
  }

  /** This operator's keyed timers (created on first use; keyed operators only). */
  protected timers(): InternalTimerService {
    if (this.timerServiceInstance !== undefined) return this.timerServiceInstance;
    const backend = this.ctx.keyedState;
    if (backend === undefined)
      throw new EddyError('EDDY_CONFIG', `operator "${this.name}" uses timers, which need a keyed stream; call keyBy(...) before this operator`, {
        operator: this.name,
      });
    this.timerServiceInstance = new InternalTimerService(
      backend,
      this.ctx.clock,
      (ts, domain) => this.onTimer(ts, domain),
      (e) => this.ctx.failTask(e),
    );
    return this.timerServiceInstance;
  }

  /** A timer of the current key fired (the backend's current key is the timer's). */
  protected onTimer(_timestamp: number, _domain: TimeDomain): void {}

  open(): void | Promise<void> {}

  abstract processElement(value: IN, timestamp: number): void;

  processWatermark(watermark: number): void {
    this.watermark = watermark;
    // Timers at or below the watermark fire before the watermark moves on (their output is not late).
    this.timerServiceInstance?.advanceWatermark(watermark);
    this.out.emitWatermark(watermark);
  }

  processWatermarkStatus(idle: boolean): void {
    this.out.emitWatermarkStatus(idle);
  }

  endInput(): void | Promise<void> {}

  /**
   * At a checkpoint (`checkpointId` given) keyed state is left out: the task snapshots the backend
   * itself, incrementally. Without an id (the harness) the full keyed state is included.
   */
  snapshotState(checkpointId?: number): OperatorSnapshot {
    const snapshot: OperatorSnapshot = {};
    const keyed = checkpointId === undefined ? this.ctx.keyedState?.snapshot() : undefined;
    if (keyed !== undefined) snapshot.keyed = keyed;
    if (this.timerServiceInstance !== undefined && this.timerServiceInstance.size > 0) snapshot.timers = this.timerServiceInstance.snapshot();
    return snapshot;
  }

  close(): void | Promise<void> {
    this.timerServiceInstance?.close();
  }

  /** The RuntimeContext user functions see in `open`. */
  protected runtimeContext(): RuntimeContext {
    const ctx = this.ctx;
    const name = this.name;
    return {
      jobName: ctx.jobName,
      operatorName: name,
      subtaskIndex: ctx.subtaskIndex,
      parallelism: ctx.parallelism,
      maxParallelism: ctx.maxParallelism,
      getState: <D extends StateDescriptor>(d: D): StateOf<D> => this.keyedStateFor(d),
    };
  }

  protected keyedStateFor<D extends StateDescriptor>(d: D): StateOf<D> {
    const backend = this.ctx.keyedState;
    if (backend === undefined)
      throw new EddyError(
        'EDDY_CONFIG',
        `operator "${this.name}" asked for keyed state "${d.name}" but its input is not keyed; call keyBy(...) before this operator`,
        { operator: this.name },
      );
    return backend.getState(d);
  }
}

/** Calls a rich function's optional `open` / `close`. */
export async function openFunction(fn: unknown, ctx: RuntimeContext): Promise<void> {
  const f = fn as RichFunction;
  if (f !== null && typeof f === 'object' && typeof f.open === 'function') await f.open(ctx);
}

export async function closeFunction(fn: unknown): Promise<void> {
  const f = fn as RichFunction;
  if (f !== null && typeof f === 'object' && typeof f.close === 'function') await f.close();
}
