// placeSlots: slot sharing spread over workers, slots on live workers kept, and a clear error when the slots do not fit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeSlots } from '../../actors/slot-placement.ts';
import { isEddyError } from '../../src/errors.ts';

describe('placeSlots', () => {
  it('spreads slots over the workers with the most free slots (the TSDoc example)', () => {
    const p = placeSlots([0, 1, 2], [{ id: 'a', free: 2 }, { id: 'b', free: 2 }], new Map());
    expect([...p]).toEqual([[0, 'a'], [1, 'b'], [2, 'a']]);
  });

  it('keeps slots placed on live workers and moves those of a lost one', () => {
    const current = new Map([[0, 'a'], [1, 'lost'], [2, 'b']]);
    const p = placeSlots([0, 1, 2], [{ id: 'a', free: 1 }, { id: 'b', free: 2 }], current);
    expect(p.get(0)).toBe('a');
    expect(p.get(2)).toBe('b');
    expect(p.get(1)).toBe('b');
  });

  it('fails with EDDY_NO_SLOTS when the free slots cannot hold the job', () => {
    let err: unknown;
    try {
      placeSlots([0, 1, 2], [{ id: 'a', free: 1 }, { id: 'b', free: 1 }], new Map());
    } catch (e) {
      err = e;
    }
    expect(isEddyError(err, 'EDDY_NO_SLOTS')).toBe(true);
    expect((err as Error).message).toMatch(/needs 3 more slot\(s\) but the 2 live worker\(s\) offer 2 free/);
  });

  it('never overfills a worker and places every slot, spread within one slot of even', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 24 }), (workers, slotsEach, n) => {
        const ws = Array.from({ length: workers }, (_, i) => ({ id: `w${i}`, free: slotsEach }));
        const slots = Array.from({ length: n }, (_, i) => i);
        if (n > workers * slotsEach) {
          expect(() => placeSlots(slots, ws, new Map())).toThrow(/EDDY_NO_SLOTS/);
          return;
        }
        const p = placeSlots(slots, ws, new Map());
        expect(p.size).toBe(n);
        const load = new Map<string, number>();
        for (const w of p.values()) load.set(w, (load.get(w) ?? 0) + 1);
        const loads = ws.map((w) => load.get(w.id) ?? 0);
        expect(Math.max(...loads)).toBeLessThanOrEqual(slotsEach);
        expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
      }),
    );
  });
});
