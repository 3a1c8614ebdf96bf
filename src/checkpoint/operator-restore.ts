// Restoring one operator instance from a checkpoint: keyed chunks by key group, timers, operator and list state (rescaling included).
import { Packr } from 'msgpackr';
import { EddyError } from '../errors.ts';
import type { StreamNode } from '../graph/stream-graph.ts';
import type { OperatorSnapshot } from '../operators/operator.ts';
import type { TimerSnapshot } from '../operators/timer-service.ts';
import type { IncrementalKeyedState, KeyGroupChanges } from '../state/keyed-state-changes.ts';
import { keyGroupRange } from '../state/key-group.ts';
import { machineRestoreMode, type MachineStateSchema } from '../machines/machine-version.ts';
import type { CheckpointMetadata, CheckpointStorage, OperatorCheckpoint } from './checkpoint-storage.ts';

function isMachineSchema(s: unknown): s is MachineStateSchema {
  return s !== null && typeof s === 'object' && (s as MachineStateSchema).kind === 'machine';
}

/** Encodes and decodes checkpoint chunks and blobs (msgpack with Map and undefined support). */
export const stateCodec = new Packr({ moreTypes: true, structuredClone: false });

/** The non-keyed part of an operator's snapshot, stored as one blob per subtask and checkpoint. */
export interface OperatorStateBlob {
  timers?: TimerSnapshot;
  operator?: unknown;
  list?: unknown[];
}

/**
 * Checks that a checkpoint can be mapped onto a job's operators (by uid) before anything starts.
 *
 * @throws EddyError `EDDY_STATE_MISMATCH` naming the operator when the checkpoint has state for a
 * uid the job no longer has (unless `allowNonRestoredState`), when keyed state would land on a
 * non-keyed operator, when maxParallelism changed, or when an actor operator's machine lost states
 * its keys may be in and no migration is given.
 */
export function checkRestoreMapping(meta: CheckpointMetadata, nodes: readonly StreamNode[], maxParallelism: number, allowNonRestoredState: boolean, where: string): void {
  const byUid = new Map(nodes.map((n) => [n.uid, n]));
  for (const [uid, op] of Object.entries(meta.operators)) {
    const node = byUid.get(uid);
    if (node === undefined) {
      if (allowNonRestoredState || !hasState(op)) continue;
      throw new EddyError(
        'EDDY_STATE_MISMATCH',
        `${where} holds state of operator "${op.name}" (uid "${uid}"), which this job does not have; give the operator the same uid(...) as before, or set allowNonRestoredState: true to drop that state`,
        { operator: op.name },
      );
    }
    if (op.keyed && !node.keyed && op.subtasks.some((h) => h.chain.length > 0))
      throw new EddyError('EDDY_STATE_MISMATCH', `${where}: operator "${node.name}" (uid "${uid}") had keyed state but is no longer keyed; keep keyBy(...) before it`, { operator: node.name });
    if (isMachineSchema(node.stateSchema)) machineRestoreMode(op.schema, node.stateSchema, node.name, where);
    if (op.keyed && meta.maxParallelism !== maxParallelism)
      throw new EddyError(
        'EDDY_STATE_MISMATCH',
        `${where}: operator "${node.name}" has keyed state written with maxParallelism ${meta.maxParallelism}, the job now has ${maxParallelism}; keep maxParallelism unchanged across restores`,
        { operator: node.name },
      );
  }
}

function hasState(op: OperatorCheckpoint): boolean {
  return op.subtasks.some((h) => h.chain.length > 0 || h.state !== '');
}

/**
 * Loads the state subtask `subtask` of `parallelism` owns from checkpoint `op`: keyed chunks of
 * every old subtask whose key groups overlap go straight into `backend` (oldest chunk first), and
 * the returned snapshot carries timers (filtered by the operator), operator state and the list
 * state dealt round-robin. Operator (non-keyed, non-list) state restores only when the parallelism
 * is unchanged or every old subtask held the same value.
 */
