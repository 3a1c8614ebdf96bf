// A network output of one edge: routes each record to a target channel by the edge's partitioner.
import type { OutputTag } from '../api/output-tag.ts';
import { EddyError } from '../errors.ts';
import type { Partitioner } from '../graph/transformation.ts';
import type { Output } from '../operators/operator.ts';
import { hashKey } from '../state/key-group.ts';
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
    private readonly partitioner: Partitioner,
    private readonly targets: readonly ChannelSender[],
    private readonly maxParallelism: number,
    private readonly operator: string,
    startIndex: number,
  ) {
    this.n = targets.length;
    this.next = startIndex % this.n;
    if (partitioner.kind === 'hash') {
      this.keySelector = partitioner.keySelector;
      this.targetOfKeyGroup = new Int32Array(maxParallelism);
      for (let g = 0; g < maxParallelism; g++) this.targetOfKeyGroup[g] = Math.floor((g * this.n) / maxParallelism);
    }
  }

  collect(value: T, timestamp: number): void {
    switch (this.partitioner.kind) {
      case 'hash': {
        const g = hashKey(this.keySelector!(value), this.operator) % this.maxParallelism;
        this.targets[this.targetOfKeyGroup![g]!]!.add(value, timestamp);
        return;
      }
      case 'forward':
        this.targets[0]!.add(value, timestamp);
        return;
      case 'rebalance': {
        this.targets[this.next]!.add(value, timestamp);
        if (++this.next === this.n) this.next = 0;
        return;
      }
      case 'broadcast':
        for (let i = 0; i < this.n; i++) this.targets[i]!.add(value, timestamp);
        return;
    }
  }

  emitWatermark(watermark: number): void {
    for (const t of this.targets) t.sendControl((ch, seq) => t.gate.codec.encodeWatermark(ch, seq, watermark));
  }

  endOfInput(): void {
    for (const t of this.targets) t.sendControl((ch, seq) => t.gate.codec.encodeEndOfInput(ch, seq));
  }

  collectSide<X>(tag: OutputTag<X>): void {
    throw new EddyError('EDDY_INTERNAL', `side output "${tag.id}" reached a network writer directly`);
  }
}
