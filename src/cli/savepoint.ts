// `eddy savepoint <job>`: asks a job running on this machine (found through its registration) for a savepoint over NATS and prints where it is.
import { resolve } from 'node:path';
import { errors as natsErrors } from '@nats-io/transport-node';
import { findRunningJob } from '../api/job-registry.ts';
import { findJobOnServer } from './jobs.ts';
import { EddyError } from '../errors.ts';
import { connectNats } from '../transport/connect-nats.ts';
import { subjects } from '../transport/subjects.ts';
import type { Command } from './args.ts';
import type { CliIO } from './cli-io.ts';

export const SAVEPOINT_HELP = `Usage: eddy savepoint <job name> [--dir DIR] [--state-dir DIR | --nats URL]

Takes a savepoint of a running job (started on this machine, with checkpointing) and
prints its directory: a full, portable snapshot to start the job from with
eddy run job.ts --from-savepoint DIR (parallelism may differ; operators are matched by
uid). It finds the job, its NATS server and that server's credential under
<state dir>/running/<job name>.json. A savepoint commits no sink output.

Options:
  --dir DIR             where to write the savepoint (default <state dir>/savepoints/<job>-<n>)
  --state-dir DIR       the job's state dir (default EDDY_STATE_DIR or .eddy)
  --nats URL            find the job (by name or id) on this NATS server instead, from any
                        machine; the savepoint is written where the job runs
  -h, --help            show this help

Exit codes: 0 the savepoint was written; 1 it failed (the job declined it or did not
finish it in time, NATS unreachable); 2 bad usage, or no job of that name runs (never
started, ended, or its process is gone).
`;

/**
 * Runs `eddy savepoint`: asks a running job (found in `<stateDir>/running/`) for a savepoint over NATS
 * and prints its path. Resolves with the exit code (1 when the job declined); throws what `main` reports.
 *
 * @example
 * ```ts
 * await savepointCommand({ kind: 'savepoint', job: 'wordcount', stateDir: '.eddy', directory: undefined }, io);
 * // stdout: /work/.eddy/savepoints/wordcount-1a2b-3
 * ```
 */
export async function savepointCommand(cmd: Extract<Command, { kind: 'savepoint' }>, io: CliIO): Promise<number> {
  const stateDir = resolve(io.cwd, cmd.stateDir ?? (io.env['EDDY_STATE_DIR'] || '.eddy'));
  // With --nats the job is found on that server (any machine); else in this machine's registry.
  const job =
    cmd.nats !== undefined ? { natsUrl: cmd.nats, jobId: await findJobOnServer(cmd.nats, cmd.job), pid: undefined } : await findRunningJob(stateDir, cmd.job);
  // The registration carries the server's credential (the embedded server's per-run password).
  const nc = await connectNats(job.natsUrl, { timeoutMs: 5000, name: `eddy-savepoint-${cmd.job}` });
  try {
    const body = JSON.stringify(cmd.directory === undefined ? {} : { directory: resolve(io.cwd, cmd.directory) });
    const reply = await nc.request(subjects.savepoint(job.jobId), body, { timeout: 600_000 }).catch((e: unknown) => {
      // Its process is alive (findRunningJob checked), but nobody serves the job's savepoint subject.
      if (e instanceof natsErrors.RequestError && e.isNoResponders())
        throw new EddyError(
          'EDDY_CONFIG',
          `job "${cmd.job}" does not answer on its NATS server (nobody serves its savepoint requests): it is still starting, or ending, ` +
            `or ${job.pid === undefined ? 'it just ended' : `process ${job.pid} is no longer the job's`}. Try again; if the job is gone, remove its registration under ${resolve(stateDir, 'running')}.`,
          { cause: e },
        );
      if (e instanceof natsErrors.TimeoutError)
        throw new EddyError('EDDY_CHECKPOINT_FAILED', `job "${cmd.job}" did not complete the savepoint within 10 minutes`, { cause: e });
      throw e;
    });
    const answer = JSON.parse(new TextDecoder().decode(reply.data)) as { path?: string; error?: { code: string; message: string } };
    if (answer.error !== undefined) {
      io.stderr(`eddy: ${answer.error.message}\n`);
      return 1;
    }
    io.stdout(`${answer.path}\n`);
    return 0;
  } finally {
    await nc.close();
  }
}
