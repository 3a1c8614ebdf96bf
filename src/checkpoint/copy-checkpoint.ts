// Copies a completed checkpoint between storages (a savepoint directory into JetStream for workers, a savepoint taken on workers out to its directory).
import type { CheckpointMetadata, CheckpointStorage } from './checkpoint-storage.ts';

/**
 * Copies every chunk and blob `meta` refers to from `from` to `to`, then commits `meta` there
 * (last, as every commit: an interrupted copy leaves no checkpoint behind).
 *
 * @example
 * ```ts
 * await copyCheckpoint(savepointDir, jetStreamStorage, (await savepointDir.latest())!);
 * ```
 */
export async function copyCheckpoint(from: CheckpointStorage, to: CheckpointStorage, meta: CheckpointMetadata): Promise<void> {
  const chunks = new Set<string>();
  const blobs = new Set<string>();
  for (const op of Object.values(meta.operators))
    for (const h of op.subtasks) {
      for (const c of h.chain) chunks.add(c);
      // '': the subtask wrote no state blob.
      if (h.state !== '') blobs.add(h.state);
    }
  for (const id of chunks) {
    const parts = new Map<number, Uint8Array>();
    for await (const [kg, bytes] of from.readChunk(id, 0, meta.maxParallelism - 1)) parts.set(kg, bytes);
    await to.writeChunk(id, meta.id, parts);
  }
  for (const id of blobs) await to.writeBlob(id, meta.id, await from.readBlob(id));
  await to.commit(meta);
}

/**
 * The storage of a savepoint whose tasks write to `shared` (they run on workers, which reach only
 * JetStream): reads and writes go to `shared`; committing copies the savepoint out to `target`
 * (its directory) and commits it there. Closing closes `target` only.
 */
export function exportingStorage(shared: CheckpointStorage, target: CheckpointStorage): CheckpointStorage {
  return {
    location: target.location,
    writeChunk: (id, cp, parts) => shared.writeChunk(id, cp, parts),
    readChunk: (id, s, e) => shared.readChunk(id, s, e),
    writeBlob: (id, cp, b) => shared.writeBlob(id, cp, b),
    readBlob: (id) => shared.readBlob(id),
    commit: (meta) => copyCheckpoint(shared, target, meta),
    latest: () => target.latest(),
    completed: () => target.completed(),
    get: (id) => target.get(id),
    prune: (retain, guard) => target.prune(retain, guard),
    bytesOf: (id) => target.bytesOf(id),
    close: () => target.close(),
  };
}
