// The per-run secret that guards the embedded nats-server: a user name and a random password.
import { randomBytes } from 'node:crypto';

/** A NATS user and password, as the server's `authorization` block and the client's `user`/`pass` take them. */
export interface NatsCredential {
  readonly user: string;
  readonly pass: string;
}

/** The user name of the embedded server's only user; the secret is the password alone. */
const EMBEDDED_USER = 'eddy';

/**
 * A fresh credential for one embedded nats-server. The password is 32 bytes from the operating
 * system's CSPRNG, hex-encoded (URL-, shell- and config-safe: no quoting or escaping anywhere).
 *
 * This is deliberately NOT the seeded random of src/time/random.ts: that one exists to make
 * simulations replayable, and a replayable secret is no secret. Nothing in a test may depend on its
 * value, so there is nothing to seed.
 *
 * @example
 * ```ts
 * const { user, pass } = newNatsCredential(); // { user: 'eddy', pass: '3f9c…' (64 hex digits) }
 * ```
 */
export function newNatsCredential(): NatsCredential {
  return { user: EMBEDDED_USER, pass: randomBytes(32).toString('hex') };
}
