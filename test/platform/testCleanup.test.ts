// The test run's own hygiene: at the end, every Redis key under the run's prefix is deleted
// (test/setup.ts), including keys without a TTL; another run's keys are left alone.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { deleteRedisKeys } from '../setup.ts';
import { runRedisKeyPatterns } from '../state.ts';
import { redisUrl } from '../helpers.ts';

describe('test run: Redis keys are cleaned up', function () {
  let redis: Redis;
  before(function () {
    if (!redisUrl) this.skip();
    redis = new Redis(redisUrl);
  });
  after(() => redis?.disconnect());

  it('deletes every key under the run\'s prefixes (SCAN + UNLINK) and nothing else', async () => {
    // A stand-in run id, so this test never touches the real run's keys before the end.
    const runId = `${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
    const ours = [`test_${runId}:coach:cache:gen:testgame`, `test_${runId}:rl:ip:1`, `test_${runId}_ab12cd:coach:cache:exact:x`];
    const theirs = [`test_${runId}0:coach:cache:gen:testgame`, `other_${runId}:x`];
    for (const key of [...ours, ...theirs]) await redis.set(key, '1');
    for (let i = 0; i < 1500; i++) await redis.set(`test_${runId}:bulk:${i}`, '1', 'EX', 60); // more than one SCAN page
    try {
      const deleted = await deleteRedisKeys(redisUrl!, runRedisKeyPatterns(runId));
      expect(deleted).to.equal(ours.length + 1500);
      expect(await redis.exists(...ours)).to.equal(0);
      expect(await redis.exists(...theirs)).to.equal(theirs.length);
    } finally {
      await redis.unlink(...theirs);
    }
  });
});
