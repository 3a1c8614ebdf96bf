// A task: one parallel subtask of a vertex. Lifecycle in taskMachine; the data path runs outside xstate.
import type { Subscription } from '@nats-io/transport-node';
import { createActor, type Actor } from 'xstate';
import type { CheckpointKind } from '../src/checkpoint/checkpoint-storage.ts';
import type { SourceReader } from '../src/connectors/source.ts';
import { EddyError, toErrorInfo } from '../src/errors.ts';
import type { StreamNode } from '../src/graph/stream-graph.ts';
import { ChainInputPause } from '../src/operators/input-pause.ts';
import { attributeError } from '../src/operators/record-failure.ts';
import { createOperatorChain, type OperatorChain } from './operator-chain.ts';
import type { OperatorContext, Output } from '../src/operators/operator.ts';
import { FrameCodec, type Frame } from '../src/transport/frame-codec.ts';
import { NatsCreditReturner } from '../src/transport/credit-returner.ts';
import { InputGate } from '../src/transport/input-gate.ts';
import { OutputGate } from '../src/transport/output-gate.ts';
import { RecordWriter } from '../src/transport/record-writer.ts';
import { subjects } from '../src/transport/subjects.ts';
import { TaskCheckpointProtocol } from './task-checkpoint-protocol.ts';
import { createNetworkWriter, deadLettersSettled, inputChannelSpecs, operatorContext } from './task-channels.ts';
import { TaskKeyedState } from './task-keyed-state.ts';
import { runSourceLoop } from './task-source-loop.ts';
import { SourceSignals } from './source-signals.ts';
import type { TaskDeployment, TaskStatusReport } from './task-protocol.ts';
import { taskMachine, type TaskState } from './task.machine.ts';

