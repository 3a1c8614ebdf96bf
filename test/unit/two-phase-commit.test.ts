// The two-phase commit writer: a transaction stays in the state until committed, commits run in order and retry with backoff on the operator clock, then fail with EDDY_SINK_COMMIT_FAILED.
import { describe, expect, it } from 'vitest';
import type { RuntimeContext } from '../../src/functions/functions.ts';
import { twoPhaseCommitWriter, type CommitRetryOptions, type SinkTransaction } from '../../src/connectors/two-phase-commit.ts';
import { EddyError, isEddyError } from '../../src/errors.ts';
import type { OperatorContext } from '../../src/operators/operator.ts';
import type { SinkWriter } from '../../src/operators/sink-operator.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { operatorContext } from '../support/operator-context.ts';

function context(clock: ManualClock, failed: unknown[] = []): OperatorContext {
  return operatorContext({ operatorName: 'Txn Sink', uid: 'txn-sink', clock, failTask: (e) => void failed.push(e), checkpointing: true });
}

/** Lets every promise callback that is ready run (the writer's commit loop is promise-driven). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

interface Harness {
  clock: ManualClock;
  writer: SinkWriter<string>;
  /** `<txn id>@<clock time>` per commit attempt, in call order. */
  attempts: string[];
  committed: string[][];
}

/** A writer whose `commit` runs `behave(txn, attempt)` (throw to fail an attempt) and records the committed records. */
async function harness(
  behave: (t: SinkTransaction<string>, attempt: number) => void | Promise<void> = () => undefined,
  commitRetry?: CommitRetryOptions,
  restoredState?: unknown[],
): Promise<Harness> {
  const clock = new ManualClock(0);
  const attempts: string[] = [];
  const committed: string[][] = [];
  const tries = new Map<string, number>();
  const writer = await twoPhaseCommitWriter<string>({
    ctx: { operator: context(clock), runtime: {} as RuntimeContext, restoredState },
    commit: async (t) => {
      const n = (tries.get(t.id) ?? 0) + 1;
      tries.set(t.id, n);
      attempts.push(`${t.id}@${clock.now()}`);
      await behave(t, n);
      committed.push(t.records);
    },
    ...(commitRetry === undefined ? {} : { commitRetry }),
  });
  return { clock, writer, attempts, committed };
}

const ids = (state: unknown[]): number[] => (state as SinkTransaction<string>[]).map((t) => t.checkpointId);

