// File source (split offsets, restore, chunk boundaries, errors) and transactional file sink (two-phase commit, idempotent re-commit).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { RuntimeContext } from '../../src/functions/functions.ts';
import { fileSink } from '../../src/connectors/file-sink.ts';
import { fileSource } from '../../src/connectors/file-source.ts';
import type { PollResult, Source, SourceReader } from '../../src/connectors/source.ts';
import { isEddyError } from '../../src/errors.ts';
import type { OperatorContext } from '../../src/operators/operator.ts';
import type { SinkContext, SinkWriter } from '../../src/operators/sink-operator.ts';
import { operatorContext } from '../support/operator-context.ts';

const root = mkdtempSync(join(tmpdir(), 'eddy-file-connectors-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => {
  const d = join(root, `d${dirs++}`);
  mkdirSync(d);
  return d;
};

function context(subtaskIndex = 0, parallelism = 1, checkpointing = false, operatorName = 'op'): OperatorContext {
  return operatorContext({ operatorName, uid: operatorName, subtaskIndex, parallelism, checkpointing });
}

async function createReader<T>(source: Source<T>, subtask = 0, parallelism = 1): Promise<SourceReader<T>> {
  return source.createReader(context(subtask, parallelism, true, source.name));
}

/** Polls in slices of `slice` until `limit` records came or the reader ended. */
function read<T>(r: SourceReader<T>, limit = Infinity, slice = 1000): { records: T[]; result: PollResult } {
  const records: T[] = [];
  let result: PollResult = 'more';
  const out = { collect: (v: T) => void records.push(v) };
  while (result === 'more' && records.length < limit) result = r.poll(out, Math.min(slice, limit - records.length));
  return { records, result };
}

async function errorOf(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('fileSource', () => {
  it('reads lines: CRLF, empty lines, a last line without newline, UTF-8 across 64 KiB chunk boundaries, a BOM', async () => {
    const dir = freshDir();
    // Lines of odd lengths with multi-byte characters, so chunk boundaries fall inside characters and lines.
    const lines = ['\uFEFFfirst', '', 'x'.repeat(200_000), ...Array.from({ length: 3000 }, (_, i) => `${i} ü数😀 ${'y'.repeat(i % 97)}`), 'crlf\r', 'last'];
    writeFileSync(join(dir, 'a.txt'), lines.join('\n'));
    const { records, result } = read(await createReader(fileSource({ path: join(dir, 'a.txt') })), Infinity, 333);
    expect(result).toBe('end');
    expect(records).toEqual(['first', '', ...lines.slice(2, -2), 'crlf', 'last']);
  });

  it('a line longer than a poll may read takes several polls (bounded work each), then comes whole', async () => {
    const file = join(freshDir(), 'long');
    const long = 'z'.repeat(3 * 1024 * 1024);
    writeFileSync(file, `a\n${long}\nb`);
    const r = await createReader(fileSource({ path: file }));
    const records: string[] = [];
    const results: PollResult[] = [];
    for (let res: PollResult = 'more'; res === 'more'; ) results.push((res = r.poll({ collect: (v) => void records.push(v) }, 100)));
    expect(results.length).toBeGreaterThan(2);
    expect(results.at(-1)).toBe('end');
    expect(records).toEqual(['a', long, 'b']);
  });

  it('restored from a snapshot, a new reader continues exactly after the last emitted line (fast-check)', async () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, ''));
    const file = fc.record({ lines: fc.array(line, { maxLength: 40 }), trailingNewline: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(file, { minLength: 1, maxLength: 4 }), fc.nat(100), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 3 }), async (files, cut, slice, p2) => {
        const dir = freshDir();
        const expected: string[] = [];
        files.forEach((f, i) => {
          const content = f.lines.join('\n') + (f.trailingNewline && f.lines.length > 0 ? '\n' : '');
          writeFileSync(join(dir, `f${i}`), content);
          // The lines of a file: what the newlines separate, where a final newline ends the last line.
          const lines = content.split('\n');
          if (lines.at(-1) === '') lines.pop();
          expected.push(...lines);
        });
        const source = fileSource({ path: dir });
        const first = await createReader(source);
        const before = read(first, cut, slice).records;
        const state = JSON.parse(JSON.stringify(first.snapshotState!())) as unknown[];
        await first.close?.();
        // Dealt round-robin to p2 readers, as on a restore at another parallelism.
        const after: string[] = [];
        for (let s = 0; s < p2; s++) {
          const r = await createReader(source, s, p2);
          r.restoreState!(state.filter((_, i) => i % p2 === s));
          const { records, result } = read(r, Infinity, slice);
          expect(result).toBe('end');
          after.push(...records);
        }
        // One reader reads the splits in order; several split the files between them, each file in order.
        if (p2 === 1) expect([...before, ...after]).toEqual(expected);
        else expect([...before, ...after].sort()).toEqual([...expected].sort());
      }),
      { numRuns: 60 },
    );
  });

  it('the snapshot holds { file, offset } per unfinished split; offsets are bytes, finished files leave it', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'a'), 'ä\nb\n');
    writeFileSync(join(dir, 'b'), 'c\nd\n');
    const r = await createReader(fileSource({ path: dir }));
    expect(r.snapshotState!()).toEqual([
      { file: join(dir, 'a'), offset: 0, line: 0 },
      { file: join(dir, 'b'), offset: 0, line: 0 },
    ]);
    expect(read(r, 1).records).toEqual(['ä']);
    expect(r.snapshotState!()).toEqual([
      { file: join(dir, 'a'), offset: 3, line: 1 },
      { file: join(dir, 'b'), offset: 0, line: 0 },
    ]);
    expect(read(r, 2).records).toEqual(['b', 'c']);
    expect(r.snapshotState!()).toEqual([{ file: join(dir, 'b'), offset: 2, line: 1 }]);
    expect(read(r).records).toEqual(['d']);
    expect(r.snapshotState!()).toEqual([]);
  });

  it('one reader given two splits reads both, each from its offset; a reader given none ends at once', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'a'), 'a1\na2\na3\n');
    writeFileSync(join(dir, 'b'), 'b1\nb2');
    const r = await createReader(fileSource({ path: dir }), 1, 2);
    r.restoreState!([
      { file: join(dir, 'a'), offset: 3, line: 1 },
      { file: join(dir, 'b'), offset: 3 },
    ]);
    expect(read(r)).toEqual({ records: ['a2', 'a3', 'b2'], result: 'end' });
    const empty = await createReader(fileSource({ path: dir }), 0, 2);
    empty.restoreState!([]);
    expect(read(empty)).toEqual({ records: [], result: 'end' });
  });

  it('deals a directory`s regular files in name order over the subtasks, skipping subdirectories', async () => {
    const dir = freshDir();
    for (const name of ['c', 'a', 'b', 'd']) writeFileSync(join(dir, name), `${name}1\n${name}2\n`);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'x'), 'nested\n');
    const source = fileSource({ path: dir });
    expect(read(await createReader(source)).records).toEqual(['a1', 'a2', 'b1', 'b2', 'c1', 'c2', 'd1', 'd2']);
    expect(read(await createReader(source, 0, 3)).records).toEqual(['a1', 'a2', 'd1', 'd2']);
    expect(read(await createReader(source, 1, 3)).records).toEqual(['b1', 'b2']);
    expect(read(await createReader(source, 2, 3)).records).toEqual(['c1', 'c2']);
  });

  it('json-lines parses each non-blank line', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'e.jsonl'), '{"a":1}\n\n  \n[1,"x"]\r\n"s"\n');
    const r = await createReader(fileSource<unknown>({ path: join(dir, 'e.jsonl'), format: 'json-lines' }));
    expect(read(r).records).toEqual([{ a: 1 }, [1, 'x'], 's']);
  });

  it('a bad JSON line fails with EDDY_DECODE naming file and line number, also after a restore; the offset stays before it', async () => {
    const dir = freshDir();
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '1\n2\n{oops\n4\n');
    const source = fileSource<number>({ path: file, format: 'json-lines' });
    const r = await createReader(source);
    expect(read(r, 1).records).toEqual([1]);
    const state = r.snapshotState!();
    const records: number[] = [];
    const error = await errorOf(() => r.poll({ collect: (v) => void records.push(v) }, 10));
    expect(records).toEqual([2]);
    expect(isEddyError(error, 'EDDY_DECODE')).toBe(true);
    expect((error as Error).message).toContain(`${file} line 3 is not JSON`);
    expect(r.snapshotState!()).toEqual([{ file, offset: 4, line: 2 }]);
    const again = await createReader(source);
    again.restoreState!(state);
    expect((await errorOf(() => read(again)) as Error).message).toContain(`${file} line 3 is not JSON`);
  });

  it('a missing path fails with EDDY_CONFIG naming it; bad options and bad restored state are refused', async () => {
    const missing = join(root, 'no-such-file');
    const error = await errorOf(async () => read(await createReader(fileSource({ path: missing }))));
    expect(isEddyError(error, 'EDDY_CONFIG')).toBe(true);
    expect((error as Error).message).toContain(missing);
    const restoredMissing = await createReader(fileSource({ path: root }));
    restoredMissing.restoreState!([{ file: missing, offset: 0 }]);
    expect(await errorOf(() => read(restoredMissing))).toMatchObject({ code: 'EDDY_CONFIG', message: expect.stringContaining(missing) });

    expect(await errorOf(() => fileSource({ path: '' }))).toMatchObject({ code: 'EDDY_INVALID_ARGUMENT' });
    expect(await errorOf(() => fileSource({ path: root, format: 'csv' as never }))).toMatchObject({ code: 'EDDY_INVALID_ARGUMENT' });
    for (const bad of [[{ offset: 0 }], [{ file: 'x', offset: -1 }], [{ file: 'x', offset: 0, line: 1.5 }], [7]]) {
      const r = await createReader(fileSource({ path: root }));
      expect(await errorOf(() => r.restoreState!(bad))).toMatchObject({ code: 'EDDY_STATE_MISMATCH' });
    }
  });
});

