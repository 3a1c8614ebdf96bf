// eddy's import graph and its checks: cycles (strongly connected components of more than one file) and
// layer violations (a file importing a layer above its own). `npm run deps` prints both;
// test/unit/import-graph.test.ts fails on any that is not on its allow-lists.
//
// Imports are read with the TypeScript compiler API (a syntax walk, no type checking), so every form counts:
// `import ... from`, `import type ... from`, `export ... from`, `export type ... from`, side-effect `import '...'`,
// `import x = require('...')`, dynamic `import('...')` and type-position `import('...').T`.
// Only relative specifiers are edges; packages (node:*, nats, level, ...) and non-literal dynamic imports are not.
import * as ts from 'typescript';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Paths are repository-relative with '/' separators, e.g. 'src/api/data-stream.ts'. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** The roots the graph covers: the package entry and the package's sources (what `npm run build` ships). */
export const GRAPH_ROOTS: readonly string[] = ['index.ts', 'src', 'actors'];

/**
 * The layers, lowest first. A file may import files of its own layer or of lower layers, never of a higher one.
 * A member is a file ('src/errors.ts') or a directory ('src/time', meaning everything below it); a file belongs to the
 * layer with the longest matching member. The order is what the code needs today:
 * - errors and time are leaves (time uses errors only);
 * - state (descriptors, backends, key groups) uses errors and time;
 * - functions are the user-function contracts (MapFunction, ProcessFunction, OutputTag, TimeDomain, windowing
 *   assigners, triggers, evictors, windows, the RecordFailurePolicy for records a function fails on): they name state
 *   descriptors and broadcast state (RuntimeContext.getState, triggers' state), so they sit above state and below
 *   everything that runs or builds them;
 * - machines (xstate machines compiled or run on xstate, their schema and versioning) use errors only; the actor
 *   operator runs them and checkpoint restore checks their versions;
 * - operators implement the contracts; transport (frames, gates, record writers and the Partitioner they apply)
 *   carries operator output; connectors are sources and sinks on operators and transport;
 * - graph (Transformation nodes) names sources, sinks and operator factories;
 * - checkpoint (storage and restore) matches operator snapshots to stream-graph nodes by uid; only the runtime
 *   (actors) uses it;
 * - plan reads the graph; api builds the graph and plans it; testing and cli drive the api;
 * - src/index.ts is the public surface of src/; actors run plans; index.ts is the package entry.
 * Layers that do not import each other today (testing, cli) are still ordered, so that neither starts to.
 */
export const LAYERS: readonly { readonly name: string; readonly members: readonly string[] }[] = [
  { name: 'errors', members: ['src/errors.ts'] },
  { name: 'time', members: ['src/time'] },
  { name: 'state', members: ['src/state'] },
  { name: 'functions', members: ['src/functions'] },
  { name: 'machines', members: ['src/machines'] },
  { name: 'operators', members: ['src/operators'] },
  { name: 'transport', members: ['src/transport'] },
  { name: 'connectors', members: ['src/connectors'] },
  { name: 'graph', members: ['src/graph'] },
  { name: 'checkpoint', members: ['src/checkpoint'] },
  { name: 'plan', members: ['src/plan'] },
  { name: 'api', members: ['src/api'] },
  { name: 'testing', members: ['src/testing'] },
  { name: 'cli', members: ['src/cli'] },
  { name: 'public-api', members: ['src/index.ts'] },
  { name: 'actors', members: ['actors'] },
  { name: 'entry', members: ['index.ts'] },
];

/**
 * Cycles the design allows: a strongly connected component whose files are all in one group is fine.
 * The DataStream builders return each other (DataStream.keyBy -> KeyedStream.window -> WindowedStream -> DataStream,
 * connect/broadcast/join/intervalJoin/AsyncDataStream likewise), as Flink's do.
 */
export const ALLOWED_CYCLE_GROUPS: readonly { readonly reason: string; readonly files: readonly string[] }[] = [
  {
    reason: 'the DataStream builders return each other',
    files: [
      'src/api/data-stream.ts',
      'src/api/windowed-stream.ts',
      'src/api/connected-streams.ts',
      'src/api/joined-streams.ts',
      'src/api/broadcast-stream.ts',
      'src/api/interval-join.ts',
      'src/api/async-data-stream.ts',
    ],
  },
];

