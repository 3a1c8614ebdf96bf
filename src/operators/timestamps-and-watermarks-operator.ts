// assignTimestampsAndWatermarks: sets event timestamps and emits the generator's watermarks (periodically).
import { EddyError } from '../errors.ts';
import type { Cancelable } from '../time/clock.ts';
import type { WatermarkGenerator, WatermarkOutput, WatermarkStrategy } from '../time/watermark-strategy.ts';
import { MAX_WATERMARK, NO_TIMESTAMP } from '../time/watermark.ts';
import { AbstractStreamOperator } from './abstract-operator.ts';
import type { Fusion, FusibleOperator } from './chain-fusion.ts';

/**
 * Flink's TimestampsAndWatermarksOperator: upstream watermarks and idleness are replaced by this
 * operator's own, except end of input (+infinity), which always passes. Watermarks only increase.
 */
export class TimestampsAndWatermarksOperator<T> extends AbstractStreamOperator<T, T> implements WatermarkOutput, FusibleOperator {
  private generator!: WatermarkGenerator<T>;
  private timer: Cancelable | undefined;
  private emitted = Number.NEGATIVE_INFINITY;
  private idle = false;

  constructor(
    name: string,
    private readonly strategy: WatermarkStrategy<T>,
  ) {
    super(name);
  }

  override open(): void {
    this.generator = this.strategy.createGenerator({ clock: this.ctx.clock });
    this.schedulePeriodic();
  }

  private schedulePeriodic(): void {
    this.timer = this.ctx.clock.schedule(this.ctx.autoWatermarkIntervalMs, () => {
      try {
        this.generator.onPeriodicEmit(this);
      } catch (e) {
        this.ctx.failTask(e);
        return;
      }
      if (this.emitted !== MAX_WATERMARK) this.schedulePeriodic();
    });
  }

  fusion(): Fusion {
    return { kind: 'timestamp', fn: this.stamp };
  }

  processElement(value: T, timestamp: number): void {
    this.out.collect(value, this.stamp(value, timestamp));
  }

  /** Assigns the record's timestamp and shows the record to the generator; returns the timestamp. */
  private readonly stamp = (value: T, timestamp: number): number => {
    const assign = this.strategy.timestampAssigner;
    const ts = assign === undefined ? timestamp : assign(value, timestamp === NO_TIMESTAMP ? undefined : timestamp);
    if (typeof ts !== 'number' || Number.isNaN(ts))
      throw new EddyError(
        'EDDY_INVALID_ARGUMENT',
        `operator "${this.name}": the timestamp assigner returned ${String(ts)} for a record; it must return a number of ms (e.g. \`(e) => e.ts\` or \`(e) => Date.parse(e.time)\`)`,
        { operator: this.name },
      );
    this.generator.onEvent(value, ts, this);
    return ts;
  };

  override processWatermark(watermark: number): void {
    if (watermark === MAX_WATERMARK) this.emitWatermark(MAX_WATERMARK);
  }

  override processWatermarkStatus(): void {}

  emitWatermark(watermark: number): void {
    if (!(watermark > this.emitted)) return;
    if (this.idle) this.markActive();
    this.emitted = watermark;
    this.watermark = watermark;
    this.out.emitWatermark(watermark);
  }
  markIdle(): void {
    if (this.idle) return;
    this.idle = true;
    this.out.emitWatermarkStatus(true);
  }
  markActive(): void {
    if (!this.idle) return;
    this.idle = false;
    this.out.emitWatermarkStatus(false);
  }

  override close(): void {
    this.timer?.cancel();
    super.close();
  }
}
