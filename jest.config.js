/**
 * Jest transpiles with SWC and never type-checks: `npm test` runs `tsc --noEmit`
 * once before Jest, so types are checked exactly once per run.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The engine tiers run after this one, in band (jest.engines.config.js, tools/test-engines.mjs).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/engines/'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
  testTimeout: 60000,
  // Several suites wait on child processes (python, the client's HTTP server): two workers overlap them on 2 cores.
  maxWorkers: 2,
};
