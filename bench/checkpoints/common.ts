// Shared by the parts of the "checkpoints" bench suite: the job's event and parallelism, a counting sink, figures and table formatting.
import type { Sink } from '../../index.ts';

/** Parallelism of every job of the suite. */
export const P = 2;
/** The throughput job's checkpoint interval. */
export const INTERVAL_MS = 1000;

export interface Ev {
  key: number;
  v: number;
}

export const bump = (e: Ev): Ev => ({ key: e.key, v: e.v + 1 });

/** A sink that only counts (and wakes whoever waits for a count). */
export class CountingSink implements Sink<Ev> {
  readonly name = 'discard';
  count = 0;
  /** performance.now() of the first record. */
  firstAt = -1;
  private target = Infinity;
  private reached: (() => void) | undefined;

  createWriter() {
    return {
      invoke: (): void => {
        if (++this.count === 1) this.firstAt = performance.now();
        if (this.count >= this.target) {
          const r = this.reached;
          this.target = Infinity;
          this.reached = undefined;
          r?.();
        }
      },
    };
  }

  /** Resolves once `n` records arrived. */
  waitFor(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve) => {
      this.target = n;
      this.reached = resolve;
    });
  }
}

export const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const fmtBytes = (b: number): string => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${Math.round(b)} B`);
export const fmtInt = (n: number): string => n.toLocaleString('en-US');

/** A Markdown table (columns after the first are right-aligned). */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ') + ' |';
  const sep = '|' + w.map((x, i) => (i === 0 ? '-'.repeat(x + 2) : '-'.repeat(x + 1) + ':')).join('|') + '|';
  return [line(header), sep, ...rows.map(line)].join('\n');
}
