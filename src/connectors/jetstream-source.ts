// A replayable JetStream source: one split per filter subject, each split's position a stream sequence in the checkpoint.
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { EddyError, errorText } from '../errors.ts';
import type { OperatorContext } from '../operators/operator.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import { isStreamNotFound, jetStreamDecoder, jetStreamInfo, validateSourceOptions, type JetStreamSourceOptions } from './jetstream-options.ts';
import type { PollResult, Source, SourceOutput, SourceReader } from './source.ts';

export type { JetStreamFormat, JetStreamSourceOptions } from './jetstream-options.ts';

/** A split's checkpointed position: the last stream sequence emitted, and (bounded) the last sequence to read. */
export interface JetStreamSplitState {
  subject: string;
  seq: number;
  end?: number;
}

/** A split while it is read: its checkpointed position plus the consumer reading it. */
interface Split {
  subject: string;
  /** The last stream sequence emitted by `poll` (0: none yet). Only `poll` advances it. */
  seq: number;
  /** Bounded: the last stream sequence to read. */
  end: number | undefined;
  consumer: Consumer | undefined;
  messages: ConsumerMessages | undefined;
}

/** A buffered message, or (msg undefined) the marker that its split has nothing more to read. */
interface Entry {
  split: Split;
  msg: JsMsg | undefined;
}

/**
 * Reads its splits with one ordered consumer each. Background loops (one per split) fill a shared
 * buffer; `poll` drains it synchronously. Invariants:
 * - a split's `seq` is the sequence of the last record `poll` emitted for it, so a snapshot never
 *   covers a buffered, unemitted message;
 * - the loops stop iterating their consumer while the buffer holds `maxBuffered` entries; the
 *   consumer's next pull is only sent when the loop iterates again, so at most one pull batch per
 *   split waits in the client besides the buffer (nothing is dropped);
 * - bounded: a split ends at its `end` sequence, or earlier when the server reports no message
 *   pending on its subject (everything later has a sequence above `end`).
 */
class JetStreamSourceReader<T> implements SourceReader<T> {
  private splits: Split[];
  private buffer: Entry[] = [];
  private head = 0;
  private finishedSplits = 0;
  private started = false;
  private closed = false;
  private failure: unknown;
  private wake: (() => void) | undefined;
  private spaceWaiters: (() => void)[] = [];
  private readonly js: JetStreamClient;
  private readonly decode: (b: Uint8Array) => unknown;
  private readonly maxBuffered: number;
  private readonly pullBatch: number;
  private readonly where: string;

  constructor(
    private readonly opts: JetStreamSourceOptions,
    private readonly ctx: OperatorContext,
    nc: NatsConnection,
    /** The splits of this subtask on a fresh start; replaced by `restoreState`. */
    initial: JetStreamSplitState[],
    name: string,
  ) {
    this.js = jetstream(nc);
    this.where = `${name} (operator "${ctx.operatorName}")`;
    this.decode = jetStreamDecoder(opts.format ?? 'json', this.where);
    this.maxBuffered = opts.maxBuffered ?? 4096;
    this.pullBatch = Math.max(1, Math.min(256, this.maxBuffered));
    this.splits = initial.map((s) => this.toSplit(s));
  }

  private toSplit(s: JetStreamSplitState): Split {
    return { subject: s.subject, seq: s.seq, end: this.opts.bounded === true ? s.end : undefined, consumer: undefined, messages: undefined };
  }

  restoreState(raw: unknown[]): void {
    if (this.started) throw new EddyError('EDDY_INTERNAL', `${this.where}: restoreState after the first poll`, { operator: this.ctx.operatorName });
    const splits: Split[] = [];
    for (const r of raw) {
      const s = r as JetStreamSplitState;
      const ok =
        s !== null &&
        typeof s === 'object' &&
        typeof s.subject === 'string' &&
        Number.isSafeInteger(s.seq) &&
        s.seq >= 0 &&
        (s.end === undefined || (Number.isSafeInteger(s.end) && s.end >= 0));
      if (!ok) throw new EddyError('EDDY_STATE_MISMATCH', `${this.where}: restored state holds ${JSON.stringify(r)?.slice(0, 100)}, not a JetStream split`, { operator: this.ctx.operatorName });
      if (this.opts.bounded === true && s.end === undefined)
        throw new EddyError('EDDY_STATE_MISMATCH', `${this.where}: the restored split "${s.subject}" has no end sequence (it comes from an unbounded source); a bounded source cannot resume it`, {
          operator: this.ctx.operatorName,
        });
      splits.push(this.toSplit(s));
    }
    this.splits = splits;
  }

