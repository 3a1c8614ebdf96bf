// Jobs from files to files on a real nats-server: file source -> map -> file sink gives the input transformed, once.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { JobFailedError, StreamEnvironment } from '../../index.ts';
import { fileSink } from '../../src/connectors/file-sink.ts';
import { fileSource } from '../../src/connectors/file-source.ts';

const nats = inject('natsUrl');
const root = mkdtempSync(join(tmpdir(), 'eddy-file-job-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The lines of every complete file in `dir`, files in name order; in-progress files must not be left. */
function outputLines(dir: string): string[] {
  const names = readdirSync(dir).sort();
  expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
  return names.flatMap((n) => {
    const text = readFileSync(join(dir, n), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    return text.slice(0, -1).split('\n');
  });
}

describe('file source -> map -> file sink', () => {
  it('at parallelism 1, one file: the output lines are the input lines transformed, in order', async () => {
    const input = join(root, 'one.txt');
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ü`);
    writeFileSync(input, lines.join('\n') + '\n');
    const out = join(root, 'out-one');
    const env = StreamEnvironment.create({ nats, parallelism: 1 });
    env
      .fromSource(fileSource({ path: input }))
      .map((l) => l.toUpperCase())
      .sinkTo(fileSink<string>({ directory: out }));
    await env.execute('file-to-file');
    expect(outputLines(out)).toEqual(lines.map((l) => l.toUpperCase()));
  });

  it('at parallelism 3, a directory of json-lines files: every record once, transformed', async () => {
    const input = join(root, 'in-dir');
    mkdirSync(input);
    const expected: string[] = [];
    for (let f = 0; f < 5; f++) {
      const recs = Array.from({ length: 700 + f * 311 }, (_, i) => ({ f, i }));
      writeFileSync(join(input, `part-${f}.jsonl`), recs.map((r) => JSON.stringify(r)).join('\n'));
      expected.push(...recs.map((r) => JSON.stringify({ id: `${r.f}/${r.i}`, sq: r.i * r.i })));
    }
    const out = join(root, 'out-dir');
    const env = StreamEnvironment.create({ nats, parallelism: 3 });
    env
      .fromSource(fileSource<{ f: number; i: number }>({ path: input, format: 'json-lines' }))
      .map((r) => ({ id: `${r.f}/${r.i}`, sq: r.i * r.i }))
      .sinkTo(fileSink<{ id: string; sq: number }>({ directory: out, format: 'json-lines', prefix: 'sq' }));
    await env.execute('jsonl-to-jsonl');
    expect(readdirSync(out).every((n) => n.startsWith('sq-'))).toBe(true);
    expect(outputLines(out).sort()).toEqual(expected.sort());
  });

  it('a missing input path fails the job with EDDY_CONFIG naming the path', async () => {
    const missing = join(root, 'does-not-exist');
    const env = StreamEnvironment.create({ nats, parallelism: 1 });
    env.fromSource(fileSource({ path: missing })).sinkTo(fileSink<string>({ directory: join(root, 'never') }));
    const e = await env.execute('missing').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(JobFailedError);
    expect((e as JobFailedError).result.error).toMatchObject({ code: 'EDDY_CONFIG', message: expect.stringContaining(missing) });
  });
});
