// Checkpoint storage in memory: for the operator harness and tests; gone with the process.
import { EddyError } from '../errors.ts';
import { isGuarded, referencedIds, type CheckpointMetadata, type CheckpointStorage, type PruneGuard } from './checkpoint-storage.ts';

/**
 * Keeps checkpoints in Maps with the same contract as the LevelDB storage (the shared suite runs
 * both). Metadata is copied on commit and read, so callers cannot change a completed checkpoint.
 *
 * @example
 * ```ts
 * const storage = new MemoryCheckpointStorage();
 * await storage.writeBlob('b1', 1, new Uint8Array([1]));
 * ```
 */
export class MemoryCheckpointStorage implements CheckpointStorage {
  readonly location = 'memory';
  private readonly chunks = new Map<string, { checkpointId: number; parts: Map<number, Uint8Array> }>();
  private readonly blobs = new Map<string, { checkpointId: number; bytes: Uint8Array }>();
  private readonly metas = new Map<number, CheckpointMetadata>();
  private latestId: number | undefined;
  private readonly bytes = new Map<number, number>();

  async writeChunk(id: string, checkpointId: number, parts: ReadonlyMap<number, Uint8Array>): Promise<void> {
    let n = 0;
    for (const b of parts.values()) n += b.length;
    this.chunks.set(id, { checkpointId, parts: new Map(parts) });
    this.bytes.set(checkpointId, (this.bytes.get(checkpointId) ?? 0) + n);
  }

  async *readChunk(id: string, start: number, end: number): AsyncIterable<[number, Uint8Array]> {
    const c = this.chunks.get(id);
    if (c === undefined) return;
    for (const kg of [...c.parts.keys()].sort((a, b) => a - b)) if (kg >= start && kg <= end) yield [kg, c.parts.get(kg)!];
  }

  async writeBlob(id: string, checkpointId: number, bytes: Uint8Array): Promise<void> {
    this.blobs.set(id, { checkpointId, bytes });
    this.bytes.set(checkpointId, (this.bytes.get(checkpointId) ?? 0) + bytes.length);
  }

  async readBlob(id: string): Promise<Uint8Array> {
    const b = this.blobs.get(id);
    if (b === undefined) throw new EddyError('EDDY_STATE_MISMATCH', `checkpoint storage ${this.location} has no state blob "${id}": the checkpoint is damaged or was pruned`);
    return b.bytes;
  }

  async commit(meta: CheckpointMetadata): Promise<void> {
    this.metas.set(meta.id, structuredClone(meta));
    // `latest` never moves backwards: an older checkpoint that committed late is only recorded.
    if (this.latestId === undefined || meta.id > this.latestId) this.latestId = meta.id;
  }

  async latest(): Promise<CheckpointMetadata | undefined> {
    return this.latestId === undefined ? undefined : this.get(this.latestId);
  }

  async completed(): Promise<number[]> {
    return [...this.metas.keys()].sort((a, b) => a - b);
  }

  async get(id: number): Promise<CheckpointMetadata | undefined> {
    const m = this.metas.get(id);
    return m === undefined ? undefined : structuredClone(m);
  }

  async prune(retain: number, guard?: PruneGuard): Promise<void> {
    const ids = await this.completed();
    if (ids.length === 0) return;
    const latest = this.latestId ?? ids[ids.length - 1]!;
    const keep = new Set(ids.slice(Math.max(0, ids.length - retain)));
    keep.add(latest);
    const referenced = new Set<string>();
    for (const id of keep) for (const r of referencedIds(this.metas.get(id)!)) referenced.add(r);
    for (const id of ids) if (!keep.has(id)) this.metas.delete(id);
    const droppable = (id: string, writtenBy: number): boolean => !referenced.has(id) && writtenBy <= latest && !isGuarded(guard, id, writtenBy);
    for (const [id, c] of this.chunks) if (droppable(id, c.checkpointId)) this.chunks.delete(id);
    for (const [id, b] of this.blobs) if (droppable(id, b.checkpointId)) this.blobs.delete(id);
  }

  bytesOf(id: number): number {
    return this.bytes.get(id) ?? 0;
  }

  async close(): Promise<void> {}
}
