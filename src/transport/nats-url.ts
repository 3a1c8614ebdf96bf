// NATS URLs that carry credentials (`nats://user:pass@host:port`, `nats://token@host:port`): split, build and redact.
//
// eddy passes one string around for "where NATS is and how to log in" (the `nats` option, NATS_URL,
// the job registry, JobClient.natsUrl). The nats.js v3 client ignores credentials in a server URL
// (it only reads the `user`/`pass`/`token` options), so every connection eddy makes turns the URL into
// client options here first; anything printed goes through redactNatsUrl.

import type { NatsCredential } from './credentials.ts';

/** The `@nats-io/transport-node` connection options a NATS URL stands for. */
export interface NatsUrlOptions {
  /** The server URL(s) without credentials. */
  servers: string | string[];
  /** From `user:pass@`. */
  user?: string;
  pass?: string;
  /** From `token@` (userinfo without a colon). */
  token?: string;
}

interface SplitUrl {
  /** `nats://` or '' when the URL has no scheme (`host:port`). */
  scheme: string;
  /** Raw (still percent-encoded) userinfo, or undefined. */
  userinfo: string | undefined;
  /** host:port and anything after it. */
  rest: string;
}

function split(url: string): SplitUrl {
  const trimmed = url.trim();
  const m = /^[a-z][a-z0-9+.-]*:\/\//i.exec(trimmed);
  const scheme = m === null ? '' : m[0];
  const afterScheme = trimmed.slice(scheme.length);
  // The authority ends at the first '/', '?' or '#'; a password may contain '@', so the last '@' in it separates the userinfo.
  const end = afterScheme.search(/[/?#]/);
  const authority = end < 0 ? afterScheme : afterScheme.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at < 0) return { scheme, userinfo: undefined, rest: afterScheme };
  return { scheme, userinfo: authority.slice(0, at), rest: afterScheme.slice(at + 1) };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    // Not valid percent-encoding: taken literally.
    return part;
  }
}

/**
 * The client options for a NATS URL: the server URL(s) without credentials, and `user`/`pass` or
 * `token` from the URL's userinfo (percent-decoded). A comma-separated list names several servers;
 * the first userinfo found applies to all of them.
 *
 * @example
 * ```ts
 * natsConnectionOptions('nats://eddy:s3cret@127.0.0.1:4222');
 * // { servers: 'nats://127.0.0.1:4222', user: 'eddy', pass: 's3cret' }
 * const nc = await connect({ ...natsConnectionOptions(client.natsUrl), name: 'my-publisher' });
 * ```
 */
export function natsConnectionOptions(url: string): NatsUrlOptions {
  const parts = url.split(',').filter((p) => p.trim() !== '').map(split);
  const servers = parts.map((p) => p.scheme + p.rest);
  const out: NatsUrlOptions = { servers: servers.length === 1 ? servers[0]! : servers };
  const info = parts.find((p) => p.userinfo !== undefined)?.userinfo;
  if (info === undefined || info === '') return out;
  const colon = info.indexOf(':');
  if (colon < 0) out.token = decode(info);
  else {
    out.user = decode(info.slice(0, colon));
    out.pass = decode(info.slice(colon + 1));
  }
  return out;
}

/**
 * `url` with any credentials replaced by `***`, for messages and logs.
 *
 * @example
 * ```ts
 * redactNatsUrl('nats://eddy:s3cret@127.0.0.1:4222'); // 'nats://***@127.0.0.1:4222'
 * redactNatsUrl('nats://127.0.0.1:4222'); // unchanged
 * ```
 */
export function redactNatsUrl(url: string): string {
  return url
    .split(',')
    .map((p) => {
      const s = split(p);
      return s.userinfo === undefined ? p : `${s.scheme}***@${s.rest}`;
    })
    .join(',');
}

/**
 * `url` (which must carry no credentials) with `cred` as its userinfo, percent-encoded.
 *
 * @example
 * ```ts
 * natsUrlWithCredential('nats://127.0.0.1:4222', { user: 'eddy', pass: 'abc' }); // 'nats://eddy:abc@127.0.0.1:4222'
 * ```
 */
export function natsUrlWithCredential(url: string, cred: NatsCredential): string {
  const s = split(url);
  return `${s.scheme}${encodeURIComponent(cred.user)}:${encodeURIComponent(cred.pass)}@${s.rest}`;
}
