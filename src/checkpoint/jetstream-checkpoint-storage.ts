// Checkpoint storage every machine on the NATS cluster can reach: chunks and blobs in a JetStream Object Store, metadata and the `latest` pointer in JetStream KV (compare-and-set).
import { createHash } from 'node:crypto';
import { jetstreamManager, type JetStreamManager, type MsgRequest } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { EddyError } from '../errors.ts';
import { systemClock, type Clock } from '../time/clock.ts';
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
  /** Times the retries of reads (default: the system clock). */
  clock?: Clock;
}

/** How long a read is tried again: a JetStream stream of a cluster that lost its leader elects another within seconds. */
const READ_RETRY_MS = 15_000;

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
 * The bytes of object `name` in object store `bucket` (null when there is none), its chunks read one
 * by one with JetStream's message get, which the stream's leader answers. Not `ObjectStore.getBlob`:
 * that reads through an ephemeral consumer, which nats-server (until nats-io/nats-server#7165, 2025)
 * may place on an offline server of an R3 stream: while one server of three is down, about a third
 * of such reads time out, and a restore reading several objects keeps failing.
 */
export async function readObjectStoreBlob(jsm: JetStreamManager, os: ObjectStore, bucket: string, name: string, where: string): Promise<Uint8Array | null> {
  const info = await os.info(name);
  if (info === null || info.deleted) return null;
  const out = new Uint8Array(info.size);
  const sha = createHash('sha256');
  const subject = `$O.${bucket}.C.${info.nuid}`;
  let at = 0;
  let seq = 0;
  for (let n = 0; n < info.chunks; n++) {
    // next_by_subj: the first chunk at or after `seq` (the client's MsgRequest type lacks it; the server has it since 2.9).
    const m = await jsm.streams.getMessage(`OBJ_${bucket}`, { next_by_subj: subject, seq: seq + 1 } as unknown as MsgRequest);
    if (m === null || at + m.data.length > out.length) break;
    out.set(m.data, at);
    sha.update(m.data);
    at += m.data.length;
    seq = m.seq;
  }
  const digest = info.digest.startsWith('SHA-256=') ? Buffer.from(info.digest.slice(8), 'base64') : undefined;
  if (at !== out.length || digest === undefined || !sha.digest().equals(digest))
    throw new EddyError('EDDY_STATE_MISMATCH', `${where}: object "${name}" is incomplete or corrupt (read ${at} of ${out.length} bytes)`);
  return out;
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
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    readonly location: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Runs the read `fn`, trying again for up to 15 s while it fails: on a cluster, a stream whose
   * leader was on a server that died answers nothing (a timeout, "no responders") until it elected
   * another, and a restart that reads `latest` then must not fail the job. A missing bucket or a
   * damaged object fails at once.
   */
  private async read<R>(fn: () => Promise<R>): Promise<R> {
    const deadline = this.clock.monotonic() + READ_RETRY_MS;
    for (let delay = 100; ; delay = Math.min(2 * delay, 2_000)) {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof EddyError || /not found/i.test(String((e as Error)?.message)) || this.clock.monotonic() + delay > deadline) throw e;
        await this.clock.sleep(delay);
      }
    }
  }

  /** Opens (creating when missing) the KV bucket and object store of storage `name`. */
  static async open(nc: NatsConnection, name: string, options: JetStreamCheckpointStorageOptions = {}): Promise<JetStreamCheckpointStorage> {
    if (typeof name !== 'string' || name.length === 0) throw new EddyError('EDDY_INVALID_ARGUMENT', `JetStreamCheckpointStorage needs a non-empty name, got ${JSON.stringify(name)}`);
    const bucket = checkpointBucket(name);
    const replicas = options.replicas ?? defaultReplicas(nc);
    try {
      // No direct get: a lagging replica may answer that, and a restart that read an older `latest`
      // would replay records whose newer checkpoint's transactions were already committed. The
      // stream's leader answers what the last commit stored.
      const kv = await new Kvm(nc).create(bucket, { history: 1, replicas, allow_direct: false });
      const os = await new Objm(nc).create(bucket, { replicas });
      return new JetStreamCheckpointStorage(kv, os, await jetstreamManager(nc), bucket, `nats:${bucket}`, options.clock ?? systemClock);
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

  private readObject(name: string): Promise<Uint8Array | null> {
    return this.read(() => readObjectStoreBlob(this.jsm, this.os, this.bucket, name, this.location));
  }

  async *readChunk(id: string, start: number, end: number): AsyncIterable<[number, Uint8Array]> {
    const data = await this.readObject(objectName('k', id));
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
    const v = await this.readObject(objectName('b', id));
    if (v === null) throw new EddyError('EDDY_STATE_MISMATCH', `checkpoint storage ${this.location} has no state blob "${id}": the checkpoint is damaged or was pruned`);
    return v;
  }

  private serial<R>(fn: () => Promise<R>): Promise<R> {
    const r = this.ops.then(fn);
    this.ops = r.catch(() => undefined);
    return r;
  }

  private async latestEntry(): Promise<{ id: number | undefined; revision: number }> {
    const e = await this.read(() => this.kv.get('latest'));
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

  /**
   * The keys `<prefix>.*` of the KV bucket, from the subjects its stream holds (the stream's leader
   * answers). Not `kv.keys`: that lists through an ephemeral consumer (see readObjectStoreBlob), and
   * a prune stalled on one would hold up every checkpoint after it. Keys go with {@link removeKey},
   * which leaves no delete marker, so every subject listed is a live key.
   */
  private async keys(prefix: 'm' | 'i'): Promise<string[]> {
    const head = `$KV.${this.bucket}.`;
    const si = await this.read(() => this.jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${head}${prefix}.*` }));
    return Object.keys(si.state.subjects ?? {}).map((subject) => subject.slice(head.length));
  }

  /** Removes `key` with every message it had (a stream purge by subject: no marker is left behind). */
  private async removeKey(key: string): Promise<void> {
    await this.jsm.streams.purge(`KV_${this.bucket}`, { filter: `$KV.${this.bucket}.${key}` });
  }

  async completed(): Promise<number[]> {
    return (await this.keys('m')).map((k) => Number(k.slice(2))).sort((a, b) => a - b);
  }

  async get(id: number): Promise<CheckpointMetadata | undefined> {
    const e = live(await this.read(() => this.kv.get(metaKey(id))));
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
      for (const id of ids) if (!keep.has(id)) await this.removeKey(metaKey(id));
      for (const k of await this.keys('i')) {
        const e = live(await this.kv.get(k));
        if (e === undefined) continue;
        const id = Buffer.from(k.slice(2), 'hex').toString('utf8');
        const [writtenBy, kind] = packr.unpack(e.value) as [number, 'k' | 'b'];
        if (referenced.has(id) || writtenBy > latest || isGuarded(guard, id, writtenBy)) continue;
        await this.os.delete(objectName(kind, id)).catch(() => undefined);
        await this.removeKey(k);
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
