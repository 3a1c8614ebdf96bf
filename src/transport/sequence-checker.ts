// Per-channel frame sequence numbers: a gap or a repeat fails the task with EDDY_SEQUENCE_GAP, never skipped.
import { EddyError } from '../errors.ts';

/**
 * The sequence check of one input channel. Core NATS may drop a message under a slow consumer, and
 * losing one silently would break every guarantee, so a channel's frames must arrive numbered
 * 0, 1, 2, ... without holes. The gate's per-channel state extends this class, so the check costs
 * one field compare on the frame path.
 */
export class ChannelSequence {
  /** The sequence number this channel must deliver next. */
  expectedSeq = 0;

  constructor(
    /** The channel number, shown in errors. */
    readonly ch: number,
    /** The producer, shown in errors, e.g. `map (2/4)`. */
    readonly producer: string,
    readonly taskName: string,
  ) {}

  /** Accepts frame `seq` or throws `EDDY_SEQUENCE_GAP`. */
  checkSequence(seq: number): void {
    if (seq !== this.expectedSeq) this.sequenceGap(seq);
    this.expectedSeq++;
  }

  private sequenceGap(seq: number): never {
    const expected = this.expectedSeq;
    throw new EddyError(
      'EDDY_SEQUENCE_GAP',
      `task ${this.taskName}: channel ${this.ch} from ${this.producer} delivered frame ${seq} but ${expected} was next; ` +
        `${seq > expected ? `${seq - expected} frame(s) were lost` : 'a frame was repeated'} (was the NATS connection or server interrupted?)`,
    );
  }
}
