// Keys -> key groups -> subtasks: the stable routing every keyed exchange and state snapshot agrees on.
import { EddyError } from '../errors.ts';

/** A key a KeySelector may return: a string, number, bigint or an array of those. */
export type Key = string | number | bigint | readonly Key[];

/** The form a key takes inside state tables: arrays become a canonical string. */
export type NormalizedKey = string | number | bigint;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(s: string, seed: number): number {
  // murmur3 over UTF-16 code units, two per 32-bit block: stable across processes and machines.
  let h = seed;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) h = mix(h, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < n) h = mix(h, s.charCodeAt(i));
  return fmix(h, n);
}

const TAG_STRING = 0x5a17;
const TAG_INT = 0x1e7;
const TAG_FLOAT = 0xf10a7;
const TAG_BIGINT = 0xb161;

/** Describes a value that is not a valid key, for error messages. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return `object ${(v as object).constructor?.name ?? 'Object'}`;
  return typeof v;
}

function unhashable(key: unknown, where: string | undefined, why?: string): EddyError {
  return new EddyError(
    'EDDY_UNHASHABLE_KEY',
    `${where ? `operator "${where}": ` : ''}keyBy returned ${describe(key)} (${safeString(key)}); ${why ?? 'a key must be a string, number, bigint or an array of those'}. Return e.g. a field such as \`(e) => e.id\` or a tuple \`(e) => [e.a, e.b]\`.`,
    where === undefined ? {} : { operator: where },
  );
}

function safeString(v: unknown): string {
  try {
    const s = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v) ?? String(v);
    return s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
}

/**
 * A 32-bit murmur3 hash of a key, identical in every process; `hashKey(k) === hashKey(normalizeKey(k))`.
 * Throws `EDDY_UNHASHABLE_KEY` for anything that is not a Key.
 *
 * @example
 * ```ts
 * hashKey('user-1') === hashKey('user-1'); // true, in every process
 * ```
 */
export function hashKey(key: unknown, operator?: string): number {
  switch (typeof key) {
    case 'string':
      return hashString(key.charCodeAt(0) === 0 ? escapeString(key) : key, TAG_STRING);
    case 'number':
    case 'bigint':
      return hashNormalizedKey(normalizeKey(key, operator));
    case 'object':
      // Arrays hash through their canonical string, so a state table's normalized keys hash alike.
      if (Array.isArray(key)) return hashString(normalizeKey(key, operator) as string, TAG_STRING);
  }
  throw unhashable(key, operator);
}

/**
 * The hash of a key already in normalized form (as stored in state tables and snapshots):
 * `hashNormalizedKey(normalizeKey(k)) === hashKey(k)`.
 */
export function hashNormalizedKey(key: NormalizedKey): number {
  switch (typeof key) {
    case 'string':
      return hashString(key, TAG_STRING);
    case 'number':
      if (Number.isInteger(key) && key >= -0x80000000 && key <= 0x7fffffff) return fmix(mix(TAG_INT, key | 0), 4);
      return hashString(String(key), TAG_FLOAT);
    default:
      return hashString(key.toString(), TAG_BIGINT);
  }
}

/** The largest bigint magnitude a key may have: keys must survive msgpack, which stops at 64 bits. */
const BIGINT_MIN = -(2n ** 63n);
const BIGINT_MAX = 2n ** 64n - 1n;

/** Strings that begin with U+0000 are escaped so that they can never equal the encoding of a tuple. */
function escapeString(s: string): string {
  return '\u0000s' + s;
}

/**
 * The key as a state-table key: primitives stay as they are, arrays become a canonical string.
 * Throws `EDDY_UNHASHABLE_KEY` for anything that is not a Key.
 */
export function normalizeKey(key: unknown, operator?: string): NormalizedKey {
  switch (typeof key) {
    case 'string':
      return key.charCodeAt(0) === 0 ? escapeString(key) : key;
    case 'number':
      return key;
    case 'bigint':
      if (key < BIGINT_MIN || key > BIGINT_MAX) throw unhashable(key, operator, 'a bigint key must fit in 64 bits');
      return key;
    case 'object':
      // Tuples: U+0000 '[' then self-delimiting parts (strings carry their length), so no two keys collide.
      if (Array.isArray(key)) return '\u0000[' + key.map((k) => encodeKeyPart(k, operator)).join('\u0001') + ']';
  }
  throw unhashable(key, operator);
}

