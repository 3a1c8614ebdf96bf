// What wakes a task's source loop: checkpoint triggers, the final commit, a stop; one pending wake-up at a time.

/**
 * The source loop of a task awaits either input (`reader.available()`), credit, or one of these
 * signals. Triggers queue until the loop takes them between poll slices; `release()` ends every
 * wait (the task is stopping), `commitFinal()` lets a finished source end after the final checkpoint.
 */
export class SourceSignals<T> {
  private readonly triggers: T[] = [];
  private wakeResolve: (() => void) | undefined;
  private resolveCommit!: () => void;
  /** Resolves when the final checkpoint committed, or when the task stops. */
  readonly finalCommit = new Promise<void>((resolve) => (this.resolveCommit = resolve));
  finalCommitted = false;

  /** A promise the loop races against its other waits; the next signal resolves it. */
  wakeUp(): Promise<void> {
    return new Promise((resolve) => (this.wakeResolve = resolve));
  }

  trigger(t: T): void {
    this.triggers.push(t);
    this.wake();
  }

  nextTrigger(): T | undefined {
    return this.triggers.shift();
  }

  commitFinal(): void {
    this.finalCommitted = true;
    this.release();
  }

  /** Ends every wait: the final commit and the current wake-up (the task stops or may end). */
  release(): void {
    this.resolveCommit();
    this.wake();
  }

  private wake(): void {
    const w = this.wakeResolve;
    this.wakeResolve = undefined;
    w?.();
  }
}
