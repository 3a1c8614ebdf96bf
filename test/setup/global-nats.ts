// vitest globalSetup: starts one embedded nats-server for the whole test run and provides its URL (credential included) as `natsUrl`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedNatsServer } from '../../src/transport/nats-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * URL of the nats-server shared by all tests of the run, read with `inject('natsUrl')`. Like every
     * embedded server it admits only clients with its per-run credential, which this URL carries
     * (`nats://eddy:<password>@127.0.0.1:<port>`): eddy (the `nats` option, NATS_URL, connectNats)
     * takes it as is; `connect()` of `@nats-io/transport-node` needs `natsConnectionOptions(natsUrl)`.
     * Give it to child processes as NATS_URL, never on their command line.
     */
    natsUrl: string;
  }
}

/** Starts the shared server and returns the teardown that stops it and removes its store. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const storeDir = mkdtempSync(join(tmpdir(), 'eddy-test-nats-'));
  const server = await startEmbeddedNatsServer({ storeDir });
  project.provide('natsUrl', server.url);
  return async () => {
    await server.stop();
    rmSync(storeDir, { recursive: true, force: true });
  };
}
