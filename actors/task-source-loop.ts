// The source task's polling loop: polls the reader in slices, injects checkpoint barriers between slices, ends the input.
import type { CheckpointKind } from '../src/checkpoint/checkpoint-storage.ts';
import type { SourceReader } from '../src/connectors/source.ts';
import { fuseRun } from '../src/operators/chain-fusion.ts';
import type { ChainInputPause } from '../src/operators/input-pause.ts';
import { attributeError } from '../src/operators/record-failure.ts';
import { MAX_WATERMARK } from '../src/time/watermark.ts';
import type { OutputGate } from '../src/transport/output-gate.ts';
import type { OperatorChain } from './operator-chain.ts';
import type { SourceSignals } from './source-signals.ts';
import type { TaskCheckpointProtocol } from './task-checkpoint-protocol.ts';

/** Records per source poll slice before yielding to the event loop. */
const SOURCE_SLICE = 4096;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What the source loop needs from its Task (built once per run, not per record). */
export interface SourceLoopHost {
  readonly reader: SourceReader<unknown>;
  readonly chain: OperatorChain;
  /** Whether the job checkpoints: the source then stays until the final checkpoint committed. */
  readonly checkpointing: boolean;
  /** The task's checkpoint protocol; only called when `checkpointing`. */
  checkpoints(): TaskCheckpointProtocol;
  /** Checkpoint triggers, the final commit and stops. */
  readonly signals: SourceSignals<{ checkpointId: number; kind: CheckpointKind }>;
  readonly inputPause: ChainInputPause;
  readonly outputGate: OutputGate;
  /** Whether the task failed or reached a final state. */
  stopped(): boolean;
  /** Adds to a task metric. */
  bump(name: string, by: number): void;
  /** End of input: flush the chain and finish the task. */
  finish(): Promise<void>;
  /** Fails the task. */
  fail(e: unknown): void;
}

/** Runs the source until its input ended (and, with checkpoints, the final checkpoint committed) or the task stopped. */
export async function runSourceLoop(host: SourceLoopHost): Promise<void> {
  const { reader, chain, checkpointing, signals, inputPause, outputGate } = host;
  const input = chain.input;
  const name = chain.sourceNode!.name;
  let sourceEnded = false;
  let emitted = 0;
  const out = {
    collect: (v: unknown, ts: number) => {
      emitted++;
      input.collect(v, ts);
    },
  };
  const link = chain.sourceLink;
  const run = link === undefined ? undefined : fuseRun(link);
  if (run !== undefined) reader.fuse?.(run, (n) => (emitted += n));
  try {
    for (;;) {
      if (host.stopped()) return;
      // Barriers are injected between poll slices: the reader's position matches what was emitted.
      const trigger = signals.nextTrigger();
      if (trigger !== undefined) {
        await host.checkpoints().checkpointAt(trigger.checkpointId, trigger.kind);
        continue;
      }
      if (sourceEnded) {
        // With checkpoints, the source stays until the final checkpoint (which covers the end of input) committed.
        if (!checkpointing || signals.finalCommitted) break;
        await signals.wakeUp();
        continue;
      }
      // A slice takes at most what the chain's pausing operators have room for; with none, wait for room (or a trigger).
      const budget = inputPause.budget();
      if (budget <= 0) {
        await Promise.race([inputPause.whenResumed(), signals.wakeUp()]);
        continue;
      }
      let r;
      try {
        r = reader.poll(out, budget < SOURCE_SLICE ? budget : SOURCE_SLICE);
      } catch (e) {
        throw attributeError(e, name);
      }
      if (r === 'end') {
        host.bump('recordsIn', emitted);
        emitted = 0;
        input.emitWatermark(MAX_WATERMARK);
        sourceEnded = true;
        if (checkpointing) host.checkpoints().sourceEnded();
      } else if (r === 'wait') await Promise.race([reader.available(), signals.wakeUp()]);
      else if (outputGate.blocked) await Promise.race([outputGate.whenWritable(), signals.wakeUp()]);
      else await yieldToEventLoop();
    }
    await host.finish();
  } catch (e) {
    host.fail(e);
  } finally {
    if (emitted > 0) host.bump('recordsIn', emitted);
  }
}
