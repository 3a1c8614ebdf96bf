// CPU accounting for benchmarks: this process (process.cpuUsage) plus other processes by pid (/proc/<pid>/stat).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on practically every Linux). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const n = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10);
      ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU seconds (user + system) a process has used so far, read from /proc/<pid>/stat; undefined
 * when the process is gone or /proc is unavailable. Resolution: one clock tick (usually 10 ms).
 */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) is parenthesized and may hold spaces: split after the last ')'.
  // Fields after it start at field 3 (state); utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicksPerSecond();
}

/** CPU seconds (user + system, all threads) used by this process so far. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** A reading of wall time and of the CPU time of this process and of the watched pids. */
export interface CpuSample {
  wallMs: number;
  selfCpu: number;
  others: (number | undefined)[];
}

/** What happened between two samples. */
export interface CpuDelta {
  wallSeconds: number;
  /** CPU seconds of this process. */
  selfCpu: number;
  /** CPU seconds of the watched processes (e.g. nats-server). */
  otherCpu: number;
  /** selfCpu + otherCpu. */
  totalCpu: number;
}

/**
 * Measures wall and CPU time of this process plus `pids` over an interval.
 *
 * @example
 * ```ts
 * const meter = new CpuMeter([server.pid]);
 * const s = meter.sample();
 * doWork();
 * const d = meter.since(s); // { wallSeconds, selfCpu, otherCpu, totalCpu }
 * ```
 */
export class CpuMeter {
  constructor(private readonly pids: readonly number[]) {}

  sample(): CpuSample {
    // Read the other processes first and our own clock last, so a sample's parts are close in time.
    const others = this.pids.map((p) => processCpuSeconds(p));
    return { others, selfCpu: selfCpuSeconds(), wallMs: performance.now() };
  }

  since(start: CpuSample): CpuDelta {
    const end = this.sample();
    let otherCpu = 0;
    for (let i = 0; i < this.pids.length; i++) {
      const a = start.others[i];
      const b = end.others[i];
      if (a !== undefined && b !== undefined) otherCpu += b - a;
    }
    const selfCpu = end.selfCpu - start.selfCpu;
    return { wallSeconds: (end.wallMs - start.wallMs) / 1000, selfCpu, otherCpu, totalCpu: selfCpu + otherCpu };
  }
}

/** The CPU model name (first core), e.g. "AMD EPYC 7B13". */
export function cpuModel(): string {
  const fromOs = cpus()[0]?.model?.trim();
  if (fromOs) return fromOs;
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return 'unknown';
}
