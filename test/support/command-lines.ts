// Test support: which processes show a string (e.g. a secret) in their command line, which every local user can read in /proc.
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of every process whose command line (/proc/<pid>/cmdline, world-readable) contains `needle`. */
export function commandLinesContaining(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}
