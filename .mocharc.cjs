// mocha runs the compiled tests (npm test builds first); .only and pending tests are refused on CI
// (a test whose prerequisite is missing fails there: test/support/prerequisite.ts). Files or folders
// named on the command line (`npx mocha dist/test/cdc`) run alone: mocha would otherwise add them
// to the whole suite. The whole suite runs its files three at a time, each in its own process, on
// the 2-core machine: a suite spends much of its time waiting on servers, runners and recoveries,
// and a third file fills that idle time (measured on 2 cores, same tree: 2 jobs 390 s, 3 jobs 267 s,
// 4 jobs 261 s, for little more than 3 gave and more load on each scenario's timing). Each suite
// has its own servers, and its leak check counts only its own runners (support/leaks.ts).
const named = process.argv.slice(2).some((arg) => arg.startsWith('dist/test'));

module.exports = {
  ...(named ? { recursive: true, ignore: ['dist/test/**/!(*.test).js'] } : { spec: ['dist/test/**/*.test.js'], parallel: true, jobs: 3 }),
  timeout: 120000,
  slow: 5000,
  'forbid-only': Boolean(process.env.CI),
  'forbid-pending': Boolean(process.env.CI),
  exit: true,
  require: ['dist/test/support/hooks.js'],
};
