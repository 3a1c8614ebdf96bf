// Properties of key hashing and key-group routing (src/state/key-group.ts), plus a frozen table of hashes.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isEddyError } from '../../src/errors.ts';
import {
  hashKey,
  hashNormalizedKey,
  keyGroupOf,
  keyGroupOfNormalized,
  keyGroupRange,
  normalizeKey,
  subtaskForKeyGroup,
  type Key,
} from '../../src/state/key-group.ts';

const RUNS = { numRuns: 300 };

/** Every kind of valid key: strings (full Unicode), integers, doubles, bigints, and nested arrays of those. */
const scalarKey: fc.Arbitrary<Key> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.maxSafeInteger(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
);
const { key: anyKey } = fc.letrec<{ key: Key }>((tie) => ({
  key: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalarKey, fc.array(tie('key'), { maxLength: 4 })),
}));

/** Same key value (as a keyBy would compute it again), but fresh arrays: identity must not matter. */
const copyKey = (k: Key): Key => (Array.isArray(k) ? k.map(copyKey) : k);

/** Equality of keys as key routing sees them: -0 is 0, NaN is NaN, arrays element-wise. */
function sameKey(a: Key, b: Key): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameKey(x, b[i]!));
  }
  if (typeof a !== typeof b) return false;
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function unhashableCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isEddyError(e) ? e.code : `not an EddyError: ${String(e)}`;
  }
  return undefined;
}