export type { CoordinatorMessage, NetworkOptions, TaskControlMessage, TaskDeployment, TaskStatusReport } from './task-protocol.ts';

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Task {
  readonly name: string;
  private readonly actor: Actor<typeof taskMachine>;
  private readonly codec = new FrameCodec();
  private chain!: OperatorChain;
  private outputGate!: OutputGate;
  private writers: RecordWriter<unknown>[] = [];
  private inputGate: InputGate | undefined;
  /** Operators at their own capacity (async I/O) pause the task's input, as missing credit does. */
  private inputPause!: ChainInputPause;
  private sub: Subscription | undefined;
  private reader: SourceReader<unknown> | undefined;
  private readonly queue: Frame[] = [];
  private draining = false;
  private inputEnded = false;
  private readonly metrics = new Map<string, number>();
  private readonly keyed: TaskKeyedState;
  private checkpoints: TaskCheckpointProtocol | undefined;
  /** Checkpoint triggers (taken between poll slices), the final commit and stops, for the source loop. */
  private readonly signals = new SourceSignals<{ checkpointId: number; kind: CheckpointKind }>();
  private endInputDone = false;
  private done!: Promise<TaskStatusReport>;
  private resolveDone!: (r: TaskStatusReport) => void;
  private failure: unknown;

  get subtask(): number {
    return this.d.subtask;
  }

  get vertexId(): number {
    return this.d.vertex.id;
  }

  get vertexName(): string {
    return this.d.vertex.name;
  }

  constructor(private readonly d: TaskDeployment) {
    this.name = `${d.vertex.name} (${d.subtask + 1}/${d.vertex.parallelism})`;
    this.actor = createActor(taskMachine);
    this.keyed = new TaskKeyedState(d);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get state(): TaskState {
    return this.actor.getSnapshot().value as TaskState;
  }

  /** The error that failed this task, if any (set synchronously, before the report is published). */
  get failureCause(): unknown {
    return this.failure;
  }

  /** Resolves with the final report when the task is finished, failed or canceled. */
  get result(): Promise<TaskStatusReport> {
    return this.done;
  }

  /** Builds the chain, opens operators and subscribes to inputs and credits. Producers may send once this resolves. */
  async prepare(): Promise<void> {
    this.actor.start();
    this.actor.send({ type: 'RESTORE' });
    const { d } = this;
    try {
      this.outputGate = new OutputGate({
        nc: d.nc,
        codec: this.codec,
        clock: d.clock,
        creditSubject: subjects.credit(d.dataJob, d.vertex.id, d.subtask),
        batchSize: d.network.batchSize,
        flushIntervalMs: d.network.flushIntervalMs,
        onError: (e) => this.fail(e),
      });
      await this.keyed.create();
      this.chain = createOperatorChain(d.vertex, (node) => this.contextFor(node), (edge, node) => this.networkOutput(edge.id, node));
      this.inputPause = new ChainInputPause(this.chain.operators.map((o) => o.operator));
      const restored = await this.keyed.restore();
      // Changes count from here: what operators rewrite while they initialize and open (e.g. an
      // actor migrating restored keys) belongs in the next incremental checkpoint.
      if (d.checkpointing !== undefined) this.keyed.trackChanges();
      for (const { node, operator } of this.chain.operators) {
        try {
          operator.initializeState(restored.get(node.id));
        } catch (e) {
          throw attributeError(e, operator.name);
        }
      }
      for (const { operator } of this.chain.operators) {
        try {
          await operator.open();
        } catch (e) {
          throw attributeError(e, operator.name);
        }
      }
      const source = this.chain.sourceNode;
      if (source !== undefined) {
        try {
          this.reader = await source.source!.createReader(this.contextFor(source));
          const splits = restored.get(source.id)?.list;
          if (splits !== undefined) {
            if (this.reader.restoreState === undefined)
              throw new EddyError('EDDY_STATE_MISMATCH', `source "${source.name}" cannot restore its position (it has no restoreState); it must not have state in the checkpoint`, { operator: source.name });
            this.reader.restoreState(splits);
          }
        } catch (e) {
          throw attributeError(e, source.name);
        }
      }
      if (d.checkpointing !== undefined) this.setUpCheckpointing();
      this.outputGate.start();
      if (d.vertex.inputs.length > 0) {
        const specs = inputChannelSpecs(d);
        this.inputGate = new InputGate(specs, new NatsCreditReturner(d.nc, this.codec, specs), this.codec, {
          onRecords: (records, timestamps, inputIndex) => this.onRecords(records, timestamps, inputIndex),
          onWatermark: (wm) => this.chain.input.emitWatermark(wm),
          onWatermarkStatus: (idle) => this.chain.input.emitWatermarkStatus(idle),
          onEndOfInput: () => (this.inputEnded = true),
          onBarrier: (id, kind) => this.checkpoints?.onBarrier(id, kind as CheckpointKind),
          onAlignment: (aligning) => this.actor.send({ type: aligning ? 'ALIGN' : 'ALIGNED' }),
        }, d.network.credits, this.name);
        this.sub = d.nc.subscribe(subjects.input(d.dataJob, d.vertex.id, d.subtask), {
          callback: (err, msg) => {
            if (err) return this.fail(new EddyError('EDDY_NATS_CONNECTION_LOST', `task ${this.name} lost its input subscription: ${err.message}`, { cause: err }));
            if (this.failure !== undefined || this.isFinal()) return;
            try {
              this.queue.push(this.inputGate!.decode(msg.data));
            } catch (e) {
              return this.fail(e);
            }
            if (!this.draining) void this.drain();
          },
        });
      }
    } catch (e) {
      this.fail(e);
    }
  }

  /** Starts the data flow: sources begin reading; other tasks already react to input. */
  start(): void {
    if (this.failure !== undefined || this.isFinal()) return;
    this.actor.send({ type: 'RUN' });
    if (this.reader !== undefined)
      void runSourceLoop({
        reader: this.reader,
        chain: this.chain,
        checkpointing: this.d.checkpointing !== undefined,
        checkpoints: () => this.checkpoints!,
        signals: this.signals,
        inputPause: this.inputPause,
        outputGate: this.outputGate,
        stopped: () => this.failure !== undefined || this.isFinal(),
        bump: (name, by) => this.bump(name, by),
        finish: () => this.finish(),
        fail: (e) => this.fail(e),
      });
  }

  /** Stops the task; its report says canceled unless it had already ended. */
  cancel(): void {
    if (this.isFinal()) return;
    this.actor.send({ type: 'CANCEL' });
    this.signals.release();
    void this.release().then(() => this.report());
  }

  private isFinal(): boolean {
    const s = this.state;
    return s === 'finished' || s === 'failed' || s === 'canceled';
  }

  private contextFor(node: StreamNode): OperatorContext {
    return operatorContext(this.d, node, this.keyed.get(node.id), this.metrics, (e) => this.fail(e));
  }

  private networkOutput(edgeId: number, node: StreamNode): Output<unknown> {
    const writer = createNetworkWriter(this.d, this.outputGate, edgeId, node.name, this.metrics, (e) => this.fail(e));
    this.writers.push(writer);
    return writer;
  }

  private onRecords(records: unknown[], timestamps: number[] | null, inputIndex: number): void {
    const input = inputIndex === 0 ? this.chain.input : this.chain.input2!;
    const n = records.length;
    if (timestamps === null) for (let i = 0; i < n; i++) input.collect(records[i], Number.NEGATIVE_INFINITY);
    else for (let i = 0; i < n; i++) input.collect(records[i], timestamps[i]!);
    this.bump('recordsIn', n);
  }

  private bump(name: string, by: number): void {
    this.metrics.set(name, (this.metrics.get(name) ?? 0) + by);
  }

  /** Processes queued frames until the queue is empty, pausing while an output waits for credit. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      let sinceYield = 0;
      while (this.queue.length > 0 && this.failure === undefined && !this.isFinal()) {
        if (this.outputGate.blocked) await this.outputGate.whenWritable();
        if (this.inputPause.paused) {
          await this.inputPause.whenResumed();
          continue; // check failure, credit and the pause again before taking the frame
        }
        const frame = this.queue.shift()!;
        this.inputGate!.process(frame);
        if (this.inputEnded) {
          await this.finish();
          return;
        }
        if (++sinceYield >= 64) {
          sinceYield = 0;
          await yieldToEventLoop();
        }
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.draining = false;
    }
  }

  private setUpCheckpointing(): void {
    const { d } = this;
    this.checkpoints = new TaskCheckpointProtocol(
      d,
      d.vertex.nodes.map((node) => ({
        node,
        operator: this.chain.operators.find((o) => o.node.id === node.id)?.operator,
        reader: node.kind === 'source' ? this.reader : undefined,
        backend: this.keyed.get(node.id),
      })),
      {
        name: this.name,
        writers: this.writers,
        operators: this.chain.operators,
        stopped: () => this.failure !== undefined || this.isFinal(),
        fail: (e) => this.fail(e),
        endInput: () => (this.endInputDone ? Promise.resolve() : this.endInputChain()),
        trigger: (checkpointId, kind) => {
          if (this.reader === undefined) return;
          this.signals.trigger({ checkpointId, kind });
        },
        abortAlignment: (id) => this.inputGate?.abortAlignment(id),
        finalCommitted: () => this.signals.commitFinal(),
      },
    );
  }

  private async endInputChain(): Promise<void> {
    this.endInputDone = true;
    for (const { operator } of this.chain.operators) {
      try {
        await operator.endInput();
      } catch (e) {
        throw attributeError(e, operator.name);
      }
    }
  }

  /** End of input: flush every operator in chain order, send end of input downstream, wait until it left. */
  private async finish(): Promise<void> {
    if (this.state !== 'running') return;
    this.actor.send({ type: 'FINISH' });
    try {
      if (!this.endInputDone) await this.endInputChain();
      // With checkpoints, end of input travels as the final checkpoint: its sinks commit before anything ends.
      if (this.d.checkpointing !== undefined) await this.signals.finalCommit;
      if (this.failure !== undefined || this.isFinal()) return;
      for (const w of this.writers) w.endOfInput();
      await this.outputGate.whenWritable();
      await deadLettersSettled(this.d);
      await this.d.nc.flush();
      if (this.failure !== undefined || this.isFinal()) return;
      this.actor.send({ type: 'FINISHED' });
      await this.release();
      this.report();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Fails the task once; the first error is the one reported. */
  fail(e: unknown): void {
    if (this.failure !== undefined || this.isFinal()) return;
    this.failure = e;
    this.actor.send({ type: 'FAIL' });
    this.signals.release();
    void this.release().then(() => this.report());
  }

  /**
   * Simulates a crash of the task actor (chaos tests): it stops at once, publishes nothing, and its
   * supervisor learns of it only through its monitor (the result), as with a dead actor.
   */
  kill(): void {
    if (this.isFinal()) return;
    this.failure = new EddyError('EDDY_TASK_DIED', `task ${this.name} died (killed)`);
    this.actor.send({ type: 'FAIL' });
    this.signals.release();
    void this.release().then(() => this.report(false));
  }

  private async release(): Promise<void> {
    this.checkpoints?.close();
    this.sub?.unsubscribe();
    this.outputGate?.close();
    const closing: unknown[] = [];
    for (const { operator } of this.chain?.operators ?? []) {
      try {
        await operator.close();
      } catch (e) {
        closing.push(e);
      }
    }
    try {
      await this.reader?.close?.();
    } catch (e) {
      closing.push(e);
    }
    closing.push(...(await this.keyed.destroy()));
    if (closing.length > 0 && this.failure === undefined && this.state === 'finished') {
      this.failure = closing[0];
    }
  }

  private report(publish = true): void {
    const state = this.failure !== undefined && this.state !== 'canceled' ? 'failed' : this.state;
    const r: TaskStatusReport = { vertex: this.d.vertex.id, subtask: this.d.subtask, attempt: this.d.attempt, state, metrics: Object.fromEntries(this.metrics) };
    if (this.failure !== undefined) {
      const info = toErrorInfo(this.failure);
      info.subtask = this.d.subtask;
      r.error = info;
    }
    this.actor.stop();
    try {
      if (publish) this.d.nc.publish(subjects.status(this.d.jobId), this.codec.encodeValue(r));
    } catch {
      // The connection is gone: the job master sees the local result below and the lost connection.
    }
    this.resolveDone(r);
  }
}
