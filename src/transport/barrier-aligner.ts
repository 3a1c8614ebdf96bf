// Aligned checkpoint barriers of one task's input channels: an explicit state machine that holds and releases frames.
import { EddyError } from '../errors.ts';

/** The two states: no checkpoint being aligned, or aligning one (some channels delivered its barrier and are held). */
export type AlignerPhase = 'idle' | 'aligning';

/** A readable copy of the aligner's state (built on demand; the data path never allocates it). */
export type AlignerState =
  | { readonly phase: 'idle'; readonly lastCheckpoint: number }
  | { readonly phase: 'aligning'; readonly checkpointId: number; readonly kind: string; readonly seen: readonly number[]; readonly lastCheckpoint: number };

/**
 * What the aligner can be told, already classified against its state (`n` the event's checkpoint,
 * `current` the one being aligned, `last` the highest checkpoint aligned, abandoned or aborted):
 * - `barrier-new`: barrier n > last while idle;
 * - `barrier-current`: barrier n = current from a channel that had not delivered it yet;
 * - `barrier-newer`: barrier n > current: upstream abandoned current;
 * - `barrier-stale`: barrier n <= last, or n < current (never aligned here any more);
 * - `barrier-held`: a barrier from a channel that is held (its frames must wait, so it cannot arrive);
 * - `barrier-ended`: a barrier from a channel that ended (a producer sends nothing after end of input);
 * - `end-open`: an open, unheld channel ended;
 * - `end-held`, `end-ended`: a held channel, or an ended one, ended;
 * - `abort-current`: the coordinator aborted n = current;
 * - `abort-newer`: it aborted n > current while aligning (current's barriers are stale from now on,
 *   so current can no longer align here: it is abandoned like on a newer barrier);
 * - `abort-other`: it aborted some other n (idle, or n < current).
 */
export type AlignerEvent =
  | 'barrier-new'
  | 'barrier-current'
  | 'barrier-newer'
  | 'barrier-stale'
  | 'barrier-held'
  | 'barrier-ended'
  | 'end-open'
  | 'end-held'
  | 'end-ended'
  | 'abort-current'
  | 'abort-newer'
  | 'abort-other';

/**
 * The legal transitions: state -> event -> next state. A missing entry is illegal and throws
 * `EDDY_INTERNAL` (the gate never feeds one; a producer breaking the protocol might).
 * `aligning` after `barrier-current` or `end-open` becomes `idle` at once when every open channel
 * has delivered the barrier (the task snapshots, then the held frames are replayed);
 * `barrier-newer` releases the held frames (last := current) and starts aligning n.
 */
export const ALIGNER_TRANSITIONS: { readonly [P in AlignerPhase]: { readonly [E in AlignerEvent]?: AlignerPhase } } = {
  idle: {
    'barrier-new': 'aligning', // hold the channel; onAlignment(true); completes at once with one open channel
    'barrier-stale': 'idle', // ignored
    'end-open': 'idle',
    'abort-other': 'idle', // last := max(last, n): its barriers are stale from now on
  },
  aligning: {
    'barrier-current': 'aligning', // hold the channel; complete when every open channel is held
    'barrier-newer': 'aligning', // release (last := current), then align n
    'barrier-stale': 'aligning', // ignored: the channel keeps flowing (its frames precede current's barrier)
    'end-open': 'aligning', // an ended channel no longer holds the checkpoint back: may complete
    'abort-current': 'idle', // release without snapshot; last := n
    'abort-newer': 'idle', // release without snapshot; last := n
    'abort-other': 'aligning', // last := max(last, n)
  },
};

/** What the aligner tells its gate. */
export interface AlignerOutput<F> {
  /** Every open channel delivered barrier `checkpointId`: snapshot now (before any held frame is replayed). */
  onAligned(checkpointId: number, kind: string): void;
  /** Holding started (`true`) or ended (`false`). */
  onAlignment(aligning: boolean): void;
  /** A held frame is released: process it now, in arrival order (it may be a barrier starting the next alignment). */
  replay(ch: number, frame: F): void;
}

/**
 * Flink's exactly-once alignment: the first barrier n holds its channel; each further channel is
 * held when its barrier n arrives; when every open channel is held, the task snapshots and the held
 * frames are replayed channel by channel in arrival order. Held frames are bounded by the
 * producers' credits (data) plus the control frames among them. The per-frame cost while idle is
 * one compare (`isAligning`); while aligning, one array load (`hold`).
 */
export class BarrierAligner<F> {
  private phase: AlignerPhase = 'idle';
  private current = -1;
  private currentKind = '';
  /** How many open channels are held (delivered barrier `current`). */
  private seen = 0;
  private open: number;
  /** The highest checkpoint aligned, abandoned or aborted: older barriers are stale. */
  private last = -1;
  /** Per channel: the frames held behind its barrier while aligning, or undefined when it flows. */
  private readonly held: (F[] | undefined)[];
  private readonly ended: boolean[];

