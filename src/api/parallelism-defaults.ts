// The default parallelism each transformation was created under, pinned onto the graph before it is built.
import { inputsOf, type Transformation } from '../graph/transformation.ts';

/** Every transformation reachable from `roots` (inputs before the transformations that read them). */
export function reachable(roots: readonly Transformation[]): Transformation[] {
  const seen = new Set<number>();
  const out: Transformation[] = [];
  const stack: { t: Transformation; expanded: boolean }[] = roots.map((t) => ({ t, expanded: false })).reverse();
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      out.push(top.t);
      continue;
    }
    if (seen.has(top.t.id)) continue;
    seen.add(top.t.id);
    stack.push({ t: top.t, expanded: true });
    for (const i of [...inputsOf(top.t)].reverse()) if (!seen.has(i.id)) stack.push({ t: i, expanded: false });
  }
  return out;
}

/**
 * The default parallelism in force from transformation id `fromId` on (ascending `fromId`): an
 * operator without its own parallelism keeps the default of when it was created (Flink captures
 * `env.getParallelism()` in each Transformation), so `setParallelism` affects later operators only.
 */
export class ParallelismDefaults {
  private readonly defaults: { fromId: number; parallelism: number }[];

  constructor(initial: number) {
    this.defaults = [{ fromId: 1, parallelism: initial }];
  }

  /** Records `n` as the default from transformation id `nextId` (the next one to be created) on. */
  set(nextId: number, n: number): void {
    const last = this.defaults[this.defaults.length - 1]!;
    if (last.fromId === nextId) last.parallelism = n;
    else if (last.parallelism !== n) this.defaults.push({ fromId: nextId, parallelism: n });
  }

  /** The environment default for the transformation with id `id`: the one in force when it was created. */
  defaultOf(id: number): number {
    for (let i = this.defaults.length - 1; i >= 0; i--) if (this.defaults[i]!.fromId <= id) return this.defaults[i]!.parallelism;
    return this.defaults[0]!.parallelism;
  }

  /**
   * Gives every operator reachable from `roots` without its own parallelism, created under another
   * default than `current` (today's), the default of its creation (the graph resolves the others to
   * today's). A bounded source such as a collection stays within its own limit, as the graph would keep it.
   */
  pin(roots: readonly Transformation[], current: number): void {
    if (this.defaults.length === 1) return;
    for (const t of reachable(roots)) {
      if (t.parallelism !== undefined || t.kind === 'partition' || t.kind === 'union' || t.kind === 'side-output') continue;
      const p = this.defaultOf(t.id);
      if (p === current) continue;
      const limit = t.kind === 'source' ? t.source.maxParallelism : undefined;
      t.parallelism = limit === undefined ? p : Math.min(p, limit);
    }
  }
}
