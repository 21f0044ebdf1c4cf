// mocha runs the compiled tests (npm test builds first); .only and pending tests are refused on CI
// (a test whose prerequisite is missing fails there: test/support/prerequisite.ts). Files or folders
// named on the command line (`npx mocha dist/test/cdc`) run alone: mocha would otherwise add them
// to the whole suite. The whole suite runs its files three at a time, each in its own process, on
// the 2-core machine: a suite spends much of its time waiting on servers, runners and recoveries,
// and a third file fills that idle time; a fourth made every file slower by as much as it saved
// (the measurements are in the commits that tried it). Each suite has its own servers, and its
// leak check counts only its own runners (support/leaks.ts).
//
// The workers take the files in the order given, so the longest go first (test/fileTimes.json,
// each file's seconds in a whole run, which the run prints at its end: test/support/fileTimes.ts)
// and the three workers end close together, instead of one starting a long file when the others
// are done. A file not listed there yet goes after the listed ones that take longer than a minute.
const fs = require('node:fs');
const path = require('node:path');

const named = process.argv.slice(2).some((arg) => arg.startsWith('dist/test'));

/** Every compiled test file of the whole suite, the longest first. */
function longestFirst() {
  const times = JSON.parse(fs.readFileSync(path.join(__dirname, 'test', 'fileTimes.json'), 'utf8'));
  const files = fs
    .readdirSync(path.join(__dirname, 'dist', 'test'), { recursive: true })
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => path.join('dist', 'test', f));
  const seconds = (file) => times[file.replace(/^dist\//, '').replace(/\.js$/, '.ts')] ?? 60;
  return files.sort((a, b) => seconds(b) - seconds(a) || a.localeCompare(b));
}

module.exports = {
  ...(named ? { recursive: true, ignore: ['dist/test/**/!(*.test).js'] } : { spec: longestFirst(), parallel: true, jobs: 3 }),
  timeout: 120000,
  slow: 5000,
  'forbid-only': Boolean(process.env.CI),
  'forbid-pending': Boolean(process.env.CI),
  exit: true,
  require: ['dist/test/support/hooks.js'],
};
