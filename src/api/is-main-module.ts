// isMainModule: lets a job script run itself only when it is the program (node, tsx or `eddy run`), not when imported.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * True when the module at `importMetaUrl` is the program being run: started by node/tsx (argv[1])
 * or by `eddy run` (which sets EDDY_JOB_FILE). Tests can import the same file without running it.
 *
 * @example
 * ```ts
 * if (isMainModule(import.meta.url)) await main();
 * ```
 */
export function isMainModule(importMetaUrl: string): boolean {
  for (const p of [process.argv[1], process.env['EDDY_JOB_FILE']]) {
    if (p === undefined || p === '') continue;
    let real = p;
    try {
      real = realpathSync(p);
    } catch {
      // not a file: compare as given
    }
    if (pathToFileURL(real).href === importMetaUrl) return true;
  }
  return false;
}
