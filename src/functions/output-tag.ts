// OutputTag: names a side output of a process function.
import { EddyError, previewValue } from '../errors.ts';

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
    if (typeof id !== 'string' || id.length === 0)
      throw new EddyError('EDDY_INVALID_ARGUMENT', `an OutputTag needs a non-empty string id, got ${previewValue(id)}; name the side output, e.g. new OutputTag<Reading>('late-readings')`);
  }
}
