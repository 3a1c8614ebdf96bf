#!/usr/bin/env node
// The `eddy` executable: loads TypeScript through tsx (job scripts and eddy's own sources), then runs src/cli/main.ts.
import { register as registerHooks } from 'node:module';
import { register as registerTsxCjs } from 'tsx/cjs/api';
import { register as registerTsxEsm } from 'tsx/esm/api';

// Both loaders, as `node --import tsx` does: a .ts file outside a "type": "module" package loads as CommonJS.
registerTsxCjs();
registerTsxEsm();

// A job script outside this package (e.g. ~/jobs/job.ts) may `import ... from 'eddy'` even where no
// node_modules provides it: when the normal lookup fails, 'eddy' and 'eddy/testing' resolve to this
// installation. Registered after tsx, so it runs first and defers to tsx and node for everything else.
const fallbacks = {
  eddy: new URL('../index.ts', import.meta.url).href,
  'eddy/testing': new URL('../src/testing/index.ts', import.meta.url).href,
};
const resolveHook = `
let fallbacks = {};
export function initialize(data) { fallbacks = data; }
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && Object.hasOwn(fallbacks, specifier)) return next(fallbacks[specifier], context);
    throw e;
  }
}
`;
registerHooks(`data:text/javascript,${encodeURIComponent(resolveHook)}`, { parentURL: import.meta.url, data: fallbacks });

const { main, formatError, debugEnabled } = await import('../src/cli/main.ts');

// A promise the job forgot to await (e.g. `env.execute()` without await) still ends eddy with one
// readable message and exit code 1; the exit hook of the embedded nats-server stops it.
const fatal = (e) => {
  process.stderr.write(formatError(e, debugEnabled(process.env)));
  process.exit(1);
};
process.on('unhandledRejection', fatal);
process.on('uncaughtException', fatal);

const code = await main(process.argv.slice(2));
if (code !== 0) {
  // Nothing the job left running (another job, a timer) may keep a failed run alive.
  process.exit(code);
}
// Success: let the event loop drain, so a job started with executeAsync() keeps running until it ends.
process.exitCode = 0;
