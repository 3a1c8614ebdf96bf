// Fused chains (generated code per chain): same results and the same error attribution as operator calls.
import { describe, expect, inject, it } from 'vitest';
import { JobFailedError, OutputTag, StreamEnvironment, type Sink } from '../../index.ts';

const nats = inject('natsUrl');

function collectingSink<T>(into: T[]): Sink<T> {
  return { name: 'collect-local', createWriter: () => ({ invoke: (v) => void into.push(v) }) };
}

async function failureOf(env: StreamEnvironment): Promise<JobFailedError['result']['error']> {
  const e = await env.execute('fusion-failure').catch((x: unknown) => x);
  expect(e).toBeInstanceOf(JobFailedError);
  return (e as JobFailedError).result.error;
}

describe('chain fusion', () => {
  it('generator -> map -> filter -> map -> sink gives the plain result', async () => {
    const env = StreamEnvironment.create({ nats, parallelism: 2 });
    const got: number[] = [];
    env
      .fromGenerator(10_000, (i) => ({ i, sq: i * i }))
      .map((r) => r.sq % 97)
      .filter((x) => x % 2 === 0)
      .map((x) => x + 1)
      .sinkTo(collectingSink(got));
    await env.execute('fused');
    const expected: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const x = (i * i) % 97;
      if (x % 2 === 0) expected.push(x + 1);
    }
    expect(got.sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
  });

  it('a run that fans out, or meets a process function, hands over to the ordinary outputs', async () => {
    const env = StreamEnvironment.create({ nats, parallelism: 1 });
    const odd = new OutputTag<number>('odd');
    const a: number[] = [];
    const b: number[] = [];
    const sides: number[] = [];
    const doubled = env.fromGenerator(50, (i) => i).map((i) => i * 2);
    doubled.filter((x) => x % 4 === 0).sinkTo(collectingSink(a));
    const processed = doubled.process<number>({
      processElement(v, ctx, out) {
        if ((v / 2) % 2 === 1) ctx.output(odd, v / 2);
        out.collect(v + 1);
      },
    });
    processed.map((x) => -x).sinkTo(collectingSink(b));
    processed.getSideOutput(odd).sinkTo(collectingSink(sides));
    await env.execute('fan-out');
    const all = [...Array(50).keys()];
    expect(a).toEqual(all.map((i) => i * 2).filter((x) => x % 4 === 0));
    expect(b).toEqual(all.map((i) => -(i * 2 + 1)));
    expect(sides).toEqual(all.filter((i) => i % 2 === 1));
  });

  it.each([
    ['the generator function', 'gen', 0],
    ['a map', 'explode-map', 1],
    ['a filter', 'explode-filter', 2],
    ['the sink', 'explode-sink', 3],
  ])('an error in %s names that operator', async (_what, name, stage) => {
    const env = StreamEnvironment.create({ nats, parallelism: 1 });
    const boom = (where: number, i: number) => {
      if (where === stage && i === 321) throw new Error(`boom at ${where}`);
    };
    env
      .fromSource(
        (await import('../../src/connectors/generator-source.ts')).generatorSource(1000, (i) => (boom(0, i), i)),
        'gen',
      )
      .map((i) => (boom(1, i), i))
      .name('explode-map')
      .filter((i) => (boom(2, i), true))
      .name('explode-filter')
      .sinkTo({ name: 'explode', createWriter: () => ({ invoke: (i: number) => boom(3, i) }) })
      .name('explode-sink');
    const error = await failureOf(env);
    expect(error).toMatchObject({ code: 'EDDY_USER_FUNCTION', operator: name });
    expect(error!.message).toContain(`boom at ${stage}`);
  });
});

describe('chain fusion with timestamps', () => {
  it('a fused timestamp assigner stamps records and its errors name it', async () => {
    const { WatermarkStrategy } = await import('../../index.ts');
    const ok = StreamEnvironment.create({ nats, parallelism: 1 });
    const stamped: number[] = [];
    ok.fromGenerator(100, (i) => i)
      .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((i) => i * 1000))
      .process<number>({ processElement: (_v, ctx, out) => out.collect(ctx.timestamp()!) })
      .sinkTo(collectingSink(stamped));
    await ok.execute('stamped');
    expect(stamped).toEqual([...Array(100).keys()].map((i) => i * 1000));

    const bad = StreamEnvironment.create({ nats, parallelism: 1 });
    bad
      .fromGenerator(100, (i) => i)
      .assignTimestampsAndWatermarks(WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((i) => (i === 5 ? (undefined as unknown as number) : i)))
      .name('stamper')
      .map((i) => i)
      .sinkTo(collectingSink<number>([]));
    const error = await failureOf(bad);
    expect(error).toMatchObject({ code: 'EDDY_INVALID_ARGUMENT', operator: 'stamper' });
  });
});
