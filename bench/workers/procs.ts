// CPU accounting for process trees (eddy run and its worker children) from /proc/<pid>/stat, and spawning `eddy run` with a line reader on its stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clockTicksPerSecond } from '../cpu.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** One /proc/<pid>/stat reading, in CPU seconds. */
export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime of the process itself (all its threads). */
  self: number;
  /** cutime + cstime: children it has waited for (they and their waited-for descendants). */
  reaped: number;
}

export function procStat(pid: number | 'self'): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  // Fields after comm start at field 3 (state): ppid 4, utime 14, stime 15, cutime 16, cstime 17.
  const f = stat.slice(close + 2).split(' ');
  const tick = clockTicksPerSecond();
  const at = (n: number): number => Number(f[n - 3]);
  return { pid: Number(stat.slice(0, stat.indexOf(' '))), ppid: at(4), comm, self: (at(14) + at(15)) / tick, reaped: (at(16) + at(17)) / tick };
}

/** Every live process whose parent chain reaches `root` (root excluded), by scanning /proc. */
export function descendants(root: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s !== undefined) all.push(s);
  }
  const byParent = new Map<number, ProcStat[]>();
  for (const s of all) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const walk = (p: number): void => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/** A reading of a process tree: the root's own CPU, each live descendant's own CPU, and the tree's total (incl. reaped descendants). */
export interface TreeSample {
  root: ProcStat | undefined;
  children: ProcStat[];
  /** root self + root reaped + every live descendant's self (a descendant's reaped children are in its own reaped). */
  total: number;
}

export function treeSample(root: number): TreeSample {
  // Descendants first, the root last: a child reaped in between is then counted in the root's `reaped` rather than lost.
  const children = descendants(root);
  const r = procStat(root);
  let total = r === undefined ? 0 : r.self + r.reaped;
  for (const c of children) total += c.self + c.reaped;
  return { root: r, children, total };
}

/** A running `eddy run`: its child process, every stdout line with its arrival time, and its exit. */
export interface EddyProcess {
  child: ChildProcess;
  pid: number;
  /** Called for each stdout line as it arrives (set before lines come: right after spawning). */
  onLine: (line: string, atMs: number) => void;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `node bin/eddy.mjs <args>` on `natsUrl` (through NATS_URL, as a credential should travel), with no EDDY_* defaults of this process. */
export function startEddy(args: string[], natsUrl: string): EddyProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('EDDY_')) delete env[k];
  env['NATS_URL'] = natsUrl;
  const child = spawn(process.execPath, [join(repoRoot, 'bin/eddy.mjs'), ...args], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let partial = '';
  const p: EddyProcess = {
    child,
    pid: child.pid ?? -1,
    onLine: () => undefined,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    const at = performance.now();
    out += d;
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const l of lines) p.onLine(l, at);
  });
  child.stderr!.on('data', (d) => (err += d));
  return p;
}

/** Waits for `p` to exit; kills it (SIGKILL) after `timeoutMs`. */
export async function exitWithin(p: EddyProcess, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const code = await Promise.race([p.exited, timeout]);
  clearTimeout(timer);
  if (code !== 'timeout') return code;
  p.child.kill('SIGKILL');
  await p.exited;
  throw new Error(`eddy run did not end within ${timeoutMs} ms; stderr:\n${p.stderr().slice(-2000)}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
