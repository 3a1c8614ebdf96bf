// Prints the functions with the most self time in a V8 .cpuprofile (a file, or the newest one in a directory).
//   node --import tsx bench/profile-top.ts /tmp/prof [rows]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [target, rowsArg] = process.argv.slice(2);
if (target === undefined) {
  console.error('usage: bench/profile-top.ts <file.cpuprofile | directory> [rows]');
  process.exit(2);
}
let file = target;
if (statSync(target).isDirectory()) {
  const files = readdirSync(target)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(target, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (files.length === 0) throw new Error(`no .cpuprofile in ${target}`);
  file = files[0]!;
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const cf = byId.get(p.samples[i]!)!.callFrame;
  const where = cf.url === '' ? '' : ` ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
  const key = `${cf.functionName || '(anonymous)'}${where}`;
  const dt = p.timeDeltas[i] ?? 0;
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
}
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(rowsArg ?? 30)))
  console.log(`${((v / total) * 100).toFixed(1).padStart(5)}% ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);
