// A network output of one edge: routes each record to a target channel by the edge's partitioner.
import type { OutputTag } from '../functions/output-tag.ts';
import { EddyError } from '../errors.ts';
import type { Partitioner } from './partitioner.ts';
import type { Output } from '../operators/operator.ts';
import { hashKey, keyGroupForHash } from '../state/key-group.ts';
import type { ChannelSender } from './output-gate.ts';

/**
 * Routes records of one edge to its ChannelSenders (one per target subtask):
 * hash -> key group -> subtask, rebalance -> round robin, broadcast -> all, forward -> the one target.
 */
export class RecordWriter<T> implements Output<T> {
  private next: number;
  private readonly keySelector: ((value: T) => unknown) | undefined;
  private readonly n: number;
  /** For hash routing: the target of each key group, precomputed. */
  private readonly targetOfKeyGroup: Int32Array | undefined;

  constructor(
    partitioner: Partitioner,
    private readonly targets: readonly ChannelSender[],
    private readonly maxParallelism: number,
    private readonly operator: string,
    startIndex: number,
    /** The keyed target's record-failure policy for a key selector that throws (hash edges): throws, or skips the record. */
    private readonly keyFailed: (error: unknown, record: unknown) => void = (e) => {
      throw e;
    },
  ) {
    this.n = targets.length;
    this.next = startIndex % this.n;
    if (partitioner.kind === 'hash') {
      this.keySelector = partitioner.keySelector;
      this.targetOfKeyGroup = new Int32Array(maxParallelism);
      for (let g = 0; g < maxParallelism; g++) this.targetOfKeyGroup[g] = Math.floor((g * this.n) / maxParallelism);
    }
    this.collect =
      partitioner.kind === 'hash' ? this.collectHash : partitioner.kind === 'forward' ? this.collectForward : partitioner.kind === 'rebalance' ? this.collectRebalance : this.collectBroadcast;
  }

  /** Replaced in the constructor by the partitioner's own routine (one monomorphic path per writer). */
  collect: (value: T, timestamp: number) => void;

  private collectHash(value: T, timestamp: number): void {
    let g: number;
    try {
      g = keyGroupForHash(hashKey(this.keySelector!(value), this.operator), this.maxParallelism);
    } catch (e) {
      this.keyFailed(e, value);
      return;
    }
    this.targets[this.targetOfKeyGroup![g]!]!.add(value, timestamp);
  }
  private collectForward(value: T, timestamp: number): void {
    this.targets[0]!.add(value, timestamp);
  }
  private collectRebalance(value: T, timestamp: number): void {
    this.targets[this.next]!.add(value, timestamp);
    if (++this.next === this.n) this.next = 0;
  }
  private collectBroadcast(value: T, timestamp: number): void {
    for (let i = 0; i < this.n; i++) this.targets[i]!.add(value, timestamp);
  }

  emitWatermark(watermark: number): void {
    for (const t of this.targets) t.sendControl((ch, seq) => t.gate.codec.encodeWatermark(ch, seq, watermark));
  }

  emitWatermarkStatus(idle: boolean): void {
    for (const t of this.targets) t.sendControl((ch, seq) => t.gate.codec.encodeStatus(ch, seq, idle));
  }

  /** Sends checkpoint barrier `checkpointId` on every channel, after the records before it. */
  emitBarrier(checkpointId: number, kind: string): void {
    for (const t of this.targets) t.sendControl((ch, seq) => t.gate.codec.encodeBarrier(ch, seq, checkpointId, kind));
  }

  endOfInput(): void {
    for (const t of this.targets) t.sendControl((ch, seq) => t.gate.codec.encodeEndOfInput(ch, seq));
  }

  collectSide<X>(tag: OutputTag<X>): void {
    throw new EddyError('EDDY_INTERNAL', `side output "${tag.id}" reached a network writer directly`);
  }
}
