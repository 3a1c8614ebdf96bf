// A task's part of a checkpoint: capture state at the barrier (synchronously), write it, and produce the handles the ack carries.
import type { CheckpointKind, CheckpointStorage, OperatorStateHandle } from '../src/checkpoint/checkpoint-storage.ts';
import { stateCodec, type OperatorStateBlob } from '../src/checkpoint/operator-restore.ts';
import type { SourceReader } from '../src/connectors/source.ts';
import type { StreamNode } from '../src/graph/stream-graph.ts';
import type { StreamOperator } from '../src/operators/operator.ts';
import type { IncrementalKeyedState, KeyedStateChanges } from '../src/state/keyed-state-changes.ts';
import { keyGroupRange } from '../src/state/key-group.ts';

export interface TaskCheckpointerOptions {
  /** Makes chunk ids unique per task attempt: an aborted attempt's chunks never collide with a later one's. */
  idPrefix: string;
  subtask: number;
  parallelism: number;
  maxParallelism: number;
  compactEvery: number;
  storageFor(checkpointId: number): CheckpointStorage;
}

/** One chain member as the checkpointer sees it. */
export interface CheckpointedNode {
  node: StreamNode;
  operator: StreamOperator<unknown, unknown> | undefined;
  reader: SourceReader<unknown> | undefined;
  backend: IncrementalKeyedState | undefined;
}

function encodeChanges(changes: KeyedStateChanges): Map<number, Uint8Array> {
  const parts = new Map<number, Uint8Array>();
  for (const [kg, c] of changes) parts.set(kg, stateCodec.pack(c));
  return parts;
}

/**
 * Keyed state is written incrementally: each chain member keeps the chunk chain of its last
 * snapshot; a checkpoint appends the changes since then, and every `compactEvery` chunks (and
 * always after a restart or a savepoint) it writes a full snapshot that starts a new chain, so a
 * restore never replays an endless chain. The chain advances at the barrier even if the
 * checkpoint is later aborted: the next one then references the aborted one's chunk, which the
 * storage keeps because it is referenced.
 */
export class TaskCheckpointer {
  private readonly chains = new Map<number, string[]>();
  private forceFull = true;
  /** Writes of consecutive checkpoints complete in order, so an ack never refers to an unwritten chunk. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly o: TaskCheckpointerOptions,
    private readonly nodes: readonly CheckpointedNode[],
  ) {}

  /**
   * Captures every member's state now (the caller processes no record until this returns) and
   * resolves with the handles once the state is written.
   */
  snapshot(checkpointId: number, kind: CheckpointKind): Promise<Record<string, OperatorStateHandle>> {
    const { o } = this;
    const storage = o.storageFor(checkpointId);
    const savepoint = kind === 'savepoint';
    const captured: { node: StreamNode; full: boolean; parts: Map<number, Uint8Array> | Promise<Map<number, Uint8Array>> | undefined; blob: Uint8Array | undefined }[] = [];
    for (const m of this.nodes) {
      const blob: OperatorStateBlob = {};
      if (m.reader !== undefined) {
        const splits = m.reader.snapshotState?.();
        if (splits !== undefined) blob.list = splits;
      }
      if (m.operator !== undefined) {
        const s = m.operator.snapshotState(checkpointId);
        if (s.timers !== undefined) blob.timers = s.timers;
        if (s.operator !== undefined) blob.operator = s.operator;
        if (s.list !== undefined) blob.list = s.list;
      }
      const chain = this.chains.get(m.node.id) ?? [];
      const full = savepoint || this.forceFull || chain.length >= o.compactEvery;
      let parts: (typeof captured)[number]['parts'];
      if (m.backend !== undefined) {
        const changes = full ? m.backend.takeFull() : m.backend.takeChanges();
        parts = changes instanceof Promise ? changes.then(encodeChanges) : encodeChanges(changes);
      }
      const empty = blob.list === undefined && blob.timers === undefined && blob.operator === undefined;
      captured.push({ node: m.node, full, parts, blob: empty ? undefined : stateCodec.pack(blob) });
    }
    // A savepoint's full snapshot reset change tracking, so the next checkpoint must be full too.
    this.forceFull = savepoint;
    const range = keyGroupRange(o.subtask, o.parallelism, o.maxParallelism);
    const handles: Record<string, OperatorStateHandle> = {};
    const writes: Promise<void>[] = [];
    for (const c of captured) {
      const id = `${o.idPrefix}.n${c.node.id}.c${checkpointId}`;
      let chain: string[] = [];
      if (c.parts !== undefined) {
        const previous = this.chains.get(c.node.id) ?? [];
        chain = c.full ? [id] : [...previous, id];
        if (!savepoint) this.chains.set(c.node.id, chain);
        const parts = c.parts;
        writes.push(Promise.resolve(parts).then((p) => storage.writeChunk(id, checkpointId, p)));
      }
      let state = '';
      if (c.blob !== undefined) {
        state = `${id}.state`;
        writes.push(storage.writeBlob(state, checkpointId, c.blob));
      }
      handles[c.node.uid] = { keyGroups: [range.start, range.end], chain, state };
    }
    const done = this.writing.then(() => Promise.all(writes)).then(() => handles);
    this.writing = done.catch(() => undefined);
    return done;
  }
}
