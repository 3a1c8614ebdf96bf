// OutputTag: names a side output of a process function.

/**
 * Names a side output; `ctx.output(tag, v)` emits to it and `stream.getSideOutput(tag)` reads it.
 *
 * @example
 * ```ts
 * const late = new OutputTag<Reading>('late-readings');
 * ```
 */
export class OutputTag<T> {
  declare readonly __type?: T;
  constructor(readonly id: string) {
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('an OutputTag needs a non-empty id');
  }
}
