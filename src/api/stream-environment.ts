// StreamEnvironment: where a job starts (sources) and is run (execute, executeAsync).
import { validateRecordFailurePolicy } from '../functions/record-failure-policy.ts';
import { collectionSource } from '../connectors/collection-source.ts';
import { generatorSource, type GeneratorOptions } from '../connectors/generator-source.ts';
import { natsSource, type NatsSourceOptions } from '../connectors/nats-source.ts';
import type { Source } from '../connectors/source.ts';
import { EddyError } from '../errors.ts';
import { createStreamGraph, type StreamGraph } from '../graph/stream-graph.ts';
import type { SourceTransformation, Transformation } from '../graph/transformation.ts';
import { resolveConfig, type ResolvedConfig, type StreamEnvironmentConfig } from './config.ts';
import { DataStream, type StreamContext } from './data-stream.ts';
import { pipelineExecutor, type SubmittedJob } from './executor.ts';
import { ParallelismDefaults, reachable } from './parallelism-defaults.ts';
import type { JobClient, JobResult } from './job.ts';
import { trackUnexecuted, untrackUnexecuted, type PendingJob } from './unexecuted-jobs.ts';

/** What `execute()` returns: a promise of the JobResult that can also cancel the job. */
export interface JobExecution extends Promise<JobResult> {
  /** Resolves once every task runs. */
  readonly client: Promise<JobClient>;
  /** Cancels the job; resolves with its result (status 'canceled' unless it had already ended). */
  cancel(): Promise<JobResult>;
}

/** The error `execute()` rejects with when a job fails; `result` holds the failing operator and cause. */
export class JobFailedError extends EddyError {
  constructor(readonly result: JobResult) {
    const e = result.error;
    super('EDDY_JOB_FAILED', `job "${result.jobName}" failed${e?.operator ? ` in operator "${e.operator}"` : ''}: ${e?.message ?? 'unknown cause'}`, {
      ...(e?.operator === undefined ? {} : { operator: e.operator }),
      cause: e,
    });
  }
}

/**
 * Flink's checkpointing modes, for `enableCheckpointing(ms, CheckpointingMode.EXACTLY_ONCE)`. eddy's
 * checkpoints are always exactly-once (aligned barriers), so that is the only mode.
 *
 * @example
 * ```ts
 * env.enableCheckpointing(10_000, CheckpointingMode.EXACTLY_ONCE);
 * ```
 */
export const CheckpointingMode = { EXACTLY_ONCE: 'EXACTLY_ONCE' } as const;
export type CheckpointingMode = (typeof CheckpointingMode)[keyof typeof CheckpointingMode];

function invalid(msg: string): EddyError {
  return new EddyError('EDDY_INVALID_ARGUMENT', msg);
}

/**
 * The entry point of every job.
 *
 * @example
 * ```ts
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * env.fromCollection(['to be', 'or not']).flatMap((l) => l.split(' ')).print();
 * const result = await env.execute('words');
 * result.status; // 'finished'
 * ```
 */
export class StreamEnvironment implements StreamContext, PendingJob {
  private ids = 0;
  private sinks: Transformation[] = [];
  /** The options as given plus what the setters changed; `resolved` is always `resolveConfig(options)`. */
  private options: StreamEnvironmentConfig;
  private resolved: ResolvedConfig;
  /** The default parallelism each transformation was created under (`setParallelism` affects later operators only). */
  private readonly defaults: ParallelismDefaults;
  /** Set on the first execute / executeAsync / executeAndCollect (even one that fails). */
  private executed = false;

  private constructor(options: StreamEnvironmentConfig, config: ResolvedConfig) {
    this.options = options;
    this.resolved = config;
    this.defaults = new ParallelismDefaults(config.parallelism);
  }

  /** Validates `config` (throws `EDDY_CONFIG`) and creates an environment. */
  static create(config: StreamEnvironmentConfig = {}): StreamEnvironment {
    const resolved = resolveConfig(config);
    return new StreamEnvironment({ ...config }, resolved);
  }

