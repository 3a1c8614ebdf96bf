// Bounded word count: lines -> lowercase words -> keyBy(word) -> rolling sum; prints the most frequent words.
//
//   eddy run examples/wordcount.ts [file.txt] [--parallelism N]     (or: npm start)
//   npx tsx examples/wordcount.ts [file.txt]
//
// Without a file it counts a built-in sample. The job is bounded: it ends when the input is consumed.
import { readFileSync } from 'node:fs';
import { EddyError, StreamEnvironment, isMainModule } from 'eddy';

/** The text counted when no file is given (Hamlet, Act III, Scene 1). */
export const SAMPLE_TEXT = `To be, or not to be, that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles
And by opposing end them. To die: to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to, 'tis a consummation
Devoutly to be wish'd. To die, to sleep;
To sleep: perchance to dream: ay, there's the rub;
For in that sleep of death what dreams may come
When we have shuffled off this mortal coil,
Must give us pause: there's the respect
That makes calamity of so long life;
For who would bear the whips and scorns of time,
The oppressor's wrong, the proud man's contumely,
The pangs of despised love, the law's delay,
The insolence of office and the spurns
That patient merit of the unworthy takes,
When he himself might his quietus make
With a bare bodkin? who would fardels bear,
To grunt and sweat under a weary life,
But that the dread of something after death,
The undiscover'd country from whose bourn
No traveller returns, puzzles the will
And makes us rather bear those ills we have
Than fly to others that we know not of?
Thus conscience does make cowards of us all;
And thus the native hue of resolution
Is sicklied o'er with the pale cast of thought,
And enterprises of great pith and moment
With this regard their currents turn awry,
And lose the name of action.`;

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;

/** The lowercase words of a line: letters and digits, with inner apostrophes kept ("there's", "wish'd"). */
export function tokenize(line: string): string[] {
  return line.toLowerCase().match(WORD) ?? [];
}

/**
 * Counts the words of `lines` with an eddy job on `env` (bounded: it ends with the input).
 *
 * @example
 * ```ts
 * const counts = await wordCount(StreamEnvironment.create({ parallelism: 2 }), ['to be or not to be']);
 * counts.get('to'); // 2
 * ```
 */
export async function wordCount(env: StreamEnvironment, lines: Iterable<string>): Promise<Map<string, number>> {
  const running = await env
    .fromCollection([...lines])
    .flatMap(tokenize)
    .name('Tokenize')
    .map((word) => ({ word, count: 1 }))
    .name('Pair')
    .keyBy((p) => p.word)
    .sum('count')
    .name('Count')
    .executeAndCollect('word count');
  // The rolling sum emits every intermediate count; a word's final count is its largest.
  const counts = new Map<string, number>();
  for (const { word, count } of running) if (count > (counts.get(word) ?? 0)) counts.set(word, count);
  return counts;
}

/** The `n` most frequent words, by count descending, then alphabetically. */
export function topWords(counts: Map<string, number>, n: number): [string, number][] {
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, n);
}

/** The report the example prints. */
export function formatReport(counts: Map<string, number>, n: number): string {
  let total = 0;
  for (const c of counts.values()) total += c;
  const top = topWords(counts, n);
  const width = String(top[0]?.[1] ?? 0).length;
  const lines = [`${total} words, ${counts.size} distinct; the ${top.length} most frequent:`];
  for (const [word, count] of top) lines.push(`${String(count).padStart(width + 2)}  ${word}`);
  return lines.join('\n');
}

if (isMainModule(import.meta.url)) {
  const file = process.argv[2];
  let text = SAMPLE_TEXT;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new EddyError('EDDY_INVALID_ARGUMENT', `cannot read the input file ${file}: ${(e as Error).message}`);
    }
  }
  const env = StreamEnvironment.create();
  const t0 = performance.now();
  const counts = await wordCount(env, text.split(/\r?\n/));
  const secs = ((performance.now() - t0) / 1000).toFixed(2);
  console.log(`word count of ${file ?? 'the built-in sample'} (parallelism ${env.config.parallelism}, ${secs} s)`);
  console.log(formatReport(counts, 20));
}
