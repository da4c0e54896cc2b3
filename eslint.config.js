// @ts-check
// Lint: typescript-eslint's type-checked recommended set over every TypeScript file (src, test, bench),
// so promises that nobody awaits or that are handed where a callback's result is ignored are caught
// (no-floating-promises, no-misused-promises), along with `any` flowing out of untyped inputs.
// Formatting is prettier's job (.prettierrc.json), so no stylistic rules here.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['node_modules/', 'dist/', '.bench-build/', '.data/', '.tools/', 'test-output/'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      // Each file is checked with the tsconfig.json nearest to it (the root one, or bench/'s).
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test tracks the promise test() and describe() return; awaiting them is not the idiom.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // A leading underscore marks a parameter kept for its position (express's four-argument error
      // handler) or a property taken out of an object to leave the rest.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Off: an async function without await is how this codebase makes an interface method turn a
      // synchronous throw (a bad key, a bad URL) into a rejection; removing `async` would change that.
      '@typescript-eslint/require-await': 'off',
      // A promise that relays another's rejection or an abort signal's reason passes it on unchanged, as a
      // rethrow would (which only-throw-error allows); rejecting with a literal is still an error.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // Express's global `namespace Express { interface User extends … {} }` is the documented way to type
      // req.user; it is a declaration merge, not a namespace or an empty type in use.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
    },
  },
  {
    // Tests read response bodies and parsed JSON as `any` and assert on them at once: a wrong shape fails
    // the assertion, so the no-unsafe-* rules (and no-explicit-any for such bodies) would only ask for
    // casts that prove nothing more.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The dashboard's progressive-enhancement scripts, served as they are to the browser.
    files: ['public/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'script', globals: globals.browser },
  },
  {
    files: ['eslint.config.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
);
