// Lint rules for pgferry: typescript-eslint's type-checked recommended set over every TypeScript
// file of the build (so a promise nobody awaits, or one handed where nothing waits for it, is an
// error), and the project's own boundaries (the engine never imports Pulumi; cdc/decode is pure).
// Formatting is Prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'examples/**/node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `rows[0]!` marks where an element is assumed present; the compiler does not check indexes
      // (no noUncheckedIndexedAccess), so it calls every such `!` unnecessary: the marks stay.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // An async function without await is how a function that returns a promise rejects rather
      // than throws (a provider's check, a test's fake warn); the promise rules above are the point.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
    },
  },
  {
    // Pulumi mocks hand back untyped property bags; progress tests match terminal escapes.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'no-control-regex': 'off',
      // A describe longer than a screenful or two is split into groups by behaviour; its callback
      // is a function like any other, so this bounds describe blocks and tests alike.
      'max-lines-per-function': ['error', { max: 150 }],
    },
  },
  {
    // Small functions: a step that does not fit is two steps. Files have no length cap: a module is
    // cut where its concept ends (docs/layout.md), and a cap made files split to fit a count.
    files: ['provider/**/*.ts', 'lab-stack/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // Scripts and configuration, and the examples (each its own program, type-checked by its own
    // tsconfig where pgferry is installed): no type information here.
    files: ['**/*.mjs', '**/*.js', '**/*.cjs', 'examples/**/*.ts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    // CommonJS configuration files (.mocharc.cjs) load Node's modules with require
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
  },
);
