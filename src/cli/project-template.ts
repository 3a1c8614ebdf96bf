// The files `eddy new` writes: a runnable, tested word-count job project (package.json, strict tsconfig, job, vitest test, README).

/** What a new project is made of; `devDependencies` are version ranges for typescript, vitest and @types/node. */
export interface TemplateOptions {
  /** The npm package name of the new project. */
  name: string;
  /** The dependency spec of eddy in its package.json (a version range, a `file:` path, a git URL...). */
  eddySpec: string;
  devDependencies: { typescript: string; vitest: string; '@types/node': string };
}

/**
 * The files of a new project, by path relative to its directory. The job is an ES module (`"type":
 * "module"`) checked by a strict NodeNext tsconfig; its functions are exported, so the test imports
 * them and drives them through `eddy/testing`'s harness without any NATS server, while
 * `isMainModule` keeps the pipeline from running on import.
 *
 * @example
 * ```ts
 * const files = projectFiles({ name: 'clicks', eddySpec: '^0.1.0', devDependencies: { typescript: '^5.9.3', vitest: '^4.1.12', '@types/node': '^20.19.43' } });
 * Object.keys(files); // ['package.json', 'tsconfig.json', 'src/job.ts', 'test/job.test.ts', 'README.md', '.gitignore']
 * ```
 */
export function projectFiles(options: TemplateOptions): Record<string, string> {
  const { typescript, vitest } = options.devDependencies;
  const packageJson = {
    name: options.name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20' },
    scripts: {
      start: 'eddy run src/job.ts',
      test: 'vitest run',
      typecheck: 'tsc --noEmit',
    },
    dependencies: { eddy: options.eddySpec },
    devDependencies: { '@types/node': options.devDependencies['@types/node'], typescript, vitest },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      noImplicitOverride: true,
      // Nothing is compiled to disk: eddy run (tsx) and vitest load the .ts files themselves.
      noEmit: true,
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      skipLibCheck: true,
      types: ['node'],
    },
    include: ['src', 'test'],
  };
  return {
    'package.json': `${JSON.stringify(packageJson, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    'src/job.ts': JOB,
    'test/job.test.ts': TEST,
    'README.md': readme(options.name),
    '.gitignore': 'node_modules/\n.eddy/\n',
  };
}

const JOB = `// The job: counts words with keyed state. Run it with \`npm start\` (eddy run src/job.ts), test it with \`npm test\`.
import {
  KeyedProcessFunction,
  StreamEnvironment,
  ValueStateDescriptor,
  isMainModule,
  type Collector,
  type DataStream,
  type KeyedProcessContext,
  type RuntimeContext,
  type ValueState,
} from 'eddy';

/** A word and how often it has been seen so far. */
export interface WordCount {
  word: string;
  count: number;
}

/** The lowercase words of a line. */
export function words(line: string): string[] {
  return line.toLowerCase().match(/[\\p{L}\\p{N}']+/gu) ?? [];
}

/** Emits a running count per word; the count is keyed state, so it is part of every checkpoint. */
export class CountWords extends KeyedProcessFunction<string, string, WordCount> {
  private count!: ValueState<number>;

  override open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', 0));
  }

  processElement(word: string, ctx: KeyedProcessContext<string>, out: Collector<WordCount>): void {
    const count = this.count.value() + 1;
    this.count.update(count);
    out.collect({ word: ctx.getCurrentKey(), count });
  }
}

/** The pipeline: lines -> words -> a running count per word. */
export function countWords(env: StreamEnvironment, lines: string[]): DataStream<WordCount> {
  return env
    .fromCollection(lines)
    .flatMap(words)
    .keyBy((word) => word)
    .process(new CountWords())
    .name('CountWords');
}

// Runs when started as the program (eddy run, tsx), not when the test imports this file.
if (isMainModule(import.meta.url)) {
  const env = StreamEnvironment.create(); // parallelism, NATS and state dir from eddy run's flags
  const lines = process.argv.length > 2 ? process.argv.slice(2) : ['to be or not to be', 'that is the question'];
  const updates = await countWords(env, lines).executeAndCollect('word count');
  // Every update is a running count: a word's final count is its largest.
  const totals = new Map<string, number>();
  for (const { word, count } of updates) totals.set(word, Math.max(count, totals.get(word) ?? 0));
  for (const [word, count] of [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(word + ' ' + count);
}
`;

const TEST = `// Tests the job's functions with eddy's operator harness: no NATS server, no job, just the functions and their state.
import { ProcessFunctionHarness } from 'eddy/testing';
import { describe, expect, it } from 'vitest';
import { CountWords, words } from '../src/job.ts';

describe('words', () => {
  it('splits a line into lowercase words', () => {
    expect(words('To be, or NOT to be!')).toEqual(['to', 'be', 'or', 'not', 'to', 'be']);
  });
});

describe('CountWords', () => {
  it('counts each word on its own', async () => {
    const h = ProcessFunctionHarness.forKeyedProcessFunction(new CountWords(), (word: string) => word);
    await h.open();
    h.processElements(['to', 'be', 'to']);
    expect(h.getOutput()).toEqual([
      { word: 'to', count: 1 },
      { word: 'be', count: 1 },
      { word: 'to', count: 2 },
    ]);
  });

  it('keeps its counts across a checkpoint and restore', async () => {
    const before = ProcessFunctionHarness.forKeyedProcessFunction(new CountWords(), (word: string) => word);
    await before.open();
    before.processElements(['to', 'to']);
    const snapshot = before.snapshot();

    const after = ProcessFunctionHarness.forKeyedProcessFunction(new CountWords(), (word: string) => word);
    await after.open(snapshot);
    after.processElement('to');
    expect(after.getOutput()).toEqual([{ word: 'to', count: 3 }]);
  });
});
`;

function readme(name: string): string {
  return `# ${name}

A stream processing job on eddy: \`src/job.ts\` counts words
with keyed state; \`test/job.test.ts\` tests its functions with eddy's operator harness.

\`\`\`sh
npm install
npm test            # the job's functions, through eddy/testing (no NATS server needed)
npm run typecheck   # tsc, strict
npm start           # eddy run src/job.ts
npx eddy run src/job.ts -p 2 -- some words to count
\`\`\`

\`eddy run\` starts a private \`nats-server\` for the job (Debian: \`apt-get install -y nats-server\`)
unless \`NATS_URL\` or \`--nats URL\` names one. \`npx eddy --help\` lists the options.
`;
}