  /** The environment's configuration with every default filled in (replaced, never changed, by the setters). */
  get config(): ResolvedConfig {
    return this.resolved;
  }

  /** Re-validates the options with `patch` applied; nothing changes when they are invalid. */
  private reconfigure(patch: StreamEnvironmentConfig): void {
    const options = { ...this.options, ...patch };
    this.resolved = resolveConfig(options);
    this.options = options;
  }

  /**
   * Sets the default parallelism of the operators created *after* this call (Flink's
   * `env.setParallelism`: each operator takes the environment's default when it is created; an
   * operator's own `setParallelism` wins). Also raises `maxParallelism` to `n` when it was not set.
   *
   * @example
   * ```ts
   * const env = StreamEnvironment.create();
   * env.setParallelism(4);
   * env.fromSequence(1, 100).map((n) => n * n).print(); // source, map and sink at parallelism 4
   * ```
   */
  setParallelism(n: number): this {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new EddyError('EDDY_CONFIG', `setParallelism needs an integer >= 1, got ${JSON.stringify(n)}`);
    this.reconfigure({ parallelism: n });
    this.defaults.set(this.ids + 1, n);
    return this;
  }

  /**
   * The default parallelism of operators created now (the `parallelism` option, `EDDY_PARALLELISM`, or 1).
   *
   * @example
   * ```ts
   * StreamEnvironment.create({ parallelism: 2 }).getParallelism(); // 2
   * ```
   */
  getParallelism(): number {
    return this.resolved.parallelism;
  }

  /**
   * Sets the number of key groups: the upper bound of every parallelism, fixed for the life of keyed
   * state (the `maxParallelism` option).
   *
   * @example
   * ```ts
   * env.setMaxParallelism(256);
   * ```
   */
  setMaxParallelism(n: number): this {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new EddyError('EDDY_CONFIG', `setMaxParallelism needs an integer >= 1, got ${JSON.stringify(n)}`);
    this.reconfigure({ maxParallelism: n });
    return this;
  }

  /**
   * The number of key groups (the `maxParallelism` option, default max(128, parallelism)).
   *
   * @example
   * ```ts
   * StreamEnvironment.create().getMaxParallelism(); // 128
   * ```
   */
  getMaxParallelism(): number {
    return this.resolved.maxParallelism;
  }

