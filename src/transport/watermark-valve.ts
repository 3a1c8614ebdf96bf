// Combines the watermarks and idleness of a task's input channels (after Flink's StatusWatermarkValve).
import { MAX_WATERMARK, MIN_WATERMARK } from '../time/watermark.ts';

/** What the valve reports to the task. */
export interface WatermarkValveOutput {
  /** The combined watermark advanced (never called with a smaller value than before). */
  onWatermark(watermark: number): void;
  /** Every open channel went idle (`true`), or one of them became active again (`false`). */
  onWatermarkStatus(idle: boolean): void;
}

/**
 * The combined watermark is the minimum over the active open channels: idle channels are skipped,
 * an ended channel stands at +infinity, and the combined value never goes backwards. While every
 * open channel is idle the watermark holds and the task is idle.
 */
export class WatermarkValve {
  private readonly watermarks: number[];
  private readonly idle: boolean[];
  private readonly ended: boolean[];
  private open: number;
  private combined = MIN_WATERMARK;
  private allIdle = false;

  constructor(
    channels: number,
    private readonly out: WatermarkValveOutput,
  ) {
    this.watermarks = new Array<number>(channels).fill(MIN_WATERMARK);
    this.idle = new Array<boolean>(channels).fill(false);
    this.ended = new Array<boolean>(channels).fill(false);
    this.open = channels;
  }

  /** The combined watermark so far. */
  get current(): number {
    return this.combined;
  }

  /** True while every open channel is idle. */
  get isIdle(): boolean {
    return this.allIdle;
  }

  /** Channel `ch` delivered watermark `wm`; a smaller one than it had is ignored. */
  watermark(ch: number, wm: number): void {
    if (wm > this.watermarks[ch]!) {
      this.watermarks[ch] = wm;
      this.advance();
    }
  }

  /** Channel `ch` went idle or active again; ignored for an ended channel. */
  status(ch: number, idle: boolean): void {
    if (this.idle[ch] === idle || this.ended[ch]) return;
    this.idle[ch] = idle;
    this.updateStatus();
    if (idle) this.advance();
  }

  /** Channel `ch` ended: it counts as +infinity from now on. Returns the number of channels still open. */
  end(ch: number): number {
    if (this.ended[ch]) return this.open;
    this.ended[ch] = true;
    this.watermarks[ch] = MAX_WATERMARK;
    // Counted before advancing: when the last channel ends the combined watermark is +infinity, even if
    // a producer ended without sending its own +infinity first.
    --this.open;
    this.advance();
    // After the last channel the task's input has ended: no idleness change is reported any more.
    if (this.open > 0) this.updateStatus();
    return this.open;
  }

  private updateStatus(): void {
    let anyActive = false;
    for (let i = 0; i < this.idle.length; i++) if (!this.ended[i] && !this.idle[i]) anyActive = true;
    const idle = !anyActive && this.open > 0;
    if (idle !== this.allIdle) {
      this.allIdle = idle;
      this.out.onWatermarkStatus(idle);
    }
  }

  private advance(): void {
    let min = MAX_WATERMARK;
    let active = 0;
    for (let i = 0; i < this.watermarks.length; i++) {
      if (this.ended[i] || this.idle[i]) continue;
      active++;
      if (this.watermarks[i]! < min) min = this.watermarks[i]!;
    }
    if (active === 0 && this.open > 0) return;
    if (min > this.combined) {
      this.combined = min;
      this.out.onWatermark(min);
    }
  }
}
