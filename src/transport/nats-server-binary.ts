// Locates the nats-server binary the embedded server runs: EDDY_NATS_SERVER_BIN, PATH, then where installers put it.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Directories searched after PATH: where Debian and common installers put the binary. */
export const FALLBACK_DIRS = ['/usr/sbin', '/usr/local/bin', '/usr/bin', '/sbin'];

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Locates the `nats-server` binary. When `EDDY_NATS_SERVER_BIN` is set, only that path is considered;
 * otherwise each directory of PATH, then /usr/sbin, /usr/local/bin, /usr/bin and /sbin (Debian installs
 * it in /usr/sbin, which is often not on a non-root PATH).
 *
 * @returns the absolute path of an executable file, or undefined when there is none.
 * @example
 * ```ts
 * const bin = findNatsServerBinary(); // '/usr/sbin/nats-server' or undefined
 * ```
 */
export function findNatsServerBinary(): string | undefined {
  const explicit = process.env.EDDY_NATS_SERVER_BIN;
  if (explicit !== undefined && explicit !== '') return isExecutableFile(explicit) ? explicit : undefined;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of [...dirs, ...FALLBACK_DIRS]) {
    const candidate = join(dir, 'nats-server');
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
