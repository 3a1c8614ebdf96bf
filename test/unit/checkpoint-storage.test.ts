// Runs the CheckpointStorage contract suite for the LevelDB and in-memory storages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { LevelCheckpointStorage } from '../../src/checkpoint/level-checkpoint-storage.ts';
import { MemoryCheckpointStorage } from '../../src/checkpoint/memory-checkpoint-storage.ts';
import { checkpointStorageSuite } from '../support/checkpoint-storage-suite.ts';

const root = mkdtempSync(join(tmpdir(), 'eddy-cp-storage-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

checkpointStorageSuite(
  'LevelDB',
  () => LevelCheckpointStorage.open(join(root, `s${n++}`)),
  async (s) => {
    await s.close();
    return LevelCheckpointStorage.open(s.location);
  },
);
checkpointStorageSuite('memory', async () => new MemoryCheckpointStorage());
