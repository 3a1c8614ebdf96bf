// What the `eddy` command and its subcommands read and write through (apart from main.ts, which dispatches to them).
/** Where the CLI writes, reads its environment and loads jobs; tests replace parts of it. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The directory job files are resolved against (default: process.cwd()). */
  cwd: string;
  /** The environment the job reads its defaults from (default: process.env, which StreamEnvironment.create reads). */
  env: NodeJS.ProcessEnv;
  /** The argv array rewritten to `[node, job, ...jobArgs]` before the job loads (default: process.argv). */
  argv: string[];
  /** Loads the job module (default: `loadJob`, which imports it as an ES module with `eddy` resolvable). */
  importJob(url: string): Promise<unknown>;
  /** What `eddy publish` reads without a file (default: process.stdin, opened only when called). */
  stdin(): NodeJS.ReadableStream;
}
