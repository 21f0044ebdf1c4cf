// mocha runs the compiled tests (npm test builds first); .only and pending tests are refused on CI
// (a test whose prerequisite is missing fails there: test/support/prerequisite.ts). Files or folders
// named on the command line (`npx mocha dist/test/cdc`) run alone: mocha would otherwise add them
// to the whole suite.
const named = process.argv.slice(2).some((arg) => arg.startsWith('dist/test'));

module.exports = {
  ...(named ? { recursive: true, ignore: ['dist/test/**/!(*.test).js'] } : { spec: ['dist/test/**/*.test.js'] }),
  timeout: 120000,
  slow: 5000,
  'forbid-only': Boolean(process.env.CI),
  'forbid-pending': Boolean(process.env.CI),
  exit: true,
  require: ['dist/test/support/hooks.js'],
};
