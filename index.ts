// The package entry ("eddy"): the public API, with the in-process runtime registered behind it.
import { registerPipelineExecutor } from './src/api/executor.ts';
import { registerWorkerRuntime } from './src/api/worker-runtime.ts';
import { localExecutor } from './actors/local-executor.ts';
import { Worker } from './actors/worker.ts';

registerPipelineExecutor(localExecutor);
registerWorkerRuntime((o) => new Worker(o));

export * from './src/index.ts';
