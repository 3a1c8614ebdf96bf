// connect(broadcastStream).process(): the broadcast state pattern, non-keyed and keyed, with broadcast state in snapshots.
import { denormalizeKey } from '../state/key-group.ts';
import type {
  BroadcastProcessFunctionLike,
  KeyedBroadcastContext,
  KeyedBroadcastOnTimerContext,
  KeyedBroadcastProcessFunctionLike,
} from '../functions/broadcast-functions.ts';
import { EddyError } from '../errors.ts';
import { BroadcastStateStore, type BroadcastState, type BroadcastStateSnapshot } from '../state/broadcast-state.ts';
import type { MapStateDescriptor, StateDescriptor, StateOf } from '../state/descriptors.ts';
import { ProcessContextOperator } from './process-context-operator.ts';
import type { OperatorSnapshot } from './operator.ts';
import type { TimeDomain } from '../functions/functions.ts';

/** What this operator keeps in the `operator` field of its snapshot. */
interface BroadcastOperatorState {
  broadcast: BroadcastStateSnapshot;
}

/**
 * Runs a BroadcastProcessFunction (no key selector) or a KeyedBroadcastProcessFunction (the key
 * selector of the first input). Input 2 is the broadcast side: `processBroadcastElement` sees the
 * broadcast state writable; `processElement` and `onTimer` see it read-only (writes throw
 * `EDDY_USER_FUNCTION`). Broadcast state is operator state: it goes into the `operator` field of
 * the snapshot, and every subtask restores the same copy. One context object (the operator) serves
 * both sides.
 *
 * @example
 * ```ts
 * const limits = new MapStateDescriptor<string, number>('limits');
 * const op = new BroadcastProcessOperator<number, number, number>('Limit', {
 *   processElement: (n, ctx, out) => { if (n <= (ctx.getBroadcastState(limits).get('max') ?? Infinity)) out.collect(n); },
 *   processBroadcastElement: (max, ctx) => ctx.getBroadcastState(limits).put('max', max),
 * }, [limits]);
 * const h = new TwoInputOperatorHarness(op);
 * await h.open();
 * h.processElement2(10);
 * h.processElements1([5, 50]);
 * expect(h.getOutput()).toEqual([5]);
 * ```
 */
export class BroadcastProcessOperator<IN1, IN2, OUT>
  extends ProcessContextOperator<IN1, OUT>
  implements KeyedBroadcastOnTimerContext<unknown>, KeyedBroadcastContext<unknown>
{
  /** True while `processBroadcastElement` runs: the only time broadcast state may be written. */
  private writable = false;
  private store!: BroadcastStateStore;
  private readonly fn: KeyedBroadcastProcessFunctionLike<unknown, IN1, IN2, OUT>;

  constructor(
    name: string,
    /** A BroadcastProcessFunction, or a KeyedBroadcastProcessFunction when `keySelector` is given. */
    fn: BroadcastProcessFunctionLike<IN1, IN2, OUT>,
    private readonly descriptors: readonly MapStateDescriptor<any, any>[],
    private readonly keySelector?: (value: IN1) => unknown,
  ) {
    super(name, fn);
    this.fn = fn as KeyedBroadcastProcessFunctionLike<unknown, IN1, IN2, OUT>;
  }

  override initializeState(snapshot: OperatorSnapshot | undefined): void {
    super.initializeState(snapshot);
    // Created here, when the operator's final name is known (the API sets it after construction).
    this.store = new BroadcastStateStore(this.name, this.descriptors);
    const state = snapshot?.operator as BroadcastOperatorState | undefined;
    if (state !== undefined) this.store.restore(state.broadcast);
  }
  processElement(value: IN1, timestamp: number): void {
    this.writable = false;
    this.enterRecord(value, timestamp, this.keySelector);
    this.fn.processElement(value, this, this);
  }
  processElement2(value: IN2, timestamp: number): void {
    // The broadcast side has no key: only the timestamp changes.
    this.enterRecord(value, timestamp, undefined);
    this.writable = true;
    try {
      this.fn.processBroadcastElement(value, this, this);
    } finally {
      this.writable = false;
    }
  }
  protected override onTimer(timestamp: number, domain: TimeDomain): void {
    this.writable = false;
    this.enterTimer(timestamp, domain, this.fn.onTimer).call(this.fn, timestamp, this, this);
  }
  override snapshotState(checkpointId?: number): OperatorSnapshot {
    const snapshot = super.snapshotState(checkpointId);
    const state: BroadcastOperatorState = { broadcast: this.store.snapshot() };
    snapshot.operator = state;
    return snapshot;
  }

  // ---- the context ----
  getBroadcastState<K, V>(d: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    return this.writable ? this.store.writable(d) : (this.store.readOnly(d) as BroadcastState<K, V>);
  }
  applyToKeyedState<D extends StateDescriptor>(d: D, fn: (key: unknown, state: StateOf<D>) => void): void {
    const backend = this.ctx.keyedState;
    if (backend === undefined)
      throw new EddyError('EDDY_CONFIG', `operator "${this.name}": applyToKeyedState needs a keyed stream; call keyBy(...) before connect(broadcastStream)`, {
        operator: this.name,
      });
    if (!this.writable)
      throw new EddyError('EDDY_USER_FUNCTION', `operator "${this.name}": applyToKeyedState is only available in processBroadcastElement`, {
        operator: this.name,
      });
    const state = backend.getState(d);
    const previous = backend.getCurrentKey();
    // A copy of the keys: `fn` may clear state, which removes its key from the table.
    const keys = [...backend.keys(d.name)];
    try {
      for (const k of keys) {
        backend.setCurrentNormalizedKey(k);
        fn(denormalizeKey(k), state);
      }
    } finally {
      backend.setCurrentNormalizedKey(previous);
    }
  }
}
