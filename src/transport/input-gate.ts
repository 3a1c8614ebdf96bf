// The receiving side of one subtask: sequence checks, watermark = min over channels, end of input, credit return.
import type { NatsConnection } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from '../time/watermark.ts';
import { FRAME_BARRIER, FRAME_DATA, FRAME_END_OF_INPUT, FRAME_STATUS, FRAME_WATERMARK, type Frame, type FrameCodec } from './frame-codec.ts';

/** One input channel: which producer feeds it and where its credits go. */
export interface InputChannelSpec {
  /** Shown in errors, e.g. `map (2/4)`. */
  readonly producer: string;
  readonly creditSubject: string;
  readonly creditKey: string;
  /** Which input of the head operator the channel feeds: 0, or 1 for the second input of a two-input operator. */
  readonly inputIndex: number;
}

/** What the gate delivers to the task, in channel order. */
export interface InputHandler {
  onRecords(records: unknown[], timestamps: number[] | null, inputIndex: number): void;
  /** The combined watermark advanced (never called with a smaller value than before). */
  onWatermark(watermark: number): void;
  /** Every open channel went idle (`true`), or one of them became active again (`false`). */
  onWatermarkStatus(idle: boolean): void;
  /** Every channel has ended. */
  onEndOfInput(): void;
  /**
   * Every open channel delivered barrier `checkpointId` (aligned): snapshot now. Frames that came
   * after the barrier on a channel are held back until this returns.
   */
  onBarrier?(checkpointId: number, kind: string): void;
  /** The gate started (`true`) or ended (`false`) holding back channels for a barrier. */
  onAlignment?(aligning: boolean): void;
}

class ChannelState {
  expectedSeq = 0;
  watermark = MIN_WATERMARK;
  ended = false;
  idle = false;
  unreturned = 0;
  /** Frames that arrived after this channel's barrier while the gate aligns (bounded by the producer's credits). */
  held: Frame[] | undefined;
  constructor(readonly spec: InputChannelSpec) {}
}

/**
 * Checks and dispatches the frames of all input channels of one subtask. A gap in a channel's
 * sequence numbers is an error (`EDDY_SEQUENCE_GAP`), never skipped: core NATS may drop a message
 * under a slow consumer, and losing one silently would break every guarantee.
 */
export class InputGate {
  private readonly channels: ChannelState[];
  private open: number;
  private combined = MIN_WATERMARK;
  private idle = false;
  private readonly returnThreshold: number;
  /** The checkpoint being aligned, or -1; `blocked` counts channels holding frames behind its barrier. */
  private aligning = -1;
  private aligningKind = '';
  private blocked = 0;
  /** The highest checkpoint id aligned or aborted: older barriers are stale and ignored. */
  private lastBarrier = -1;

  constructor(
    specs: readonly InputChannelSpec[],
    private readonly nc: NatsConnection,
    private readonly codec: FrameCodec,
    private readonly handler: InputHandler,
    initialCredits: number,
    private readonly taskName: string,
  ) {
    this.channels = specs.map((s) => new ChannelState(s));
    this.open = specs.length;
    // Returning credit in halves of the window keeps the producer busy without a message per frame.
    this.returnThreshold = Math.max(1, initialCredits >> 1);
  }

  get channelCount(): number {
    return this.channels.length;
  }

  decode(bytes: Uint8Array): Frame {
    return this.codec.decode(bytes);
  }

  /** Processes one frame synchronously. Throws on a sequence gap or an unknown channel. */
  process(frame: Frame): void {
    const c = this.channels[frame.ch];
    if (c === undefined) throw new EddyError('EDDY_DECODE', `task ${this.taskName} got a frame for channel ${frame.ch}, which it does not have`);
    if (c.held !== undefined) {
      // Aligning: this channel already delivered the barrier, so its later frames wait (sequence checked on release).
      c.held.push(frame);
      return;
    }
    this.processNow(c, frame);
  }

  /** Gives up aligning `checkpointId` (the coordinator aborted it): held frames flow again. */
  abortAlignment(checkpointId: number): void {
    if (this.aligning !== checkpointId) {
      if (checkpointId > this.lastBarrier) this.lastBarrier = checkpointId;
      return;
    }
    this.lastBarrier = checkpointId;
    this.releaseHeld();
  }

  /** True while some channel holds frames behind a barrier. */
  get isAligning(): boolean {
    return this.aligning >= 0;
  }

