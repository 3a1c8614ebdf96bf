// Async I/O through the public harness: ordered and unordered emission, watermarks, capacity and the input pause, timeouts and failures, snapshot/restore of calls in flight.
import { describe, expect, it } from 'vitest';
import { OperatorHarness, type OperatorContext, type Output } from 'eddy/testing';
import { isEddyError, type AsyncFunction, type RuntimeContext } from '../../index.ts';
import { EddyError } from '../../src/errors.ts';
import { AsyncWaitOperator, type AsyncOutputMode } from '../../src/operators/async-wait-operator.ts';
import { ValueStateDescriptor } from '../../src/state/descriptors.ts';

/** Lets every settled promise's callbacks run (results are emitted from promise callbacks). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An async function whose calls the test settles by hand; it counts the calls in flight. */
class Calls<IN, OUT> {
  readonly log: IN[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly pending: { value: IN; resolve(v: OUT): void; reject(e: unknown): void }[] = [];
  readonly fn = (value: IN): Promise<OUT> => {
    this.log.push(value);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<OUT>((resolve, reject) => this.pending.push({ value, resolve, reject }));
  };
  private take(value: IN) {
    const i = this.pending.findIndex((p) => p.value === value);
    if (i < 0) throw new Error(`no call in flight for ${String(value)}`);
    this.inFlight--;
    return this.pending.splice(i, 1)[0]!;
  }
  resolve(value: IN, result: OUT): void {
    this.take(value).resolve(result);
  }
  reject(value: IN, error: unknown): void {
    this.take(value).reject(error);
  }
  get open(): IN[] {
    return this.pending.map((p) => p.value);
  }
}

interface Probe {
  /** Records (`r <value>@<ts>`) and watermarks (`w <wm>`) in the order the operator emitted them. */
  events: string[];
  /** What reached `ctx.failTask`. */
  failures: unknown[];
  /** Records the `deadLetter` policy took, with their errors. */
  deadLetters: [unknown, EddyError][];
}

/**
 * Wraps the context and output the harness hands `op`: record failures follow `policy` (as the
 * runtime's `recordFailed` does: `fail` throws, `deadLetter` records and returns), `failTask` is
 * recorded, and emitted records and watermarks land in one ordered log.
 */
function probe<IN, OUT>(op: AsyncWaitOperator<IN, OUT>, policy: 'fail' | 'deadLetter' = 'fail'): Probe {
  const p: Probe = { events: [], failures: [], deadLetters: [] };
  const setup = op.setup.bind(op);
  op.setup = (ctx: OperatorContext, out: Output<OUT>) =>
    setup(
      {
        ...ctx,
        recordFailed: (e, record) => {
          if (policy === 'fail') throw e;
          p.deadLetters.push([record, e as EddyError]);
        },
        failTask: (e) => void p.failures.push(e),
      },
      {
        collect: (v, ts) => {
          p.events.push(`r ${String(v)}@${ts}`);
          out.collect(v, ts);
        },
        emitWatermark: (wm) => {
          p.events.push(`w ${wm}`);
          out.emitWatermark(wm);
        },
        emitWatermarkStatus: (idle) => out.emitWatermarkStatus(idle),
        collectSide: (tag, v, ts) => out.collectSide(tag, v, ts),
      },
    );
  return p;
}

function operator<IN, OUT>(fn: AsyncFunction<IN, OUT>, mode: AsyncOutputMode = 'ordered', capacity = 100, timeoutMs = Number.POSITIVE_INFINITY) {
  return new AsyncWaitOperator<IN, OUT>('Lookup', fn, { mode, capacity, timeoutMs });
}

describe('ordered', () => {
  it('emits results in input order with their timestamps, whatever order the calls complete in; a watermark waits for the records before it', async () => {
    const calls = new Calls<number, string>();
    const op = operator(calls.fn);
    const p = probe(op);
    const h = new OperatorHarness(op);
    await h.open();
    h.processElement(1, 10);
    h.processElement(2, 20);
    h.processWatermark(20);
    h.processElement(3, 30);
    expect(calls.log).toEqual([1, 2, 3]);
    calls.resolve(3, 'c');
    calls.resolve(2, 'b');
    await settle();
    expect(p.events).toEqual([]);
    calls.resolve(1, 'a');
    await settle();
    expect(p.events).toEqual(['r a@10', 'r b@20', 'w 20', 'r c@30']);
    h.processWatermark(40);
    expect(p.events.at(-1)).toBe('w 40'); // nothing in flight: a watermark passes at once
    expect(h.getRecordOutput()).toEqual([
      { value: 'a', timestamp: 10 },
      { value: 'b', timestamp: 20 },
      { value: 'c', timestamp: 30 },
    ]);
  });

  it('endInput resolves only when every call has completed and its result left', async () => {
    const calls = new Calls<number, number>();
    const op = operator(calls.fn);
    const h = new OperatorHarness(op);
    await h.open();
    h.processElements([1, 2, 3]);
    let ended = false;
    const end = h.endInput().then(() => (ended = true));
    calls.resolve(1, 10);
    calls.resolve(3, 30);
    await settle();
    expect(ended).toBe(false);
    calls.resolve(2, 20);
    await end;
    expect(h.getOutput()).toEqual([10, 20, 30]);
    expect(h.getWatermarks()).toEqual([Number.POSITIVE_INFINITY]);
  });

  it('accepts the object form: open/close are called, asyncInvoke keeps its receiver, and a plain (non-Promise) result is taken as is', async () => {
    const seen: string[] = [];
    const fn = {
      prefix: '',
      open(ctx: RuntimeContext) {
        this.prefix = `${ctx.operatorName}:`;
        seen.push('open');
      },
      close() {
        seen.push('close');
      },
      asyncInvoke(v: number) {
        return (v % 2 === 0 ? Promise.resolve(this.prefix + v) : this.prefix + v) as Promise<string>;
      },
    };
    const h = new OperatorHarness(operator<number, string>(fn));
    await h.open();
    h.processElements([1, 2]);
    await h.endInput();
    await h.close();
    expect(h.getOutput()).toEqual(['Lookup:1', 'Lookup:2']);
    expect(seen).toEqual(['open', 'close']);
  });

  it('refuses keyed state in the function: results complete outside their record key', async () => {
    const fn = {
      open(ctx: RuntimeContext) {
        ctx.getState(new ValueStateDescriptor('n', 0));
      },
      asyncInvoke: async (v: number) => v,
    };
    const e = await new OperatorHarness(operator<number, number>(fn)).open().catch((x: unknown) => x);
    expect(isEddyError(e, 'EDDY_CONFIG')).toBe(true);
    expect((e as Error).message).toMatch(/cannot use keyed state/);
  });
});

describe('unordered', () => {
  it('emits results as they complete, but never across a watermark in either direction', async () => {
    const calls = new Calls<string, string>();
    const op = operator(calls.fn, 'unordered');
    const p = probe(op);
    const h = new OperatorHarness(op);
    await h.open();
    h.processElement('a', 1);
    h.processElement('b', 2);
    h.processWatermark(5);
    h.processElement('c', 6);
    h.processElement('d', 7);
    h.processWatermark(10);
    h.processElement('e', 11);
    calls.resolve('d', 'D');
    calls.resolve('e', 'E');
    await settle();
    expect(p.events).toEqual([]); // behind watermark 5, whose set (a, b) is still running
    calls.resolve('b', 'B');
    await settle();
    expect(p.events).toEqual(['r B@2']); // completion order within the first set
    calls.resolve('a', 'A');
    await settle();
    // The first set is done: watermark 5 goes, then what completed of the next set (d), not yet c.
    expect(p.events).toEqual(['r B@2', 'r A@1', 'w 5', 'r D@7']);
    calls.resolve('c', 'C');
    await settle();
    expect(p.events).toEqual(['r B@2', 'r A@1', 'w 5', 'r D@7', 'r C@6', 'w 10', 'r E@11']);
  });
});

describe('capacity', () => {
  it('never has more than `capacity` calls in flight; a burst beyond it waits in the queue and pauses the input until a slot frees', async () => {
    const calls = new Calls<number, number>();
    const op = operator(calls.fn, 'ordered', 2);
    const h = new OperatorHarness(op);
    await h.open();
    expect(op.inputBudget()).toBe(2);
    // One synchronous burst of 5 (as the rest of a frame, or a flatMap's fan-out, would deliver).
    h.processElements([1, 2, 3, 4, 5]);
    expect(calls.log).toEqual([1, 2]);
    expect(op.inputBudget()).toBe(-3);
    let resumed = false;
    void op.whenInputResumes().then(() => (resumed = true));
    // Ordered: 2 completed but waits behind 1, so it still holds its slot (Flink's queue rule).
    calls.resolve(2, 20);
    await settle();
    expect(calls.log).toEqual([1, 2]);
    calls.resolve(1, 10);
    await settle();
    expect(calls.log).toEqual([1, 2, 3, 4]);
    expect(h.getOutput()).toEqual([10, 20]);
    expect(resumed).toBe(false); // 3 records still queued, capacity 2
    calls.resolve(3, 30);
    calls.resolve(4, 40);
    await settle();
    expect(calls.log).toEqual([1, 2, 3, 4, 5]);
    expect(op.inputBudget()).toBe(1);
    expect(resumed).toBe(true);
    calls.resolve(5, 50);
    await h.endInput();
    expect(h.getOutput()).toEqual([10, 20, 30, 40, 50]);
    expect(calls.maxInFlight).toBe(2);
    expect(h.metrics().get('queueHighWater')).toBe(5);
  });
});

describe('timeouts and failures', () => {
  it('a call that does not complete in time goes through recordFailed as EDDY_ASYNC_TIMEOUT; under fail the task fails and the operator refuses further calls', async () => {
    const calls = new Calls<number, number>();
    const op = operator(calls.fn, 'ordered', 10, 100);
    const p = probe(op, 'fail');
    const h = new OperatorHarness(op);
    await h.open();
    h.processElement(1);
    h.advanceProcessingTime(50);
    h.processElement(2);
    h.advanceProcessingTime(50);
    expect(p.failures).toHaveLength(1);
    const e = p.failures[0] as EddyError;
    expect(e.code).toBe('EDDY_ASYNC_TIMEOUT');
    expect(e.operator).toBe('Lookup');
    expect(e.message).toMatch(/call for 1 did not complete within 100 ms/);
    expect(h.metrics().get('timeouts')).toBe(1);
    calls.resolve(1, 10); // too late: ignored
    calls.resolve(2, 20);
    await settle();
    expect(h.getOutput()).toEqual([]);
    expect(() => h.processElement(3)).toThrow(/did not complete within 100 ms/);
    await expect(h.endInput()).rejects.toMatchObject({ code: 'EDDY_ASYNC_TIMEOUT' });
  });

  it('in the plain harness a timeout surfaces from the call that moved the clock', async () => {
    const calls = new Calls<number, number>();
    const h = new OperatorHarness(operator(calls.fn, 'ordered', 10, 100));
    await h.open();
    h.processElement(7);
    expect(() => h.advanceProcessingTime(100)).toThrow(/EDDY_ASYNC_TIMEOUT: operator "Lookup": the async call for 7/);
  });

  it('under deadLetter a timed-out or rejected record is skipped, the others flow in order', async () => {
    const calls = new Calls<number, number>();
    const op = operator(calls.fn, 'ordered', 10, 100);
    const p = probe(op, 'deadLetter');
    const h = new OperatorHarness(op);
    await h.open();
    h.processElements([1, 2, 3, 4]);
    calls.resolve(2, 20);
    calls.reject(3, new Error('no such row'));
    calls.resolve(4, 40);
    await settle();
    expect(h.getOutput()).toEqual([]); // 1 still holds the head
    h.advanceProcessingTime(100); // 1 times out
    expect(h.getOutput()).toEqual([20, 40]);
    expect(p.failures).toEqual([]);
    expect(p.deadLetters.map(([r, e]) => [r, e.code])).toEqual([
      [3, 'EDDY_USER_FUNCTION'],
      [1, 'EDDY_ASYNC_TIMEOUT'],
    ]);
    const rejected = p.deadLetters[0]![1];
    expect(rejected.message).toMatch(/the async call for 3 failed: no such row/);
    expect((rejected.cause as Error).message).toBe('no such row');
    calls.resolve(1, 10); // late: never emitted
    await h.endInput();
    expect(h.getOutput()).toEqual([20, 40]);
  });

  it("uses the function's timeout(value) fallback as the result of a timed-out call", async () => {
    const pending = new Calls<number, string>();
    const fn = { asyncInvoke: pending.fn, timeout: (v: number) => `fallback ${v}` };
    const op = operator<number, string>(fn, 'ordered', 10, 100);
    const p = probe(op);
    const h = new OperatorHarness(op);
    await h.open();
    h.processElements([1, 2]);
    pending.resolve(2, 'two');
    await settle(); // 2's result is in before its deadline
    h.advanceProcessingTime(100);
    await settle();
    expect(h.getOutput()).toEqual(['fallback 1', 'two']);
    expect(p.failures).toEqual([]);
  });

  it('a rejected call under fail fails the task with EDDY_USER_FUNCTION carrying the cause; so does a function that throws at once', async () => {
    for (const how of ['reject', 'throw'] as const) {
      const boom = new Error('db down');
      const fn = (v: number): Promise<number> => {
        if (how === 'throw') throw boom;
        return Promise.reject(boom);
      };
      const op = operator(fn);
      const p = probe(op);
      const h = new OperatorHarness(op);
      await h.open();
      if (how === 'throw') expect(() => h.processElement(1)).toThrow(/db down/);
      else h.processElement(1);
      await settle();
      expect(p.failures).toHaveLength(1);
      expect(p.failures[0]).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: 'Lookup', cause: boom });
      expect(h.getOutput()).toEqual([]);
    }
  });

