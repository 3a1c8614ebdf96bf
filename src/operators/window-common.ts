// The base of the three window operators (general, pane, session): keyed backend, element time, late records, results.
import type { Collector } from '../functions/functions.ts';
import type { OutputTag } from '../functions/output-tag.ts';
import type { Window } from '../functions/windowing/windows.ts';
import { EddyError } from '../errors.ts';
import type { StateAccess } from '../state/descriptors.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator } from './abstract-operator.ts';
import { WindowFunctionContext } from './window-functions.ts';

/** What every window operator does the same way; subclasses keep their windows and firing. */
export abstract class WindowOperatorBase<IN, OUT> extends AbstractStreamOperator<IN, OUT> implements Collector<OUT> {
  protected readonly eventTime: boolean;
  /** The allowed lateness under event time; 0 under processing time (Flink ignores it there). */
  protected readonly lateness: number;
  /** The timestamp results carry: set to the firing window's last timestamp before its function runs. */
  protected emitTs = 0;

  constructor(
    name: string,
    eventTime: boolean,
    allowedLateness: number,
    private readonly lateTag: OutputTag<IN> | undefined,
  ) {
    super(name);
    this.eventTime = eventTime;
    this.lateness = eventTime ? allowedLateness : 0;
  }

  getCurrentProcessingTime(): number {
    return this.ctx.clock.now();
  }

  collect(value: OUT): void {
    this.out.collect(value, this.emitTs);
  }

  /** The keyed state backend; `EDDY_CONFIG` when the input is not keyed. */
  protected keyedBackend(): KeyedStateBackend {
    const backend = this.ctx.keyedState;
    if (backend === undefined) throw new EddyError('EDDY_CONFIG', `operator "${this.name}" needs a keyed stream; call keyBy(...) before window(...)`, { operator: this.name });
    return backend;
  }

  /** The time that places an element: its timestamp under event time (`EDDY_CONFIG` when it has none), the clock under processing time. */
  protected elementTime(timestamp: number): number {
    if (!this.eventTime) return this.ctx.clock.now();
    if (timestamp === NO_TIMESTAMP || Number.isNaN(timestamp))
      throw new EddyError('EDDY_CONFIG', `operator "${this.name}" has event-time windows but a record has no timestamp; call assignTimestampsAndWatermarks(...) before the window`, {
        operator: this.name,
      });
    return timestamp;
  }

  /** An element too late for every window: to the late-data side output when there is one, else dropped and counted (`numLateRecordsDropped`). */
  protected emitLate(value: IN, timestamp: number): void {
    if (this.lateTag !== undefined) this.out.collectSide(this.lateTag, value, timestamp);
    else this.ctx.metrics.inc('numLateRecordsDropped');
  }

  /** The context the window function sees; `perWindow` is its per-window state (undefined for merging windows, as in Flink). */
  protected windowFunctionContext<W extends Window>(perWindow: StateAccess | undefined): WindowFunctionContext<W> {
    return new WindowFunctionContext<W>(
      { currentProcessingTime: () => this.ctx.clock.now(), currentWatermark: () => this.watermark, collectSide: (tag, v, ts) => this.out.collectSide(tag, v, ts) },
      perWindow,
      { getState: (d) => this.keyedStateFor(d) },
    );
  }
}
