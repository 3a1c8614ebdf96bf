// Incremental TTL cleanup on the heap: a lazy round-robin walk over one state's table that removes what expired.
import type { Clock } from '../time/clock.ts';
import type { NormalizedKey } from './key-group.ts';
import { touch, type Slot } from './heap-state-handles.ts';
import { withoutExpired, type TtlCleanup } from './ttl-value.ts';

/**
 * Flink's incremental cleanup for heap state: a lazy iterator over the whole table (every key, not
 * only the current one) that each `step()` advances by `cleanupSize` entries, removing expired
 * values and the expired elements of lists and maps. At the end of the table the walk starts over.
 * Removals go through `touch`, so the next incremental checkpoint carries them as deletions and a
 * restore does not bring expired state back.
 *
 * A JS Map iterator stays valid while the map changes: deleted entries are skipped, entries added
 * later are visited in this round, and replacing an existing key's value keeps its place.
 *
 * @example
 * ```ts
 * const cleanup = new HeapTtlCleanup(slot, 60_000, 5, clock);
 * cleanup.step(); // visits 5 entries of the state
 * ```
 */
export class HeapTtlCleanup implements TtlCleanup {
  private it: Iterator<[NormalizedKey, unknown]> | undefined;

  constructor(
    private readonly slot: Slot,
    private readonly ttlMs: number,
    private readonly cleanupSize: number,
    private readonly clock: Clock,
  ) {}

  step(): void {
    const { slot } = this;
    const table = slot.table;
    if (table.size === 0) return;
    const now = this.clock.now();
    let restarted = false;
    for (let i = 0; i < this.cleanupSize; i++) {
      let r = (this.it ??= table.entries()).next();
      if (r.done === true) {
        // One restart per step at most: a table smaller than cleanupSize is visited once per step.
        if (restarted) return;
        restarted = true;
        r = (this.it = table.entries()).next();
        if (r.done === true) return;
      }
      const [k, v] = r.value;
      const kept = withoutExpired(slot.kind, v, this.ttlMs, now);
      if (kept === v) continue;
      if (kept === undefined) table.delete(k);
      else table.set(k, kept);
      touch(slot, k);
    }
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}
