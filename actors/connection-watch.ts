// Watches a job's NATS connection: a reconnect means messages may have been lost, a long disconnect means NATS is gone.
import type { NatsConnection } from '@nats-io/transport-node';
import { EddyError, toErrorInfo, type ErrorInfo } from '../src/errors.ts';
import type { Cancelable, Clock } from '../src/time/clock.ts';

export interface ConnectionWatchHooks {
  /** True once the job ended: the watch stops. */
  ended(): boolean;
  /** The connection stayed lost longer than the timeout. */
  lost(cause: ErrorInfo): void;
  /**
   * The connection came back. Core NATS is at-most-once: frames, credits, barriers and acks in
   * flight meanwhile may be lost, and a task would wait for them forever, so the job restarts.
   */
  reconnected(cause: ErrorInfo): void;
}

/**
 * Follows `nc.status()` until the job ends: a disconnect that outlasts `timeoutMs` is reported as
 * lost (the client may otherwise retry for long); every reconnect is reported too.
 */
export async function watchConnection(nc: NatsConnection, clock: Clock, timeoutMs: number, jobName: string, hooks: ConnectionWatchHooks): Promise<void> {
  let timer: Cancelable | undefined;
  for await (const s of nc.status()) {
    if (hooks.ended()) break;
    if (s.type === 'disconnect' && timer === undefined) {
      timer = clock.schedule(timeoutMs, () =>
        hooks.lost(
          toErrorInfo(
            new EddyError(
              'EDDY_NATS_CONNECTION_LOST',
              `job "${jobName}" lost its NATS connection (${s.server}) for more than ${timeoutMs} ms; check that nats-server runs and is reachable`,
            ),
          ),
        ),
      );
    } else if (s.type === 'reconnect') {
      timer?.cancel();
      timer = undefined;
      hooks.reconnected(
        toErrorInfo(
          new EddyError(
            'EDDY_NATS_CONNECTION_LOST',
            `job "${jobName}" lost its NATS connection (${s.server}) and reconnected; messages in flight may be lost, so its regions restart from the last completed checkpoint`,
          ),
        ),
      );
    }
  }
  timer?.cancel();
}
