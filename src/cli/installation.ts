// Where the running eddy lives: its package root and version, and whether it runs from its .ts sources (a clone) or its built dist/.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The eddy installation this module belongs to. */
export interface Installation {
  /** The package root (the directory with eddy's package.json), ending without a slash. */
  root: string;
  /** `version` of eddy's package.json. */
  version: string;
  /**
   * True when eddy runs from its TypeScript sources (a clone, through tsx), false when it runs from the
   * JavaScript that `npm run build` put into dist/ (an installed package: the tarball ships no sources).
   */
  fromSources: boolean;
  /** File URLs of the package entries `eddy` and `eddy/testing` of this same installation. */
  entries: { eddy: string; 'eddy/testing': string };
  /** eddy's package.json as parsed (devDependencies included: npm keeps them in an installed package). */
  manifest: { name?: string; version?: string; devDependencies?: Record<string, string> };
}

/**
 * Describes the installation from this module's own URL. The layout is fixed by the build
 * (tsconfig.build.json: rootDir `.`, outDir `dist`): this file is `<root>/src/cli/installation.ts`
 * in a clone and `<root>/dist/src/cli/installation.js` in a package, so the root and the entries
 * follow from the file's own extension; no directory walk can pick up another package.json.
 *
 * @example
 * ```ts
 * const here = installation();
 * here.version;       // '0.1.0'
 * here.fromSources;   // true in a clone (tsx), false in node_modules/eddy (dist/)
 * ```
 */
export function installation(moduleUrl: string = import.meta.url): Installation {
  const fromSources = /\.[cm]?ts$/.test(new URL(moduleUrl).pathname);
  const rootUrl = new URL(fromSources ? '../../' : '../../../', moduleUrl);
  const manifest = JSON.parse(readFileSync(new URL('package.json', rootUrl), 'utf8')) as Installation['manifest'];
  const entries = fromSources
    ? { eddy: new URL('index.ts', rootUrl).href, 'eddy/testing': new URL('src/testing/index.ts', rootUrl).href }
    : { eddy: new URL('dist/index.js', rootUrl).href, 'eddy/testing': new URL('dist/src/testing/index.js', rootUrl).href };
  return {
    root: fileURLToPath(rootUrl).replace(/\/$/, ''),
    version: manifest.version ?? 'unknown',
    fromSources,
    entries,
    manifest,
  };
}