function sinkContext(subtask: number, checkpointing: boolean, restoredState?: unknown[]): SinkContext {
  const operator = context(subtask, 2, checkpointing, 'File Sink');
  return { operator, runtime: {} as RuntimeContext, restoredState };
}

/** Complete files of a directory (name -> content); in-progress files are listed under their own names. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(dir).sort()) out[n] = readFileSync(join(dir, n), 'utf8');
  return out;
}

describe('fileSink', () => {
  it('with checkpointing, records become visible only when their checkpoint completes', async () => {
    const dir = join(freshDir(), 'created');
    const w = (await fileSink<string>({ directory: dir }).createWriter(sinkContext(1, true))) as SinkWriter<string>;
    w.invoke('a', 0);
    w.invoke('b', 0);
    const state1 = w.snapshotState!(1);
    w.invoke('c', 0);
    expect(files(dir)).toEqual({});
    const state2 = w.snapshotState!(2) as { id: string }[];
    expect(state2).toMatchObject([
      { checkpointId: 1, records: ['a', 'b'] },
      { checkpointId: 2, records: ['c'] },
    ]);
    expect(state1).toEqual(state2.slice(0, 1));
    const [one, two] = state2.map((t) => `part-${t.id}`);
    expect(one).not.toBe(two);
    await w.notifyCheckpointComplete!(1);
    expect(files(dir)).toEqual({ [one!]: 'a\nb\n' });
    await w.notifyCheckpointComplete!(2);
    expect(files(dir)).toEqual({ [one!]: 'a\nb\n', [two!]: 'c\n' });
    await w.close?.();
  });

  it('a restored writer commits pending transactions again: files already there stay unchanged, missing ones appear, no duplicates', async () => {
    const dir = freshDir();
    const sink = fileSink<{ n: number }>({ directory: dir, format: 'json-lines', prefix: 'out' });
    const w = (await sink.createWriter(sinkContext(0, true))) as SinkWriter<{ n: number }>;
    w.invoke({ n: 1 }, 0);
    w.snapshotState!(1);
    w.invoke({ n: 2 }, 0);
    const state = JSON.parse(JSON.stringify(w.snapshotState!(2))) as { id: string }[];
    const [one, two] = state.map((t) => `out-${t.id}`);
    // Checkpoint 2 completed, but the job crashed after committing only transaction 1.
    await w.notifyCheckpointComplete!(1);
    const mtime = statSync(join(dir, one!)).mtimeMs;
    expect(files(dir)).toEqual({ [one!]: '{"n":1}\n' });
    // Restored at another parallelism (by a new job): both transactions may land on any subtask.
    const restored = await sink.createWriter({ ...sinkContext(1, true, state), operator: { ...context(1, 3, true, 'File Sink'), jobId: 'job2' } });
    expect(files(dir)).toEqual({ [one!]: '{"n":1}\n', [two!]: '{"n":2}\n' });
    expect(statSync(join(dir, one!)).mtimeMs).toBe(mtime);
    await restored.close?.();
    // And once more (a second crash before the next checkpoint): still nothing new.
    await (await sink.createWriter(sinkContext(0, true, state))).close?.();
    expect(files(dir)).toEqual({ [one!]: '{"n":1}\n', [two!]: '{"n":2}\n' });
  });

  it('a leftover in-progress file of a crashed commit is replaced; a foreign file under a transaction`s name is refused', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'part-j-0-1.part.tmp'), 'half');
    const txn = [{ id: 'j-0-1', checkpointId: 1, records: ['x'] }];
    await fileSink<string>({ directory: dir }).createWriter(sinkContext(0, true, txn));
    expect(files(dir)).toEqual({ 'part-j-0-1': 'x\n' });
    const other = [{ id: 'j-0-1', checkpointId: 1, records: ['y'] }];
    const error = await errorOf(() => fileSink<string>({ directory: dir }).createWriter(sinkContext(0, true, other)));
    expect(isEddyError(error, 'EDDY_CONFIG')).toBe(true);
    expect((error as Error).message).toContain(join(dir, 'part-j-0-1'));
  });

  it('without checkpointing it writes batches to uniquely named files and the rest at the end', async () => {
    const dir = freshDir();
    const w = (await fileSink<number>({ directory: dir }).createWriter(sinkContext(0, false))) as SinkWriter<number>;
    for (let i = 0; i < 2500; i++) w.invoke(i, 0);
    await w.finish!();
    await w.close?.();
    const out = files(dir);
    const names = Object.keys(out);
    expect(names).toHaveLength(3);
    // One direct transaction id per subtask, made unique by a counter; name order is write order.
    expect(names.map((n) => n.slice(0, -7))).toEqual([names[0]!.slice(0, -7), names[0]!.slice(0, -7), names[0]!.slice(0, -7)]);
    expect(names.map((n) => n.slice(-7))).toEqual(['-000000', '-000001', '-000002']);
    expect(names[0]).toMatch(/^part-.*0-direct-000000$/);
    expect(Object.values(out).join('')).toBe([...Array(2500).keys()].map((i) => `${i}\n`).join(''));
  });

  it('refuses records its format cannot write, and bad options', async () => {
    const dir = freshDir();
    const w = (await fileSink<unknown>({ directory: dir }).createWriter(sinkContext(0, true))) as SinkWriter<unknown>;
    expect(await errorOf(() => w.invoke({ a: 1 }, 0))).toMatchObject({ code: 'EDDY_UNSERIALIZABLE_RECORD' });
    const j = (await fileSink<unknown>({ directory: dir, format: 'json-lines' }).createWriter(sinkContext(0, true))) as SinkWriter<unknown>;
    expect(await errorOf(() => j.invoke(undefined, 0))).toMatchObject({ code: 'EDDY_UNSERIALIZABLE_RECORD' });
    expect(await errorOf(() => j.invoke(1n, 0))).toMatchObject({ code: 'EDDY_UNSERIALIZABLE_RECORD' });
    expect(await errorOf(() => fileSink({ directory: '' }))).toMatchObject({ code: 'EDDY_INVALID_ARGUMENT' });
    expect(await errorOf(() => fileSink({ directory: dir, prefix: 'a/b' }))).toMatchObject({ code: 'EDDY_INVALID_ARGUMENT' });
    expect(await errorOf(() => fileSink({ directory: dir, format: 'csv' as never }))).toMatchObject({ code: 'EDDY_INVALID_ARGUMENT' });
  });
});
