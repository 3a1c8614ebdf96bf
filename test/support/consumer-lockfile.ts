// Test support: a package-lock.json for a throwaway consumer project of the packed eddy, made from eddy's own lockfile, so `npm ci --offline` installs it from the npm cache alone.
import { readFileSync } from 'node:fs';

/** One entry of a lockfile v3 `packages` map (the fields this module reads; the rest is copied as is). */
interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  [field: string]: unknown;
}

/** The consumer: its package.json dependencies, and the packed eddy it installs. */
export interface Consumer {
  name: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  /** The eddy tarball: the spec used in the consumer's package.json (`file:...`), its integrity (from `npm pack --json`) and eddy's manifest. */
  eddy: { spec: string; integrity: string; manifest: { version: string; license?: string; dependencies?: Record<string, string>; bin?: Record<string, string>; engines?: Record<string, string> } };
}

/**
 * Why a lockfile: `npm install` of a tarball must resolve every dependency range to a version, which
 * needs the registry's package documents; `npm ci` leaves those out of the cache (it reads versions
 * from the lockfile) and fetches only tarballs. A consumer lockfile that pins exactly the versions of
 * eddy's own lockfile therefore installs offline on any machine where `npm ci` of eddy just ran:
 * every tarball it names is in the cache, found by its integrity. Dependencies other than eddy
 * (typescript, vitest, @types/node) must be ones eddy's lockfile holds, at the ranges eddy uses.
 *
 * @example
 * ```ts
 * writeFileSync('package-lock.json', JSON.stringify(consumerLockfile('/repo/package-lock.json', consumer)));
 * ```
 */
export function consumerLockfile(repoLockPath: string, consumer: Consumer): object {
  const lock = JSON.parse(readFileSync(repoLockPath, 'utf8')) as { packages: Record<string, LockEntry> };
  const all = lock.packages;
  /** Node's lookup: `<from>/node_modules/<name>`, then the same in each enclosing package, then the root. */
  const find = (from: string, name: string): string | undefined => {
    let at = from;
    for (;;) {
      const key = `${at === '' ? '' : `${at}/`}node_modules/${name}`;
      if (all[key] !== undefined) return key;
      if (at === '') return undefined;
      const i = at.lastIndexOf('/node_modules/');
      at = i < 0 ? '' : at.slice(0, i);
    }
  };

  const eddy = consumer.eddy.manifest;
  const packages: Record<string, object> = {
    '': { name: consumer.name, dependencies: consumer.dependencies, devDependencies: consumer.devDependencies },
    'node_modules/eddy': {
      version: eddy.version,
      resolved: consumer.eddy.spec,
      integrity: consumer.eddy.integrity,
      license: eddy.license,
      dependencies: eddy.dependencies,
      bin: eddy.bin,
      engines: eddy.engines,
    },
  };
  const roots = [...Object.keys(eddy.dependencies ?? {}), ...Object.keys(consumer.dependencies), ...Object.keys(consumer.devDependencies)].filter((n) => n !== 'eddy');
  const queue: string[] = [];
  for (const name of roots) {
    const key = find('', name);
    if (key === undefined) throw new Error(`${name} is not in ${repoLockPath}: the consumer can only use what eddy's lockfile holds`);
    queue.push(key);
  }
  const seen = new Set<string>();
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const entry = all[key]!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
      const dep = find(key, name);
      // A missing optional dependency is one npm skipped for this platform; a missing optional peer is one nobody asked for.
      if (dep !== undefined) queue.push(dep);
    }
  }
  for (const key of [...seen].sort()) {
    // Dev flags describe eddy's tree, not the consumer's; nothing is omitted at install, so they may go.
    const { dev: _dev, devOptional: _devOptional, ...entry } = all[key]!;
    packages[key] = entry;
  }
  return { name: consumer.name, lockfileVersion: 3, requires: true, packages };
}
