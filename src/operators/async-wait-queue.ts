// The element queue of the async I/O operator: records in flight and watermarks, and which of them may be emitted (ordered or unordered).

/** A record not started yet (beyond the operator's capacity, or restored and not re-issued yet). */
export const WAITING = 0;
/** A record whose call is in flight. */
export const RUNNING = 1;
/** A record whose result is known but not emitted yet (ordered: an earlier one is still running; unordered: an earlier watermark is). */
export const DONE = 2;
/** A record whose call failed and was dead-lettered: it leaves the queue without output. */
export const SKIPPED = 3;

/** One element of the queue: a record (with its call's state and result) or a watermark. */
export class QueueEntry<IN, OUT> {
  prev: QueueEntry<IN, OUT> | undefined = undefined;
  next: QueueEntry<IN, OUT> | undefined = undefined;
  state = WAITING;
  result: OUT | undefined = undefined;
  /**
   * Bumped whenever the current call stops counting (it timed out, failed, or the operator closed):
   * a settlement carrying an older attempt is ignored, so a late result is never emitted twice.
   */
  attempt = 0;
  /** The pending timeout of the running call, if any. */
  timer: { cancel(): void } | undefined = undefined;
  constructor(
    /** Arrival order: in the unordered mode, an entry before the first queued watermark is in the head set. */
    readonly seq: number,
    readonly isWatermark: boolean,
    /** The input record (undefined for a watermark entry). */
    readonly value: IN,
    /** The record's event timestamp (the watermark for a watermark entry). */
    readonly timestamp: number,
  ) {}
}

/** Receives what the queue releases, in emission order. */
export interface QueueEmitter<IN, OUT> {
  emitRecord(entry: QueueEntry<IN, OUT>): void;
  emitWatermark(watermark: number): void;
}

/**
 * A doubly linked list of records and watermarks in arrival order (Flink's StreamElementQueue).
 *
 * - Ordered: an entry is released only when every entry before it was; a watermark when every
 *   record before it was.
 * - Unordered: watermarks cut the queue into sets; records of the first set are released as they
 *   complete, later sets wait until every watermark before them was released (a result never
 *   crosses a watermark, in either direction).
 *
 * Invariant: records are started in arrival order, so the waiting records are a suffix of the
 * records (`nextWaiting` is the first of them). `records` counts every record in the queue
 * (waiting, running, done), `started` those that are running or done.
 */
export class AsyncWaitQueue<IN, OUT> {
  records = 0;
  started = 0;
  private head: QueueEntry<IN, OUT> | undefined;
  private tail: QueueEntry<IN, OUT> | undefined;
  /** Unordered only: the earliest queued watermark, the end of the head set. */
  private firstWatermark: QueueEntry<IN, OUT> | undefined;
  private nextWaiting: QueueEntry<IN, OUT> | undefined;
  private seq = 0;

  constructor(
    readonly ordered: boolean,
    private readonly emitter: QueueEmitter<IN, OUT>,
  ) {}

  /** True when nothing (record or watermark) is queued. */
  get isEmpty(): boolean {
    return this.head === undefined;
  }

  /** Appends a record (waiting to be started). */
  addRecord(value: IN, timestamp: number): QueueEntry<IN, OUT> {
    const e = new QueueEntry<IN, OUT>(this.seq++, false, value, timestamp);
    this.append(e);
    this.records++;
    if (this.nextWaiting === undefined) this.nextWaiting = e;
    return e;
  }

  /**
   * Queues watermark `wm` behind the records before it. Returns false, queueing nothing, when no
   * record is queued: the caller emits it at once.
   */
  addWatermark(wm: number): boolean {
    if (this.records === 0) return false;
    const e = new QueueEntry<IN, OUT>(this.seq++, true, undefined as IN, wm);
    this.append(e);
    if (!this.ordered && this.firstWatermark === undefined) this.firstWatermark = e;
    return true;
  }

  /** The next waiting record, now counted as started (the caller starts its call), or undefined. */
  takeWaiting(): QueueEntry<IN, OUT> | undefined {
    const e = this.nextWaiting;
    if (e === undefined) return undefined;
    let n = e.next;
    while (n !== undefined && n.isWatermark) n = n.next;
    this.nextWaiting = n;
    e.state = RUNNING;
    this.started++;
    return e;
  }

  /**
   * The running record `e` completed: with its result (`DONE`, `e.result` set) or without output
   * (`SKIPPED`). Emits whatever this releases. An emitter that throws leaves the queue consistent
   * up to the entry it threw on (the operator fails then anyway).
   */
  complete(e: QueueEntry<IN, OUT>, state: typeof DONE | typeof SKIPPED): void {
    e.state = state;
    if (this.ordered) {
      if (e === this.head) this.releaseHead();
      return;
    }
    const fw = this.firstWatermark;
    if (fw !== undefined && e.seq > fw.seq) return; // a later set: released when it becomes the head set
    this.remove(e);
    if (state === DONE) this.emitter.emitRecord(e);
    this.releaseHead();
  }

  /** The queued records in arrival order (their inputs and timestamps): the operator's snapshot. */
  snapshot(): [IN, number][] {
    const out: [IN, number][] = [];
    for (let e = this.head; e !== undefined; e = e.next) if (!e.isWatermark) out.push([e.value, e.timestamp]);
    return out;
  }

  /** Every record still queued (to cancel timers and invalidate calls when the operator stops). */
  forEachRecord(fn: (e: QueueEntry<IN, OUT>) => void): void {
    for (let e = this.head; e !== undefined; e = e.next) if (!e.isWatermark) fn(e);
  }

  /** Releases from the head what may go: ordered, completed records and watermarks up to the first running one; unordered, watermarks whose set is empty and the completed records of the set that follows. */
  private releaseHead(): void {
    if (this.ordered) {
      for (let h = this.head; h !== undefined && (h.isWatermark || h.state === DONE || h.state === SKIPPED); h = this.head) {
        this.remove(h);
        if (h.isWatermark) this.emitter.emitWatermark(h.timestamp);
        else if (h.state === DONE) this.emitter.emitRecord(h);
      }
      return;
    }
    while (this.head !== undefined && this.head.isWatermark) {
      // The head set is empty: its watermark goes, and the next set becomes the head set.
      const wm = this.head;
      this.remove(wm);
      this.emitter.emitWatermark(wm.timestamp);
      let e: QueueEntry<IN, OUT> | undefined = this.head;
      while (e !== undefined && !e.isWatermark) {
        const next: QueueEntry<IN, OUT> | undefined = e.next;
        if (e.state === DONE || e.state === SKIPPED) {
          this.remove(e);
          if (e.state === DONE) this.emitter.emitRecord(e);
        }
        e = next;
      }
      this.firstWatermark = e;
    }
  }

  private append(e: QueueEntry<IN, OUT>): void {
    e.prev = this.tail;
    if (this.tail === undefined) this.head = e;
    else this.tail.next = e;
    this.tail = e;
  }

  private remove(e: QueueEntry<IN, OUT>): void {
    if (e.prev === undefined) this.head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) this.tail = e.prev;
    else e.next.prev = e.prev;
    if (!e.isWatermark) {
      this.records--;
      if (e.state !== WAITING) this.started--;
    }
  }
}
