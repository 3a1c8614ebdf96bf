// The state backend registry (src/state/state-backends.ts): the names the config accepts, and the factories tasks use.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValueStateDescriptor } from '../../src/state/descriptors.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap-keyed-state-backend.ts';
import { LevelKeyedStateBackend } from '../../src/state/level-keyed-state-backend.ts';
import {
  DEFAULT_STATE_BACKEND,
  isStateBackendName,
  jobStateDir,
  STATE_BACKEND_NAMES,
  stateBackendFactory,
  type StateBackendContext,
} from '../../src/state/state-backends.ts';
import { ManualClock } from '../../src/time/clock.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'eddy-state-backends-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const context = (instance: string): StateBackendContext => ({
  operatorName: 'op',
  maxParallelism: 128,
  clock: new ManualClock(0),
  stateDir,
  jobId: 'job-1',
  instance,
});

describe('state backend registry', () => {
  it('knows heap (the default) and level', () => {
    expect(STATE_BACKEND_NAMES).toEqual(['heap', 'level']);
    expect(DEFAULT_STATE_BACKEND).toBe('heap');
    expect(isStateBackendName('heap')).toBe(true);
    expect(isStateBackendName('level')).toBe(true);
    for (const other of ['rocks', 'toString', '__proto__', '', undefined, 1]) expect(isStateBackendName(other)).toBe(false);
  });

  it('heap: in memory, nothing to delete', async () => {
    const factory = stateBackendFactory('heap');
    expect(factory.onDisk).toBe(false);
    const backend = await factory.create(context('v0-s0-n0-a0'));
    expect(backend).toBeInstanceOf(HeapKeyedStateBackend);
    expect(backend.destroy).toBeUndefined();
  });

  it('level: one database per instance under <stateDir>/jobs/<jobId>, deleted by destroy()', async () => {
    const factory = stateBackendFactory('level');
    expect(factory.onDisk).toBe(true);
    const backend = await factory.create(context('v1-s0-n2-a0'));
    expect(backend).toBeInstanceOf(LevelKeyedStateBackend);
    const path = join(jobStateDir(stateDir, 'job-1'), 'v1-s0-n2-a0');
    expect(existsSync(path)).toBe(true);
    const n = backend.getState(new ValueStateDescriptor('n', 0));
    backend.setCurrentKey('a');
    n.update(41);
    expect(n.value()).toBe(41);
    await backend.destroy!();
    expect(existsSync(path)).toBe(false);
  });
});
