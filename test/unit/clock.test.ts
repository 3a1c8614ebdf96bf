// ManualClock (src/time/clock.ts): callbacks fire in time order, cancel works, time never goes back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../src/time/clock.ts';
import { expectEddyError } from '../support/eddy-error.ts';

describe('ManualClock', () => {
  it('TSDoc example: schedule, then advance past it', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.schedule(10, () => fired.push(clock.now()));
    clock.advance(15);
    expect(fired).toEqual([10]);
  });

  it('starts where told (default 0) and only moves when told', () => {
    expect(new ManualClock().now()).toBe(0);
    const c = new ManualClock(1_700_000_000_000);
    expect(c.now()).toBe(1_700_000_000_000);
    expect(c.monotonic()).toBe(1_700_000_000_000);
    c.advance(5);
    expect(c.now()).toBe(1_700_000_000_005);
    expect(c.monotonic()).toBe(c.now());
  });

  it('fires due callbacks in time order, ties in scheduling order, each seeing its own time', () => {
    const c = new ManualClock(100);
    const log: string[] = [];
    c.schedule(30, () => log.push(`c@${c.now()}`));
    c.schedule(10, () => log.push(`a@${c.now()}`));
    c.schedule(20, () => log.push(`b1@${c.now()}`));
    c.schedule(20, () => log.push(`b2@${c.now()}`));
    c.schedule(50, () => log.push(`late@${c.now()}`));
    c.setTime(140);
    expect(log).toEqual(['a@110', 'b1@120', 'b2@120', 'c@130']);
    expect(c.now()).toBe(140);
    c.advance(10);
    expect(log.at(-1)).toBe('late@150');
  });

  it('a callback due exactly now fires; one due later does not', () => {
    const c = new ManualClock(0);
    const log: number[] = [];
    c.schedule(10, () => log.push(10));
    c.schedule(11, () => log.push(11));
    c.advance(10);
    expect(log).toEqual([10]);
  });

  it('a negative or zero delay fires on the next move, even advance(0)', () => {
    const c = new ManualClock(50);
    const log: number[] = [];
    c.schedule(-5, () => log.push(c.now()));
    c.schedule(0, () => log.push(c.now()));
    expect(log).toEqual([]);
    c.advance(0);
    expect(log).toEqual([50, 50]);
  });

  it('callbacks scheduled by a callback fire in the same move when they fall due within it', () => {
    const c = new ManualClock(0);
    const log: string[] = [];
    c.schedule(10, () => {
      log.push(`first@${c.now()}`);
      c.schedule(5, () => log.push(`chained@${c.now()}`));
      c.schedule(100, () => log.push(`later@${c.now()}`));
    });
    c.schedule(12, () => log.push(`other@${c.now()}`));
    c.setTime(20);
    expect(log).toEqual(['first@10', 'other@12', 'chained@15']);
    c.setTime(110);
    expect(log.at(-1)).toBe('later@110');
  });

  it('cancel prevents a pending callback, is idempotent, and is harmless after firing', () => {
    const c = new ManualClock(0);
    const log: string[] = [];
    const a = c.schedule(10, () => log.push('a'));
    const b = c.schedule(10, () => log.push('b'));
    a.cancel();
    a.cancel();
    c.advance(20);
    expect(log).toEqual(['b']);
    b.cancel();
    c.advance(20);
    expect(log).toEqual(['b']);
  });

  it('a callback can cancel another one that is due in the same move', () => {
    const c = new ManualClock(0);
    const log: string[] = [];
    let second: { cancel(): void } | undefined;
    c.schedule(1, () => {
      log.push('first');
      second!.cancel();
    });
    second = c.schedule(2, () => log.push('second'));
    c.advance(5);
    expect(log).toEqual(['first']);
  });

  it('never goes back: setTime to an earlier time throws EDDY_INVALID_ARGUMENT and changes nothing', async () => {
    const c = new ManualClock(100);
    const log: number[] = [];
    c.schedule(5, () => log.push(1));
    expect((await expectEddyError(() => c.setTime(99), 'EDDY_INVALID_ARGUMENT')).message).toMatch(/cannot go back from 100 to 99/);
    await expectEddyError(() => c.advance(-1), 'EDDY_INVALID_ARGUMENT');
    expect(c.now()).toBe(100);
    expect(log).toEqual([]);
    c.setTime(100); // standing still is allowed
    c.advance(5);
    expect(log).toEqual([1]);
  });

  it('sleep resolves when time passes its end', async () => {
    const c = new ManualClock(0);
    let done = false;
    const p = c.sleep(100).then(() => (done = true));
    c.advance(99);
    await Promise.resolve();
    expect(done).toBe(false);
    c.advance(1);
    await p;
    expect(done).toBe(true);
  });

  it('property: any schedule/cancel/advance sequence fires exactly the uncancelled due callbacks, in (time, order)', () => {
    type Op = { kind: 'schedule'; delay: number } | { kind: 'cancel'; which: number } | { kind: 'advance'; by: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), delay: fc.integer({ min: -5, max: 50 }) }),
      fc.record({ kind: fc.constant('cancel' as const), which: fc.nat() }),
      fc.record({ kind: fc.constant('advance' as const), by: fc.nat(30) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.array(op, { maxLength: 40 }), (start, ops) => {
        const c = new ManualClock(start);
        const fired: { id: number; at: number }[] = [];
        const model: { id: number; at: number; canceled: boolean; fired: boolean }[] = [];
        const handles: { cancel(): void }[] = [];
        for (const o of ops) {
          if (o.kind === 'schedule') {
            const id = model.length;
            model.push({ id, at: c.now() + Math.max(0, o.delay), canceled: false, fired: false });
            handles.push(c.schedule(o.delay, () => fired.push({ id, at: c.now() })));
          } else if (o.kind === 'cancel') {
            if (handles.length === 0) continue;
            const i = o.which % handles.length;
            handles[i]!.cancel();
            if (!model[i]!.fired) model[i]!.canceled = true;
          } else {
            const before = fired.length;
            const target = c.now() + o.by;
            c.advance(o.by);
            expect(c.now()).toBe(target);
            const due = model.filter((m) => !m.canceled && !m.fired && m.at <= target).sort((a, b) => a.at - b.at || a.id - b.id);
            for (const m of due) m.fired = true;
            expect(fired.slice(before)).toEqual(due.map((m) => ({ id: m.id, at: m.at })));
          }
        }
        // time never went back
        for (let i = 1; i < fired.length; i++) expect(fired[i]!.at).toBeGreaterThanOrEqual(fired[i - 1]!.at);
      }),
      { numRuns: 300 },
    );
  });
});

describe('systemClock', () => {
  it('reads wall time and schedules real callbacks that can be cancelled', async () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    const log: string[] = [];
    const h = systemClock.schedule(1, () => log.push('canceled'));
    h.cancel();
    await new Promise<void>((resolve) => systemClock.schedule(2, () => (log.push('fired'), resolve())));
    await systemClock.sleep(5);
    expect(log).toEqual(['fired']);
  });
});