/** Resolves with what `p` rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('twoPhaseCommitWriter', () => {
  it('a transaction stays in every snapshot while its commit runs, and leaves only once it succeeded', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await harness((t) => (t.checkpointId === 1 ? gate : undefined));
    h.writer.invoke('a', 0);
    expect(ids(h.writer.snapshotState!(1))).toEqual([1]);
    const done = h.writer.notifyCheckpointComplete!(1) as Promise<void>;
    await settle();
    expect(h.attempts).toEqual(['job1-0-1@0']);
    h.writer.invoke('b', 0);
    // Checkpoint 2 is taken while transaction 1 is being committed: it must still hold it.
    expect(ids(h.writer.snapshotState!(2))).toEqual([1, 2]);
    release();
    await done;
    expect(h.committed).toEqual([['a']]);
    expect(ids(h.writer.snapshotState!(3))).toEqual([2]);
    await h.writer.close!();
  });

  it('a failed commit is retried with exponential backoff on the operator clock; later transactions wait their turn', async () => {
    const h = await harness((t, n) => {
      if (t.checkpointId === 1 && n <= 3) throw new Error(`flaky ${n}`);
    });
    h.writer.invoke('a', 0);
    h.writer.snapshotState!(1);
    h.writer.invoke('b', 0);
    h.writer.snapshotState!(2);
    let finished = false;
    const done = (h.writer.notifyCheckpointComplete!(2) as Promise<void>).then(() => (finished = true));
    await settle();
    expect(h.attempts).toEqual(['job1-0-1@0']);
    // 100 ms, then 200, then 400: nothing happens before each delay is over.
    for (const [step, expected] of [
      [99, 1],
      [1, 2],
      [199, 2],
      [1, 3],
      [399, 3],
    ] as const) {
      h.clock.advance(step);
      await settle();
      expect(h.attempts).toHaveLength(expected);
      expect(ids(h.writer.snapshotState!(10))).toEqual([1, 2]);
    }
    expect(finished).toBe(false);
    h.clock.advance(1);
    await done;
    expect(h.attempts).toEqual(['job1-0-1@0', 'job1-0-1@100', 'job1-0-1@300', 'job1-0-1@700', 'job1-0-2@700']);
    expect(h.committed).toEqual([['a'], ['b']]);
    expect(h.writer.snapshotState!(11)).toEqual([]);
    await h.writer.close!();
  });

  it('after maxRetries the commit fails with EDDY_SINK_COMMIT_FAILED naming sink, transaction and cause; the transaction stays in the state', async () => {
    const h = await harness(
      () => {
        throw new Error('disk on fire');
      },
      { maxRetries: 2, initialDelayMs: 10, maxDelayMs: 15 },
    );
    h.writer.invoke('a', 0);
    h.writer.snapshotState!(1);
    const failed = rejection(h.writer.notifyCheckpointComplete!(1) as Promise<void>);
    await settle();
    h.clock.advance(10);
    await settle();
    h.clock.advance(15);
    const e = await failed;
    expect(h.attempts).toEqual(['job1-0-1@0', 'job1-0-1@10', 'job1-0-1@25']);
    expect(isEddyError(e, 'EDDY_SINK_COMMIT_FAILED')).toBe(true);
    expect((e as EddyError).operator).toBe('Txn Sink');
    expect((e as Error).message).toMatch(/sink "Txn Sink" could not commit transaction job1-0-1 \(checkpoint 1\) after 3 attempts: disk on fire/);
    expect(((e as Error).cause as Error).message).toBe('disk on fire');
    // Still pending: a checkpoint taken now (or the one restored after the failure) commits it again.
    expect(ids(h.writer.snapshotState!(2))).toEqual([1]);
    // The failure sticks: a later completion does not commit past it.
    expect(isEddyError(await rejection(h.writer.notifyCheckpointComplete!(2) as Promise<void>), 'EDDY_SINK_COMMIT_FAILED')).toBe(true);
    expect(h.attempts).toHaveLength(3);
    await h.writer.close!();
  });

  it('an error a retry cannot mend (EDDY_CONFIG) fails at once, unchanged', async () => {
    const h = await harness(() => {
      throw new EddyError('EDDY_CONFIG', 'no stream captures subject "x"');
    });
    h.writer.invoke('a', 0);
    h.writer.snapshotState!(1);
    const e = await rejection(h.writer.notifyCheckpointComplete!(1) as Promise<void>);
    expect(isEddyError(e, 'EDDY_CONFIG')).toBe(true);
    expect(h.attempts).toEqual(['job1-0-1@0']);
  });

  it('restored transactions are committed on open, oldest checkpoint first, before any newer one', async () => {
    const restored = [
      { id: 'old-1-5', checkpointId: 5, records: ['y'] },
      { id: 'old-0-4', checkpointId: 4, records: ['x'] },
    ];
    const h = await harness(undefined, undefined, restored);
    expect(h.attempts).toEqual(['old-0-4@0', 'old-1-5@0']);
    h.writer.invoke('z', 0);
    expect(ids(h.writer.snapshotState!(6))).toEqual([6]);
    await h.writer.notifyCheckpointComplete!(6);
    expect(h.committed).toEqual([['x'], ['y'], ['z']]);
  });

  it('closing ends a backoff wait at once (a stopping task never waits out the delay)', async () => {
    const h = await harness(() => {
      throw new Error('down');
    });
    h.writer.invoke('a', 0);
    h.writer.snapshotState!(1);
    const failed = rejection(h.writer.notifyCheckpointComplete!(1) as Promise<void>);
    await settle();
    await h.writer.close!();
    const e = await failed;
    expect(isEddyError(e, 'EDDY_SINK_COMMIT_FAILED')).toBe(true);
    expect(h.attempts).toEqual(['job1-0-1@0']);
  });

  it('bad retry options are EDDY_INVALID_ARGUMENT naming the option', async () => {
    for (const bad of [{ maxRetries: -1 }, { maxRetries: 1.5 }, { initialDelayMs: Number.NaN }, { initialDelayMs: 10, maxDelayMs: 5 }])
      expect(await rejection(harness(undefined, bad))).toMatchObject({ code: 'EDDY_INVALID_ARGUMENT', message: expect.stringMatching(/commitRetry\.\w+/) });
  });
});
