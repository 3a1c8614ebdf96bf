// Test helper: build a window operator through the public API and drive it with the OperatorHarness.
import { StreamEnvironment, Trigger, type DataStream, type KeyedStream, type OnMergeContext, type TriggerContext, type TriggerResult, type Window } from '../../index.ts';
import type { OneInputTransformation } from '../../src/graph/transformation.ts';
import type { StreamOperator } from '../../src/operators/operator.ts';
import { OperatorHarness, type OperatorHarnessOptions } from '../../src/testing/index.ts';

/** The element most window tests use: a key and a value. */
export interface Ev {
  k: string;
  v: number;
}

export const ev = (k: string, v: number): Ev => ({ k, v });
export const byKey = (e: Ev): string => e.k;

/** A factory of fresh operator instances for the window built by `build` on a keyed stream of Ev. */
export function windowOperator<R>(build: (keyed: KeyedStream<Ev, string>) => DataStream<R>): () => StreamOperator<Ev, R> {
  return () => {
    const env = StreamEnvironment.create();
    return (build(env.fromCollection<Ev>([]).keyBy(byKey)).transformation as OneInputTransformation).factory() as StreamOperator<Ev, R>;
  };
}

/** An opened harness (keyed by `k`) for a new instance from `make`. */
export async function openHarness<R>(make: () => StreamOperator<Ev, R>, options: OperatorHarnessOptions<Ev> = {}): Promise<OperatorHarness<Ev, R>> {
  const h = new OperatorHarness(make(), { keySelector: byKey, ...options });
  await h.open();
  return h;
}

/**
 * Another trigger's behaviour under another class: the window then runs on Flink's general
 * WindowOperator instead of the pane or session operator (which only take the default triggers).
 */
export class Delegating<T, W extends Window> extends Trigger<T, W> {
  constructor(private readonly inner: Trigger<T, W>) {
    super();
  }
  onElement(e: T, ts: number, w: W, ctx: TriggerContext): TriggerResult {
    return this.inner.onElement(e, ts, w, ctx);
  }
  onEventTime(time: number, w: W, ctx: TriggerContext): TriggerResult {
    return this.inner.onEventTime(time, w, ctx);
  }
  onProcessingTime(time: number, w: W, ctx: TriggerContext): TriggerResult {
    return this.inner.onProcessingTime(time, w, ctx);
  }
  clear(w: W, ctx: TriggerContext): void {
    this.inner.clear(w, ctx);
  }
  override canMerge(): boolean {
    return this.inner.canMerge();
  }
  override onMerge(w: W, ctx: OnMergeContext): void {
    this.inner.onMerge(w, ctx);
  }
}

/** Whether every keyed state table of a snapshot is empty (all window state cleaned up). */
export function stateIsEmpty(h: OperatorHarness<any, any>): boolean {
  const s = h.snapshot();
  return (s.keyed?.states ?? []).every((t) => t.entries.length === 0) && (s.timers === undefined || (s.timers.event.length === 0 && s.timers.processing.length === 0));
}
