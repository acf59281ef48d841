// Filled by test/setup.ts before any test runs.
export const testState = { databaseUrl: '', runId: '' };

// Every Redis key this run writes starts with `test_<runId>`: the nodes' REDIS_KEY_PREFIX
// (test/helpers.ts) and the prefixes tests derive from it (`test_<runId>_<suffix>`). The separator
// after the run id keeps another run whose id merely starts with this one's out of the match.
export const runRedisKeyPatterns = (runId: string): string[] => [`test_${runId}:*`, `test_${runId}_*`];
