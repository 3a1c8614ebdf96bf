// The job master's view of the workers on its NATS server: who is alive (heartbeats), who was lost, and what each has free.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { EddyError, type ErrorInfo, toErrorInfo } from '../src/errors.ts';
import type { Cancelable, Clock } from '../src/time/clock.ts';
import { subjects } from '../src/transport/subjects.ts';
import { jsonCodec, type WorkerInfo } from './worker-protocol.ts';

interface Seen {
  info: WorkerInfo;
  lastSeen: number;
}

/**
 * Watches worker heartbeats. A worker silent for `timeoutMs` is lost: listeners hear it once, and
 * it is never used again by this pool (a worker that was only frozen fences itself when it wakes,
 * and its tasks have been restarted elsewhere).
 */
export class WorkerPool {
  private readonly workers = new Map<string, Seen>();
  private readonly lost = new Set<string>();
  private readonly lostListeners = new Set<(id: string, cause: ErrorInfo) => void>();
  private readonly changeListeners = new Set<() => void>();
  private sub: Subscription | undefined;
  private timer: Cancelable | undefined;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly clock: Clock,
    readonly timeoutMs: number,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(subjects.workerHeartbeat, {
      callback: (_err, msg) => {
        let info: WorkerInfo;
        try {
          info = jsonCodec.decode<WorkerInfo>(msg.data);
        } catch {
          return; // not a worker's heartbeat
        }
        if (this.lost.has(info.id)) return;
        const known = this.workers.has(info.id);
        this.workers.set(info.id, { info, lastSeen: this.clock.monotonic() });
        if (!known) for (const f of this.changeListeners) f();
      },
    });
    this.check();
  }

  private check(): void {
    if (this.closed) return;
    const now = this.clock.monotonic();
    for (const [id, w] of this.workers)
      if (now - w.lastSeen > this.timeoutMs) {
        this.workers.delete(id);
        this.lost.add(id);
        const cause = toErrorInfo(
          new EddyError('EDDY_WORKER_LOST', `worker ${id} (${w.info.host}, pid ${w.info.pid}) sent no heartbeat for ${Math.round(now - w.lastSeen)} ms (timeout ${this.timeoutMs} ms): its tasks restart on the other workers`),
        );
        for (const f of this.lostListeners) f(id, cause);
      }
    this.timer = this.clock.schedule(Math.min(250, this.timeoutMs / 4), () => this.check());
  }

  /**
   * Asks every registered worker for its info at once (`eddy.workers.info`), so a job placed on
   * existing workers sees all of them, not only the first whose heartbeat arrived.
   */
  async discover(maxWaitMs = 1000): Promise<void> {
    try {
      for await (const m of await this.nc.requestMany(subjects.workersInfo, '', { maxWait: maxWaitMs })) {
        const info = jsonCodec.decode<WorkerInfo>(m.data);
        if (this.lost.has(info.id) || this.workers.has(info.id)) continue;
        this.workers.set(info.id, { info, lastSeen: this.clock.monotonic() });
        for (const f of this.changeListeners) f();
      }
    } catch {
      // no responders yet: the heartbeats tell
    }
  }

  /** Live workers, in the order they were first heard. */
  live(): WorkerInfo[] {
    return [...this.workers.values()].map((w) => w.info);
  }

  isLive(id: string): boolean {
    return this.workers.has(id);
  }

  onLost(f: (id: string, cause: ErrorInfo) => void): void {
    this.lostListeners.add(f);
  }

  /** Resolves once at least `n` workers are live; EDDY_NO_SLOTS after `timeoutMs`. */
  waitFor(n: number, timeoutMs: number): Promise<void> {
    if (this.workers.size >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.workers.size < n) return;
        this.changeListeners.delete(check);
        timer.cancel();
        resolve();
      };
      const timer = this.clock.schedule(timeoutMs, () => {
        this.changeListeners.delete(check);
        reject(
          new EddyError(
            'EDDY_NO_SLOTS',
            `${this.workers.size} of the ${n} worker(s) the job waits for registered within ${timeoutMs} ms: start them with "eddy worker --nats <url>" (they announce themselves on ${subjects.workerHeartbeat})`,
          ),
        );
      });
      this.changeListeners.add(check);
    });
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.sub?.unsubscribe();
  }
}
