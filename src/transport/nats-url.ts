// NATS URLs that carry credentials (`nats://user:pass@host:port`, `nats://token@host:port`): split, build and redact.
//
// eddy passes one string around for "where NATS is and how to log in" (the `nats` option, NATS_URL,
// the job registry, JobClient.natsUrl). The nats.js v3 client ignores credentials in a server URL
// (it only reads the `user`/`pass`/`token` options), so every connection eddy makes turns the URL into
// client options here first; anything printed goes through redactNatsUrl.

import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type Authenticator } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
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
  /** From `?tls_ca=`, `?tls_cert=`, `?tls_key=` (file paths): TLS with this CA and client certificate. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** From `?creds=<file>` (a JWT + seed creds file) or `?nkey=<file>` (an nkey seed file). */
  authenticator?: Authenticator;
}

/** The query parameters a NATS URL may carry: file paths, never secrets themselves (the files hold those). */
const QUERY_KEYS = new Set(['tls_ca', 'tls_cert', 'tls_key', 'creds', 'nkey']);

function readSecretFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new EddyError('EDDY_CONFIG', `cannot read the NATS ${what} file ${path} named in the NATS URL: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * TLS and key-based authentication from the URL's query (`tls://host:4222?tls_ca=ca.pem&creds=user.creds`),
 * so the one URL string eddy passes around (NATS_URL, the job registry, worker processes) says how to connect.
 */
function applyQuery(out: NatsUrlOptions, query: string): void {
  const params = new URLSearchParams(query);
  for (const k of params.keys())
    if (!QUERY_KEYS.has(k)) throw new EddyError('EDDY_CONFIG', `unknown NATS URL parameter "${k}"; known: ${[...QUERY_KEYS].join(', ')}`);
  const tls: NonNullable<NatsUrlOptions['tls']> = {};
  const ca = params.get('tls_ca');
  const cert = params.get('tls_cert');
  const key = params.get('tls_key');
  if (ca !== null) tls.caFile = ca;
  if (cert !== null) tls.certFile = cert;
  if (key !== null) tls.keyFile = key;
  if ((cert === null) !== (key === null)) throw new EddyError('EDDY_CONFIG', 'a NATS URL with a client certificate needs both tls_cert and tls_key');
  if (ca !== null || cert !== null) out.tls = tls;
  const creds = params.get('creds');
  const nkey = params.get('nkey');
  if (creds !== null && nkey !== null) throw new EddyError('EDDY_CONFIG', 'a NATS URL takes creds or nkey, not both');
  if (creds !== null) out.authenticator = credsAuthenticator(readSecretFile(creds, 'creds'));
  if (nkey !== null) out.authenticator = nkeyAuthenticator(new TextEncoder().encode(new TextDecoder().decode(readSecretFile(nkey, 'nkey seed')).trim()));
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
 * the first userinfo found applies to all of them. A query names files: `tls_ca`, `tls_cert` and
 * `tls_key` (TLS), `creds` (a creds file: user JWT and seed) or `nkey` (an nkey seed file).
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
  // A query (TLS files, creds) applies to every server; the server URLs go without it.
  const query = parts.map((p) => p.rest.indexOf('?')).map((i, n) => (i < 0 ? undefined : parts[n]!.rest.slice(i + 1))).find((q) => q !== undefined);
  const servers = parts.map((p) => p.scheme + (p.rest.includes('?') ? p.rest.slice(0, p.rest.indexOf('?')) : p.rest));
  const out: NatsUrlOptions = { servers: servers.length === 1 ? servers[0]! : servers };
  if (query !== undefined) applyQuery(out, query);
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
