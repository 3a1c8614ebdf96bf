// Restoring one operator from a checkpoint: list state dealing, keyed chunks by key group (rescaling), chains, blobs, mismatches.
import { describe, expect, it } from 'vitest';
import type { OperatorCheckpoint, OperatorStateHandle } from '../../src/checkpoint/checkpoint-storage.ts';
import { MemoryCheckpointStorage } from '../../src/checkpoint/memory-checkpoint-storage.ts';
import { dealList, restoreOperator, stateCodec, type OperatorStateBlob } from '../../src/checkpoint/operator-restore.ts';
import type { StreamNode } from '../../src/graph/stream-graph.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import { ValueStateDescriptor } from '../../src/state/descriptors.ts';
import { keyGroupOf, keyGroupRange } from '../../src/state/key-group.ts';
import type { KeyedStateChanges } from '../../src/state/keyed-state-changes.ts';

const MAXP = 128;
const KEYS = Array.from({ length: 200 }, (_, i) => `key-${i}`);
const node = (keyed: boolean): StreamNode => ({ id: 1, name: 'counter', uid: 'counter-uid', kind: 'operator', parallelism: 1, keyed });
const countDesc = new ValueStateDescriptor<number>('count', 0);

function encode(changes: KeyedStateChanges): Map<number, Uint8Array> {
  const parts = new Map<number, Uint8Array>();
  for (const [kg, c] of changes) parts.set(kg, stateCodec.pack(c));
  return parts;
}

/**
 * Writes what `oldParallelism` subtasks of a keyed counter checkpoint: a full chunk (count = 1 per
 * key), then a delta (keys divisible by 3 count 2, keys divisible by 5 removed), and per subtask a
 * blob with list entries `s:0, s:1`, an operator value and one timer per key of the subtask.
 */
async function writeCheckpoint(storage: MemoryCheckpointStorage, oldParallelism: number, operatorValue: (s: number) => unknown): Promise<OperatorCheckpoint> {
  const subtasks: OperatorStateHandle[] = [];
  for (let s = 0; s < oldParallelism; s++) {
    const range = keyGroupRange(s, oldParallelism, MAXP);
    const mine = KEYS.filter((k) => {
      const g = keyGroupOf(k, MAXP);
      return g >= range.start && g <= range.end;
    });
    const backend = new HeapKeyedStateBackend('counter', MAXP);
    backend.trackChanges();
    const count = backend.getState(countDesc);
    for (const k of mine) {
      backend.setCurrentKey(k);
      count.update(1);
    }
    await storage.writeChunk(`s${s}.c1`, 1, encode(backend.takeFull()));
    for (const k of mine) {
      const i = Number(k.slice(4));
      backend.setCurrentKey(k);
      if (i % 5 === 0) count.clear();
      else if (i % 3 === 0) count.update(2);
    }
    await storage.writeChunk(`s${s}.c2`, 2, encode(backend.takeChanges()));
    const blob: OperatorStateBlob = { list: [`${s}:0`, `${s}:1`], operator: operatorValue(s), timers: { event: mine.map((k) => [k, 1000] as [string, number]), processing: [] } };
    await storage.writeBlob(`s${s}.state`, 2, stateCodec.pack(blob));
    subtasks.push({ keyGroups: [range.start, range.end], chain: [`s${s}.c1`, `s${s}.c2`], state: `s${s}.state` });
  }
  return { name: 'counter', parallelism: oldParallelism, keyed: true, subtasks };
}

function expectedCount(k: string): number | undefined {
  const i = Number(k.slice(4));
  return i % 5 === 0 ? undefined : i % 3 === 0 ? 2 : 1;
}

