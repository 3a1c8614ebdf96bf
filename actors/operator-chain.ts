// Builds one subtask's operator chain: operator instances wired by direct calls, network writers at the edges.
import type { OutputTag } from '../src/functions/output-tag.ts';
import type { StreamEdge, StreamNode } from '../src/graph/stream-graph.ts';
import type { PlanVertex } from '../src/plan/execution-plan.ts';
import type { OperatorContext, Output, StreamOperator } from '../src/operators/operator.ts';
import { FusedOutput, sideOutputOnChainLink, type FusionLink, type RecordFailed } from '../src/operators/chain-fusion.ts';
import { SinkOperator } from '../src/operators/sink-operator.ts';

/** Feeds the next operator of a chain by a direct call; a failure goes through that operator's record-failure policy. */
class ChainingOutput<T> implements Output<T> {
  constructor(
    private readonly op: StreamOperator<T, unknown>,
    private readonly failed: RecordFailed,
  ) {}
  collect(value: T, timestamp: number): void {
    try {
      this.op.processElement(value, timestamp);
    } catch (e) {
      this.failed(e, value);
    }
  }
  emitWatermark(watermark: number): void {
    this.op.processWatermark(watermark);
  }
  emitWatermarkStatus(idle: boolean): void {
    this.op.processWatermarkStatus(idle);
  }
  collectSide<X>(tag: OutputTag<X>): void {
    throw sideOutputOnChainLink(tag);
  }
}

/** Feeds the second input of a two-input head operator; watermarks arrive combined through the first. */
class SecondInput<T> implements Output<T> {
  constructor(
    private readonly op: StreamOperator<unknown, unknown>,
    private readonly failed: RecordFailed,
  ) {}
  collect(value: T, timestamp: number): void {
    try {
      this.op.processElement2!(value, timestamp);
    } catch (e) {
      this.failed(e, value);
    }
  }
  emitWatermark(): void {}
  emitWatermarkStatus(): void {}
  collectSide<X>(tag: OutputTag<X>): void {
    throw sideOutputOnChainLink(tag);
  }
}

/** An operator's output: its main outputs and, per side-output tag, where those records go. */
class NodeOutput<T> implements Output<T> {
  private readonly single: Output<T> | undefined;
  constructor(
    private readonly mains: Output<T>[],
    private readonly sides: Map<string, Output<unknown>[]>,
  ) {
    this.single = mains.length === 1 ? mains[0] : undefined;
  }
  collect(value: T, timestamp: number): void {
    if (this.single !== undefined) return this.single.collect(value, timestamp);
    for (let i = 0; i < this.mains.length; i++) this.mains[i]!.collect(value, timestamp);
  }
  emitWatermark(watermark: number): void {
    for (const o of this.mains) o.emitWatermark(watermark);
    for (const outs of this.sides.values()) for (const o of outs) o.emitWatermark(watermark);
  }
  emitWatermarkStatus(idle: boolean): void {
    for (const o of this.mains) o.emitWatermarkStatus(idle);
    for (const outs of this.sides.values()) for (const o of outs) o.emitWatermarkStatus(idle);
  }
  collectSide<X>(tag: OutputTag<X>, value: X, timestamp: number): void {
    const outs = this.sides.get(tag.id);
    if (outs !== undefined) for (const o of outs) o.collect(value, timestamp);
  }
}

/** Turns a network edge into the Output that writes it (the task supplies RecordWriters). */
export type NetworkOutputFactory = (edge: StreamEdge, node: StreamNode) => Output<unknown>;

export interface OperatorChain {
  /** Operators in topological order (no entry for a source node). */
  readonly operators: { node: StreamNode; operator: StreamOperator<unknown, unknown> }[];
  /** Where records enter: the head operator, or the source node's output for source vertices. */
  readonly input: Output<unknown>;
  /** Where records of the second input enter, when the head is a two-input operator. */
  readonly input2: Output<unknown> | undefined;
  /** The source node of a source vertex. */
  readonly sourceNode: StreamNode | undefined;
  /** For a source vertex: the fusion link the source feeds, when it is the source's only output. */
  readonly sourceLink: FusionLink | undefined;
}

