#!/usr/bin/env node
// The `eddy` executable: runs the CLI from the built JavaScript in dist/ (an installed package) or, in a clone, from the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { register as registerTsxCjs } from 'tsx/cjs/api';
import { register as registerTsxEsm } from 'tsx/esm/api';

// tsx compiles the user's TypeScript job (and, in a clone, eddy's own sources). Both loaders, as
// `node --import tsx` does, so a job may import .ts helpers of either module type. The job file
// itself is always loaded as an ES module (src/cli/load-job.ts).
registerTsxCjs();
registerTsxEsm();

// A clone has src/ and runs it, so an edit needs no build; the package ships only dist/ and bin/
// ("files" in package.json), so an installed eddy runs its compiled JavaScript.
const sources = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/src/cli/main.js', import.meta.url);
const entry = existsSync(sources) ? sources : built;
if (!existsSync(entry)) {
  process.stderr.write(
    `eddy: this installation has neither its sources nor its build (looked for ${built.pathname}): ` +
      'run "npm run build" in the eddy package, or reinstall it\n',
  );
  process.exit(1);
}
const { main, formatError, debugEnabled } = await import(entry.href);

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
