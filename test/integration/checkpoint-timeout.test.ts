// Checkpoints that keep timing out restart the job's regions (tolerableFailures) instead of letting a stuck job hang.
import { describe, expect, inject, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamEnvironment, generatorSource } from '../../index.ts';

describe('checkpoint failures', () => {
  it('more than tolerableFailures timed-out checkpoints in a row fail the regions, with EDDY_CHECKPOINT_FAILED as the cause', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'eddy-cp-timeout-'));
    try {
      // A 1 ms timeout cannot cover a trigger -> barrier -> ack round trip over NATS: every checkpoint times out.
      const env = StreamEnvironment.create({
        nats: inject('natsUrl'),
        stateDir,
        checkpointing: { intervalMs: 10, timeoutMs: 1, tolerableFailures: 2 },
        restartPolicy: { kind: 'none' },
      });
      env
        .fromSource(generatorSource(Infinity, (i) => ({ k: i % 7, n: 1 }), { ratePerSecond: 5000 }))
        .keyBy((r) => r.k)
        .sum('n')
        .sinkTo({ name: 'discard', createWriter: () => ({ invoke: () => undefined }) });
      const result = await env.execute('cp-timeout').catch((e: { result?: unknown }) => e.result as Awaited<ReturnType<typeof env.execute>>);
      expect(result.status).toBe('failed');
      expect(result.error?.code).toBe('EDDY_CHECKPOINT_FAILED');
      expect(result.error?.message).toMatch(/3 checkpoints in a row .* failed .*timeoutMs/);
      expect(result.checkpoints!.aborted).toBeGreaterThanOrEqual(3);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
