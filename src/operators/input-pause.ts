// Operator backpressure: how an operator at its own capacity (async I/O) makes its task stop taking input, as missing output credit does.

/**
 * An operator that may refuse input for a while. The task asks before every input frame and every
 * source poll slice: while some operator of its chain has no budget left, the task reads no frame
 * and polls no source (frames stay with the producers, bounded by their credits), so the pause
 * reaches upstream as ordinary backpressure. Records the task delivers in one synchronous burst
 * (one frame, one poll slice, the fan-out of a flatMap) may exceed the budget; the operator must
 * hold that overflow itself, without starting work for it.
 */
export interface InputPausingOperator {
  /** How many more records the operator takes now; 0 or less pauses the task's input. */
  inputBudget(): number;
  /** Resolves once `inputBudget()` is above 0 again, or the operator closed or failed. */
  whenInputResumes(): Promise<void>;
}

/** True when `op` can pause its task's input. */
export function isInputPausing(op: unknown): op is InputPausingOperator {
  return (
    typeof op === 'object' &&
    op !== null &&
    typeof (op as InputPausingOperator).inputBudget === 'function' &&
    typeof (op as InputPausingOperator).whenInputResumes === 'function'
  );
}

const RESUMED = Promise.resolve();

/**
 * The pause of a whole chain: the smallest budget of its pausing operators. A chain without any
 * (the common case) answers from one length check, so the task's per-frame cost stays nil.
 *
 * @example
 * ```ts
 * const pause = new ChainInputPause(chain.operators.map((o) => o.operator));
 * if (pause.paused) await pause.whenResumed();
 * reader.poll(out, Math.min(4096, pause.budget()));
 * ```
 */
export class ChainInputPause {
  private readonly operators: InputPausingOperator[];

  constructor(operators: Iterable<unknown>) {
    this.operators = [];
    for (const op of operators) if (isInputPausing(op)) this.operators.push(op);
  }

  /** Records the chain takes now: `Infinity` when no operator limits it, 0 or less when paused. */
  budget(): number {
    const ops = this.operators;
    let b = Number.POSITIVE_INFINITY;
    for (let i = 0; i < ops.length; i++) {
      const x = ops[i]!.inputBudget();
      if (x < b) b = x;
    }
    return b;
  }

  /** True while some operator of the chain takes no input. */
  get paused(): boolean {
    return this.operators.length > 0 && this.budget() <= 0;
  }

  /** Resolves when the first paused operator resumes (the caller checks again: another may still be paused). */
  whenResumed(): Promise<void> {
    for (const op of this.operators) if (op.inputBudget() <= 0) return op.whenInputResumes();
    return RESUMED;
  }
}