export async function restoreOperator(
  storage: CheckpointStorage,
  op: OperatorCheckpoint,
  node: StreamNode,
  subtask: number,
  parallelism: number,
  maxParallelism: number,
  backend: IncrementalKeyedState | undefined,
  takenAt?: number,
): Promise<OperatorSnapshot> {
  const [start, end] = node.keyed ? toPair(keyGroupRange(subtask, parallelism, maxParallelism)) : [0, -1];
  const snapshot: OperatorSnapshot = {};
  const blobs: OperatorStateBlob[] = [];
  for (const h of op.subtasks) {
    blobs.push(h.state === '' ? {} : (stateCodec.unpack(await storage.readBlob(h.state)) as OperatorStateBlob));
    if (h.chain.length === 0 || h.keyGroups[1] < start || h.keyGroups[0] > end) continue;
    if (backend === undefined)
      throw new EddyError('EDDY_STATE_MISMATCH', `operator "${node.name}" is not keyed but the checkpoint holds keyed state for it`, { operator: node.name });
    const lo = Math.max(start, h.keyGroups[0]);
    const hi = Math.min(end, h.keyGroups[1]);
    for (const chunk of h.chain) for await (const [, bytes] of storage.readChunk(chunk, lo, hi)) await backend.applyChanges(stateCodec.unpack(bytes) as KeyGroupChanges);
  }
  // Keyed state went straight into the backend; an empty keyed snapshot still tells the operator that
  // it restores (operators that rebuild in-memory indexes from keyed state, e.g. pane windows, check `keyed`).
  if (backend !== undefined && op.keyed) snapshot.keyed = { version: 1, maxParallelism, states: [] };
  const timers: TimerSnapshot = { event: [], processing: [] };
  let anyTimers = false;
  for (const b of blobs) {
    if (b.timers === undefined) continue;
    anyTimers = true;
    for (const t of b.timers.event) timers.event.push(t);
    for (const t of b.timers.processing) timers.processing.push(t);
  }
  if (anyTimers) snapshot.timers = timers;
  const operatorStates = blobs.map((b) => b.operator);
  if (operatorStates.some((s) => s !== undefined)) {
    if (op.parallelism === parallelism) snapshot.operator = operatorStates[subtask];
    else {
      const first = stateCodec.pack(operatorStates[0]);
      if (!operatorStates.every((s) => Buffer.compare(stateCodec.pack(s), first) === 0))
        throw new EddyError(
          'EDDY_STATE_MISMATCH',
          `operator "${node.name}" has per-subtask operator state and its parallelism changed from ${op.parallelism} to ${parallelism}; that state cannot be redistributed (use keyed state or list state)`,
          { operator: node.name },
        );
      snapshot.operator = operatorStates[0];
    }
  }
  const lists = blobs.map((b) => b.list);
  if (lists.some((l) => l !== undefined)) snapshot.list = dealList(lists, subtask, parallelism, op.parallelism === parallelism);
  if (op.schema !== undefined) snapshot.schema = op.schema;
  if (takenAt !== undefined) snapshot.takenAt = takenAt;
  return snapshot;
}

/**
 * The list-state entries subtask `subtask` of `parallelism` gets: its own list when the
 * parallelism is unchanged, else every old entry in subtask order dealt round-robin.
 *
 * @example
 * ```ts
 * dealList([['a', 'b'], ['c']], 1, 2, false); // ['b']
 * ```
 */
export function dealList(lists: readonly (unknown[] | undefined)[], subtask: number, parallelism: number, sameParallelism: boolean): unknown[] {
  if (sameParallelism) return (lists[subtask] ?? []).slice();
  const out: unknown[] = [];
  let i = 0;
  for (const l of lists) for (const e of l ?? []) if (i++ % parallelism === subtask) out.push(e);
  return out;
}

function toPair(r: { start: number; end: number }): [number, number] {
  return [r.start, r.end];
}
