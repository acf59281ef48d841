// Filled by test/setup.ts before any test runs.
export const testState = { databaseUrl: '', runId: '' };