describe('hashKey', () => {
  it('is deterministic and does not depend on array identity', () => {
    fc.assert(
      fc.property(anyKey, (k) => {
        expect(hashKey(k)).toBe(hashKey(k));
        expect(hashKey(copyKey(k))).toBe(hashKey(k));
      }),
      RUNS,
    );
  });

  it('equals hashNormalizedKey(normalizeKey(k)) for strings, numbers, bigints and nested arrays', () => {
    fc.assert(
      fc.property(anyKey, fc.integer({ min: 1, max: 32768 }), (k, max) => {
        expect(hashNormalizedKey(normalizeKey(k))).toBe(hashKey(k));
        expect(keyGroupOfNormalized(normalizeKey(k), max)).toBe(keyGroupOf(k, max));
      }),
      RUNS,
    );
  });

  it('is an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(anyKey, (k) => {
        const h = hashKey(k);
        expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
      }),
      RUNS,
    );
  });

  it('normalizeKey leaves scalars as they are (but strings starting with U+0000) and turns arrays into strings', () => {
    fc.assert(
      fc.property(anyKey, (k) => {
        const n = normalizeKey(k);
        if (Array.isArray(k)) expect(typeof n).toBe('string');
        else if (typeof k === 'string' && k.charCodeAt(0) === 0) expect(n).toBe('\u0000s' + k);
        else expect(Object.is(n, k)).toBe(true);
      }),
      RUNS,
    );
  });

  it('normalizeKey is injective, whatever characters the strings hold', () => {
    const controlString = fc.stringMatching(/^[\u0000\u0001\[\]sna:0-9]{0,8}$/);
    const { key: trickyKey } = fc.letrec<{ key: Key }>((tie) => ({
      key: fc.oneof({ depthSize: 'small' }, controlString, scalarKey, fc.array(tie('key'), { maxLength: 4 })),
    }));
    fc.assert(
      fc.property(trickyKey, trickyKey, (a, b) => {
        if (Object.is(normalizeKey(a), normalizeKey(b)) || normalizeKey(a) === normalizeKey(b)) expect(sameKey(a, b)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('tuple keys whose strings contain \\u0001 do not share state with other tuples', () => {
    expect(normalizeKey(['a\u0001sb'])).not.toBe(normalizeKey(['a', 'b']));
  });

  it('a string key that looks like a normalized tuple does not share state with that tuple', () => {
    expect(normalizeKey('\u0000[s1:a]')).not.toBe(normalizeKey(['a']));
    expect(normalizeKey('\u0000[sa]')).not.toBe(normalizeKey(['a']));
  });

  it('bigint keys beyond 64 bits are rejected with EDDY_UNHASHABLE_KEY (they could not be serialized with state)', () => {
    for (const k of [2n ** 64n, -(2n ** 63n) - 1n, [1, 2n ** 80n]]) {
      let err: unknown;
      try {
        hashKey(k);
      } catch (e) {
        err = e;
      }
      expect(isEddyError(err, 'EDDY_UNHASHABLE_KEY')).toBe(true);
    }
  });
});

describe('keyGroupOf', () => {
  it('lies in [0, maxParallelism) and equals hashKey % maxParallelism', () => {
    fc.assert(
      fc.property(anyKey, fc.integer({ min: 1, max: 32768 }), (k, max) => {
        const g = keyGroupOf(k, max);
        expect(Number.isInteger(g) && g >= 0 && g < max).toBe(true);
        expect(g).toBe(hashKey(k) % max);
        expect(keyGroupOfNormalized(normalizeKey(k), max)).toBe(g);
      }),
      RUNS,
    );
  });
});

describe('subtaskForKeyGroup and keyGroupRange', () => {
  const layout = fc.integer({ min: 1, max: 4096 }).chain((max) => fc.tuple(fc.constant(max), fc.integer({ min: 1, max })));

  it('agree: every key group lies in exactly the range of the subtask it maps to', () => {
    fc.assert(
      fc.property(layout, ([max, p]) => {
        // How many ranges hold each key group, and which one: exactly one, and the one subtaskForKeyGroup names.
        const owner = new Int32Array(max).fill(-1);
        const count = new Int32Array(max);
        for (let s = 0; s < p; s++) {
          const r = keyGroupRange(s, p, max);
          for (let g = Math.max(0, r.start); g <= Math.min(max - 1, r.end); g++) {
            owner[g] = s;
            count[g]!++;
          }
        }
        for (let g = 0; g < max; g++) {
          const s = subtaskForKeyGroup(g, p, max);
          if (count[g] !== 1 || owner[g] !== s || !(s >= 0 && s < p)) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('ranges are non-empty, contiguous, in subtask order, and cover 0..maxParallelism-1', () => {
    fc.assert(
      fc.property(layout, ([max, p]) => {
        let next = 0;
        for (let s = 0; s < p; s++) {
          const r = keyGroupRange(s, p, max);
          // balanced: every range holds floor(max/p) or ceil(max/p) key groups (so none is empty)
          const size = r.end - r.start + 1;
          if (r.start !== next || (size !== Math.floor(max / p) && size !== Math.ceil(max / p)) || size < 1) return false;
          next = r.end + 1;
        }
        return next === max;
      }),
      RUNS,
    );
  });

  it('match Flink’s KeyGroupRangeAssignment (integer arithmetic) for large maxParallelism too', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32768 }).chain((max) => fc.tuple(fc.constant(max), fc.integer({ min: 1, max }))),
        fc.nat(),
        ([max, p], seed) => {
          const s = seed % p;
          const flinkStart = Math.floor((s * max + p - 1) / p);
          const flinkEnd = Math.floor(((s + 1) * max - 1) / p);
          expect(keyGroupRange(s, p, max)).toEqual({ start: flinkStart, end: flinkEnd });
          const g = seed % max;
          expect(subtaskForKeyGroup(g, p, max)).toBe(Math.floor((g * p) / max));
        },
      ),
      RUNS,
    );
  });

  it('a key is routed to the subtask whose range holds its key group', () => {
    fc.assert(
      fc.property(anyKey, layout, (k, [max, p]) => {
        const g = keyGroupOf(k, max);
        const r = keyGroupRange(subtaskForKeyGroup(g, p, max), p, max);
        expect(g >= r.start && g <= r.end).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('values that are not keys', () => {
  const nonKeyScalar = fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.object({ maxDepth: 1 }),
    fc.constant(new Map()),
    fc.constant(new Date(0)),
    fc.func(fc.integer()),
    fc.string().map((s) => Symbol(s)),
  );
  /** A non-key on its own, or hidden inside (nested) arrays among valid keys. */
  const nonKey = fc.oneof(
    nonKeyScalar,
    fc.tuple(fc.array(scalarKey, { maxLength: 3 }), nonKeyScalar, fc.array(scalarKey, { maxLength: 3 }), fc.nat(3)).map(([before, bad, after, depth]) => {
      let v: unknown = [...before, bad, ...after];
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    }),
  );

  it('throw EDDY_UNHASHABLE_KEY from hashKey, normalizeKey and keyGroupOf', () => {
    fc.assert(
      fc.property(nonKey, (v) => {
        expect(unhashableCode(() => hashKey(v))).toBe('EDDY_UNHASHABLE_KEY');
        expect(unhashableCode(() => normalizeKey(v))).toBe('EDDY_UNHASHABLE_KEY');
        expect(unhashableCode(() => keyGroupOf(v, 128))).toBe('EDDY_UNHASHABLE_KEY');
      }),
      RUNS,
    );
  });

  it('the error names the operator and says what a key may be', () => {
    try {
      hashKey({ id: 1 }, 'Count per user');
      expect.unreachable();
    } catch (e) {
      expect(isEddyError(e, 'EDDY_UNHASHABLE_KEY')).toBe(true);
      expect((e as { operator: string }).operator).toBe('Count per user');
      expect((e as Error).message).toMatch(/"Count per user".*object Object.*string, number, bigint or an array/);
    }
  });
});

/**
 * Frozen: computed once by running the code (hashKey and keyGroupOf(k, 128)). Key groups are written into
 * checkpoints and decide routing between processes; if this table changes, old checkpoints no longer restore
 * and mixed-version workers disagree. Change the hash only with a migration.
 */
const FROZEN: [Key, number, number][] = [
  ['', 2077426692, 4],
  ['a', 3649291659, 11],
  ['ab', 3078451460, 4],
  ['abc', 2813098635, 11],
  ['user-1', 1688181580, 76],
  ['user-2', 586495716, 100],
  ['héllo', 1282779167, 31],
  ['日本語', 2556838728, 72],
  ['🙂', 3185703722, 42],
  ['\u0000', 4046857082, 122],
  [0, 899217429, 21],
  [1, 4285852906, 106],
  [-1, 517156031, 63],
  [42, 3319797748, 116],
  [2147483647, 1645990798, 14],
  [-2147483648, 3763390901, 53],
  [2147483648, 2959961924, 68],
  [-2147483649, 1236918075, 59],
  [1.5, 3015218932, 116],
  [-0.25, 3901042227, 51],
  [1e21, 2573178898, 18],
  [9007199254740991, 751422758, 38],
  [NaN, 1732246584, 56],
  [Infinity, 237953189, 37],
  [-Infinity, 1038740348, 124],
  [0n, 2969527844, 36],
  [1n, 2589669888, 0],
  [123n, 871192197, 5],
  [-(2n ** 63n), 857222223, 79],
  [2n ** 64n - 1n, 3925730588, 28],
  [[], 2636252551, 7],
  [['a'], 2483608693, 117],
  [['a', 1], 1720401219, 67],
  [[1, 'a'], 4220286489, 25],
  [[['nested'], 2n], 1746569215, 127],
  [[1, [2, [3]]], 22636294, 6],
];

describe('hash stability', () => {
  it.each(FROZEN.map(([k, h, g]) => [String(k), k, h, g] as const))('key %s keeps its hash and key group', (_label, k, h, g) => {
    expect(hashKey(k)).toBe(h);
    expect(keyGroupOf(k, 128)).toBe(g);
  });

  it('-0 hashes as 0 (they are the same state key)', () => {
    expect(hashKey(-0)).toBe(hashKey(0));
    expect(hashKey([-0])).toBe(hashKey([0]));
  });

  it('another process computes the same hashes', () => {
    const module = fileURLToPath(new URL('../../src/state/key-group.ts', import.meta.url));
    // Keys travel as a JS source literal; bigints and non-finite numbers are spelled out.
    const literal = (k: Key): string =>
      Array.isArray(k) ? `[${k.map(literal).join(',')}]` : typeof k === 'bigint' ? `${k}n` : typeof k === 'string' ? JSON.stringify(k) : String(k);
    const code = `import { hashKey } from ${JSON.stringify(module)};\nprocess.stdout.write(JSON.stringify([${FROZEN.map(([k]) => literal(k)).join(',')}].map((k) => hashKey(k))));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(out)).toEqual(FROZEN.map(([, h]) => h));
  });
});

describe('denormalizeKey', () => {
  it('gives back the key a normalized key stands for', async () => {
    const { denormalizeKey } = await import('../../src/state/key-group.ts');
    const controlString = fc.stringMatching(/^[\u0000\u0001\[\]sna:0-9]{0,8}$/);
    const { key: trickyKey } = fc.letrec<{ key: Key }>((tie) => ({
      key: fc.oneof({ depthSize: 'small' }, controlString, scalarKey, fc.array(tie('key'), { maxLength: 4 })),
    }));
    fc.assert(
      fc.property(trickyKey, (k) => {
        expect(sameKey(denormalizeKey(normalizeKey(k)), k)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
