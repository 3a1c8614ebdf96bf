// Seeded pseudo-random numbers (mulberry32): the runtime never calls Math.random, so runs replay exactly.

/** A seeded generator: call it for the next number in [0, 1); `state()` is its 32-bit state, to snapshot and resume. */
export interface SeededRandom {
  (): number;
  /** The current 32-bit state; `createRandom(r.state())` continues the same sequence. */
  state(): number;
}

/**
 * One mulberry32 step, pure: the number in [0, 1) drawn from `state` and the state that follows.
 *
 * @example
 * ```ts
 * const [a, s1] = nextRandom(42);
 * const [b] = nextRandom(s1);
 * createRandom(42)(); // === a
 * ```
 */
export function nextRandom(state: number): [value: number, nextState: number] {
  const s = (state + 0x6d2b79f5) | 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, s >>> 0];
}

/**
 * A mulberry32 generator seeded with `seed` (any number; it is truncated to 32 bits).
 * The same seed always yields the same sequence.
 *
 * @example
 * ```ts
 * const r = createRandom(7);
 * const x = r(); // 0 <= x < 1, the same on every run
 * createRandom(7)() === x; // true
 * const resumed = createRandom(r.state()); // continues where r is
 * ```
 */
export function createRandom(seed: number): SeededRandom {
  let state = (Number.isFinite(seed) ? Math.trunc(seed) : 0) >>> 0;
  const next = (() => {
    const [value, s] = nextRandom(state);
    state = s;
    return value;
  }) as SeededRandom;
  next.state = () => state;
  return next;
}
