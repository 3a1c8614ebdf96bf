// Under `eddy run`, a job script that built a job but never ran it ends with EDDY_NOT_EXECUTED instead of silently doing nothing.
import { EddyError } from '../errors.ts';

/** An environment that built something and has not executed yet: it says what it built (e.g. `sources: "A"; sinks: "B"`). */
export interface PendingJob {
  describePending(): string;
}

const pending = new Set<PendingJob>();
let listening = false;

/**
 * True while `eddy run` loads and runs a job script: the CLI sets EDDY_JOB_FILE for it. Only then does
 * a process that ends with an unexecuted environment mean a forgotten `execute()`: libraries, REPLs
 * and test runners build environments they never run (to inspect a graph, to test an error), so
 * elsewhere nothing is tracked and no listener is added.
 */
function underEddyRun(): boolean {
  const file = process.env['EDDY_JOB_FILE'];
  return file !== undefined && file !== '';
}

/**
 * Called when an environment records its first transformation: under `eddy run`, registers (once per
 * process) a `beforeExit` listener that reports environments never executed.
 *
 * @example
 * ```ts
 * trackUnexecuted(env); // in StreamEnvironment, on the first transformation
 * untrackUnexecuted(env); // in execute / executeAsync / executeAndCollect
 * ```
 */
export function trackUnexecuted(job: PendingJob): void {
  if (!underEddyRun()) return;
  pending.add(job);
  if (!listening) {
    listening = true;
    // beforeExit fires only when the event loop has drained: a running job (executeAsync) keeps it busy.
    process.on('beforeExit', reportUnexecuted);
  }
}

/**
 * The environment executed (or tried to): nothing to report for it.
 *
 * @example
 * ```ts
 * untrackUnexecuted(env); // first thing in execute()
 * ```
 */
export function untrackUnexecuted(job: PendingJob): void {
  pending.delete(job);
}

/**
 * The error for the environments still pending, or undefined when there are none.
 *
 * @example
 * ```ts
 * unexecutedError()?.code; // 'EDDY_NOT_EXECUTED' while a built job has not run
 * ```
 */
export function unexecutedError(): EddyError | undefined {
  if (pending.size === 0) return undefined;
  const what = [...pending].map((j) => j.describePending()).join('; and ');
  return new EddyError(
    'EDDY_NOT_EXECUTED',
    `the job script ended without running the job it built (${what}), so nothing ran: call \`await env.execute('job name')\` (or executeAsync() / executeAndCollect()) after adding the sinks`,
  );
}

function reportUnexecuted(): void {
  const e = unexecutedError();
  // Reported once: the next beforeExit (if the listener's caller schedules more work) finds nothing.
  pending.clear();
  if (e === undefined) return;
  process.stderr.write(`eddy: ${e.message}\n`);
  process.exitCode = 1;
}
