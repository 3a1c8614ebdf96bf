// Connects to NATS with a bounded wait, the credentials a NATS URL carries, and errors that say what to do.
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { EddyError } from '../errors.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { natsConnectionOptions, redactNatsUrl } from './nats-url.ts';

/** Options of {@link connectNats}. */
export interface ConnectNatsOptions {
  /** How long to wait for the server to answer (default 5 000 ms). */
  timeoutMs?: number;
  /** Connection name shown in the server's monitoring. */
  name?: string;
  /** Clock for the timeout guard (default: the system clock). */
  clock?: Clock;
}

/**
 * Connects to NATS, failing with a message that says what to do when nobody answers or the server
 * refuses the credentials. Credentials in the URL (`nats://user:pass@host:port`, `nats://token@host:port`;
 * the embedded server's URL carries its per-run password this way) are sent as the client's
 * `user`/`pass` or `token`; messages show the URL with them redacted.
 *
 * @throws EddyError `EDDY_NATS_UNREACHABLE` when the connection is refused or the server does not
 *   answer within `timeoutMs` (default 5 000 ms); `EDDY_NATS_AUTH` when the server requires
 *   credentials the URL does not carry, or rejects them.
 * @example
 * ```ts
 * const nc = await connectNats(process.env.NATS_URL ?? server.url, { name: 'eddy-worker-1' });
 * ```
 */
export async function connectNats(url: string, opts: ConnectNatsOptions = {}): Promise<NatsConnection> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const clock = opts.clock ?? systemClock;
  const shown = redactNatsUrl(url);
  const unreachable = (detail: string, cause?: unknown): EddyError =>
    new EddyError(
      'EDDY_NATS_UNREACHABLE',
      `cannot reach NATS at ${shown} (${detail}). Start a nats-server there, fix NATS_URL (or the \`nats\` option / --nats), ` +
        'or unset it to let eddy start its embedded server.',
      { cause },
    );
  const refused = (detail: string, cause: unknown): EddyError =>
    new EddyError(
      'EDDY_NATS_AUTH',
      `NATS at ${shown} refused the connection's credentials (${detail}). Put the server's user and password ` +
        '(nats://user:pass@host:port) or token (nats://token@host:port) into NATS_URL (or the `nats` option / --nats).',
      { cause },
    );
  const attempt = connect({ ...natsConnectionOptions(url), timeout: timeoutMs, name: opts.name });
  let timer: { cancel(): void } | undefined;
  // The client's own timeout covers the handshake; this guard also covers anything it does not.
  const guard = new Promise<never>((_, reject) => {
    timer = clock.schedule(timeoutMs + 250, () => reject(unreachable(`no answer within ${timeoutMs} ms`)));
  });
  try {
    return await Promise.race([attempt, guard]);
  } catch (e) {
    // If the guard won, a late connection must not leak.
    attempt.then((nc) => nc.close()).catch(() => {});
    if (e instanceof EddyError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof errors.AuthorizationError || e instanceof errors.UserAuthenticationExpiredError) throw refused(msg, e);
    throw unreachable(/timeout/i.test(msg) ? `no answer within ${timeoutMs} ms` : msg, e);
  } finally {
    timer?.cancel();
  }
}
