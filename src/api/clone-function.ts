// Per-subtask copies of user function objects, so what `open()` sets belongs to one subtask (Flink's contract).

function cloneValue(v: unknown, seen: Map<object, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v;
  const hit = seen.get(v);
  if (hit !== undefined) return hit;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    seen.set(v, out);
    for (const x of v) out.push(cloneValue(x, seen));
    return out;
  }
  if (v instanceof Map) {
    const out = new Map();
    seen.set(v, out);
    for (const [k, x] of v) out.set(k, cloneValue(x, seen));
    return out;
  }
  if (v instanceof Set) {
    const out = new Set();
    seen.set(v, out);
    for (const x of v) out.add(cloneValue(x, seen));
    return out;
  }
  if (v instanceof Date) return new Date(v.getTime());
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = Object.create(proto);
    seen.set(v, out);
    for (const k of Object.keys(v)) out[k] = cloneValue((v as Record<string, unknown>)[k], seen);
    return out;
  }
  // Class instances other than the function itself (clients, typed arrays, ...) are shared by reference:
  // copying them could break invariants we cannot see.
  return v;
}

/**
 * Copies a function object for one subtask: same prototype, own fields deep-copied where they are plain
 * data (objects, arrays, Maps, Sets, Dates). Plain JS functions are returned as they are. `#private`
 * fields exist on the copy only when the class constructor takes no arguments, and then hold their
 * initial values.
 *
 * @example
 * ```ts
 * class Counter { n = 0; map(x: number) { return x + this.n++; } }
 * const a = cloneFunction(new Counter()); // a.n and the original's n are independent
 * ```
 */
export function cloneFunction<F>(fn: F): F {
  if (fn === null || typeof fn !== 'object') return fn;
  const seen = new Map<object, unknown>();
  const proto = Object.getPrototypeOf(fn);
  const ctor = proto?.constructor;
  // A class whose constructor takes no arguments is constructed afresh, so ES #private fields exist on
  // the copy (with their initial values); own public fields are then copied over.
  const out =
    typeof ctor === 'function' && ctor !== Object && ctor.length === 0 ? Reflect.construct(ctor, [], ctor) : Object.create(proto);
  seen.set(fn as object, out);
  for (const k of Object.keys(fn as object)) out[k] = cloneValue((fn as Record<string, unknown>)[k], seen);
  return out as F;
}
