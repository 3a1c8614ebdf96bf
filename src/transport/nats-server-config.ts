// The embedded nats-server's config file: settings without a command-line flag, and the per-run credential, private to its owner.
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EddyError } from '../errors.ts';
import type { NatsCredential } from './credentials.ts';

/** nats-server 2.9 has no CLI flag for the payload limit, so it goes into a config file. */
const MAX_PAYLOAD = '8MB';

/**
 * Writes the server's config file: settings without a command-line flag and the credential. The
 * directory is made private (0700) and the file is created afresh with mode 0600 ('wx' after removing
 * any old one, so a file left by an older eddy with wider permissions never receives the secret).
 * The password is hex (src/transport/credentials.ts), so it needs no escaping inside the quotes.
 *
 * @returns the config file's path, `<storeDir>/nats-server.conf`.
 * @throws EDDY_CONFIG when the directory cannot be made private; fs errors when it cannot be created (the caller wraps them as EDDY_CONFIG).
 * @example
 * ```ts
 * const file = writePrivateConfig('.eddy/nats', newNatsCredential()); // '.eddy/nats/nats-server.conf', mode 0600
 * ```
 */
export function writePrivateConfig(storeDir: string, cred: NatsCredential): string {
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  // mkdir's mode does not apply to a directory that already exists.
  chmodSync(storeDir, 0o700);
  if ((statSync(storeDir).mode & 0o077) !== 0) throw new EddyError('EDDY_CONFIG', `cannot make ${storeDir} private to its owner (mode 0700); put the state directory (stateDir, --state-dir) on a file system with Unix permissions`);
  const configFile = join(storeDir, 'nats-server.conf');
  rmSync(configFile, { force: true });
  writeFileSync(
    configFile,
    '# written by eddy for one run of its embedded server; readable by its owner only (it holds the credential)\n' +
      `max_payload: ${MAX_PAYLOAD}\n` +
      `authorization {\n  user: "${cred.user}"\n  password: "${cred.pass}"\n}\n`,
    { mode: 0o600, flag: 'wx' },
  );
  return configFile;
}