  private processNow(c: ChannelState, frame: Frame): void {
    if (frame.seq !== c.expectedSeq)
      throw new EddyError(
        'EDDY_SEQUENCE_GAP',
        `task ${this.taskName}: channel ${frame.ch} from ${c.spec.producer} delivered frame ${frame.seq} but ${c.expectedSeq} was next; ` +
          `${frame.seq > c.expectedSeq ? `${frame.seq - c.expectedSeq} frame(s) were lost` : 'a frame was repeated'} (was the NATS connection or server interrupted?)`,
      );
    c.expectedSeq++;
    switch (frame.type) {
      case FRAME_DATA:
        this.handler.onRecords(frame.records, frame.timestamps, c.spec.inputIndex);
        if (++c.unreturned >= this.returnThreshold) {
          this.nc.publish(c.spec.creditSubject, this.codec.encodeValue([[c.spec.creditKey, c.unreturned]]));
          c.unreturned = 0;
        }
        return;
      case FRAME_WATERMARK:
        if (frame.watermark > c.watermark) {
          c.watermark = frame.watermark;
          this.advanceWatermark();
        }
        return;
      case FRAME_END_OF_INPUT:
        if (c.ended) return;
        c.ended = true;
        c.watermark = MAX_WATERMARK;
        this.advanceWatermark();
        if (--this.open === 0) this.handler.onEndOfInput();
        else this.updateStatus();
        // An ended channel no longer holds back a checkpoint being aligned.
        if (this.aligning >= 0) this.maybeAligned();
        return;
      case FRAME_STATUS:
        if (c.idle === frame.idle || c.ended) return;
        c.idle = frame.idle;
        this.updateStatus();
        if (c.idle) this.advanceWatermark();
        return;
      case FRAME_BARRIER:
        this.onBarrierFrame(c, frame.checkpointId, frame.kind);
        return;
    }
  }

  /**
   * Aligned barriers (Flink's exactly-once mode): the first barrier n blocks its channel; each
   * further channel blocks when its barrier n arrives; when every open channel has, the task
   * snapshots and the held frames are replayed in arrival order. A newer barrier on some channel
   * means n was abandoned upstream: alignment moves on to the newer one.
   */
  private onBarrierFrame(c: ChannelState, id: number, kind: string): void {
    if (id <= this.lastBarrier) return;
    if (this.aligning >= 0 && id > this.aligning) {
      this.lastBarrier = this.aligning;
      this.releaseHeld();
    }
    if (this.aligning < 0) {
      this.aligning = id;
      this.aligningKind = kind;
      this.handler.onAlignment?.(true);
    }
    c.held = [];
    this.blocked++;
    this.maybeAligned();
  }

  private maybeAligned(): void {
    if (this.blocked < this.open) return;
    const id = this.aligning;
    this.lastBarrier = id;
    this.handler.onBarrier?.(id, this.aligningKind);
    this.releaseHeld();
  }

  /** Unblocks every channel and processes what they held, in order (a held barrier may start the next alignment). */
  private releaseHeld(): void {
    if (this.aligning >= 0) this.handler.onAlignment?.(false);
    this.aligning = -1;
    this.blocked = 0;
    const held: [ChannelState, Frame[]][] = [];
    for (const c of this.channels) {
      if (c.held === undefined) continue;
      held.push([c, c.held]);
      c.held = undefined;
    }
    for (const [c, frames] of held)
      for (let i = 0; i < frames.length; i++) {
        if (c.held !== undefined) c.held.push(frames[i]!);
        else this.processNow(c, frames[i]!);
      }
  }

  /** The task is idle while every open channel is: idle channels do not hold the watermark back. */
  private updateStatus(): void {
    let anyActive = false;
    for (const c of this.channels) if (!c.ended && !c.idle) anyActive = true;
    const idle = !anyActive && this.open > 0;
    if (idle !== this.idle) {
      this.idle = idle;
      this.handler.onWatermarkStatus(idle);
    }
  }

  private advanceWatermark(): void {
    // The minimum over active open channels; ended channels stand at +infinity, idle ones are skipped.
    let min = MAX_WATERMARK;
    let active = 0;
    for (const c of this.channels) {
      if (c.ended || c.idle) continue;
      active++;
      if (c.watermark < min) min = c.watermark;
    }
    if (active === 0 && this.open > 0) return;
    if (min > this.combined) {
      this.combined = min;
      this.handler.onWatermark(min);
    }
  }
}