  snapshotState(): unknown[] {
    return this.splits.map((s) => (s.end === undefined ? { subject: s.subject, seq: s.seq } : { subject: s.subject, seq: s.seq, end: s.end }));
  }

  poll(out: SourceOutput<T>, max: number): PollResult {
    if (this.closed) return 'end';
    if (!this.started) this.start();
    const buf = this.buffer;
    const withTime = this.opts.timestamp === 'jetstream';
    let i = this.head;
    let emitted = 0;
    // `head` follows every emitted record even when downstream code throws mid-slice.
    try {
      while (emitted < max && i < buf.length) {
        const { split, msg } = buf[i]!;
        if (msg === undefined) {
          // The split's loop read all it will: a bounded split is at its end, whatever the last message's sequence.
          if (split.end !== undefined) split.seq = Math.max(split.seq, split.end);
          this.finishedSplits++;
          i++;
          continue;
        }
        let value: unknown;
        try {
          value = this.decode(msg.data);
        } catch (e) {
          // Under `fail` this throws before the position moves: the message fails again after a restore.
          // Under `deadLetter` the poison message is stored aside and the split reads past it, so it never loops restarts.
          this.ctx.recordFailed(
            new EddyError(
              'EDDY_DECODE',
              `${this.where}: the message at sequence ${msg.seq} of stream "${this.opts.stream}" (subject "${msg.subject}") is not valid ${this.opts.format ?? 'json'}: ${errorText(e)}`,
              { cause: e },
            ),
            msg.data,
            { 'Eddy-Subject': msg.subject, 'Eddy-Stream': this.opts.stream, 'Eddy-Sequence': String(msg.seq) },
          );
          i++;
          split.seq = msg.seq;
          continue;
        }
        i++;
        split.seq = msg.seq;
        emitted++;
        out.collect(value as T, withTime ? Number(msg.timestampNanos / 1_000_000n) : NO_TIMESTAMP);
      }
    } finally {
      this.head = i;
    }
    // Drop consumed entries: whole when drained, or by copying the rest once half the array is consumed (amortized O(1)).
    if (i === buf.length) {
      this.buffer = [];
      this.head = 0;
    } else if (i >= 1024 && i * 2 >= buf.length) {
      this.buffer = buf.slice(i);
      this.head = 0;
    }
    const buffered = this.buffer.length - this.head;
    if (this.spaceWaiters.length > 0 && buffered <= this.maxBuffered / 2) this.releaseSpace();
    if (buffered > 0) return 'more';
    if (this.failure !== undefined) throw this.failure;
    if (this.opts.bounded === true && this.finishedSplits === this.splits.length) return 'end';
    return 'wait';
  }