  it('an error downstream of an emitted result fails the task (results are emitted outside record calls)', async () => {
    const calls = new Calls<number, number>();
    const op = operator(calls.fn);
    const p = probe(op);
    const setup = op.setup.bind(op);
    op.setup = (ctx, out) =>
      setup(ctx, {
        ...out,
        collect: (v) => {
          if (v === 20) throw new Error('sink rejected 20');
          out.collect(v, 0);
        },
      });
    const h = new OperatorHarness(op);
    await h.open();
    h.processElements([1, 2, 3]);
    calls.resolve(1, 10);
    calls.resolve(2, 20);
    calls.resolve(3, 30);
    await settle();
    expect(p.failures.map((e) => (e as Error).message)).toEqual(['sink rejected 20']);
    expect(h.getOutput()).toEqual([10]);
  });
});

describe('snapshot and restore', () => {
  it('snapshots the inputs of every queued record (running, completed but not emitted, not started) and re-issues them, before new input, after a restore', async () => {
    const first = new Calls<number, number>();
    const op1 = operator(first.fn, 'ordered', 2);
    const h1 = new OperatorHarness(op1);
    await h1.open();
    h1.processElement(1, 100);
    h1.processElement(2, 200);
    h1.processElement(3, 300);
    first.resolve(2, 20); // completed, not emitted (1 is still running); 3 waits for a slot
    await settle();
    const snapshot = h1.snapshot(1);
    expect(snapshot.list).toEqual([
      [1, 100],
      [2, 200],
      [3, 300],
    ]);
    // A result completed after the barrier is emitted after it: it belongs to the next checkpoint, and a restore replays it.
    first.resolve(1, 10);
    await settle();
    expect(h1.getOutput()).toEqual([10, 20]);

    const second = new Calls<number, number>();
    const op2 = operator(second.fn, 'ordered', 2);
    const h2 = await OperatorHarness.restore(op2, snapshot);
    // Not in open: a result must not leave before the task runs (downstream tasks may not listen yet).
    expect(second.log).toEqual([]);
    expect(op2.inputBudget()).toBe(-1); // full: the task takes no input until the restored records leave
    expect(second.log).toEqual([1, 2]); // asking started them, up to capacity
    h2.processElement(4, 400);
    second.resolve(1, 11);
    second.resolve(2, 21);
    await settle();
    second.resolve(3, 31);
    await settle();
    second.resolve(4, 41);
    await h2.endInput();
    expect(second.log).toEqual([1, 2, 3, 4]);
    expect(h2.getRecordOutput()).toEqual([
      { value: 11, timestamp: 100 },
      { value: 21, timestamp: 200 },
      { value: 31, timestamp: 300 },
      { value: 41, timestamp: 400 },
    ]);
    expect(h2.snapshot().list).toBeUndefined();
  });

  it('restores list entries from several old subtasks (rescaling deals them round-robin) and rejects a foreign snapshot', async () => {
    const calls = new Calls<string, string>();
    const h = await OperatorHarness.restore(operator(calls.fn, 'unordered', 10), { list: [['a', 1], ['x', 2], ['b', 3]] });
    h.processElement('c', 4);
    expect(calls.log).toEqual(['a', 'x', 'b', 'c']);
    const e = await OperatorHarness.restore(operator(calls.fn), { list: [{ next: 0, step: 1 }] }).catch((x: unknown) => x);
    expect(isEddyError(e, 'EDDY_STATE_MISMATCH')).toBe(true);
  });
});
