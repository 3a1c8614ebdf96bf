// process / keyed process: the general operator, with side outputs, keyed state, timers and the current key.
import type { ProcessFunctionLike, TimeDomain } from '../functions/functions.ts';
import { asyncResultError } from './async-result.ts';
import { ProcessContextOperator } from './process-context-operator.ts';

/**
 * Runs a ProcessFunction or KeyedProcessFunction. On a keyed stream the key is computed from the
 * record by `keySelector` and set as the state backend's current key before the call; timers fire
 * `onTimer` with that key's state in scope.
 */
export class ProcessOperator<IN, OUT> extends ProcessContextOperator<IN, OUT> {
  constructor(
    name: string,
    private readonly fn: ProcessFunctionLike<IN, OUT, any>,
    private readonly keySelector?: (value: IN) => unknown,
  ) {
    super(name, fn);
  }
  processElement(value: IN, timestamp: number): void {
    this.enterRecord(value, timestamp, this.keySelector);
    // processElement returns nothing; a Promise means an async function whose work would escape the record call.
    const r: unknown = this.fn.processElement(value, this, this);
    if (r !== undefined && typeof r === 'object' && r instanceof Promise) throw asyncResultError(this.name, 'processElement', r);
  }
  protected override onTimer(timestamp: number, domain: TimeDomain): void {
    const r: unknown = this.enterTimer(timestamp, domain, this.fn.onTimer).call(this.fn, timestamp, this, this);
    if (typeof r === 'object' && r instanceof Promise) throw asyncResultError(this.name, 'onTimer', r);
  }
}