  available(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.started) this.start();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed || this.buffer.length > this.head || (this.opts.bounded === true && this.finishedSplits === this.splits.length)) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** Starts one reading loop per split; called on the first poll, after any `restoreState`. */
  private start(): void {
    this.started = true;
    for (const split of this.splits) void this.read(split);
  }

  private push(e: Entry): void {
    this.buffer.push(e);
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    if (w !== undefined) {
      this.wake = undefined;
      w();
    }
  }

  private releaseSpace(): void {
    const ws = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of ws) w();
  }

  private async read(split: Split): Promise<void> {
    const bounded = split.end !== undefined;
    const end = split.end ?? Infinity;
    try {
      if (split.seq >= end) return this.push({ split, msg: undefined });
      const consumer = await this.js.consumers.get(this.opts.stream, {
        filter_subjects: split.subject,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: split.seq + 1,
      });
      split.consumer = consumer;
      if (this.closed) return;
      // Nothing pending on the subject now: everything published later has a sequence above `end`.
      if (bounded && (await consumer.info(true)).num_pending === 0) return this.push({ split, msg: undefined });
      const messages = await consumer.consume({ max_messages: this.pullBatch });
      split.messages = messages;
      if (this.closed) return;
      for await (const m of messages) {
        if (this.closed) return;
        if (m.seq > end) return this.push({ split, msg: undefined });
        this.push({ split, msg: m });
        if (bounded && (m.seq >= end || m.info.pending === 0)) return this.push({ split, msg: undefined });
        if (this.buffer.length - this.head >= this.maxBuffered) {
          await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
          if (this.closed) return;
        }
      }
      // The iterator ended without close(): the consumer stopped (stream deleted, connection closed).
      if (!this.closed)
        throw new EddyError(
          'EDDY_CONFIG',
          `${this.where}: reading subject "${split.subject}" of stream "${this.opts.stream}" failed: the consumer stopped delivering messages; ` +
            'check that the stream still exists and the NATS server is reachable, then restart the job',
          { operator: this.ctx.operatorName },
        );
    } catch (e) {
      if (this.closed) return;
      this.failure ??=
        e instanceof EddyError
          ? e
          : isStreamNotFound(e)
            ? new EddyError('EDDY_CONFIG', `${this.where}: JetStream stream "${this.opts.stream}" does not exist (was it deleted?)`, { cause: e, operator: this.ctx.operatorName })
            : new EddyError('EDDY_CONFIG', `${this.where}: reading subject "${split.subject}" of stream "${this.opts.stream}" failed: ${(e as Error)?.message ?? e}`, {
                cause: e,
                operator: this.ctx.operatorName,
              });
      this.signal();
    } finally {
      // A finished split needs no consumer; after close() this catches a consumer created while closing.
      void this.stopConsumer(split);
    }
  }

  /** Stops a split's consumer without waiting: its iterator may sit unread, so `close()` on it may never settle. */
  private stopConsumer(split: Split): Promise<void> {
    const { messages, consumer } = split;
    split.messages = undefined;
    split.consumer = undefined;
    void messages?.close().catch(() => undefined);
    // Ordered consumers are ephemeral (in memory, removed after 5 min idle); deleting frees them at once.
    return consumer === undefined ? Promise.resolve() : consumer.delete().then(
      () => undefined,
      () => undefined,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.releaseSpace();
    this.signal();
    await Promise.all(this.splits.map((s) => this.stopConsumer(s)));
  }
}

/**
 * Reads a JetStream stream, replayably: one split per filter subject (the stream's subjects by
 * default); split k belongs to subtask k % parallelism on a fresh start. Each split's state is the
 * last stream sequence emitted, so a restored job continues right after it, and on a rescale the
 * splits are dealt to the new subtasks. Exactly-once with checkpoints (each record is emitted once
 * per checkpointed position); without checkpoints a job reads from `startSeq` every time.
 *
 * Order: a split is read by exactly one subtask, through one ordered consumer, so the messages of
 * each subject reach the job in stream order at any parallelism; on a restore the checkpointed
 * splits are dealt out so that each goes to exactly one subtask (at another parallelism too), and
 * each continues right after its last emitted sequence.
 *
 * `bounded: true` reads up to the stream's last sequence at the first start, then ends. A message
 * that does not decode fails the job with `EDDY_DECODE` naming the stream, subject and sequence
 * (a replayable source does not skip). The stream must exist (`EDDY_CONFIG` otherwise).
 *
 * @example
 * ```ts
 * const orders = env.fromSource(jetStreamSource<Order>({ stream: 'ORDERS', subjects: ['orders.eu', 'orders.us'], bounded: true }));
 * ```
 */
export function jetStreamSource<T>(opts: JetStreamSourceOptions): Source<T> {
  validateSourceOptions(opts);
  const options: JetStreamSourceOptions = { ...opts, ...(opts.subjects ? { subjects: [...opts.subjects] } : {}) };
  const name = `JetStream Source ${options.stream}`;
  return {
    name,
    bounded: options.bounded === true,
    // With fixed subjects, more subtasks than splits would only idle.
    ...(options.subjects ? { maxParallelism: options.subjects.length } : {}),
    createReader: async (ctx) => {
      const info = await jetStreamInfo(ctx.nats, options.stream, name);
      const subjects = options.subjects ?? info.config.subjects ?? [];
      if (subjects.length === 0)
        throw new EddyError('EDDY_CONFIG', `${name}: stream "${options.stream}" has no subjects (a mirror or sourced stream?); give the source \`subjects\``, { operator: ctx.operatorName });
      // Bounded: each split ends at the stream's last sequence now; restored splits keep their own end.
      const end = options.bounded === true ? info.state.last_seq : undefined;
      const first = (options.startSeq ?? 1) - 1;
      const initial: JetStreamSplitState[] = [];
      subjects.forEach((subject, k) => {
        if (k % ctx.parallelism === ctx.subtaskIndex) initial.push(end === undefined ? { subject, seq: first } : { subject, seq: first, end });
      });
      return new JetStreamSourceReader<T>(options, ctx, ctx.nats!, initial, name);
    },
  };
}
