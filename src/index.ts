// The public API surface of eddy (re-exported by the package entry, which also registers the runtime).
export { StreamEnvironment, JobFailedError, CheckpointingMode } from './api/stream-environment.ts';
export { Time, Duration } from './api/time.ts';
export type { JobExecution } from './api/stream-environment.ts';
export type { StreamEnvironmentConfig } from './api/config.ts';
export { DataStream, KeyedStream, DataStreamSink } from './api/data-stream.ts';
export { AsyncDataStream, DEFAULT_ASYNC_CAPACITY } from './api/async-data-stream.ts';
export type { AsyncWaitOptions } from './api/async-data-stream.ts';
export { ConnectedStreams, KeyedConnectedStreams } from './api/connected-streams.ts';
export { BroadcastStream, BroadcastConnectedStream, KeyedBroadcastConnectedStream } from './api/broadcast-stream.ts';
export { IntervalJoin, IntervalJoined } from './api/interval-join.ts';
export type { JobResult, JobClient, JobStatus, JobStatusInfo, RestartInfo, CheckpointSummary } from './api/job.ts';
export type { RecordFailurePolicy } from './functions/record-failure-policy.ts';
export type {
  CheckpointingConfig,
  CheckpointingOptions,
  RestartPolicyConfig,
  FixedDelayConfig,
  ExponentialDelayConfig,
  FailureRateConfig,
  NoRestartConfig,
  SupervisionOptions,
  SupervisionStrategy,
  RestartIntensity,
} from './api/fault-tolerance.ts';
export type { RestoreConfig } from './api/config.ts';
export { ProcessFunction, KeyedProcessFunction, CoProcessFunction, KeyedCoProcessFunction, ProcessJoinFunction } from './functions/functions.ts';
export { BroadcastProcessFunction, KeyedBroadcastProcessFunction } from './functions/broadcast-functions.ts';
export type {
  BroadcastProcessFunctionLike,
  KeyedBroadcastProcessFunctionLike,
  BroadcastReadOnlyContext,
  BroadcastContext,
  KeyedBroadcastReadOnlyContext,
  KeyedBroadcastContext,
  KeyedBroadcastOnTimerContext,
  BroadcastState,
  ReadOnlyBroadcastState,
} from './functions/broadcast-functions.ts';
export type {
  Collector,
  RuntimeContext,
  RichFunction,
  MapFunction,
  FilterFunction,
  FlatMapFunction,
  AsyncFunction,
  KeySelector,
  ProcessContext,
  KeyedProcessContext,
  TimerService,
  OnTimerContext,
  TimeDomain,
  ProcessFunctionLike,
  CoMapFunction,
  CoFlatMapFunction,
  CoProcessFunctionLike,
  ProcessJoinContext,
  ProcessJoinFunctionLike,
} from './functions/functions.ts';
export { OutputTag } from './functions/output-tag.ts';
export type { ActorOptions } from './api/keyed-actor.ts';
export type { ActorStateView, UnhandledEvent, ActorTimeDomain, ProcessingTimeRestore, UnhandledPolicy } from './operators/actor-operator.ts';
export type { ActorEvent, ActorSnapshot } from './machines/machine-runner.ts';
export type { MachineMigration, MachineVersion, MigratingActor, ActorTimerView } from './machines/machine-version.ts';
export { onJobNotice } from './api/job-notices.ts';
export type { JobNotice, RestoredNotice, ResumeEmptyNotice, ActorPathNotice } from './api/job-notices.ts';
export {
  ValueStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  AggregatingStateDescriptor,
} from './state/descriptors.ts';
export { StateTtlConfig, StateTtlConfigBuilder, UpdateType, StateVisibility, TtlTimeCharacteristic } from './state/state-ttl.ts';
export type { CleanupStrategies, IncrementalCleanupStrategy } from './state/state-ttl.ts';
export type {
  ValueState,
  ListState,
  MapState,
  ReducingState,
  AggregatingState,
  AggregateFunction,
  ReduceFunction,
} from './state/descriptors.ts';
export { EddyError, isEddyError } from './errors.ts';
export { isMainModule } from './api/is-main-module.ts';
export type { EddyErrorCode, ErrorInfo } from './errors.ts';
export { collectionSource } from './connectors/collection-source.ts';
export { generatorSource } from './connectors/generator-source.ts';
export type { GeneratorOptions } from './connectors/generator-source.ts';
export { natsSource } from './connectors/nats-source.ts';
export type { NatsSourceOptions } from './connectors/nats-source.ts';
export { natsSink } from './connectors/nats-sink.ts';
export type { NatsSinkOptions } from './connectors/nats-sink.ts';
export { publishJson } from './connectors/publisher.ts';
export type { PublishJsonOptions, PublishJsonResult } from './connectors/publisher.ts';
export { natsConnectionOptions, redactNatsUrl } from './transport/nats-url.ts';
export type { NatsUrlOptions } from './transport/nats-url.ts';
export { printSink } from './connectors/print-sink.ts';
export { jetStreamSource } from './connectors/jetstream-source.ts';
export type { JetStreamSourceOptions, JetStreamFormat, JetStreamSplitState } from './connectors/jetstream-source.ts';
export { jetStreamSink } from './connectors/jetstream-sink.ts';
export type { JetStreamSinkOptions } from './connectors/jetstream-sink.ts';
export { fileSource } from './connectors/file-source.ts';
export type { FileSourceOptions, FileSourceFormat, FileSplit } from './connectors/file-source.ts';
export { fileSink } from './connectors/file-sink.ts';
export type { FileSinkOptions, FileSinkFormat } from './connectors/file-sink.ts';
export { twoPhaseCommitWriter } from './connectors/two-phase-commit.ts';
export type { CommitRetryOptions, SinkTransaction, TwoPhaseCommitOptions } from './connectors/two-phase-commit.ts';
export type { GeneratorSplit } from './connectors/generator-source.ts';
export type { Source, SourceReader, SourceOutput, PollResult } from './connectors/source.ts';
export type { Sink, SinkWriter, SinkContext } from './operators/sink-operator.ts';
export type { Clock } from './time/clock.ts';
export { systemClock, ManualClock } from './time/clock.ts';
export { WatermarkStrategy } from './time/watermark-strategy.ts';
export type { WatermarkGenerator, WatermarkOutput, WatermarkGeneratorContext, TimestampAssigner } from './time/watermark-strategy.ts';
export { WindowedStream, AllWindowedStream } from './api/windowed-stream.ts';
export { JoinedStreams, JoinWhere, JoinEqualTo, JoinWithWindow } from './api/joined-streams.ts';
export type { TaggedUnion } from './api/joined-streams.ts';
export { TimeWindow, GlobalWindow } from './functions/windowing/windows.ts';
export type { Window } from './functions/windowing/windows.ts';
export {
  WindowAssigner,
  MergingWindowAssigner,
  TumblingEventTimeWindows,
  SlidingEventTimeWindows,
  EventTimeSessionWindows,
  DynamicEventTimeSessionWindows,
  TumblingProcessingTimeWindows,
  SlidingProcessingTimeWindows,
  ProcessingTimeSessionWindows,
  GlobalWindows,
} from './functions/windowing/assigners.ts';
export type { WindowAssignerContext, WindowId, SlicedWindowLayout } from './functions/windowing/assigners.ts';
export { Trigger, TriggerResult, EventTimeTrigger, ProcessingTimeTrigger, CountTrigger, PurgingTrigger, NeverTrigger } from './functions/windowing/triggers.ts';
export type { TriggerContext, OnMergeContext } from './functions/windowing/triggers.ts';
export { CountEvictor, TimeEvictor } from './functions/windowing/evictors.ts';
export type { Evictor, EvictorContext, TimestampedElement } from './functions/windowing/evictors.ts';
export { ProcessWindowFunction, ProcessAllWindowFunction } from './functions/windowing/functions.ts';
export type { ProcessWindowContext, ProcessWindowFunctionLike, ProcessAllWindowFunctionLike, JoinFunction } from './functions/windowing/functions.ts';
