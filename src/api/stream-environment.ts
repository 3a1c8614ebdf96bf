// StreamEnvironment: where a job starts (sources) and is run (execute, executeAsync).
import { validateRecordFailurePolicy } from '../graph/record-failure-policy.ts';
import { collectionSource } from '../connectors/collection-source.ts';
import { generatorSource, type GeneratorOptions } from '../connectors/generator-source.ts';
import { natsSource, type NatsSourceOptions } from '../connectors/nats-source.ts';
import type { Source } from '../connectors/source.ts';
import { EddyError } from '../errors.ts';
import type { Transformation } from '../graph/transformation.ts';
import { resolveConfig, type ResolvedConfig, type StreamEnvironmentConfig } from './config.ts';
import { DataStream, type StreamContext } from './data-stream.ts';
import { pipelineExecutor, type SubmittedJob } from './executor.ts';
import type { JobClient, JobResult } from './job.ts';

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
export class StreamEnvironment implements StreamContext {
  private ids = 0;
  private sinks: Transformation[] = [];
  readonly config: ResolvedConfig;

  private constructor(config: ResolvedConfig) {
    this.config = config;
  }

  /** Validates `config` (throws `EDDY_CONFIG`) and creates an environment. */
  static create(config: StreamEnvironmentConfig = {}): StreamEnvironment {
    return new StreamEnvironment(resolveConfig(config));
  }

  nextId(): number {
    return ++this.ids;
  }

  addSink(t: Transformation): void {
    this.sinks.push(t);
  }

  /** A bounded stream of the given items, in order (parallelism 1). */
  fromCollection<T>(items: Iterable<T>): DataStream<T> {
    return this.fromSource(collectionSource(items));
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

  private async submit(jobName: string, collect: number[]): Promise<SubmittedJob> {
    if (typeof jobName !== 'string' || !/^[A-Za-z0-9 _.:-]{1,100}$/.test(jobName))
      throw new EddyError('EDDY_CONFIG', `a job name must be 1-100 letters, digits, spaces or _.:- characters, got ${JSON.stringify(jobName)}`);
    if (this.sinks.length === 0) throw new EddyError('EDDY_CONFIG', 'the job has no sinks: add print(), sinkTo(...) or executeAndCollect() before executing');
    const roots = this.sinks;
    // Like Flink: executing consumes the graph built so far; the environment can build the next job.
    this.sinks = [];
    return pipelineExecutor().submit({ jobName, config: this.config, roots, collect });
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

  /** Used by `executeAndCollect`. */
  async collect<T>(sinkId: number, jobName = 'eddy job'): Promise<T[]> {
    const { client, collected } = await this.submit(jobName, [sinkId]);
    const result = await client.result;
    if (result.status === 'failed') throw new JobFailedError(result);
    if (result.status === 'canceled') throw new EddyError('EDDY_JOB_CANCELED', `job "${jobName}" was canceled before it finished`);
    return ((await collected).get(sinkId) ?? []) as T[];
  }
}
