// vitest configuration: one real nats-server for the whole run (test/setup/global-nats.ts), forked workers.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-nats.ts'],
    // Integration tests start servers and child processes: generous, but finite.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Forks, not threads: tests spawn processes and install signal handlers, which must stay per-process.
    pool: 'forks',
  },
  // `eddy` and `eddy/testing` are the package's own sources (tsconfig.json "paths"), not the build in dist/ that package.json exports.
  resolve: { tsconfigPaths: true },
});
