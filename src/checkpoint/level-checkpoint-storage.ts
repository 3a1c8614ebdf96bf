// Checkpoint storage in one LevelDB directory: chunks per key group, blobs, and atomically committed metadata.
import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { Packr } from 'msgpackr';
import { EddyError } from '../errors.ts';
import { isGuarded, referencedIds, type CheckpointMetadata, type CheckpointStorage, type PruneGuard } from './checkpoint-storage.ts';

const packr = new Packr({ moreTypes: true });
const pad = (n: number, w: number): string => String(n).padStart(w, '0');
// Key layout: `k!<chunk>!<key group>` parts, `b!<blob>`, `c!<id>` index of chunks and blobs with
// their checkpoint id (so pruning never scans the state itself), `m!<checkpoint>` metadata, `latest`.
const partKey = (id: string, kg: number): string => `k!${id}!${pad(kg, 5)}`;
const metaKey = (id: number): string => `m!${pad(id, 12)}`;

/**
 * LevelDB checkpoint storage. One process opens a directory at a time (LevelDB's lock); tasks of
 * the job share the instance.
 *
 * @example
 * ```ts
 * const storage = await LevelCheckpointStorage.open('.eddy/checkpoints/wordcount');
 * const latest = await storage.latest(); // undefined before the first completed checkpoint
 * await storage.close();
 * ```
 */
export class LevelCheckpointStorage implements CheckpointStorage {
  private readonly bytes = new Map<number, number>();
  /** Commits and prunes run one at a time: each reads `latest` and the index, then writes based on what it read. */
  private ops: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Level<string, Uint8Array>,
    readonly location: string,
  ) {}

  static async open(path: string): Promise<LevelCheckpointStorage> {
    await mkdir(path, { recursive: true });
    const db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
    try {
      await db.open();
    } catch (e) {
      throw new EddyError('EDDY_CONFIG', `cannot open checkpoint storage at ${path}: ${(e as Error).message} (is another eddy process using it?)`, { cause: e });
    }
    return new LevelCheckpointStorage(db, path);
  }

  private count(checkpointId: number, n: number): void {
    this.bytes.set(checkpointId, (this.bytes.get(checkpointId) ?? 0) + n);
  }

  async writeChunk(id: string, checkpointId: number, parts: ReadonlyMap<number, Uint8Array>): Promise<void> {
    const batch = this.db.batch();
    let n = 0;
    for (const [kg, bytes] of parts) {
      batch.put(partKey(id, kg), bytes);
      n += bytes.length;
    }
    batch.put(`c!${id}`, packr.pack(checkpointId));
    await batch.write();
    this.count(checkpointId, n);
  }

  async *readChunk(id: string, start: number, end: number): AsyncIterable<[number, Uint8Array]> {
    const prefix = `k!${id}!`;
    for await (const [key, value] of this.db.iterator({ gte: partKey(id, start), lte: partKey(id, end) })) {
      yield [Number(key.slice(prefix.length)), value];
    }
  }

  async writeBlob(id: string, checkpointId: number, bytes: Uint8Array): Promise<void> {
    await this.db.batch().put(`b!${id}`, bytes).put(`c!${id}`, packr.pack(checkpointId)).write();
    this.count(checkpointId, bytes.length);
  }

  async readBlob(id: string): Promise<Uint8Array> {
    const v = await this.db.get(`b!${id}`);
    if (v === undefined) throw new EddyError('EDDY_STATE_MISMATCH', `checkpoint storage ${this.location} has no state blob "${id}": the checkpoint is damaged or was pruned`);
    return v;
  }

  private serial<R>(fn: () => Promise<R>): Promise<R> {
    const r = this.ops.then(fn);
    this.ops = r.catch(() => undefined);
    return r;
  }

  private async latestId(): Promise<number | undefined> {
    const v = await this.db.get('latest');
    return v === undefined ? undefined : (packr.unpack(v) as number);
  }

  commit(meta: CheckpointMetadata): Promise<void> {
    return this.serial(async () => {
      const latest = await this.latestId();
      // One batch: metadata and the latest pointer become visible together or not at all; an older checkpoint leaves the pointer.
      const batch = this.db.batch().put(metaKey(meta.id), packr.pack(meta));
      if (latest === undefined || meta.id > latest) batch.put('latest', packr.pack(meta.id));
      await batch.write();
    });
  }

  async latest(): Promise<CheckpointMetadata | undefined> {
    const id = await this.latestId();
    return id === undefined ? undefined : this.get(id);
  }

  async completed(): Promise<number[]> {
    const ids: number[] = [];
    for await (const key of this.db.keys({ gte: 'm!', lt: 'm"' })) ids.push(Number(key.slice(2)));
    return ids;
  }

  async get(id: number): Promise<CheckpointMetadata | undefined> {
    const v = await this.db.get(metaKey(id));
    return v === undefined ? undefined : (packr.unpack(v) as CheckpointMetadata);
  }

  prune(retain: number, guard?: PruneGuard): Promise<void> {
    return this.serial(async () => {
      const ids = await this.completed();
      if (ids.length === 0) return;
      const latest = (await this.latestId()) ?? ids[ids.length - 1]!;
      const keep = new Set(ids.slice(Math.max(0, ids.length - retain)));
      keep.add(latest);
      const referenced = new Set<string>();
      for (const id of keep) for (const r of referencedIds((await this.get(id))!)) referenced.add(r);
      const batch = this.db.batch();
      for (const id of ids) if (!keep.has(id)) batch.del(metaKey(id));
      const drop: string[] = [];
      for await (const [key, value] of this.db.iterator({ gte: 'c!', lt: 'c"' })) {
        const id = key.slice(2);
        const writtenBy = packr.unpack(value) as number;
        if (!referenced.has(id) && writtenBy <= latest && !isGuarded(guard, id, writtenBy)) drop.push(id);
      }
      for (const id of drop) batch.del(`c!${id}`).del(`b!${id}`);
      await batch.write();
      for (const id of drop) await this.db.clear({ gte: `k!${id}!`, lt: `k!${id}"` });
      const oldestKept = Math.min(...keep, guard?.oldestPending ?? Number.POSITIVE_INFINITY);
      for (const id of [...this.bytes.keys()]) if (id < oldestKept) this.bytes.delete(id);
    });
  }

  bytesOf(id: number): number {
    return this.bytes.get(id) ?? 0;
  }

  async close(): Promise<void> {
    await this.ops;
    await this.db.close();
  }
}
