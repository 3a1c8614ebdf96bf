// Runs the CheckpointStorage contract suite against the JetStream storage (KV + Object Store) on the test suite's real nats-server.
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { checkpointBucket, JetStreamCheckpointStorage } from '../../src/checkpoint/jetstream-checkpoint-storage.ts';
import { connectNats } from '../../src/transport/connect-nats.ts';
import { checkpointStorageSuite } from '../support/checkpoint-storage-suite.ts';

const natsUrl = inject('natsUrl');
let nc: NatsConnection | undefined;
const connection = async (): Promise<NatsConnection> => (nc ??= await connectNats(natsUrl));
afterAll(async () => {
  await nc?.close();
});
let n = 0;
const names = new Map<JetStreamCheckpointStorage, string>();

checkpointStorageSuite(
  'JetStream',
  async () => {
    const name = `suite-${process.pid}-${n++}`;
    const s = await JetStreamCheckpointStorage.open(await connection(), name);
    names.set(s, name);
    return s;
  },
  async (s) => {
    await s.close();
    return JetStreamCheckpointStorage.open(await connection(), names.get(s as JetStreamCheckpointStorage)!);
  },
);

describe('JetStreamCheckpointStorage', () => {
  it('a storage opened by another connection (another process) sees the same checkpoints; bucket names are valid and distinct', async () => {
    const name = `shared ${process.pid}/job.1`;
    const a = await JetStreamCheckpointStorage.open(await connection(), name);
    await a.writeBlob('s', 1, new Uint8Array([4]));
    await a.commit({ id: 1, kind: 'checkpoint', jobId: 'j', jobName: 'shared', timestamp: 1, maxParallelism: 128, operators: {} });
    const other = await connectNats(natsUrl);
    try {
      const b = await JetStreamCheckpointStorage.open(other, name);
      expect((await b.latest())?.id).toBe(1);
      expect([...(await b.readBlob('s'))]).toEqual([4]);
    } finally {
      await other.close();
    }
    expect(checkpointBucket(name)).toMatch(/^[-\w]+$/);
    expect(checkpointBucket('a.b')).not.toBe(checkpointBucket('a_b'));
  });

  it('two writers (a job master and its standby, on their own connections) committing at once never move latest backwards', async () => {
    const name = `cas-${process.pid}`;
    const meta = (id: number) => ({ id, kind: 'checkpoint' as const, jobId: 'j', jobName: 'cas', timestamp: id, maxParallelism: 128, operators: {} });
    const other = await connectNats(natsUrl);
    try {
      const a = await JetStreamCheckpointStorage.open(await connection(), name);
      const b = await JetStreamCheckpointStorage.open(other, name);
      for (let k = 1; k <= 10; k++) {
        // The newer checkpoint from one writer, an older one from the other, racing on the pointer.
        await Promise.all([a.commit(meta(2 * k + 1)), b.commit(meta(2 * k))]);
        expect((await a.latest())?.id).toBe(2 * k + 1);
        expect((await b.latest())?.id).toBe(2 * k + 1);
      }
      expect(await a.completed()).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    } finally {
      await other.close();
    }
  });
});
