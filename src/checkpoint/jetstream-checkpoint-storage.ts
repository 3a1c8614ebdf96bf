// Checkpoint storage every machine on the NATS cluster can reach: chunks and blobs in a JetStream Object Store, metadata and the `latest` pointer in JetStream KV (compare-and-set).
import { createHash } from 'node:crypto';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { EddyError } from '../errors.ts';
import { isGuarded, referencedIds, type CheckpointMetadata, type CheckpointStorage, type PruneGuard } from './checkpoint-storage.ts';

const packr = new Packr({ moreTypes: true });
const pad = (n: number, w: number): string => String(n).padStart(w, '0');
/** KV keys: `m.<checkpoint>` metadata, `latest`, `i.<hex id>` index of chunks (`k`) and blobs (`b`) with the checkpoint that wrote them. */
const metaKey = (id: number): string => `m.${pad(id, 12)}`;
const indexKey = (id: string): string => `i.${Buffer.from(id, 'utf8').toString('hex')}`;
const objectName = (kind: 'k' | 'b', id: string): string => `${kind}/${id}`;

/** A bucket name for a storage name: letters, digits, `-` and `_` (JetStream's rule), plus a hash so different names never share one. */
export function checkpointBucket(name: string): string {
  const readable = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `eddy-cp-${readable}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

function live(e: KvEntry | null): KvEntry | undefined {
  return e === null || e.operation !== 'PUT' ? undefined : e;
}

export interface JetStreamCheckpointStorageOptions {
  /** JetStream replicas of the KV bucket and the object store (3 on a cluster survives the loss of one server); default {@link defaultReplicas}. */
  replicas?: number;
}

/**
 * Replicas for eddy's own JetStream buckets on the server `nc` is connected to: 1 on a single
 * server, up to 3 on a cluster (as many servers as it announces), so checkpoints and job code
 * survive the loss of one server of three.
 */
export function defaultReplicas(nc: NatsConnection): number {
  const info = nc.info;
  if (info?.cluster === undefined || info.cluster === '') return 1;
  return Math.max(1, Math.min(3, info.connect_urls?.length ?? 1));
}

/**
 * Checkpoint storage on JetStream, reachable from every worker on the cluster (JetStream replicates
 * it with its own Raft). A chunk is one object (its key-group parts packed together: a restore
 * reads the chunks it needs whole), a blob one object; an index entry per chunk and blob records
 * the checkpoint that wrote it, so pruning never reads state. `commit` writes the metadata, then
 * moves `latest` by compare-and-set on its revision, so concurrent writers (a job master and its
 * standby) never move it backwards; a crash between the two leaves the previous checkpoint latest.
 *
 * @example
 * ```ts
 * const storage = await JetStreamCheckpointStorage.open(nc, 'wordcount', { replicas: 3 });
 * const latest = await storage.latest(); // undefined before the first completed checkpoint
 * ```
 */
export class JetStreamCheckpointStorage implements CheckpointStorage {
  private readonly bytes = new Map<number, number>();
  /** Commits and prunes run one at a time in this process; other processes are kept in line by compare-and-set. */
  private ops: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly kv: KV,
    private readonly os: ObjectStore,
    readonly location: string,
  ) {}

  /** Opens (creating when missing) the KV bucket and object store of storage `name`. */
  static async open(nc: NatsConnection, name: string, options: JetStreamCheckpointStorageOptions = {}): Promise<JetStreamCheckpointStorage> {
    if (typeof name !== 'string' || name.length === 0) throw new EddyError('EDDY_INVALID_ARGUMENT', `JetStreamCheckpointStorage needs a non-empty name, got ${JSON.stringify(name)}`);
    const bucket = checkpointBucket(name);
    const replicas = options.replicas ?? defaultReplicas(nc);
    try {
      const kv = await new Kvm(nc).create(bucket, { history: 1, replicas });
      const os = await new Objm(nc).create(bucket, { replicas });
      return new JetStreamCheckpointStorage(kv, os, `nats:${bucket}`);
    } catch (e) {
      throw new EddyError('EDDY_CONFIG', `cannot open checkpoint storage "${name}" on JetStream (bucket ${bucket}): ${(e as Error).message}; the server needs JetStream enabled`, { cause: e });
    }
  }

  private count(checkpointId: number, n: number): void {
    this.bytes.set(checkpointId, (this.bytes.get(checkpointId) ?? 0) + n);
  }

  async writeChunk(id: string, checkpointId: number, parts: ReadonlyMap<number, Uint8Array>): Promise<void> {
    let n = 0;
    for (const b of parts.values()) n += b.length;
    // The object first: an index entry always names an object that exists.
    await this.os.putBlob({ name: objectName('k', id) }, packr.pack(new Map(parts)));
    await this.kv.put(indexKey(id), packr.pack([checkpointId, 'k']));
    this.count(checkpointId, n);
  }

  async *readChunk(id: string, start: number, end: number): AsyncIterable<[number, Uint8Array]> {
    const data = await this.os.getBlob(objectName('k', id));
    if (data === null) return;
    const parts = packr.unpack(data) as Map<number, Uint8Array>;
    const groups = [...parts.keys()].filter((kg) => kg >= start && kg <= end).sort((a, b) => a - b);
    for (const kg of groups) yield [kg, parts.get(kg)!];
  }

  async writeBlob(id: string, checkpointId: number, bytes: Uint8Array): Promise<void> {
    await this.os.putBlob({ name: objectName('b', id) }, bytes);
    await this.kv.put(indexKey(id), packr.pack([checkpointId, 'b']));
    this.count(checkpointId, bytes.length);
  }

  async readBlob(id: string): Promise<Uint8Array> {
    const v = await this.os.getBlob(objectName('b', id));
    if (v === null) throw new EddyError('EDDY_STATE_MISMATCH', `checkpoint storage ${this.location} has no state blob "${id}": the checkpoint is damaged or was pruned`);
    return v;
  }

  private serial<R>(fn: () => Promise<R>): Promise<R> {
    const r = this.ops.then(fn);
    this.ops = r.catch(() => undefined);
    return r;
  }

  private async latestEntry(): Promise<{ id: number | undefined; revision: number }> {
    const e = await this.kv.get('latest');
    const l = live(e);
    return { id: l === undefined ? undefined : (packr.unpack(l.value) as number), revision: e?.revision ?? 0 };
  }

  commit(meta: CheckpointMetadata): Promise<void> {
    return this.serial(async () => {
      await this.kv.put(metaKey(meta.id), packr.pack(meta));
      // Compare-and-set: another writer's newer pointer is never overwritten by an older checkpoint.
      for (;;) {
        const { id, revision } = await this.latestEntry();
        if (id !== undefined && meta.id <= id) return;
        try {
          if (revision === 0) await this.kv.create('latest', packr.pack(meta.id));
          else await this.kv.update('latest', packr.pack(meta.id), revision);
          return;
        } catch (e) {
          // Lost a race with another writer: read the pointer again and decide anew.
          if (!/wrong last sequence|key exists/i.test((e as Error).message)) throw e;
        }
      }
    });
  }

  async latest(): Promise<CheckpointMetadata | undefined> {
    const { id } = await this.latestEntry();
    return id === undefined ? undefined : this.get(id);
  }

  async completed(): Promise<number[]> {
    const ids: number[] = [];
    for await (const k of await this.kv.keys('m.*')) ids.push(Number(k.slice(2)));
    return ids.sort((a, b) => a - b);
  }

  async get(id: number): Promise<CheckpointMetadata | undefined> {
    const e = live(await this.kv.get(metaKey(id)));
    return e === undefined ? undefined : (packr.unpack(e.value) as CheckpointMetadata);
  }

  prune(retain: number, guard?: PruneGuard): Promise<void> {
    return this.serial(async () => {
      const ids = await this.completed();
      if (ids.length === 0) return;
      const latest = (await this.latestEntry()).id ?? ids[ids.length - 1]!;
      const keep = new Set(ids.slice(Math.max(0, ids.length - retain)));
      keep.add(latest);
      const referenced = new Set<string>();
      for (const id of keep) {
        const m = await this.get(id);
        if (m !== undefined) for (const r of referencedIds(m)) referenced.add(r);
      }
      for (const id of ids) if (!keep.has(id)) await this.kv.purge(metaKey(id));
      const indexKeys: string[] = [];
      for await (const k of await this.kv.keys('i.*')) indexKeys.push(k);
      for (const k of indexKeys) {
        const e = live(await this.kv.get(k));
        if (e === undefined) continue;
        const id = Buffer.from(k.slice(2), 'hex').toString('utf8');
        const [writtenBy, kind] = packr.unpack(e.value) as [number, 'k' | 'b'];
        if (referenced.has(id) || writtenBy > latest || isGuarded(guard, id, writtenBy)) continue;
        await this.os.delete(objectName(kind, id)).catch(() => undefined);
        await this.kv.purge(k);
      }
      const oldestKept = Math.min(...keep, guard?.oldestPending ?? Number.POSITIVE_INFINITY);
      for (const id of [...this.bytes.keys()]) if (id < oldestKept) this.bytes.delete(id);
    });
  }

  bytesOf(id: number): number {
    return this.bytes.get(id) ?? 0;
  }

  /** Deletes the KV bucket and the object store: every checkpoint of this storage is gone (a job that ended for good). */
  async destroy(): Promise<void> {
    await this.ops;
    await this.kv.destroy();
    await this.os.destroy();
  }

  /** Waits for commits and prunes under way; the connection belongs to the caller. */
  async close(): Promise<void> {
    await this.ops;
  }
}
