// vitest globalSetup: starts one embedded nats-server for the whole test run and provides its URL as `natsUrl`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedNatsServer } from '../../src/transport/nats-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the nats-server shared by all tests of the run; read with `inject('natsUrl')`. */
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
