// mocha runs the compiled tests (npm test builds first); .only is refused on CI.
module.exports = {
  spec: ['dist/test/**/*.test.js'],
  timeout: 120000,
  slow: 5000,
  'forbid-only': Boolean(process.env.CI),
  exit: true,
  require: ['dist/test/support/hooks.js'],
};
