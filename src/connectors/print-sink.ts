// A sink that prints each record on its own line (Flink's print(), with the subtask prefix when parallel).
import type { Sink } from '../operators/sink-operator.ts';

/**
 * Prints records to stdout (or `write`), prefixed `N> ` by the subtask when the sink is parallel.
 *
 * @example
 * ```ts
 * stream.sinkTo(printSink('counts'));
 * ```
 */
export function printSink<T>(prefix?: string, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Sink<T> {
  return {
    name: 'Print to Std. Out',
    createWriter: ({ operator }) => {
      const tag = (prefix ? prefix + ':' : '') + (operator.parallelism > 1 ? `${operator.subtaskIndex + 1}> ` : prefix ? ' ' : '');
      return {
        invoke: (v) => write(tag + (typeof v === 'string' ? v : format(v))),
      };
    },
  };
}

function format(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
