// The package entry ("eddy"): the public API, with the in-process runtime registered behind it.
import { registerPipelineExecutor } from './src/api/executor.ts';
import { localExecutor } from './actors/local-executor.ts';

registerPipelineExecutor(localExecutor);

export * from './src/index.ts';
