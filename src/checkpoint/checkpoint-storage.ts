// Where checkpoints live: the metadata of completed checkpoints and the state chunks tasks write.

/** Why a snapshot was taken: a periodic checkpoint, a savepoint, or the final one at the end of bounded input. */
export type CheckpointKind = 'checkpoint' | 'savepoint' | 'final';

/**
 * The state of one operator in one subtask at a checkpoint. Keyed state is a chain of chunks:
 * the first is a full snapshot, each later one holds what changed since the one before (an
 * incremental checkpoint writes one chunk). `state` names a blob with timers, operator state and
 * list state.
 */
export interface OperatorStateHandle {
  /** Key groups the subtask owned, inclusive. */
  keyGroups: [number, number];
  /** Chunk ids of keyed state, oldest (full) first; empty for operators without keyed state. */
  chain: string[];
  /** Blob id of `{ timers, operator, list }`. */
  state: string;
}

/** One operator of the job in a completed checkpoint, matched on restore by `uid`. */
export interface OperatorCheckpoint {
  name: string;
  parallelism: number;
  keyed: boolean;
  /** Indexed by subtask. */
  subtasks: OperatorStateHandle[];
  /** The operator's state schema when written (StreamNode.stateSchema), e.g. an actor's machine version. */
  schema?: unknown;
}

/** What a completed checkpoint records; written atomically, last. */
export interface CheckpointMetadata {
  id: number;
  kind: CheckpointKind;
  jobId: string;
  jobName: string;
  /** Wall-clock time the checkpoint was triggered (ms since the epoch). */
  timestamp: number;
  maxParallelism: number;
  operators: Record<string, OperatorCheckpoint>;
}

/**
 * What checkpoints that may still complete need, as the coordinator knows it when it prunes.
 * With `maxConcurrent > 1` a checkpoint older than the latest completed one can still be pending
 * or committing its metadata.
 */
export interface PruneGuard {
  /** The oldest checkpoint still pending: nothing written by it or by a newer one is deleted. */
  oldestPending?: number;
  /** Chunks and blobs the pending checkpoints' acks so far refer to: never deleted. */
  referenced?: ReadonlySet<string>;
}

/**
 * Storage of checkpoints. Tasks write chunks and blobs while a checkpoint is pending; the
 * coordinator commits the metadata once every task acknowledged. Invariants every implementation
 * keeps (the shared suite checks them):
 * - `commit` is atomic: after a crash either the new checkpoint is the latest, or the old one still is.
 * - `latest` never moves backwards: committing a checkpoint older than the latest (one that was
 *   still committing when a newer one completed) records it but leaves `latest` alone.
 * - `prune(k, guard)` keeps the last k completed checkpoints, always the latest one, and
 *   everything they reference; it never deletes chunks of a checkpoint newer than the latest
 *   completed one (it may still complete) nor what `guard` protects.
 * - Nothing a pending or failed checkpoint writes can damage a completed one.
 */
export interface CheckpointStorage {
  /** A path or name shown in messages. */
  readonly location: string;
  /** Stores keyed-state chunk `id`: one encoded part per key group. `checkpointId` is the checkpoint that wrote it. */
  writeChunk(id: string, checkpointId: number, parts: ReadonlyMap<number, Uint8Array>): Promise<void>;
  /** The parts of chunk `id` whose key group lies in [start, end], in key-group order. */
  readChunk(id: string, start: number, end: number): AsyncIterable<[number, Uint8Array]>;
  writeBlob(id: string, checkpointId: number, bytes: Uint8Array): Promise<void>;
  readBlob(id: string): Promise<Uint8Array>;
  /** Makes `meta` a completed checkpoint, and the latest one unless a newer one already is, atomically. */
  commit(meta: CheckpointMetadata): Promise<void>;
  latest(): Promise<CheckpointMetadata | undefined>;
  /** Ids of completed checkpoints that are still retained, ascending. */
  completed(): Promise<number[]>;
  get(id: number): Promise<CheckpointMetadata | undefined>;
  /**
   * Keeps the last `retain` completed checkpoints (and the latest); deletes unreferenced chunks and
   * blobs at or below the latest id, except what `guard` protects.
   */
  prune(retain: number, guard?: PruneGuard): Promise<void>;
  /** Bytes written by chunks and blobs of checkpoint `id` (for metrics). */
  bytesOf(id: number): number;
  close(): Promise<void>;
}

/** True when `guard` protects chunk or blob `id`, written by checkpoint `writtenBy`. */
export function isGuarded(guard: PruneGuard | undefined, id: string, writtenBy: number): boolean {
  if (guard === undefined) return false;
  return (guard.oldestPending !== undefined && writtenBy >= guard.oldestPending) || guard.referenced?.has(id) === true;
}

/** Every chunk and blob a checkpoint refers to. */
export function referencedIds(meta: CheckpointMetadata): Set<string> {
  const ids = new Set<string>();
  for (const op of Object.values(meta.operators))
    for (const h of op.subtasks) {
      for (const c of h.chain) ids.add(c);
      ids.add(h.state);
    }
  return ids;
}
