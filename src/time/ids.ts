// Identifiers that need randomness: the one place job ids are drawn.
import { randomBytes } from 'node:crypto';

/** A fresh job id: 12 hex characters, a valid NATS subject token. */
export function newJobId(): string {
  return randomBytes(6).toString('hex');
}
