// connect().process(): a (Keyed)CoProcessFunction over two inputs, with side outputs, keyed state shared by both inputs, timers.
import type { CoProcessFunctionLike, TimeDomain } from '../functions/functions.ts';
import { EddyError } from '../errors.ts';
import { ProcessContextOperator } from './process-context-operator.ts';

/**
 * Runs a CoProcessFunction (non-keyed) or KeyedCoProcessFunction (both key selectors given). On
 * keyed inputs each record's key, computed by its input's selector, becomes the state backend's
 * current key, so records of both inputs with equal keys share state and timers. One context object
 * (the operator) serves every record and timer.
 *
 * @example
 * ```ts
 * const op = new CoProcessOperator<number, string, string>('Both', {
 *   processElement1: (n, _ctx, out) => out.collect(`n${n}`),
 *   processElement2: (s, _ctx, out) => out.collect(`s${s}`),
 * });
 * const h = new TwoInputOperatorHarness(op);
 * await h.open();
 * h.processElement1(1);
 * h.processElement2('a');
 * expect(h.getOutput()).toEqual(['n1', 'sa']);
 * ```
 */
export class CoProcessOperator<IN1, IN2, OUT> extends ProcessContextOperator<IN1, OUT> {
  constructor(
    name: string,
    private readonly fn: CoProcessFunctionLike<IN1, IN2, OUT, any>,
    private readonly keySelector1?: (value: IN1) => unknown,
    private readonly keySelector2?: (value: IN2) => unknown,
  ) {
    super(name, fn);
    if ((keySelector1 === undefined) !== (keySelector2 === undefined))
      throw new EddyError('EDDY_INTERNAL', `operator "${name}": a keyed co-process operator needs the key selectors of both inputs`);
  }
  processElement(value: IN1, timestamp: number): void {
    this.enterRecord(value, timestamp, this.keySelector1);
    this.fn.processElement1(value, this, this);
  }
  processElement2(value: IN2, timestamp: number): void {
    this.enterRecord(value, timestamp, this.keySelector2);
    this.fn.processElement2(value, this, this);
  }
  protected override onTimer(timestamp: number, domain: TimeDomain): void {
    this.enterTimer(timestamp, domain, this.fn.onTimer).call(this.fn, timestamp, this, this);
  }
}
