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
  // A deploy, plan and destroy cycle against a real control plane takes minutes; each suite bounds its own waits.
  testTimeout: 15 * 60 * 1000,
};
