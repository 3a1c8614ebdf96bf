// Incremental chains around a savepoint: the savepoint is full and written to its own storage, and never becomes the base of the next checkpoint's chain.
import { describe, expect, it } from 'vitest';
import { TaskCheckpointer } from '../../actors/task-checkpointer.ts';
import type { CheckpointKind } from '../../src/checkpoint/checkpoint-storage.ts';
import { MemoryCheckpointStorage } from '../../src/checkpoint/memory-checkpoint-storage.ts';
import type { StreamNode } from '../../src/graph/stream-graph.ts';
import type { IncrementalKeyedState, KeyedStateChanges } from '../../src/state/keyed-state-changes.ts';

/** A keyed state that reports which take the checkpointer asked for (one changed key group each time). */
function recordingState(takes: string[]): IncrementalKeyedState {
  const changes = (what: string): KeyedStateChanges => new Map([[0, { states: [{ name: 's', kind: 'value', put: [[what, 1]], del: [] }] }]]);
  return {
    trackChanges: () => undefined,
    takeChanges: () => (takes.push('delta'), changes('delta')),
    takeFull: () => (takes.push('full'), changes('full')),
    applyChanges: () => undefined,
  };
}

describe('TaskCheckpointer', () => {
  it('a savepoint between checkpoints: full, in its own storage, and the next checkpoint starts a new chain in the job storage', async () => {
    const storage = new MemoryCheckpointStorage();
    const savepoint = new MemoryCheckpointStorage();
    const takes: string[] = [];
    const node = { id: 3, uid: 'counts', name: 'counts' } as StreamNode;
    const cp = new TaskCheckpointer(
      { idPrefix: 't', subtask: 0, parallelism: 1, maxParallelism: 128, compactEvery: 8, storageFor: (id) => (id === 3 ? savepoint : storage) },
      [{ node, operator: undefined, reader: undefined, backend: recordingState(takes) }],
    );
    const chain = async (id: number, kind: CheckpointKind): Promise<string[]> => (await cp.snapshot(id, kind))['counts']!.chain;
    expect(await chain(1, 'checkpoint')).toEqual(['t.n3.c1']);
    expect(await chain(2, 'checkpoint')).toEqual(['t.n3.c1', 't.n3.c2']);
    expect(await chain(3, 'savepoint')).toEqual(['t.n3.c3']);
    // The savepoint took everything (and reset change tracking): the next checkpoint must be full
    // and must not refer to a chunk that lives only in the savepoint's storage.
    expect(await chain(4, 'checkpoint')).toEqual(['t.n3.c4']);
    expect(await chain(5, 'checkpoint')).toEqual(['t.n3.c4', 't.n3.c5']);
    expect(takes).toEqual(['full', 'delta', 'full', 'full', 'delta']);
    const has = async (s: MemoryCheckpointStorage, id: string): Promise<boolean> => {
      for await (const _ of s.readChunk(id, 0, 127)) return true;
      return false;
    };
    expect(await has(savepoint, 't.n3.c3')).toBe(true);
    for (const id of ['t.n3.c1', 't.n3.c2', 't.n3.c4', 't.n3.c5']) expect(await has(storage, id)).toBe(true);
    expect(await has(storage, 't.n3.c3')).toBe(false);
  });
});
