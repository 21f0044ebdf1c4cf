// How long each test file took, servers started and stopped included, written by the root hooks
// of the process that ran it into the run's state directory and summed up by the main process at
// the end of a whole-suite run: the files that dominate the suite's time, and the order
// .mocharc.cjs gives the files (the longest first, so that three workers end close together).
import { promises as fs } from 'node:fs';
import path from 'node:path';

let startedAt = 0;

/** The variable naming this run's file of times, set by the main process and inherited by the workers. */
const TIMES_VARIABLE = 'PGFERRY_TEST_FILE_TIMES';

/** Names this run's file of times, in the run's state directory. */
export function timeFilesIn(stateDir: string): void {
  process.env[TIMES_VARIABLE] = path.join(stateDir, `file-times-${process.pid}.tsv`);
}

function timesFile(): string | undefined {
  return process.env[TIMES_VARIABLE];
}

export function fileStarted(): void {
  startedAt = Date.now();
}

/** Records the file the root suite ran, when it ran exactly one (parallel mode runs one file per root). */
export async function fileEnded(root: Mocha.Suite | undefined): Promise<void> {
  const files = new Set((root?.suites ?? []).map((s) => s.file).filter((f): f is string => Boolean(f)));
  const file = timesFile();
  if (files.size !== 1 || !file) return;
  const [ran] = [...files];
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  await fs.appendFile(file, `${seconds}\t${path.relative(process.cwd(), ran!)}\n`);
}

/** The slowest files of this run, a line each, or undefined when no file was timed. */
export async function slowestFiles(count = 12): Promise<string | undefined> {
  const file = timesFile();
  const text = file ? await fs.readFile(file, 'utf8').catch(() => '') : '';
  const rows = text
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t') as [string, string])
    .map(([seconds, name]) => ({ seconds: Number(seconds), name }))
    .sort((a, b) => b.seconds - a.seconds);
  if (rows.length < 2) return undefined;
  const total = rows.reduce((sum, r) => sum + r.seconds, 0);
  // the measured times as test/fileTimes.json keeps them, to copy there when they have moved
  const byFile = Object.fromEntries(rows.map((r) => [r.name.replace(/^dist\//, '').replace(/\.js$/, '.ts'), Math.round(r.seconds)]));
  await fs.writeFile(`${file}.json`, `${JSON.stringify(byFile, null, 2)}\n`);
  const lines = rows.slice(0, count).map((r) => `  ${r.seconds.toFixed(1).padStart(7)} s  ${r.name}`);
  // the main process lives from the first file to the last: the suite's time, setup and build aside
  const wall = Math.round(process.uptime());
  return `Test files: ${rows.length} in ${Math.floor(wall / 60)} min ${wall % 60} s, ${(total / 60).toFixed(1)} min summed over the workers; the slowest:\n${lines.join('\n')}\nEvery file's time, as test/fileTimes.json keeps them: ${file}.json`;
}
