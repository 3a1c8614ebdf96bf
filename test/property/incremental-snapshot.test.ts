// Incremental keyed snapshots: a chain full + takes, replayed with applyChanges, rebuilds the state on either backend.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import { LevelKeyedStateBackend } from '../../src/state/level-keyed-state-backend.ts';
import { checkIncrementalReplay, incrementalCmds, keyGroupSubRange, type BackendUnderTest } from '../support/keyed-state-backend-suite.ts';

const root = await mkdtemp(join(tmpdir(), 'eddy-incremental-'));
let n = 0;
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Backend factories that remember what they opened, so each run closes its LevelDB instances. */
function factories(cacheSize: number) {
  const open: BackendUnderTest[] = [];
  const heap = async (): Promise<BackendUnderTest> => new HeapKeyedStateBackend('Op', 128);
  const level = async (): Promise<BackendUnderTest> => {
    const b = await LevelKeyedStateBackend.open({ path: join(root, `db-${n++}`), operatorName: 'Op', maxParallelism: 128, cacheSize });
    open.push(b);
    return b;
  };
  const destroyAll = async () => {
    for (const b of open.splice(0)) await (b as LevelKeyedStateBackend).destroy();
  };
  return { heap, level, destroyAll };
}

describe('incremental keyed snapshots (property)', () => {
  it('heap: longer histories, many runs', async () => {
    const { heap } = factories(1);
    await fc.assert(
      fc.asyncProperty(incrementalCmds(30), incrementalCmds(300), keyGroupSubRange, (before, cmds, range) =>
        checkIncrementalReplay(heap, heap, before, cmds, range),
      ),
      { numRuns: 150 },
    );
  });

  it('heap: whole-table deltas (every take after most keys changed writes all entries), many runs', async () => {
    const whole = async (): Promise<BackendUnderTest> => new HeapKeyedStateBackend('Op', 128, { wholeTableDeltaMinKeys: 1 });
    await fc.assert(
      fc.asyncProperty(incrementalCmds(30), incrementalCmds(300), keyGroupSubRange, (before, cmds, range) => checkIncrementalReplay(whole, whole, before, cmds, range)),
      { numRuns: 150 },
    );
  });

  // A small write cache flushes on nearly every write, so takes read through batches in flight and getSync.
  for (const [from, to] of [['level', 'heap'], ['heap', 'level'], ['level', 'level']] as const)
    it(`${from} chain replayed into ${to} (any cache size)`, async () => {
      await fc.assert(
        fc.asyncProperty(incrementalCmds(15), incrementalCmds(120), keyGroupSubRange, fc.integer({ min: 1, max: 8 }), async (before, cmds, range, cacheSize) => {
          const f = factories(cacheSize);
          try {
            await checkIncrementalReplay(f[from], f[to], before, cmds, range);
          } finally {
            await f.destroyAll();
          }
        }),
        { numRuns: 30 },
      );
    });
});
