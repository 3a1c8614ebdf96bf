// Every ```ts block of README.md type-checks: each is written to a temp module (after it, a prelude declaring the free names
// the fragments assume) and checked with the TypeScript compiler API under the repo's options, `eddy` mapped to the sources.
// EDDY_README=<path> checks another copy of the README (e.g. one with fixes applied).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const readmePath = resolve(process.env.EDDY_README ?? join(repo, 'README.md'));
const readmeName = basename(readmePath);

interface Snippet {
  /** 1-based README line of the snippet's first code line. */
  line: number;
  code: string;
}

/** The ```ts blocks of a markdown text, with the README line each starts at. */
function tsBlocks(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*(ts|typescript)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[2]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trim().startsWith(fence)) body.push(lines[j++]!);
    out.push({ line: i + 2, code: body.join('\n') });
    i = j;
  }
  return out;
}

/**
 * What the fragments assume: the user's record types, streams built earlier in the README, and helper
 * functions. Each entry is left out when the snippet declares that name itself. eddy's own API is not
 * here: a snippet imports what it uses from 'eddy', as a reader copying it must.
 */
const PRELUDE: Record<string, string> = {
  Reading: 'interface Reading { sensor: string; temperature: number; ts: number }',
  Alert: 'interface Alert { sensor: string; from: number; to: number }',
  Click: 'interface Click { user: string; ts: number }',
  Order: 'interface Order { id: string; customer: string; customerId: string; amount: number; ts: number }',
  Payment: 'interface Payment { orderId: string; ts: number }',
  Shipment: 'interface Shipment { orderId: string; ts: number }',
  UserEvent: 'interface UserEvent { user: string; action: string }',
  Rule: 'interface Rule { action: string; limit: number }',
  Customer: 'interface Customer { id: string; name: string }',
  env: 'declare const env: __eddy.StreamEnvironment;',
  readings: 'declare const readings: __eddy.DataStream<Reading>;',
  clicks: 'declare const clicks: __eddy.DataStream<Click>;',
  orders: 'declare const orders: __eddy.DataStream<Order>;',
  payments: 'declare const payments: __eddy.DataStream<Payment>;',
  shipments: 'declare const shipments: __eddy.DataStream<Shipment>;',
  events: 'declare const events: __eddy.DataStream<UserEvent>;',
  rules: 'declare const rules: __eddy.DataStream<Rule>;',
  rulesDescriptor: 'declare const rulesDescriptor: __eddy.MapStateDescriptor<string, Rule>;',
  average: 'declare const average: __eddy.AggregateFunction<Reading, { sum: number; n: number }, number>;',
  max: 'declare const max: __eddy.ReduceFunction<Reading>;',
  sessionSummary: 'declare const sessionSummary: __eddy.ProcessWindowFunctionLike<Click, string, string, __eddy.TimeWindow>;',
  db: 'declare const db: { customer(id: string): Promise<Customer> };',
  Rise: [
    'declare class Rise extends __eddy.KeyedProcessFunction<string, Reading, Alert> {',
    '  processElement(r: Reading, ctx: __eddy.KeyedProcessContext<string>, out: __eddy.Collector<Alert>): void;',
    '}',
  ].join('\n'),
  ApplyRules: [
    'declare class ApplyRules extends __eddy.KeyedBroadcastProcessFunction<string, UserEvent, Rule, string> {',
    '  processElement(e: UserEvent, ctx: __eddy.KeyedBroadcastReadOnlyContext<string>, out: __eddy.Collector<string>): void;',
    '  processBroadcastElement(r: Rule, ctx: __eddy.KeyedBroadcastContext<string>, out: __eddy.Collector<string>): void;',
    '}',
  ].join('\n'),
};

/** The names a snippet declares at its top level (imports, variables, classes, functions, types). */
function declaredNames(code: string): Set<string> {
  const sf = ts.createSourceFile('snippet.mts', code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const names = new Set<string>();
  const bind = (n: ts.BindingName): void => {
    if (ts.isIdentifier(n)) names.add(n.text);
    else for (const e of n.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
  };
  for (const s of sf.statements) {
    if (ts.isImportDeclaration(s) && s.importClause !== undefined) {
      const c = s.importClause;
      if (c.name !== undefined) names.add(c.name.text);
      const nb = c.namedBindings;
      if (nb !== undefined) {
        if (ts.isNamespaceImport(nb)) names.add(nb.name.text);
        else for (const e of nb.elements) names.add(e.name.text);
      }
    } else if (ts.isVariableStatement(s)) {
      for (const d of s.declarationList.declarations) bind(d.name);
    } else if (
      (ts.isClassDeclaration(s) || ts.isFunctionDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) &&
      s.name !== undefined
    ) {
      names.add(s.name.text);
    }
  }
  return names;
}

/** The snippet as a module: its own lines first (so file lines are snippet lines), then the prelude it needs. */
function moduleText(code: string): string {
  const own = declaredNames(code);
  const prelude = Object.entries(PRELUDE)
    .filter(([name]) => !own.has(name))
    .map(([, text]) => text);
  return `${code}\n\n// --- prelude (test/unit/readme-snippets.test.ts) ---\nimport * as __eddy from 'eddy';\n${prelude.join('\n')}\nexport {};\n`;
}

/** The repo's compiler options (tsconfig.json, so `eddy` and `eddy/testing` map to the sources), minus the unused-name checks fragments cannot meet. */
function compilerOptions(): ts.CompilerOptions {
  const configPath = join(repo, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, repo, undefined, configPath);
  return { ...parsed.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false };
}

// Inside the repo (under node_modules, which git ignores), so snippets resolve the packages eddy depends on (e.g. xstate) as a user's project does.
const dir = mkdtempSync(join(repo, 'node_modules', '.eddy-readme-snippets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe(`README code blocks (${readmePath})`, () => {
  it('every ```ts block type-checks against the sources', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const snippets = tsBlocks(readme);
    expect(snippets.length).toBeGreaterThan(0);
    const files = snippets.map((s, i) => {
      const file = join(dir, `snippet-${String(i + 1).padStart(2, '0')}.mts`);
      writeFileSync(file, moduleText(s.code));
      return { file, snippet: s, index: i + 1 };
    });
    const program = ts.createProgram({ rootNames: files.map((f) => f.file), options: compilerOptions() });
    const problems: string[] = [];
    for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) problems.push(`compiler: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    for (const { file, snippet, index } of files) {
      const sf = program.getSourceFile(file);
      if (sf === undefined) {
        problems.push(`snippet ${index} (${readmeName}:${snippet.line}): not part of the program`);
        continue;
      }
      const snippetLines = snippet.code.split('\n').length;
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        const text = ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
        if (d.start === undefined) {
          problems.push(`snippet ${index} (${readmeName}:${snippet.line}): TS${d.code} ${text}`);
          continue;
        }
        const { line, character } = sf.getLineAndCharacterOfPosition(d.start);
        const where = line < snippetLines ? `${readmeName}:${snippet.line + line}:${character + 1}` : `${readmeName}:${snippet.line} (in the test's prelude, line ${line - snippetLines + 1})`;
        const source = line < snippetLines ? `\n    | ${snippet.code.split('\n')[line]!.trim()}` : '';
        problems.push(`snippet ${index} ${where}: TS${d.code} ${text}${source}`);
      }
    }
    expect(problems, `README snippets that do not type-check (fix README.md, or the prelude in this test when a snippet assumes a new name):\n${problems.join('\n')}`).toEqual([]);
  }, 120_000);
});