/**
 * Instantiates and wires a vertex's operators for one subtask. `contextFor` supplies each
 * operator's context (keyed state backends are created by the caller).
 */
export function createOperatorChain(
  vertex: PlanVertex,
  contextFor: (node: StreamNode) => OperatorContext,
  networkOutput: NetworkOutputFactory,
): OperatorChain {
  const operators = new Map<number, StreamOperator<unknown, unknown>>();
  const contexts = new Map<number, OperatorContext>();
  for (const node of vertex.nodes) {
    if (node.kind === 'source') continue;
    contexts.set(node.id, contextFor(node));
    operators.set(node.id, node.kind === 'sink' ? new SinkOperator(node.name, node.sink!) : node.factory!());
  }
  const chainedTargets = new Map<number, StreamEdge[]>();
  for (const e of vertex.chainedEdges) (chainedTargets.get(e.source) ?? chainedTargets.set(e.source, []).get(e.source)!).push(e);
  const networkEdges = new Map<number, StreamEdge[]>();
  for (const o of vertex.outputs) (networkEdges.get(o.edge.source) ?? networkEdges.set(o.edge.source, []).get(o.edge.source)!).push(o.edge);

  // Fusion links: an operator's successor is fused into its code when it is the operator's only output.
  const links = new Map<number, FusionLink>();
  for (const [id, operator] of operators) links.set(id, { operator, next: undefined, output: undefined!, failed: contexts.get(id)!.recordFailed });
  const onlySuccessor = (id: number): FusionLink | undefined => {
    const chained = chainedTargets.get(id) ?? [];
    return chained.length === 1 && chained[0]!.sideTag === undefined && !networkEdges.has(id) ? links.get(chained[0]!.target) : undefined;
  };
  for (const [id, link] of links) link.next = onlySuccessor(id);
  const feed = (targetId: number): Output<unknown> =>
    fusionEnabled ? new FusedOutput(links.get(targetId)!) : new ChainingOutput(operators.get(targetId)!, contexts.get(targetId)!.recordFailed);

  const outputOf = (node: StreamNode): Output<unknown> => {
    const mains: Output<unknown>[] = [];
    const sides = new Map<string, Output<unknown>[]>();
    const add = (e: StreamEdge, o: Output<unknown>): void => {
      if (e.sideTag === undefined) mains.push(o);
      else (sides.get(e.sideTag) ?? sides.set(e.sideTag, []).get(e.sideTag)!).push(o);
    };
    for (const e of chainedTargets.get(node.id) ?? []) add(e, feed(e.target));
    for (const e of networkEdges.get(node.id) ?? []) add(e, networkOutput(e, node));
    return new NodeOutput(mains, sides);
  };

  for (const node of vertex.nodes) {
    const op = operators.get(node.id);
    if (op === undefined) continue;
    const output = outputOf(node);
    links.get(node.id)!.output = output;
    op.setup(contexts.get(node.id)!, output);
  }
  const head = vertex.nodes[0]!;
  const sourceNode = head.kind === 'source' ? head : undefined;
  return {
    operators: vertex.nodes.filter((n) => operators.has(n.id)).map((node) => ({ node, operator: operators.get(node.id)! })),
    input: sourceNode !== undefined ? outputOf(sourceNode) : feed(head.id),
    input2: sourceNode === undefined && operators.get(head.id)!.processElement2 !== undefined ? new SecondInput(operators.get(head.id)!, contexts.get(head.id)!.recordFailed) : undefined,
    sourceNode,
    sourceLink: sourceNode !== undefined && fusionEnabled ? onlySuccessor(sourceNode.id) : undefined,
  };
}

/** Chain fusion is on unless EDDY_CHAIN_FUSION=0 (a switch for comparing both paths). */
const fusionEnabled = process.env['EDDY_CHAIN_FUSION'] !== '0';
