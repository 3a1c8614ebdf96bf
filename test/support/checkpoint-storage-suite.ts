// The shared test suite every CheckpointStorage implementation runs.
import { describe, expect, it } from 'vitest';
import type { CheckpointMetadata, CheckpointStorage } from '../../src/checkpoint/checkpoint-storage.ts';

function meta(id: number, chain: string[], state: string): CheckpointMetadata {
  return {
    id,
    kind: 'checkpoint',
    jobId: 'job',
    jobName: 'suite',
    timestamp: 1000 + id,
    maxParallelism: 128,
    operators: { op: { name: 'op', parallelism: 1, keyed: true, subtasks: [{ keyGroups: [0, 127], chain, state }] } },
  };
}

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

async function parts(s: CheckpointStorage, id: string, start = 0, end = 127): Promise<[number, number[]][]> {
  const out: [number, number[]][] = [];
  for await (const [kg, b] of s.readChunk(id, start, end)) out.push([kg, [...b]]);
  return out;
}

/** Runs the contract tests against storages made by `create` (a fresh, empty one per test). */
export function checkpointStorageSuite(name: string, create: () => Promise<CheckpointStorage>, reopen?: (s: CheckpointStorage) => Promise<CheckpointStorage>): void {
  describe(`CheckpointStorage contract: ${name}`, () => {
    it('reads chunk parts by key-group range, in key-group order', async () => {
      const s = await create();
      await s.writeChunk('c1', 1, new Map([[100, bytes(3)], [2, bytes(1)], [50, bytes(2)]]));
      expect(await parts(s, 'c1')).toEqual([[2, [1]], [50, [2]], [100, [3]]]);
      expect(await parts(s, 'c1', 3, 99)).toEqual([[50, [2]]]);
      expect(await parts(s, 'missing')).toEqual([]);
      expect(s.bytesOf(1)).toBe(3);
      await s.close();
    });

    it('commit makes a checkpoint the latest; metadata reads back equal and detached', async () => {
      const s = await create();
      expect(await s.latest()).toBeUndefined();
      await s.writeBlob('b1', 1, bytes(9));
      await s.commit(meta(1, [], 'b1'));
      await s.commit(meta(2, [], 'b1'));
      const latest = (await s.latest())!;
      expect(latest).toEqual(meta(2, [], 'b1'));
      latest.operators['op']!.name = 'changed';
      expect((await s.get(2))!.operators['op']!.name).toBe('op');
      expect(await s.completed()).toEqual([1, 2]);
      expect([...(await s.readBlob('b1'))]).toEqual([9]);
      await s.close();
    });

    it('a missing blob is EDDY_STATE_MISMATCH, not undefined', async () => {
      const s = await create();
      await expect(s.readBlob('nope')).rejects.toThrow(/EDDY_STATE_MISMATCH/);
      await s.close();
    });

    it('prune keeps the last k checkpoints and what they reference, and chunks of newer pending checkpoints', async () => {
      const s = await create();
      // Chain: c1 (full) <- c2 (delta) <- c3 (delta); c2x belonged to an aborted checkpoint; c9 is pending.
      for (const [id, cp] of [['c1', 1], ['c2', 2], ['c2x', 2], ['c3', 3], ['c9', 9]] as const) await s.writeChunk(id, cp, new Map([[0, bytes(cp)]]));
      for (const [id, cp] of [['s1', 1], ['s2', 2], ['s3', 3], ['s9', 9]] as const) await s.writeBlob(id, cp, bytes(cp));
      await s.commit(meta(1, ['c1'], 's1'));
      await s.commit(meta(2, ['c1', 'c2'], 's2'));
      await s.commit(meta(3, ['c1', 'c2', 'c3'], 's3'));
      await s.prune(1);
      expect(await s.completed()).toEqual([3]);
      expect(await s.get(1)).toBeUndefined();
      for (const id of ['c1', 'c2', 'c3', 'c9']) expect(await parts(s, id)).toHaveLength(1);
      expect(await parts(s, 'c2x')).toEqual([]);
      await expect(s.readBlob('s1')).rejects.toThrow(/EDDY_STATE_MISMATCH/);
      expect([...(await s.readBlob('s3'))]).toEqual([3]);
      expect([...(await s.readBlob('s9'))]).toEqual([9]);
      await s.close();
    });

    it('latest never moves backwards: an older checkpoint committed after a newer one is recorded, not made the latest', async () => {
      const s = await create();
      await s.writeBlob('b', 1, bytes(1));
      await s.commit(meta(3, [], 'b'));
      await s.commit(meta(2, [], 'b'));
      expect((await s.latest())!.id).toBe(3);
      expect(await s.completed()).toEqual([2, 3]);
      expect((await s.get(2))!.id).toBe(2);
      // Concurrent commits (maxConcurrent > 1), the older one issued last.
      await Promise.all([s.commit(meta(5, [], 'b')), s.commit(meta(4, [], 'b'))]);
      expect((await s.latest())!.id).toBe(5);
      // Pruning keeps the latest, whatever order the commits came in.
      await s.prune(1);
      expect(await s.completed()).toEqual([5]);
      expect((await s.latest())!.id).toBe(5);
      await s.close();
    });

    it('prune keeps what a checkpoint older than the latest, still pending, wrote or refers to; a later prune frees it', async () => {
      const s = await create();
      // Checkpoint 1: full chunk c1. Checkpoint 2 (pending, maxConcurrent 2) appends c2 to c1's chain.
      // Checkpoint 3 completes first with a full chunk c3.
      for (const [id, cp] of [['c1', 1], ['c2', 2], ['c3', 3]] as const) await s.writeChunk(id, cp, new Map([[0, bytes(cp)]]));
      for (const [id, cp] of [['s1', 1], ['s2', 2], ['s3', 3]] as const) await s.writeBlob(id, cp, bytes(cp));
      await s.commit(meta(1, ['c1'], 's1'));
      await s.commit(meta(3, ['c3'], 's3'));
      // What the coordinator knows of checkpoint 2 so far: its id, and the ack that refers to c1.
      await s.prune(1, { oldestPending: 2, referenced: new Set(['c1']) });
      expect(await s.completed()).toEqual([3]);
      for (const id of ['c1', 'c2', 'c3']) expect(await parts(s, id)).toHaveLength(1);
      expect([...(await s.readBlob('s2'))]).toEqual([2]);
      await expect(s.readBlob('s1')).rejects.toThrow(/EDDY_STATE_MISMATCH/);
      // Checkpoint 2 commits late: complete and readable, but checkpoint 3 stays the latest.
      await s.commit(meta(2, ['c1', 'c2'], 's2'));
      expect((await s.latest())!.id).toBe(3);
      expect(await parts(s, 'c1')).toHaveLength(1);
      // Nothing pending any more: checkpoint 2 is older than the retained one and goes.
      await s.prune(1);
      expect(await s.completed()).toEqual([3]);
      for (const id of ['c1', 'c2']) expect(await parts(s, id)).toEqual([]);
      await expect(s.readBlob('s2')).rejects.toThrow(/EDDY_STATE_MISMATCH/);
      expect([...(await s.readBlob('s3'))]).toEqual([3]);
      await s.close();
    });

    if (reopen !== undefined)
      it('a completed checkpoint survives close and reopen; a later uncommitted one leaves it the latest', async () => {
        let s = await create();
        await s.writeChunk('c1', 1, new Map([[7, bytes(1, 2)]]));
        await s.writeBlob('s1', 1, bytes(1));
        await s.commit(meta(1, ['c1'], 's1'));
        await s.writeChunk('c2', 2, new Map([[7, bytes(5)]]));
        s = await reopen(s);
        expect((await s.latest())!.id).toBe(1);
        expect(await parts(s, 'c1')).toEqual([[7, [1, 2]]]);
        await s.close();
      });
  });
}