  /**
   * Takes exactly-once checkpoints every `intervalMs` (Flink's `enableCheckpointing`): the same as the
   * `checkpointing` option, whose other settings (timeout, retained, ...) are kept when it was an
   * object. Without a `restartPolicy` option the job then restarts with exponential backoff. `mode`
   * may only be 'EXACTLY_ONCE' (eddy's barriers are always aligned).
   *
   * @example
   * ```ts
   * const env = StreamEnvironment.create().enableCheckpointing(Time.seconds(10));
   * ```
   */
  enableCheckpointing(intervalMs: number, mode: CheckpointingMode = CheckpointingMode.EXACTLY_ONCE): this {
    if (mode !== CheckpointingMode.EXACTLY_ONCE)
      throw new EddyError(
        'EDDY_CONFIG',
        `enableCheckpointing: mode ${JSON.stringify(mode)} is not supported; eddy's checkpoints are always exactly-once (aligned barriers): pass 'EXACTLY_ONCE' or leave the mode out`,
      );
    if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs) || intervalMs < 1)
      throw new EddyError('EDDY_CONFIG', `enableCheckpointing needs an interval in ms (an integer >= 1), got ${JSON.stringify(intervalMs)}`);
    const current = this.options.checkpointing;
    this.reconfigure({ checkpointing: typeof current === 'object' && current !== null ? { ...current, intervalMs } : intervalMs });
    return this;
  }

  nextId(): number {
    // The first transformation: under `eddy run`, a script that never executes is reported at exit.
    if (this.ids === 0 && !this.executed) trackUnexecuted(this);
    return ++this.ids;
  }

  /** What the environment built and has not run, for the EDDY_NOT_EXECUTED report. */
  describePending(): string {
    const sources = reachable(this.sinks).filter((t): t is SourceTransformation => t.kind === 'source');
    const names = (ts: Transformation[]): string => ts.map((t) => JSON.stringify(t.name)).join(', ');
    if (this.sinks.length === 0) return `${this.ids} transformation(s) and no sink`;
    return `sources: ${names(sources)}; sinks: ${names(this.sinks)}`;
  }

  /**
   * The StreamGraph `execute()` would run now: operators with their resolved parallelism and the
   * edges between them. Unlike Flink's, it neither runs nor clears the job.
   *
   * @example
   * ```ts
   * env.fromSequence(1, 10).print();
   * env.getStreamGraph().nodes.map((n) => `${n.name} x${n.parallelism}`);
   * ```
   */
  getStreamGraph(jobName = 'eddy job'): StreamGraph {
    this.defaults.pin(this.sinks, this.resolved.parallelism);
    return createStreamGraph(this.sinks, { jobName, parallelism: this.resolved.parallelism, maxParallelism: this.resolved.maxParallelism });
  }

  addSink(t: Transformation): void {
    this.sinks.push(t);
  }

  /** A bounded stream of the given items, in order (parallelism 1). */
  fromCollection<T>(items: Iterable<T>): DataStream<T> {
    return this.fromSource(collectionSource(items));
  }

  /**
   * A bounded stream of the arguments, in order, at parallelism 1 (Flink's `fromElements`; same as
   * `fromCollection([...])`).
   *
   * @example
   * ```ts
   * const words = env.fromElements('to', 'be', 'or', 'not');
   * ```
   */
  fromElements<T>(...items: T[]): DataStream<T> {
    return this.fromSource(collectionSource(items));
  }

  /**
   * The integers `from` to `to`, both included, generated in parallel (Flink's `fromSequence` /
   * NumberSequenceSource). Each subtask emits its share in ascending order; there is no order across
   * subtasks. Bounded, checkpointed by position and rescalable (it is a generator source). `from` and
   * `to` are safe integers (|n| <= Number.MAX_SAFE_INTEGER) and the sequence holds at most
   * Number.MAX_SAFE_INTEGER numbers, so every number is exact.
   *
   * @example
   * ```ts
   * const squares = env.fromSequence(1, 1_000_000).map((n) => n * n);
   * ```
   */
  fromSequence(from: number, to: number): DataStream<number> {
    for (const [v, what] of [
      [from, 'from'],
      [to, 'to'],
    ] as const)
      if (typeof v !== 'number' || !Number.isSafeInteger(v))
        throw invalid(`fromSequence: ${what} must be an integer between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}, got ${String(v)}`);
    if (from > to) throw invalid(`fromSequence: from (${from}) must not be greater than to (${to})`);
    // Counted exactly: to - from + 1 may be beyond 2^53, where a float would round.
    const count = BigInt(to) - BigInt(from) + 1n;
    if (count > BigInt(Number.MAX_SAFE_INTEGER))
      throw invalid(`fromSequence(${from}, ${to}) holds ${count} numbers, more than ${Number.MAX_SAFE_INTEGER}: narrow the range`);
    // from + i lies in [from, to]: a sum of two doubles whose exact value is a safe integer is exact.
    const start = from;
    return this.fromSource(generatorSource(Number(count), (i: number) => start + i), 'Sequence Source');
  }

  /**
   * `fn(i)` for i in 0..count-1, in parallel; `count` = Infinity for an unbounded stream.
   * `ratePerSecond` limits the total rate.
   */
  fromGenerator<T>(count: number, fn: (i: number) => T, options?: GeneratorOptions): DataStream<T> {
    return this.fromSource(generatorSource(count, fn, options));
  }

  /** Records from a core NATS subject (at-most-once); undecodable messages go to a dead-letter subject. */
  fromNats<T>(options: NatsSourceOptions): DataStream<T> {
    return this.fromSource(natsSource<T>(options));
  }

  /** Records from any Source. */
  fromSource<T>(source: Source<T>, name?: string): DataStream<T> {
    if (source === null || typeof source !== 'object' || typeof source.createReader !== 'function')
      throw new EddyError('EDDY_INVALID_ARGUMENT', 'fromSource needs a Source ({ name, bounded, createReader })');
    return new DataStream<T>(this, {
      kind: 'source',
      id: this.nextId(),
      name: name ?? source.name,
      uid: undefined,
      parallelism: undefined,
      source: source as Source<unknown>,
      ...(source.recordFailures === undefined ? {} : { recordFailures: validateRecordFailurePolicy(source.recordFailures, `source "${source.name}"`) }),
    });
  }

  private markExecuted(): void {
    this.executed = true;
    untrackUnexecuted(this);
  }

  private async submit(jobName: string, collect: number[]): Promise<SubmittedJob> {
    this.markExecuted();
    if (typeof jobName !== 'string' || !/^[A-Za-z0-9 _.:-]{1,100}$/.test(jobName))
      throw new EddyError('EDDY_CONFIG', `a job name must be 1-100 letters, digits, spaces or _.:- characters, got ${JSON.stringify(jobName)}`);
    if (this.sinks.length === 0) throw new EddyError('EDDY_CONFIG', 'the job has no sinks: add print(), sinkTo(...) or executeAndCollect() before executing');
    const roots = this.sinks;
    // Like Flink: executing consumes the graph built so far; the environment can build the next job.
    this.sinks = [];
    this.defaults.pin(roots, this.resolved.parallelism);
    return pipelineExecutor().submit({ jobName, config: this.resolved, roots, collect });
  }

  /**
   * Runs the job and resolves when it ends: bounded jobs when all input is processed, unbounded
   * ones when cancelled (`execution.cancel()`). Rejects with `JobFailedError` (`EDDY_JOB_FAILED`)
   * when the job fails.
   *
   * @example
   * ```ts
   * const execution = env.execute('forever'); // an unbounded job
   * // ... later:
   * const result = await execution.cancel(); // result.status === 'canceled'
   * ```
   */
  execute(jobName = 'eddy job'): JobExecution {
    const submitted = this.submit(jobName, []);
    const result = submitted.then(async ({ client }) => {
      const r = await client.result;
      if (r.status === 'failed') throw new JobFailedError(r);
      return r;
    });
    const client = submitted.then((s) => s.client);
    // A failed submission is reported through `result`; `client` rejects too, but only for whoever awaits it.
    client.catch(() => undefined);
    return Object.assign(result, {
      client,
      cancel: async (): Promise<JobResult> => (await client).cancel(),
    });
  }

  /** Starts the job and resolves once every task runs, with a handle to cancel it or await its result. */
  async executeAsync(jobName = 'eddy job'): Promise<JobClient> {
    const { client } = await this.submit(jobName, []);
    return client;
  }

  /**
   * Used by `executeAndCollect`. Rejects at once with `EDDY_CONFIG` when a source of the job is
   * unbounded (the job would never end, so the records would never come back); the collect sink is
   * then removed again, so the environment can still execute its other sinks.
   */
  async collect<T>(sinkId: number, jobName = 'eddy job'): Promise<T[]> {
    const unbounded = reachable(this.sinks).find((t): t is SourceTransformation => t.kind === 'source' && !t.source.bounded);
    if (unbounded !== undefined) {
      this.markExecuted();
      this.sinks = this.sinks.filter((t) => t.id !== sinkId);
      throw new EddyError(
        'EDDY_CONFIG',
        `executeAndCollect needs bounded sources; source "${unbounded.name}" is unbounded, so the job would never end: use execute()/executeAsync() with a sink (e.g. print() or natsSink), or a bounded source`,
        { operator: unbounded.name },
      );
    }
    const { client, collected } = await this.submit(jobName, [sinkId]);
    const result = await client.result;
    if (result.status === 'failed') throw new JobFailedError(result);
    if (result.status === 'canceled') throw new EddyError('EDDY_JOB_CANCELED', `job "${jobName}" was canceled before it finished`);
    return ((await collected).get(sinkId) ?? []) as T[];
  }
}