export interface LayerViolation {
  readonly from: string;
  readonly to: string;
  readonly fromLayer: string;
  readonly toLayer: string;
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const toPosix = (path: string): string => path.split(sep).join('/');

function listSources(root: string, entry: string): string[] {
  const abs = join(root, entry);
  if (!existsSync(abs)) return [];
  if (entry.endsWith('.ts')) return [entry];
  const out: string[] = [];
  for (const dirent of readdirSync(abs, { withFileTypes: true })) {
    const child = `${entry}/${dirent.name}`;
    if (dirent.isDirectory()) out.push(...listSources(root, child));
    else if (dirent.isFile() && dirent.name.endsWith('.ts') && !dirent.name.endsWith('.d.ts')) out.push(child);
  }
  return out;
}

/** Every module specifier a file names, in any import or re-export form (type-only included). */
export function moduleSpecifiers(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      if (ts.isStringLiteral(node.moduleSpecifier)) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expr = node.moduleReference.expression;
      if (ts.isStringLiteral(expr)) specifiers.push(expr.text);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) specifiers.push(arg.literal.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg !== undefined && ts.isStringLiteralLike(arg)) specifiers.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

/** Resolves a relative specifier from `from` to a repository-relative .ts path, or undefined for packages. */
function resolveSpecifier(root: string, from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = toPosix(relative(root, resolve(root, dirname(from), specifier)));
  const candidates = base.endsWith('.ts')
    ? [base]
    : base.endsWith('.js')
      ? [base.slice(0, -3) + '.ts', base]
      : [`${base}.ts`, `${base}/index.ts`];
  for (const candidate of candidates) if (existsSync(join(root, candidate))) return candidate;
  throw new Error(`import-graph: ${from} imports '${specifier}', which does not resolve to a file`);
}

/** The import graph over GRAPH_ROOTS: file -> the files it imports (sorted, no duplicates). */
export function computeImportGraph(root: string = REPO_ROOT, roots: readonly string[] = GRAPH_ROOTS): ImportGraph {
  const files = roots.flatMap((entry) => listSources(root, entry)).sort();
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const specifier of moduleSpecifiers(file, readFileSync(join(root, file), 'utf8'))) {
      const target = resolveSpecifier(root, file, specifier);
      if (target !== undefined && target !== file) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Strongly connected components of more than one file (Tarjan), each sorted, largest first. */
export function findCycles(graph: ImportGraph): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const lowlink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const strongConnect = (v: string): void => {
    indices.set(v, index);
    lowlink.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        strongConnect(w);
        lowlink.set(v, Math.min(lowlink.get(v)!, lowlink.get(w)!));
      } else if (onStack.has(w)) {
        lowlink.set(v, Math.min(lowlink.get(v)!, indices.get(w)!));
      }
    }
    if (lowlink.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) strongConnect(v);
  return components.sort((a, b) => b.length - a.length || a[0]!.localeCompare(b[0]!));
}

/** The index into LAYERS of a file: the layer with the longest member that is the file or a directory above it. */
export function layerOf(file: string): number {
  let best = -1;
  let bestLength = -1;
  LAYERS.forEach((layer, i) => {
    for (const member of layer.members) {
      const matches = file === member || file.startsWith(`${member}/`);
      if (matches && member.length > bestLength) {
        best = i;
        bestLength = member.length;
      }
    }
  });
  if (best < 0) throw new Error(`import-graph: ${file} belongs to no layer; add it to LAYERS in scripts/import-graph.ts`);
  return best;
}

/** Every edge that goes from a lower layer to a higher one. */
export function layerViolations(graph: ImportGraph): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const [from, targets] of graph) {
    const fromLayer = layerOf(from);
    for (const to of targets) {
      const toLayer = layerOf(to);
      if (toLayer > fromLayer) {
        violations.push({ from, to, fromLayer: LAYERS[fromLayer]!.name, toLayer: LAYERS[toLayer]!.name });
      }
    }
  }
  return violations.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
}

/** Whether a cycle lies entirely inside one of ALLOWED_CYCLE_GROUPS. */
export function isAllowedCycle(cycle: readonly string[]): boolean {
  return ALLOWED_CYCLE_GROUPS.some((group) => cycle.every((file) => group.files.includes(file)));
}

/** Layer-to-layer edge counts (which layers need which), for deciding the order. */
export function layerEdges(graph: ImportGraph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = LAYERS[layerOf(from)]!.name;
      const b = LAYERS[layerOf(to)]!.name;
      if (a === b) continue;
      const key = `${a} -> ${b}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function main(argv: readonly string[]): number {
  const graph = computeImportGraph();
  const edges = [...graph.values()].reduce((n, targets) => n + targets.length, 0);
  const cycles = findCycles(graph);
  const violations = layerViolations(graph);
  const out: string[] = [];
  out.push(`import graph: ${graph.size} files, ${edges} imports (roots: ${GRAPH_ROOTS.join(', ')})`);
  out.push(`layers (lowest first): ${LAYERS.map((l) => l.name).join(' < ')}`);
  if (argv.includes('--layers')) {
    out.push('', 'layer edges (from -> to: imports):');
    for (const [key, n] of [...layerEdges(graph)].sort()) out.push(`  ${key}: ${n}`);
  }
  if (argv.includes('--graph')) {
    out.push('', 'imports:');
    for (const [file, targets] of graph) out.push(`  ${file}`, ...targets.map((t) => `    -> ${t}`));
  }
  out.push('', `cycles (strongly connected components of more than one file): ${cycles.length}`);
  for (const cycle of cycles) {
    out.push(`  [${cycle.length} files${isAllowedCycle(cycle) ? ', allowed' : ''}]`);
    for (const file of cycle) {
      const inside = (graph.get(file) ?? []).filter((t) => cycle.includes(t));
      out.push(`    ${file} -> ${inside.join(', ')}`);
    }
  }
  out.push('', `layer violations (imports of a higher layer): ${violations.length}`);
  for (const v of violations) out.push(`  ${v.from} (${v.fromLayer}) -> ${v.to} (${v.toLayer})`);
  const disallowed = cycles.filter((c) => !isAllowedCycle(c)).length;
  out.push('', `summary: ${cycles.length} cycles (${disallowed} not allowed by design), ${violations.length} layer violations`);
  out.push('(test/unit/import-graph.test.ts holds the allow-list of known violations)');
  console.log(out.join('\n'));
  return argv.includes('--strict') && (disallowed > 0 || violations.length > 0) ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
