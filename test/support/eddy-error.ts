// Test helper: run something that must fail with an EddyError of a given code, and return that error.
import { expect } from 'vitest';
import { isEddyError, type EddyErrorCode } from '../../src/errors.ts';

/** Runs `fn` and returns the EddyError it throws (failing the test when it throws nothing or something else). */
export async function expectEddyError(fn: () => unknown, code: EddyErrorCode): Promise<Error & { code: string; operator: string | undefined }> {
  try {
    await fn();
  } catch (e) {
    if (!isEddyError(e)) throw new Error(`expected EddyError ${code}, got ${String(e)}`, { cause: e });
    expect(e.code).toBe(code);
    return e;
  }
  throw new Error(`expected EddyError ${code}, nothing was thrown`);
}
