// No global setup: each test file starts (and stops) its own proxies.
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/jest/**/*.test.cjs'],
};
