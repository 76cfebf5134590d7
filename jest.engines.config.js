/**
 * The engine tiers' Jest suites (tools/test-engines.mjs): one file at a time, each starting its engine once.
 * @type {import('jest').Config}
 */
const unit = require('./jest.config');

module.exports = {
  ...unit,
  roots: ['<rootDir>/test/engines'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
  // One control plane and chart repository for the suites that need them (test/support/engines-global-setup.ts),
  // started only when the run selects one of those suites; the unit tier's system-package check already ran.
  globalSetup: '<rootDir>/test/support/engines-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/engines-global-teardown.ts',
  testSequencer: '<rootDir>/test/support/engines-sequencer.js',
  // A deploy, plan and destroy cycle against a real control plane takes minutes; each suite bounds its own waits.
  testTimeout: 15 * 60 * 1000,
};