function encodeKeyPart(k: unknown, operator?: string): string {
  switch (typeof k) {
    case 'string':
      return 's' + k.length + ':' + k;
    case 'number':
      return 'n' + String(k);
    case 'bigint':
      return 'b' + String(normalizeKey(k, operator));
    case 'object':
      if (Array.isArray(k)) return 'a' + normalizeKey(k, operator);
  }
  throw unhashable(k, operator);
}

/**
 * The key a normalized key stands for: `denormalizeKey(normalizeKey(k))` equals `k` (tuples come
 * back as arrays). Used where only the stored form is at hand, e.g. when a timer fires.
 */
export function denormalizeKey(key: NormalizedKey): Key {
  if (typeof key !== 'string' || key.charCodeAt(0) !== 0) return key;
  if (key.charCodeAt(1) === 0x73 /* s */ && key.startsWith('\u0000s')) return key.slice(2);
  const [value, end] = parseTuple(key, 0);
  if (end !== key.length) throw new EddyError('EDDY_INTERNAL', `not a normalized key: ${JSON.stringify(key)}; keys are stored only in normalized form, so this is a bug in eddy, please report it`);
  return value;
}

/** Parses `\u0000[part\u0001part...]` starting at `at`; returns the tuple and the index after it. */
function parseTuple(s: string, at: number): [Key[], number] {
  if (s.charCodeAt(at) !== 0 || s[at + 1] !== '[') throw new EddyError('EDDY_INTERNAL', `not a normalized tuple at ${at} of ${JSON.stringify(s)}; keys are stored only in normalized form, so this is a bug in eddy, please report it`);
  const out: Key[] = [];
  let i = at + 2;
  if (s[i] === ']') return [out, i + 1];
  for (;;) {
    const tag = s[i];
    if (tag === 's') {
      const colon = s.indexOf(':', i);
      const len = Number(s.slice(i + 1, colon));
      out.push(s.slice(colon + 1, colon + 1 + len));
      i = colon + 1 + len;
    } else if (tag === 'a') {
      const [inner, end] = parseTuple(s, i + 1);
      out.push(inner);
      i = end;
    } else {
      let j = i + 1;
      while (j < s.length && s.charCodeAt(j) !== 1 && s[j] !== ']') j++;
      const text = s.slice(i + 1, j);
      out.push(tag === 'b' ? BigInt(text) : Number(text));
      i = j;
    }
    if (s[i] === ']') return [out, i + 1];
    if (s.charCodeAt(i) !== 1) throw new EddyError('EDDY_INTERNAL', `not a normalized tuple at ${i} of ${JSON.stringify(s)}; keys are stored only in normalized form, so this is a bug in eddy, please report it`);
    i++;
  }
}

/** The key group (0..maxParallelism-1) a key belongs to. */
export function keyGroupOf(key: unknown, maxParallelism: number, operator?: string): number {
  return keyGroupForHash(hashKey(key, operator), maxParallelism);
}

/**
 * `hash % maxParallelism` for an unsigned 32-bit hash, computed on its 16-bit halves so that every
 * intermediate stays a small integer (a hash above 2^31 is a double, and its modulo is slow).
 */
export function keyGroupForHash(hash: number, maxParallelism: number): number {
  return (((hash >>> 16) % maxParallelism) * 65536 + (hash & 0xffff)) % maxParallelism;
}

/** The key group of a key in normalized form (state tables, snapshots). */
export function keyGroupOfNormalized(key: NormalizedKey, maxParallelism: number): number {
  return keyGroupForHash(hashNormalizedKey(key), maxParallelism);
}

/** The subtask that owns a key group: `floor(g * parallelism / maxParallelism)` (Flink's rule). */
export function subtaskForKeyGroup(keyGroup: number, parallelism: number, maxParallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** The inclusive range of key groups a subtask owns; consecutive subtasks own consecutive ranges. */
export function keyGroupRange(subtask: number, parallelism: number, maxParallelism: number): { start: number; end: number } {
  // The smallest g with floor(g * p / m) >= s is ceil(s * m / p).
  const start = Math.ceil((subtask * maxParallelism) / parallelism);
  const end = Math.ceil(((subtask + 1) * maxParallelism) / parallelism) - 1;
  return { start, end };
}
