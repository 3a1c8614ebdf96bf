// A bounded source over an in-memory collection (parallelism 1, replayable by index).
import { EddyError } from '../errors.ts';
import { NO_TIMESTAMP } from '../time/watermark.ts';
import type { PollResult, Source, SourceOutput, SourceReader } from './source.ts';

class CollectionReader<T> implements SourceReader<T> {
  private index = 0;
  constructor(private readonly items: readonly T[]) {}
  poll(out: SourceOutput<T>, max: number): PollResult {
    const items = this.items;
    const end = Math.min(items.length, this.index + max);
    for (let i = this.index; i < end; i++) out.collect(items[i]!, NO_TIMESTAMP);
    this.index = end;
    return end >= items.length ? 'end' : 'more';
  }
  available(): Promise<void> {
    return Promise.resolve();
  }
  snapshotState(): unknown[] {
    return [this.index];
  }
  restoreState(splits: unknown[]): void {
    // One split (parallelism 1): its offset is the index of the next item.
    const index = splits[0];
    if (splits.length !== 1 || typeof index !== 'number' || !Number.isInteger(index) || index < 0)
      throw new EddyError('EDDY_STATE_MISMATCH', `Collection Source: restored state ${JSON.stringify(splits)} is not one offset`);
    this.index = index;
  }
}

/**
 * A source that emits the items of an array or iterable in order, once (Flink's fromCollection).
 *
 * @example
 * ```ts
 * const words = env.fromSource(collectionSource(['a', 'b']));
 * ```
 */
export function collectionSource<T>(items: Iterable<T>): Source<T> {
  if (items == null || typeof (items as Iterable<T>)[Symbol.iterator] !== 'function')
    throw new EddyError('EDDY_INVALID_ARGUMENT', `fromCollection needs an array or other Iterable, got ${items === null ? 'null' : typeof items}`);
  const array = Array.isArray(items) ? (items as T[]) : [...items];
  return {
    name: 'Collection Source',
    bounded: true,
    maxParallelism: 1,
    createReader: () => new CollectionReader(array),
  };
}
