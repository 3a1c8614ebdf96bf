// `eddy worker` (a process with slots that runs the tasks job masters give it) and `eddy workers` (who is registered on a NATS server).
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createWorker, type WorkerInfo } from '../api/worker-runtime.ts';
import { EddyError } from '../errors.ts';
import { systemClock } from '../time/clock.ts';
import { connectNats } from '../transport/connect-nats.ts';
import { registerShutdownHook } from '../transport/nats-server.ts';
import { redactNatsUrl } from '../transport/nats-url.ts';
import { subjects } from '../transport/subjects.ts';
import { checkNatsUrl, checkStateDir, UsageError, type Command } from './args.ts';
import type { CliIO } from './cli-io.ts';
import { installation } from './installation.ts';
import { servers } from './jobs.ts';

export const WORKER_HELP = `Usage: eddy worker [--nats URL] [--slots N] [--state-dir DIR]

Starts a worker: it registers on the NATS server (heartbeats on ${subjects.workerHeartbeat})
and runs the tasks that job masters place on its slots, loading each job's code from the
server's object store (eddy-jobs). Start workers on every machine that should run tasks,
then submit jobs with: eddy run job.ts --nats URL --workers existing.
Packages a job imports resolve from the worker's working directory, then from eddy's own.
Stops on SIGINT/SIGTERM (its tasks are canceled and restart on the other workers).

Options:
  --nats URL               the NATS server (default NATS_URL; required, with JetStream)
  --slots N                subtask slots (default: the number of cores); one slot holds one
                           subtask of every operator of a job
  --state-dir DIR          keyed state of its tasks and loaded job code (default
                           EDDY_STATE_DIR or .eddy, plus /worker)
  --heartbeat-timeout MS   a job master silent this long has its tasks stopped here
                           (default 3000; job masters declare a worker lost after as long)
  --attached               exit when standard input closes (used by eddy run --workers N)
  -h, --help               show this help
`;

export const WORKERS_HELP = `Usage: eddy workers [--nats URL] [--state-dir DIR]

Lists the workers registered on a NATS server: id, host, pid, slots (used/total), tasks
per job and uptime, as each worker answers on ${subjects.workersInfo}.

Options:
  --nats URL            the NATS server to ask (default NATS_URL)
  --state-dir DIR       where running jobs are registered (default EDDY_STATE_DIR or .eddy)
  -h, --help            show this help
`;

/** Runs `eddy worker` until a signal, stdin's end (--attached) or a lost connection stops it; resolves with the exit code. */
export async function workerCommand(cmd: Extract<Command, { kind: 'worker' }>, io: CliIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: cmd.args,
      options: {
        nats: { type: 'string' },
        slots: { type: 'string' },
        'state-dir': { type: 'string' },
        'heartbeat-timeout': { type: 'string' },
        attached: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!, 'worker');
  }
  const { values } = parsed;
  if (values.help === true) {
    io.stdout(WORKER_HELP);
    return 0;
  }
  const url = values.nats ?? (io.env['NATS_URL'] || undefined);
  if (url === undefined) throw new UsageError('a worker joins a NATS server: give --nats URL or set NATS_URL', 'worker');
  checkNatsUrl(url, values.nats === undefined ? 'NATS_URL' : '--nats', 'worker');
  const count = (text: string | undefined, what: string, dflt: number, max: number): number => {
    if (text === undefined) return dflt;
    const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${what} must be an integer from 1 to ${max}, got ${JSON.stringify(text)}`, 'worker');
    return n;
  };
  const slots = count(values.slots, '--slots', availableParallelism(), 4096);
  const lostAfterMs = count(values['heartbeat-timeout'], '--heartbeat-timeout', 3000, 3_600_000);
  const base = values['state-dir'] ?? (io.env['EDDY_STATE_DIR'] || undefined);
  const stateDir = base === undefined ? resolve(io.cwd, '.eddy', 'worker') : resolve(io.cwd, checkStateDir(base, '--state-dir', 'worker'));
  // The runtime (the package entry) registers the worker actor; jobs loaded later share this copy of eddy.
  await import(installation().entries.eddy);
  const nc = await connectNats(url, { name: 'eddy-worker', clock: systemClock });
  const worker = createWorker({ nc, clock: systemClock, stateDir, slots, eddyVersion: installation().version, lostAfterMs });
  await worker.start();
  io.stderr(`eddy worker ${worker.id}: ${slots} slot(s) on ${redactNatsUrl(url)}, state in ${stateDir}\n`);
  let why = '';
  const stopped = new Promise<number>((done) => {
    const unhook = registerShutdownHook(async (signal) => {
      why = signal;
      await worker.stop();
      done(signal === 'SIGINT' ? 130 : 143);
    });
    if (values.attached === true) {
      const stdin = io.stdin();
      stdin.resume();
      stdin.once('end', () => {
        why = 'its parent ended';
        unhook();
        void worker.stop().then(() => done(0));
      });
    }
    void nc.closed().then((err) => {
      if (why === '') why = `the connection to NATS closed${err ? `: ${err.message}` : ''}`;
      unhook();
      void worker.stop().then(() => done(1));
    });
  });
  const code = await stopped;
  await nc.drain().catch(() => undefined);
  io.stderr(`eddy worker ${worker.id} stopped (${why})\n`);
  return code;
}

/** Runs `eddy workers`: one line per worker registered on the server(s). */
export async function workersCommand(cmd: Extract<Command, { kind: 'status' | 'cancel' | 'list' | 'workers' }>, io: CliIO): Promise<number> {
  const urls = await servers(cmd, io);
  if (urls.length === 0) throw new EddyError('EDDY_CONFIG', 'no NATS server to ask: give --nats URL or set NATS_URL');
  let n = 0;
  for (const url of urls) {
    const nc = await connectNats(url, { timeoutMs: 5_000, name: 'eddy-workers' });
    try {
      const replies = await nc.requestMany(subjects.workersInfo, '', { maxWait: 1_000 }).catch(() => []);
      for await (const m of replies) {
        const w = JSON.parse(new TextDecoder().decode(m.data)) as WorkerInfo;
        const used = Object.values(w.usedSlots).reduce((a, b) => a + b, 0);
        const tasks = Object.entries(w.tasks).map(([job, k]) => `${job}:${k}`).join(' ') || '-';
        io.stdout(`${w.id.padEnd(32)} ${w.host.padEnd(16)} pid ${String(w.pid).padEnd(7)} slots ${used}/${w.slots}  tasks ${tasks}  ${Math.round(w.uptimeMs / 1000)} s\n`);
        n++;
      }
    } finally {
      await nc.close();
    }
  }
  if (n === 0) io.stdout('no workers\n');
  return 0;
}
