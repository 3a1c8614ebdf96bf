// Transformations -> StreamGraph: physical nodes and the edges between them, virtual nodes resolved.
import type { Source } from '../connectors/source.ts';
import { EddyError } from '../errors.ts';
import type { OperatorFactory } from '../operators/operator.ts';
import type { Sink } from '../operators/sink-operator.ts';
import type { RecordFailurePolicy } from '../functions/record-failure-policy.ts';
import type { Partitioner } from '../transport/partitioner.ts';
import { inputSlotsOf, inputsOf, type Transformation } from './transformation.ts';

/** A physical operator: a source, an operator or a sink, with its resolved parallelism. */
export interface StreamNode {
  readonly id: number;
  readonly name: string;
  readonly uid: string;
  readonly kind: 'source' | 'operator' | 'sink';
  readonly parallelism: number;
  readonly source?: Source<unknown>;
  readonly factory?: OperatorFactory;
  readonly sink?: Sink<unknown>;
  /** True when the node reads keyed state (its inputs must be hash-partitioned). */
  readonly keyed: boolean;
  /** The operator's own record-failure policy; undefined: the job's. */
  readonly recordFailures?: RecordFailurePolicy;
  /** Plain data describing what the operator's state is written with (see Transformation.stateSchema). */
  readonly stateSchema?: unknown;
}

/** A connection between two nodes; `sideTag` names the side output it carries, if any. */
export interface StreamEdge {
  readonly id: number;
  readonly source: number;
  readonly target: number;
  readonly partitioner: Partitioner;
  readonly sideTag: string | undefined;
  /** The operator input this edge feeds: 0, or 1 for the second input of a two-input operator. */
  readonly inputIndex: number;
}

export interface StreamGraph {
  readonly jobName: string;
  readonly maxParallelism: number;
  readonly nodes: readonly StreamNode[];
  readonly edges: readonly StreamEdge[];
}

export interface StreamGraphConfig {
  jobName: string;
  parallelism: number;
  maxParallelism: number;
}

/**
 * Builds the StreamGraph reachable from `roots` (usually the sinks). Pure: no I/O, no clocks.
 *
 * @example
 * ```ts
 * const graph = createStreamGraph(env.transformations(), { jobName: 'j', parallelism: 2, maxParallelism: 128 });
 * ```
 */
export function createStreamGraph(roots: readonly Transformation[], config: StreamGraphConfig): StreamGraph {
  const all = new Map<number, Transformation>();
  const visit = (t: Transformation): void => {
    if (all.has(t.id)) return;
    all.set(t.id, t);
    for (const i of inputsOf(t)) visit(i);
  };
  roots.forEach(visit);
  const ordered = [...all.values()].sort((a, b) => a.id - b.id);

  const nodes: StreamNode[] = [];
  const byId = new Map<number, StreamNode>();
  const uids = new Map<string, string>();
  for (const t of ordered) {
    if (t.kind === 'partition' || t.kind === 'union' || t.kind === 'side-output') continue;
    let parallelism = t.parallelism ?? config.parallelism;
    if (t.kind === 'source') {
      const limit = t.source.maxParallelism;
      if (limit !== undefined && t.parallelism === undefined) parallelism = Math.min(parallelism, limit);
      if (limit !== undefined && parallelism > limit)
        throw new EddyError('EDDY_CONFIG', `source "${t.name}" supports parallelism ${limit} at most, got ${parallelism}`, { operator: t.name });
    }
    if (parallelism > config.maxParallelism)
      throw new EddyError(
        'EDDY_CONFIG',
        `operator "${t.name}" has parallelism ${parallelism} above maxParallelism ${config.maxParallelism}; raise maxParallelism or lower the parallelism`,
        { operator: t.name },
      );
    const uid = t.uid ?? `${t.name}#${t.id}`;
    const clash = uids.get(uid);
    if (clash !== undefined)
      throw new EddyError('EDDY_CONFIG', `uid "${uid}" is used by both "${clash}" and "${t.name}"; every operator needs its own uid`, { operator: t.name });
    uids.set(uid, t.name);
    const base = {
      id: t.id,
      name: t.name,
      uid,
      parallelism,
      ...(t.recordFailures === undefined ? {} : { recordFailures: t.recordFailures }),
      ...(t.stateSchema === undefined ? {} : { stateSchema: t.stateSchema }),
    };
    const node: StreamNode =
      t.kind === 'source'
        ? { ...base, kind: 'source', source: t.source, keyed: false }
        : t.kind === 'sink'
          ? { ...base, kind: 'sink', sink: t.sink, keyed: false }
          : t.kind === 'two-input'
            ? { ...base, kind: 'operator', factory: t.factory, keyed: t.stateKeySelector1 !== undefined || t.stateKeySelector2 !== undefined }
            : { ...base, kind: 'operator', factory: t.factory, keyed: t.stateKeySelector !== undefined };
    nodes.push(node);
    byId.set(t.id, node);
  }

  const edges: StreamEdge[] = [];
  for (const t of ordered) {
    const target = byId.get(t.id);
    if (target === undefined) continue;
    for (const { input, index, keySelector } of inputSlotsOf(t)) {
      for (const up of resolveUpstream(input, undefined, undefined)) {
        const source = byId.get(up.node.id)!;
        let partitioner = up.partitioner;
        if (partitioner === undefined) partitioner = source.parallelism === target.parallelism ? { kind: 'forward' } : { kind: 'rebalance' };
        if (keySelector !== undefined && partitioner.kind !== 'hash')
          throw new EddyError('EDDY_CONFIG', `operator "${target.name}" uses keyed state but its input "${source.name}" is not keyed; call keyBy(...) first`, {
            operator: target.name,
          });
        edges.push({ id: edges.length, source: source.id, target: target.id, partitioner, sideTag: up.sideTag, inputIndex: index });
      }
    }
  }
  return { jobName: config.jobName, maxParallelism: config.maxParallelism, nodes, edges };
}

interface Upstream {
  node: Transformation;
  partitioner: Partitioner | undefined;
  sideTag: string | undefined;
}

/** Walks back through virtual transformations; the partitioning closest to the target wins (Flink's rule). */
function resolveUpstream(t: Transformation, partitioner: Partitioner | undefined, sideTag: string | undefined): Upstream[] {
  switch (t.kind) {
    case 'partition':
      return resolveUpstream(t.input, partitioner ?? t.partitioner, sideTag);
    case 'union':
      return t.inputs.flatMap((i) => resolveUpstream(i, partitioner, sideTag));
    case 'side-output':
      return resolveUpstream(t.input, partitioner, t.tag);
    case 'sink':
      throw new EddyError('EDDY_CONFIG', `sink "${t.name}" has no output to read from`);
    default:
      return [{ node: t, partitioner, sideTag }];
  }
}
