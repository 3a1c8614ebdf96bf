// eddy's import graph (scripts/import-graph.ts, `npm run deps`): no cycles outside the allowed DataStream builders, no
// import of a higher layer. Today's known exceptions are listed below, each with its reason; the test also fails when
// one of them has gone, so the lists only shrink. Do not add to them: fix the import, or change the layering in
// scripts/import-graph.ts (LAYERS) with a reason.
import { describe, expect, it } from 'vitest';
import {
  computeImportGraph,
  findCycles,
  isAllowedCycle,
  layerOf,
  layerViolations,
  LAYERS,
  moduleSpecifiers,
} from '../../scripts/import-graph.ts';

/** [from, to, reason]: imports of a higher layer that exist today and are not fixed yet. */
const KNOWN_VIOLATIONS: readonly (readonly [string, string, string])[] = [
  // none today
];

/** Cycles (strongly connected components) that exist today and are not fixed yet: a cycle passes if it lies inside one. */
const KNOWN_CYCLES: readonly { readonly reason: string; readonly files: readonly string[] }[] = [
  // none today
];

const graph = computeImportGraph();
const edgeKey = (from: string, to: string): string => `${from} -> ${to}`;

describe('import graph', () => {
  it('covers the package sources', () => {
    expect(graph.has('index.ts')).toBe(true);
    expect(graph.has('src/index.ts')).toBe(true);
    expect(graph.has('src/errors.ts')).toBe(true);
    expect([...graph.keys()].some((f) => f.startsWith('actors/'))).toBe(true);
    expect(graph.get('index.ts')).toContain('actors/local-executor.ts');
  });

  it('has no cycle outside the DataStream builders and the known list', () => {
    const unexpected = findCycles(graph).filter(
      (cycle) => !isAllowedCycle(cycle) && !KNOWN_CYCLES.some((known) => cycle.every((f) => known.files.includes(f))),
    );
    expect(unexpected, 'new import cycles (npm run deps shows them)').toEqual([]);
  });

  it('has no import of a higher layer outside the known list', () => {
    const known = new Set(KNOWN_VIOLATIONS.map(([from, to]) => edgeKey(from, to)));
    const unexpected = layerViolations(graph)
      .filter((v) => !known.has(edgeKey(v.from, v.to)))
      .map((v) => `${edgeKey(v.from, v.to)} (${v.fromLayer} imports ${v.toLayer})`);
    expect(unexpected, 'new layer violations (npm run deps shows them)').toEqual([]);
  });

  it('the known lists hold only what still happens (remove an entry when it is fixed)', () => {
    const actual = new Set(layerViolations(graph).map((v) => edgeKey(v.from, v.to)));
    const fixed = KNOWN_VIOLATIONS.map(([from, to]) => edgeKey(from, to)).filter((e) => !actual.has(e));
    expect(fixed, 'fixed violations still on KNOWN_VIOLATIONS').toEqual([]);
    const cycles = findCycles(graph);
    const gone = KNOWN_CYCLES.filter((known) => !cycles.some((c) => c.every((f) => known.files.includes(f))));
    expect(gone.map((k) => k.files), 'fixed cycles still on KNOWN_CYCLES').toEqual([]);
  });

  it('every file belongs to a layer', () => {
    for (const file of graph.keys()) expect(() => layerOf(file)).not.toThrow();
    expect(LAYERS[layerOf('src/errors.ts')]!.name).toBe('errors');
    expect(LAYERS[layerOf('index.ts')]!.name).toBe('entry');
    expect(LAYERS[layerOf('src/index.ts')]!.name).toBe('public-api');
  });
});

describe('import-graph tool', () => {
  it('reads every import form, type-only ones included', () => {
    const text = [
      `import a from './a.ts';`,
      `import type { B } from './b.ts';`,
      `import './c.ts';`,
      `export { d } from './d.ts';`,
      `export type { E } from './e.ts';`,
      `export * from './f.ts';`,
      `import g = require('./g.ts');`,
      `type H = import('./h.ts').H;`,
      `const i = () => import('./i.ts');`,
      `import { x } from 'node:fs';`,
    ].join('\n');
    expect(moduleSpecifiers('x.ts', text)).toEqual([
      './a.ts', './b.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts', './h.ts', './i.ts', 'node:fs',
    ]);
  });

  it('finds strongly connected components of more than one file', () => {
    const g = new Map<string, string[]>([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', ['e']],
      ['e', ['d']],
      ['f', ['f', 'a']],
    ]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c'], ['d', 'e']]);
  });
});
