// The receiving side of one subtask: dispatches frames through sequence checks, credits, the watermark valve and the barrier aligner.
import { EddyError } from '../errors.ts';
import { BarrierAligner } from './barrier-aligner.ts';
import type { CreditReturner, CreditRoute } from './credit-returner.ts';
import { FRAME_BARRIER, FRAME_DATA, FRAME_END_OF_INPUT, FRAME_STATUS, FRAME_WATERMARK, type Frame, type FrameCodec } from './frame-codec.ts';
import { ChannelSequence } from './sequence-checker.ts';
import { WatermarkValve } from './watermark-valve.ts';

/** What the gate needs to know about one input channel. */
export interface GateChannelSpec {
  /** Shown in errors, e.g. `map (2/4)`. */
  readonly producer: string;
  /** Which input of the head operator the channel feeds: 0, or 1 for the second input of a two-input operator. */
  readonly inputIndex: number;
}

/** One input channel as the runtime deploys it: its producer and where its credits go (see `NatsCreditReturner`). */
export interface InputChannelSpec extends GateChannelSpec, CreditRoute {}

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

/** One input channel: its sequence check (inherited, so no extra hop per frame), end and unreturned credits. */
class ChannelState extends ChannelSequence {
  ended = false;
  /** Data frames processed since credit was last returned. */
  unreturned = 0;
  constructor(
    readonly spec: GateChannelSpec,
    ch: number,
    taskName: string,
  ) {
    super(ch, spec.producer, taskName);
  }
}

/**
 * Checks and dispatches the frames of all input channels of one subtask, synchronously. Credits
 * count data frames and go back in halves of the window through the injected `CreditReturner`, so
 * the gate runs without NATS in tests.
 */
export class InputGate {
  private readonly channels: ChannelState[];
  private open: number;
  private readonly returnThreshold: number;
  private readonly valve: WatermarkValve;
  private readonly aligner: BarrierAligner<Frame>;

  constructor(
    specs: readonly GateChannelSpec[],
    private readonly credits: CreditReturner,
    private readonly codec: FrameCodec,
    private readonly handler: InputHandler,
    initialCredits: number,
    private readonly taskName: string,
  ) {
    this.channels = specs.map((s, ch) => new ChannelState(s, ch, taskName));
    this.open = specs.length;
    // Returning credit in halves of the window keeps the producer busy without a message per frame.
    this.returnThreshold = Math.max(1, initialCredits >> 1);
    this.valve = new WatermarkValve(specs.length, handler);
    this.aligner = new BarrierAligner<Frame>(
      specs.length,
      {
        onAligned: (id, kind) => this.handler.onBarrier?.(id, kind),
        onAlignment: (aligning) => this.handler.onAlignment?.(aligning),
        // Held frames are sequence-checked when released, as if they had just arrived.
        replay: (ch, frame) => this.processNow(this.channels[ch]!, frame),
      },
      taskName,
    );
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
    // Aligning: a channel that already delivered the barrier holds its later frames.
    if (this.aligner.isAligning && this.aligner.hold(frame.ch, frame)) return;
    this.processNow(c, frame);
  }

  /** Gives up aligning `checkpointId` (the coordinator aborted it): held frames flow again. */
  abortAlignment(checkpointId: number): void {
    this.aligner.abort(checkpointId);
  }

  /** True while some channel holds frames behind a barrier. */
  get isAligning(): boolean {
    return this.aligner.isAligning;
  }

  private processNow(c: ChannelState, frame: Frame): void {
    c.checkSequence(frame.seq);
    switch (frame.type) {
      case FRAME_DATA:
        this.handler.onRecords(frame.records, frame.timestamps, c.spec.inputIndex);
        if (++c.unreturned >= this.returnThreshold) {
          this.credits.returnCredit(frame.ch, c.unreturned);
          c.unreturned = 0;
        }
        return;
      case FRAME_WATERMARK:
        this.valve.watermark(frame.ch, frame.watermark);
        return;
      case FRAME_END_OF_INPUT:
        if (c.ended) return;
        c.ended = true;
        // The valve reports the watermark (+infinity for this channel) and idleness before end of input.
        this.valve.end(frame.ch);
        if (--this.open === 0) this.handler.onEndOfInput();
        // An ended channel no longer holds back a checkpoint being aligned.
        this.aligner.channelEnded(frame.ch);
        return;
      case FRAME_STATUS:
        this.valve.status(frame.ch, frame.idle);
        return;
      case FRAME_BARRIER:
        this.aligner.barrier(frame.ch, frame.checkpointId, frame.kind);
        return;
    }
  }
}
