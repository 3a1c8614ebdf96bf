// Supervision of embedded nats-server processes: the watchdog shell script that stops nats-server when node goes away, and the signal/exit handlers that stop running servers.
import type { ChildProcess } from 'node:child_process';
import { systemClock } from '../time/clock.ts';

/** How long stop() waits for a graceful exit before SIGKILLing both processes. */
export const STOP_GRACE_MS = 5_000;

/**
 * The watchdog, run as `sh -c WATCHDOG sh <nats-server> <args...>`. Invariants:
 * - nats-server never holds the stdin pipe (fd 3 is closed for it), so node's end of that pipe is the
 *   only writer: the pipe reaches EOF exactly when node closes it (stop()) or node dies, even by SIGKILL.
 * - a background reader waits for that EOF, then TERMs nats-server and KILLs it after a grace period.
 *   It runs as a separate process so that the main shell can `wait` for nats-server and exit with its
 *   status, which is how node learns that the server exited early.
 * - the reader polls with short sleeps instead of one long `sleep`, and the main shell stops it with a
 *   trapped TERM and reaps it: no helper process ever outlives the watchdog (an orphaned `sleep` would
 *   linger, and become a zombie where the init process does not reap).
 * - TERM/INT/HUP sent to the shell are forwarded to nats-server as TERM; the shell still waits for it.
 * - the first line on stdout is nats-server's pid; everything nats-server logs goes to stderr.
 */
export const WATCHDOG = `
exec 3<&0 </dev/null
"$@" 3<&- >/dev/null &
pid=$!
echo "$pid"
(
  trap 'exit 0' TERM
  while read -r _line; do :; done <&3
  kill -TERM "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$i" -ge ${Math.ceil(STOP_GRACE_MS / 100)} ]; then kill -KILL "$pid" 2>/dev/null; break; fi
    sleep 0.1
    i=$((i + 1))
  done
) >/dev/null 2>&1 &
reader=$!
exec 3<&-
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT HUP
while :; do
  wait "$pid"
  status=$?
  kill -0 "$pid" 2>/dev/null || break
done
kill -TERM "$reader" 2>/dev/null
while kill -0 "$reader" 2>/dev/null; do wait "$reader"; done
exit "$status"
`;

/** Book-keeping for one running server; shared by stop(), the signal handlers and the exit hook. */
export interface Running {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Synchronous best effort: closes the watchdog's stdin and TERMs nats-server. */
  killNow(): void;
  stop(): Promise<void>;
}

const running = new Set<Running>();
let handlersInstalled = false;
let signalShutdown = false;

/** Work that must finish before the servers stop on a signal, e.g. cancelling the jobs that run on them. */
const shutdownHooks = new Set<(signal: 'SIGINT' | 'SIGTERM') => Promise<unknown>>();

/** How long shutdown hooks may take on SIGINT/SIGTERM before the servers are stopped anyway. */
const SHUTDOWN_HOOK_GRACE_MS = 5_000;

/**
 * Registers `hook` to run (at most 5 s) when SIGINT/SIGTERM stops the embedded servers, before they
 * stop and the process exits: the executor cancels its jobs here so they end as 'canceled' rather
 * than losing their server, and `eddy run` waits here for the job script to finish (so what it prints
 * after its job ended, e.g. a summary, is not cut off). The hook gets the signal. Returns the
 * function that unregisters it.
 *
 * @example
 * ```ts
 * const unregister = registerShutdownHook(() => job.cancel());
 * ```
 */
export function registerShutdownHook(hook: (signal: 'SIGINT' | 'SIGTERM') => Promise<unknown>): () => void {
  shutdownHooks.add(hook);
  return () => shutdownHooks.delete(hook);
}

function onSignal(signal: 'SIGINT' | 'SIGTERM'): void {
  const code = signal === 'SIGINT' ? 130 : 143;
  if (signalShutdown) {
    // A second signal while stopping: do not wait any longer.
    for (const r of running) r.killNow();
    process.exit(code);
  }
  signalShutdown = true;
  const hooks = Promise.allSettled([...shutdownHooks].map((h) => h(signal)));
  void Promise.race([hooks, systemClock.sleep(SHUTDOWN_HOOK_GRACE_MS)])
    .then(() => Promise.allSettled([...running].map((r) => r.stop())))
    .then(() => process.exit(code));
}
const onSigint = (): void => onSignal('SIGINT');
const onSigterm = (): void => onSignal('SIGTERM');
const onExit = (): void => {
  for (const r of running) r.killNow();
};

/** Adds a started server. Handlers exist only while a server runs, so processes that never start one keep node's default behaviour. */
export function track(r: Running): void {
  running.add(r);
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    process.on('exit', onExit);
  }
}

/** Removes a stopped server; the last one removes the signal and exit handlers. */
export function untrack(r: Running): void {
  running.delete(r);
  if (running.size === 0 && handlersInstalled) {
    handlersInstalled = false;
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('exit', onExit);
  }
}
