// The sending side of one subtask: per-channel batches, sequence numbers and credit-based flow control.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import type { Cancelable, Clock } from '../time/clock.ts';
import type { FrameCodec } from './frame-codec.ts';

/** One target channel: the records buffered for it, its sequence counter and the credit it holds. */
export class ChannelSender {
  records: unknown[] = [];
  timestamps: number[] = [];
  hasTimestamps = false;
  seq = 0;
  credits: number;
  /** Frames waiting for credit, in order; `data` frames need one credit each, control frames none. */
  readonly pending: { bytes: Uint8Array; data: boolean }[] = [];

  constructor(
    readonly gate: OutputGate,
    readonly subject: string,
    /** The channel index at the receiving subtask. */
    readonly ch: number,
    /** Identifies this sender in credit messages: `edgeId:targetSubtask`. */
    readonly creditKey: string,
    initialCredits: number,
    readonly operator: string,
  ) {
    this.credits = initialCredits;
  }

  add(value: unknown, timestamp: number): void {
    const n = this.records.push(value);
    // Timestamps are kept only once a record has one: most streams before a watermark strategy have none.
    if (this.hasTimestamps) this.timestamps.push(timestamp);
    else if (timestamp !== Number.NEGATIVE_INFINITY) {
      this.hasTimestamps = true;
      for (let i = 1; i < n; i++) this.timestamps.push(Number.NEGATIVE_INFINITY);
      this.timestamps.push(timestamp);
    }
    if (n >= this.gate.batchSize) this.flush();
    else if (n === 1) this.gate.armFlushTimer();
  }

  flush(): void {
    if (this.records.length === 0) return;
    const records = this.records;
    const timestamps = this.hasTimestamps ? this.timestamps : null;
    this.records = [];
    this.timestamps = [];
    this.hasTimestamps = false;
    this.sendData(records, timestamps);
  }

  private sendData(records: unknown[], timestamps: number[] | null): void {
    const bytes = this.gate.codec.encodeData(this.ch, this.seq, records, timestamps, this.operator);
    if (bytes.length > this.gate.maxPayload) {
      if (records.length === 1)
        throw new EddyError(
          'EDDY_RECORD_TOO_LARGE',
          `operator "${this.operator}" emitted a record of ${bytes.length} bytes, above the NATS server's max_payload of ${this.gate.maxPayload} bytes; make records smaller or raise max_payload`,
          { operator: this.operator },
        );
      // Split until each half fits; sequence numbers stay consecutive because encoding happens per half.
      const mid = records.length >> 1;
      this.sendData(records.slice(0, mid), timestamps?.slice(0, mid) ?? null);
      this.sendData(records.slice(mid), timestamps?.slice(mid) ?? null);
      return;
    }
    this.seq++;
    this.send(bytes, true);
  }

  /** Sends a control frame (watermark, barrier, end of input) after everything before it. */
  sendControl(encode: (ch: number, seq: number) => Uint8Array): void {
    this.flush();
    this.send(encode(this.ch, this.seq++), false);
  }

  private send(bytes: Uint8Array, data: boolean): void {
    if (this.pending.length === 0 && (!data || this.credits > 0)) {
      if (data) this.credits--;
      this.gate.publish(this.subject, bytes);
      return;
    }
    if (this.pending.length === 0) this.gate.blockedSenders++;
    this.pending.push({ bytes, data });
  }

  grant(n: number): void {
    this.credits += n;
    const p = this.pending;
    if (p.length === 0) return;
    let i = 0;
    for (; i < p.length; i++) {
      const f = p[i]!;
      if (f.data) {
        if (this.credits === 0) break;
        this.credits--;
      }
      this.gate.publish(this.subject, f.bytes);
    }
    p.splice(0, i);
    if (p.length === 0) this.gate.unblocked();
  }
}

/** Options of the sending side. */
export interface OutputGateOptions {
  nc: NatsConnection;
  codec: FrameCodec;
  clock: Clock;
  /** The subject this subtask receives credits on. */
  creditSubject: string;
  batchSize: number;
  flushIntervalMs: number;
  /** Called when sending fails outside a record call (timer flush, credit arrival). */
  onError: (e: unknown) => void;
}

/**
 * All ChannelSenders of one subtask, the credit subscription that feeds them, and the flush timer.
 * Backpressure: `blocked` is true while any channel has frames waiting for credit; the task stops
 * taking input until `whenWritable()` resolves, so no buffer grows without bound.
 */
export class OutputGate {
  readonly codec: FrameCodec;
  readonly batchSize: number;
  readonly maxPayload: number;
  blockedSenders = 0;
  private readonly senders = new Map<string, ChannelSender>();
  private readonly all: ChannelSender[] = [];
  private timer: Cancelable | undefined;
  private waiters: (() => void)[] = [];
  private sub: Subscription | undefined;

  constructor(private readonly opts: OutputGateOptions) {
    this.codec = opts.codec;
    this.batchSize = opts.batchSize;
    this.maxPayload = opts.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Subscribes to credits; call before any sender sends. */
  start(): void {
    this.sub = this.opts.nc.subscribe(this.opts.creditSubject, {
      callback: (err, msg) => {
        if (err) return this.opts.onError(err);
        try {
          const grants = this.codec.decodeValue(msg.data) as [string, number][];
          for (const [key, n] of grants) this.senders.get(key)?.grant(n);
        } catch (e) {
          this.opts.onError(e);
        }
      },
    });
  }

  createSender(subject: string, ch: number, creditKey: string, initialCredits: number, operator: string): ChannelSender {
    const s = new ChannelSender(this, subject, ch, creditKey, initialCredits, operator);
    this.senders.set(creditKey, s);
    this.all.push(s);
    return s;
  }

  publish(subject: string, bytes: Uint8Array): void {
    this.opts.nc.publish(subject, bytes);
  }

  get blocked(): boolean {
    return this.blockedSenders > 0;
  }

  /** Resolves when no channel waits for credit. */
  whenWritable(): Promise<void> {
    if (this.blockedSenders === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  unblocked(): void {
    if (--this.blockedSenders > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  armFlushTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = this.opts.clock.schedule(this.opts.flushIntervalMs, () => {
      this.timer = undefined;
      try {
        this.flushAll();
      } catch (e) {
        this.opts.onError(e);
      }
    });
  }

  flushAll(): void {
    for (const s of this.all) s.flush();
  }

  /** Stops the timer and the credit subscription; frames still waiting for credit are dropped (the task is done or failed). */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.sub?.unsubscribe();
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
