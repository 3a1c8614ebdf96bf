// Loads a job file for `eddy run`: always as an ES module (top-level await works in any folder), with `eddy` resolvable from anywhere.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { installation } from './installation.ts';

/**
 * The module resolve hook, registered with `module.register` right before the job is imported (it
 * runs on node's loader thread, hence a self-contained source text). Hooks registered later run
 * first: this one sees what tsx and node resolved and adjusts two things.
 *
 * 1. The job file loads as an ES module. tsx (like node) takes a `.ts` or `.js` file's format from
 *    the nearest package.json, so a job in a folder without `"type": "module"` became CommonJS,
 *    where top-level await is a syntax error. eddy jobs are ES modules by contract (eddy's API is
 *    ESM, and `await env.execute()` at the top is the normal shape), so the job's format is set to
 *    "module"; tsx then compiles a `.ts` job as ESM. `.cts`/`.cjs` jobs say they are CommonJS and
 *    are left alone. The job's own TypeScript modules (`.ts`/`.tsx` outside node_modules, imported
 *    from the job or from each other) follow it, unless their package.json says `"type":
 *    "commonjs"`: written with import/export, they would otherwise load as CommonJS, where
 *    `import helper from './helper.ts'` yields the module object instead of its default export.
 *    `.js` modules keep the format node gives them (plain CommonJS JavaScript is common).
 * 2. `eddy` and `eddy/testing` resolve to this installation when the normal lookup finds nothing
 *    (a job in a folder without node_modules/eddy). In a clone (sources), a lookup that lands in
 *    this package's own dist/ is redirected to the sources too, so the job and the CLI share one copy
 *    of eddy and a stale build is never used.
 */
const HOOK = `
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
let job = '';
let entries = {};
let builtDir = '';
let fromSources = false;
let fallbackParents = [];
export function initialize(data) {
  ({ job, entries, builtDir, fromSources, fallbackParents } = data);
}
/** A package name (not a path, URL or node builtin). */
const isBare = (s) => !/^(\\.|\\/|file:|node:|data:)/.test(s);
/** A file URL without query and hash; tsx marks CommonJS modules with a query, partly percent-encoded into the path. */
const bare = (url) => url.replace(/(\\?|%3F|#).*$/i, '');
/** Modules made ES modules here (the job and its TypeScript modules): what they import may follow. */
const forced = new Set();
const declaredType = new Map();
/** The "type" of the package.json nearest to a directory, or null (none, or no package.json). */
function packageType(dir) {
  if (declaredType.has(dir)) return declaredType.get(dir);
  let type;
  try {
    type = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type ?? null;
  } catch (e) {
    // No package.json here (or an unreadable one, which node reports itself): ask the parent.
    const parent = dirname(dir);
    type = e?.code === 'ENOENT' && parent !== dir ? packageType(parent) : null;
  }
  declaredType.set(dir, type);
  return type;
}
/** The module as an ES module, at its plain file URL (without tsx's CommonJS markers). */
function asModule(resolved) {
  const url = bare(resolved.url);
  forced.add(url);
  return { ...resolved, url, format: 'module' };
}
export async function resolve(specifier, context, next) {
  const entry = Object.hasOwn(entries, specifier) ? entries[specifier] : undefined;
  let resolved;
  try {
    resolved = await next(specifier, context);
  } catch (e) {
    if (entry !== undefined && (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED')) return next(entry, context);
    // A job bundle on a worker imports its packages from where the worker runs (or eddy's own).
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && isBare(specifier))
      for (const parentURL of fallbackParents) {
        try {
          return await next(specifier, { ...context, parentURL });
        } catch {
          // try the next place
        }
      }
    throw e;
  }
  if (entry !== undefined && fromSources && resolved.url.startsWith(builtDir)) return next(entry, context);
  const url = bare(resolved.url);
  // The specifier is compared too: tsx may resolve job.js to a job.ts next to it.
  const isJob = specifier === job || url === job;
  const fromJob = isJob || (context.parentURL !== undefined && forced.has(bare(context.parentURL)));
  if (!fromJob || !url.startsWith('file:') || url.includes('/node_modules/')) return resolved;
  if (resolved.format === 'module') {
    forced.add(url);
    return resolved;
  }
  if (resolved.format !== 'commonjs') return resolved;
  if (isJob ? /\\.(ts|js)$/.test(url) : /\\.tsx?$/.test(url) && packageType(dirname(fileURLToPath(url))) !== 'commonjs') return asModule(resolved);
  return resolved;
}
`;

/**
 * Imports the job at `jobUrl` (a file URL) as an ES module and resolves when its top level has run
 * (for a job ending in `await env.execute()`, when the job has ended). Meant to be called once per
 * process, by `eddy run`: each call adds a loader hook.
 *
 * @example
 * ```ts
 * await loadJob(pathToFileURL('/home/me/jobs/job.ts').href); // runs job.ts, top-level await included
 * ```
 */
export async function loadJob(jobUrl: string): Promise<unknown> {
  registerJobLoader(jobUrl, []);
  return import(jobUrl);
}

/**
 * Registers the loader hook for job `jobUrl` ('' for job bundles, which are ES modules already);
 * bare imports that do not resolve from the importing file are retried from `fallbackParents`
 * (file URLs of directories ending in '/'), in order.
 */
export function registerJobLoader(jobUrl: string, fallbackParents: string[]): void {
  const here = installation();
  register(`data:text/javascript,${encodeURIComponent(HOOK)}`, {
    parentURL: import.meta.url,
    data: {
      job: jobUrl,
      entries: here.entries,
      builtDir: pathToFileURL(`${here.root}/dist/`).href,
      fromSources: here.fromSources,
      fallbackParents,
    },
  });
}
