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
 * Storage of checkpoints. Tasks write chunks and blobs while a checkpoint is pending; the
 * coordinator commits the metadata once every task acknowledged. Invariants every implementation
 * keeps (the shared suite checks them):
 * - `commit` is atomic: after a crash either the new checkpoint is the latest, or the old one still is.
 * - `prune(k)` keeps the last k completed checkpoints and everything they reference, and never
 *   deletes chunks of a checkpoint newer than the latest completed one (it may still complete).
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
  /** Makes `meta` a completed checkpoint and the latest one, atomically. */
  commit(meta: CheckpointMetadata): Promise<void>;
  latest(): Promise<CheckpointMetadata | undefined>;
  /** Ids of completed checkpoints that are still retained, ascending. */
  completed(): Promise<number[]>;
  get(id: number): Promise<CheckpointMetadata | undefined>;
  /** Keeps the last `retain` completed checkpoints; deletes unreferenced chunks and blobs at or below the latest id. */
  prune(retain: number): Promise<void>;
  /** Bytes written by chunks and blobs of checkpoint `id` (for metrics). */
  bytesOf(id: number): number;
  close(): Promise<void>;
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