  constructor(
    channels: number,
    private readonly out: AlignerOutput<F>,
    private readonly taskName = '',
  ) {
    this.held = new Array<F[] | undefined>(channels).fill(undefined);
    this.ended = new Array<boolean>(channels).fill(false);
    this.open = channels;
  }

  /** Holds `frame` when channel `ch` is held (returns true); otherwise the caller processes it. */
  hold(ch: number, frame: F): boolean {
    const h = this.held[ch];
    if (h === undefined) return false;
    h.push(frame);
    return true;
  }

  /** True while a checkpoint is being aligned. */
  get isAligning(): boolean {
    return this.phase === 'aligning';
  }

  get state(): AlignerState {
    if (this.phase === 'idle') return { phase: 'idle', lastCheckpoint: this.last };
    const seen: number[] = [];
    for (let ch = 0; ch < this.held.length; ch++) if (this.held[ch] !== undefined) seen.push(ch);
    return { phase: 'aligning', checkpointId: this.current, kind: this.currentKind, seen, lastCheckpoint: this.last };
  }

  /** Channel `ch` delivered barrier `id` (unheld: held channels' frames go through `hold`). */
  barrier(ch: number, id: number, kind: string): void {
    const event: AlignerEvent =
      this.ended[ch] ? 'barrier-ended'
      : this.held[ch] !== undefined ? 'barrier-held'
      : id <= this.last ? 'barrier-stale'
      : this.phase === 'idle' ? 'barrier-new'
      : id === this.current ? 'barrier-current'
      : id > this.current ? 'barrier-newer'
      : 'barrier-stale';
    this.transition(event, `barrier ${id} on channel ${ch}`);
    if (event === 'barrier-current') return this.holdChannel(ch);
    if (event === 'barrier-stale') return;
    if (event === 'barrier-newer') {
      this.last = this.current;
      this.release();
      // The replayed frames may have started another alignment (older, equal or newer than id): classify again.
      return this.barrier(ch, id, kind);
    }
    this.start(id, kind);
    this.holdChannel(ch);
  }

  /** Channel `ch` ended (call once per channel): it no longer holds back a checkpoint. */
  channelEnded(ch: number): void {
    const event: AlignerEvent = this.ended[ch] ? 'end-ended' : this.held[ch] !== undefined ? 'end-held' : 'end-open';
    this.transition(event, `end of channel ${ch}`);
    this.ended[ch] = true;
    this.open--;
    if (this.phase === 'aligning') this.maybeComplete();
  }

  /** The coordinator aborted checkpoint `id`: held frames flow again if it (or an older one) was being aligned. */
  abort(id: number): void {
    const event: AlignerEvent =
      this.phase !== 'aligning' || id < this.current ? 'abort-other'
      : id === this.current ? 'abort-current'
      : 'abort-newer';
    this.transition(event, `abort of checkpoint ${id}`);
    if (event !== 'abort-other') {
      this.last = id;
      this.release();
    } else if (id > this.last) this.last = id;
  }

  private transition(event: AlignerEvent, what: string): void {
    if (ALIGNER_TRANSITIONS[this.phase][event] === undefined)
      throw new EddyError(
        'EDDY_INTERNAL',
        `task ${this.taskName}: barrier alignment cannot take ${what} (${event}) while ${this.phase === 'idle' ? 'idle' : `aligning checkpoint ${this.current}`}`,
      );
  }

  private start(id: number, kind: string): void {
    this.phase = 'aligning';
    this.current = id;
    this.currentKind = kind;
    this.seen = 0;
    this.out.onAlignment(true);
  }

  private holdChannel(ch: number): void {
    this.held[ch] = [];
    this.seen++;
    this.maybeComplete();
  }

  private maybeComplete(): void {
    if (this.seen < this.open) return;
    const id = this.current;
    this.last = id;
    this.out.onAligned(id, this.currentKind);
    this.release();
  }

  /** Back to idle: unholds every channel, then replays what they held (a replayed barrier may hold a channel again). */
  private release(): void {
    this.phase = 'idle';
    this.seen = 0;
    this.out.onAlignment(false);
    const released: [number, F[]][] = [];
    for (let ch = 0; ch < this.held.length; ch++) {
      const h = this.held[ch];
      if (h === undefined) continue;
      released.push([ch, h]);
      this.held[ch] = undefined;
    }
    for (const [ch, frames] of released)
      for (let i = 0; i < frames.length; i++) if (!this.hold(ch, frames[i]!)) this.out.replay(ch, frames[i]!);
  }
}
