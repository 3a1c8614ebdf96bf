// A task's keyed state: one backend per keyed chain member (heap or LevelDB), restored from a checkpoint, deleted at the end.
import { restoreOperator } from '../src/checkpoint/operator-restore.ts';

import { attributeError } from '../src/operators/record-failure.ts';
import type { OperatorSnapshot } from '../src/operators/operator.ts';
import { stateBackendFactory, type TaskKeyedStateBackend } from '../src/state/state-backends.ts';
import type { TaskDeployment } from './task-protocol.ts';

type Backend = TaskKeyedStateBackend;

/** The keyed state backends of one task, by chain member (node id). */
export class TaskKeyedState {
  private readonly backends = new Map<number, Backend>();

  constructor(private readonly d: TaskDeployment) {}

  /** Creates one backend per keyed chain member, before the operators are set up. */
  async create(): Promise<void> {
    const { d } = this;
    const factory = stateBackendFactory(d.stateBackend);
    for (const node of d.vertex.nodes) {
      if (!node.keyed) continue;
      const backend = await factory.create({
        operatorName: node.name,
        maxParallelism: d.plan.maxParallelism,
        clock: d.clock,
        stateDir: d.stateDir,
        jobId: d.jobId,
        // The attempt is in the name: a restarted task never opens the files its predecessor may still hold.
        instance: `v${d.vertex.id}-s${d.subtask}-n${node.id}-a${d.attempt}`,
      });
      this.backends.set(node.id, backend);
    }
  }

  get(nodeId: number): Backend | undefined {
    return this.backends.get(nodeId);
  }

  /** Loads each chain member's state from the checkpoint to start from: keyed state straight into its backend, the rest returned per node. */
  async restore(): Promise<Map<number, OperatorSnapshot>> {
    const { d } = this;
    const out = new Map<number, OperatorSnapshot>();
    if (d.restore === undefined) return out;
    for (const node of d.vertex.nodes) {
      const op = d.restore.meta.operators[node.uid];
      if (op === undefined) continue;
      try {
        out.set(node.id, await restoreOperator(d.restore.storage, op, node, d.subtask, d.vertex.parallelism, d.plan.maxParallelism, this.backends.get(node.id), d.restore.meta.timestamp));
      } catch (e) {
        throw attributeError(e, node.name);
      }
    }
    return out;
  }

  /** Starts change tracking for incremental checkpoints (after restore: restored entries are in the base chunks). */
  trackChanges(): void {
    for (const b of this.backends.values()) b.trackChanges();
  }

  /** Closes and deletes on-disk state (LevelDB): without a checkpoint referring to it, it lives only as long as the task. */
  async destroy(): Promise<unknown[]> {
    const errors: unknown[] = [];
    for (const b of this.backends.values()) {
      if (b.destroy === undefined) continue;
      try {
        await b.destroy();
      } catch (e) {
        errors.push(e);
      }
    }
    return errors;
  }
}
