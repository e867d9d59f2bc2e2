// One run of stripe-vcr proxies for every Jest worker.
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/jest/**/*.test.cjs'],
  globalSetup: 'stripe-vcr/jest/global-setup',
  globalTeardown: 'stripe-vcr/jest/global-teardown',
};
