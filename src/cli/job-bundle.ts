// Bundles a job script into one ES module that a worker on another machine can load: the job's own files compiled in, its packages left as imports.
import { createHash } from 'node:crypto';
import { build } from 'esbuild';
import { pathToFileURL } from 'node:url';
import { EddyError } from '../errors.ts';

/** A job bundle: the code and its content hash (the name it is stored under). */
export interface JobBundle {
  code: string;
  hash: string;
}

/**
 * Bundles the job at `file` (TypeScript or JavaScript) with esbuild: the job's modules compiled
 * into one ES module, packages (eddy, xstate, ...) left as imports that the worker resolves where
 * it runs. `import.meta.url` keeps the job file's own URL, so paths relative to the job resolve
 * as they did where it was submitted.
 *
 * @example
 * ```ts
 * const { hash } = await bundleJob('/home/me/jobs/job.ts'); // 64 hex characters
 * ```
 */
export async function bundleJob(file: string): Promise<JobBundle> {
  let code: string;
  try {
    const out = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      logLevel: 'silent',
      sourcemap: 'inline',
      define: { 'import.meta.url': JSON.stringify(pathToFileURL(file).href) },
    });
    code = out.outputFiles[0]!.text;
  } catch (e) {
    throw new EddyError('EDDY_JOB_LOAD', `cannot bundle job ${file} for its workers: ${(e as Error).message}`, { cause: e });
  }
  return { code, hash: createHash('sha256').update(code).digest('hex') };
}