describe('dealList', () => {
  it('keeps each subtask its own list when the parallelism is unchanged', () => {
    expect(dealList([['a', 'b'], ['c'], undefined], 0, 3, true)).toEqual(['a', 'b']);
    expect(dealList([['a', 'b'], ['c'], undefined], 2, 3, true)).toEqual([]);
  });

  it('deals every old entry round-robin in subtask order when the parallelism changes', () => {
    const lists = [['a', 'b'], undefined, ['c', 'd', 'e']];
    expect(dealList(lists, 0, 2, false)).toEqual(['a', 'c', 'e']);
    expect(dealList(lists, 1, 2, false)).toEqual(['b', 'd']);
    // Scaling out: each entry goes to exactly one new subtask, none is lost or repeated.
    const dealt = [0, 1, 2, 3, 4, 5, 6].map((s) => dealList(lists, s, 7, false));
    expect(dealt.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(dealt.filter((l) => l.length > 1)).toEqual([]);
  });
});

describe('restoreOperator', () => {
  it.each([
    [2, 2],
    [2, 3],
    [3, 1],
  ])('keyed state written at parallelism %i lands on the owners of its key groups at parallelism %i (chains replayed)', async (oldP, newP) => {
    const storage = new MemoryCheckpointStorage();
    const op = await writeCheckpoint(storage, oldP, () => 'same everywhere');
    const seen = new Map<string, number>();
    const lists: unknown[][] = [];
    for (let s = 0; s < newP; s++) {
      const backend = new HeapKeyedStateBackend('counter', MAXP);
      const snap = await restoreOperator(storage, op, node(true), s, newP, MAXP, backend);
      const range = keyGroupRange(s, newP, MAXP);
      for (const k of backend.keys('count')) {
        const g = keyGroupOf(k, MAXP);
        expect(g).toBeGreaterThanOrEqual(range.start);
        expect(g).toBeLessThanOrEqual(range.end);
        backend.setCurrentNormalizedKey(k);
        seen.set(k as string, backend.getState(countDesc).value());
      }
      // The operator learns that keyed state was restored, although it went straight into the backend.
      expect(snap.keyed).toMatchObject({ states: [] });
      // Timers of every old subtask are handed over (the timer service keeps those of its key groups).
      expect(snap.timers!.event).toHaveLength(KEYS.length);
      expect(snap.operator).toBe('same everywhere');
      lists.push(snap.list!);
    }
    const want = new Map(KEYS.filter((k) => expectedCount(k) !== undefined).map((k) => [k, expectedCount(k)!]));
    expect(seen).toEqual(want);
    const allEntries = Array.from({ length: oldP }, (_, s) => [`${s}:0`, `${s}:1`]).flat();
    expect(lists.flat().sort()).toEqual(allEntries.sort());
    if (oldP === newP) expect(lists[1]).toEqual(['1:0', '1:1']);
  });

  it('per-subtask operator state restores at the same parallelism and is refused when it differs across a rescale', async () => {
    const storage = new MemoryCheckpointStorage();
    const op = await writeCheckpoint(storage, 2, (s) => ({ offset: s * 10 }));
    const same = await restoreOperator(storage, op, node(true), 1, 2, MAXP, new HeapKeyedStateBackend('counter', MAXP));
    expect(same.operator).toEqual({ offset: 10 });
    await expect(restoreOperator(storage, op, node(true), 0, 3, MAXP, new HeapKeyedStateBackend('counter', MAXP))).rejects.toMatchObject({
      code: 'EDDY_STATE_MISMATCH',
      operator: 'counter',
    });
  });

  it('keyed state for an operator without a keyed backend is refused with EDDY_STATE_MISMATCH', async () => {
    const storage = new MemoryCheckpointStorage();
    const op = await writeCheckpoint(storage, 1, () => undefined);
    await expect(restoreOperator(storage, op, { ...node(true), keyed: true }, 0, 1, MAXP, undefined)).rejects.toMatchObject({ code: 'EDDY_STATE_MISMATCH', operator: 'counter' });
  });

  it('a handle naming a pruned blob fails with EDDY_STATE_MISMATCH instead of restoring nothing', async () => {
    const storage = new MemoryCheckpointStorage();
    const op: OperatorCheckpoint = { name: 'counter', parallelism: 1, keyed: false, subtasks: [{ keyGroups: [0, 127], chain: [], state: 'gone.state' }] };
    await expect(restoreOperator(storage, op, node(false), 0, 1, MAXP, undefined)).rejects.toMatchObject({ code: 'EDDY_STATE_MISMATCH' });
  });

  it('an operator with only list state restores without a keyed marker', async () => {
    const storage = new MemoryCheckpointStorage();
    await storage.writeBlob('a', 1, stateCodec.pack({ list: [{ next: 0, step: 2 }, { next: 1, step: 2 }] }));
    const op: OperatorCheckpoint = { name: 'src', parallelism: 1, keyed: false, subtasks: [{ keyGroups: [0, 127], chain: [], state: 'a' }] };
    const snap = await restoreOperator(storage, op, node(false), 1, 2, MAXP, undefined);
    expect(snap).toEqual({ list: [{ next: 1, step: 2 }] });
  });
});
