/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/environment.js',
  globalSetup: '<rootDir>/test/global-setup.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    // @dsnp/parquetjs -> thrift@0.23 -> uuid@13, which is ESM-only; Jest (CommonJS) needs it transpiled.
    '/thrift/node_modules/uuid/.+\\.js$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, module: 'commonjs' } }],
  },
  transformIgnorePatterns: ['^(?!.*/thrift/node_modules/uuid/).*/node_modules/'],
  testTimeout: 60000,
  maxWorkers: 2,
};
