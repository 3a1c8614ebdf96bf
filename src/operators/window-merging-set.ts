// Flink's MergingWindowSet: a key's in-flight session windows, each mapped to the window that holds its state.
import type { MergingWindowAssigner, WindowId } from '../functions/windowing/assigners.ts';
import type { Window } from '../functions/windowing/windows.ts';
import { EddyError } from '../errors.ts';
import type { ValueState } from '../state/descriptors.ts';

/**
 * Called when `mergedWindows` (in-flight windows, the new one excluded) became `mergeResult`: the
 * state of `mergedStateWindows` must be merged into `stateWindowResult`.
 */
export type MergeFunction<W> = (mergeResult: W, mergedWindows: W[], stateWindowResult: WindowId, mergedStateWindows: WindowId[]) => void;

/**
 * The in-flight windows of the current key. When windows merge, the merged window keeps the state
 * window of one of them (no state is moved for it), and the others' state is merged into it. Load
 * one per element or timer (`new MergingWindowSet(...)`), then `persist()`.
 *
 * @example
 * ```ts
 * const set = new MergingWindowSet(EventTimeSessionWindows.withGap(10), mergingState);
 * set.addWindow(new TimeWindow(0, 10), noMerge); // [0, 10) -> state [0, 10)
 * set.addWindow(new TimeWindow(5, 15), merge);   // [0, 15) -> state [0, 10); merge([0, 15), [[0, 10)], "0:10", [])
 * set.persist();
 * ```
 */
export class MergingWindowSet<W extends Window> {
  private readonly mapping = new Map<WindowId, { window: W; state: WindowId }>();
  private changed = false;

  constructor(
    private readonly assigner: MergingWindowAssigner<any, W>,
    private readonly state: ValueState<[WindowId, WindowId][] | undefined>,
  ) {
    const stored = state.value();
    if (stored !== undefined) for (const [w, s] of stored) this.mapping.set(w, { window: assigner.windowFromId(w), state: s });
  }

  /** Writes the mapping back to keyed state if it changed. */
  persist(): void {
    if (!this.changed) return;
    this.changed = false;
    if (this.mapping.size === 0) this.state.clear();
    else this.state.update(Array.from(this.mapping, ([w, e]) => [w, e.state]));
  }

  /** The window holding the state of in-flight window `window`, or undefined when it is not in flight. */
  getStateWindow(window: WindowId): WindowId | undefined {
    return this.mapping.get(window)?.state;
  }

  /** Removes an in-flight window (its state has been cleared, or it was late). */
  retireWindow(window: WindowId): void {
    if (!this.mapping.delete(window)) throw new EddyError('EDDY_INTERNAL', `window ${String(window)} is not in the in-flight window set`);
    this.changed = true;
  }

  /** The in-flight windows. */
  windows(): W[] {
    return Array.from(this.mapping.values(), (e) => e.window);
  }

  /**
   * Adds a new window, merging it with in-flight windows as the assigner decides; returns the window
   * it ended up in (the merge result, or itself).
   */
  addWindow(newWindow: W, mergeFunction: MergeFunction<W>): W {
    const id = (w: W): WindowId => this.assigner.windowId(w);
    const newId = id(newWindow);
    // Already in flight as it is: nothing merges (Flink's set semantics would forget its state window here).
    if (this.mapping.has(newId)) return this.mapping.get(newId)!.window;
    const windows = this.windows();
    windows.push(newWindow);
    const results: { result: W; merged: W[] }[] = [];
    this.assigner.mergeWindows(windows, (toBeMerged, result) => results.push({ result, merged: toBeMerged.slice() }));

    let resultWindow = newWindow;
    let mergedNewWindow = false;
    for (const { result, merged } of results) {
      const at = merged.findIndex((w) => id(w) === newId);
      if (at >= 0) {
        merged.splice(at, 1);
        mergedNewWindow = true;
        resultWindow = result;
      }
      // The merge result keeps the state window of one of the merged (in-flight) windows.
      const stateWindow = this.mapping.get(id(merged[0]!))!.state;
      const mergedStateWindows: WindowId[] = [];
      for (const w of merged) {
        const e = this.mapping.get(id(w));
        if (e === undefined) continue;
        this.mapping.delete(id(w));
        if (e.state !== stateWindow) mergedStateWindows.push(e.state);
      }
      this.mapping.set(id(result), { window: result, state: stateWindow });
      this.changed = true;
      // A new window that fell inside an in-flight one changes nothing.
      if (!(merged.length === 1 && id(merged[0]!) === id(result))) mergeFunction(result, merged, stateWindow, mergedStateWindows);
    }
    if (results.length === 0 || (id(resultWindow) === newId && !mergedNewWindow)) {
      this.mapping.set(newId, { window: newWindow, state: newId });
      this.changed = true;
    }
    return resultWindow;
  }
}
