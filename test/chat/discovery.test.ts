// Rankings, trending and recommendations for the chat, on the platform's rankings service, with the
// node's clock moved across KST days and weeks.
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import { newUser, redisUrl, request, settled, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

// Once, on Redis when REDIS_URL is set (else Postgres): test/platform/rankings.test.ts shows both paths
// give the same answers, and both runs here would share the run's database and its boards.
{
  const store = redisUrl ? 'redis' : 'postgres';
  describe(`chat: rankings and discovery (${store})`, function () {
    // Wednesday 2026-11-25 10:00 KST.
    const clock = createTestClock('2026-11-25T10:00:00+09:00');
    let node: ApiNode;
    let creator: TestUser;
    const ids: Record<string, string> = {};

    before(async function () {
      node = await startNode(store === 'redis' ? { REDIS_URL: redisUrl! } : {}, clock);
      creator = await newUser(node);
      for (const [name, tags] of [['용사', ['판타지', '모험']], ['탐정', ['추리']], ['마법사', ['판타지']], ['비밀', ['판타지']]] as const) {
        const res = await request(node, 'POST', '/characters', { token: creator.accessToken, body: { name, tags, isPublic: name !== '비밀' } });
        ids[name] = res.body.id;
      }
    });
    after(stopAllNodes);

    const like = (u: TestUser, name: string) => request(node, 'POST', `/characters/${ids[name]}/like`, { token: u.accessToken });
    // Other test files score their own characters on the same boards (the run shares one database):
    // only this file's characters are looked at.
    const names = (items: { id: string; name: string }[]) => items.filter((i) => Object.values(ids).includes(i.id)).map((i) => i.name);
    // A like's ranking score is added after the like commits, off the request (modules/chat/index.ts):
    // read a board until it shows what `done` waits for.
    const board = (path: string, token: string, done: (body: any) => boolean) =>
      settled(() => request(node, 'GET', path, { token }), (res) => res.status !== 200 || done(res.body));

    it('ranks by likes (and comments) per period, leaves out what the viewer may not see, and gives my item\'s rank', async () => {
      const fans = await Promise.all([1, 2, 3].map(() => newUser(node)));
      for (const f of fans) await like(f, '탐정');
      await like(fans[0], '용사');
      await like(fans[1], '용사');
      await request(node, 'POST', `/characters/${ids['마법사']}/comments`, { token: fans[2].accessToken, body: { body: '멋져요' } });
      // The private one is liked by its creator: on the board, never shown to others.
      for (let i = 0; i < 5; i++) await like(await newUser(node), '용사').then(() => undefined);
      await like(creator, '비밀');
      const viewer = fans[0];
      const weekly = await board(`/rankings/characters?period=weekly&itemId=${ids['마법사']}`, viewer.accessToken,
        (b) => b.items.find((i: { id: string }) => i.id === ids['용사'])?.score === 21 && b.mine?.score === 2);
      expect(weekly.status, JSON.stringify(weekly.body)).to.equal(200);
      expect(names(weekly.body.items)).to.deep.equal(['용사', '탐정', '마법사']);
      const ours = weekly.body.items.filter((i: { id: string }) => Object.values(ids).includes(i.id));
      expect(ours.map((i: { score: number }) => i.score)).to.deep.equal([21, 9, 2]);
      // Its board rank, counting the private one above it.
      expect(weekly.body.mine.score).to.equal(2);
      expect(weekly.body.mine.rank).to.equal(ours[2].rank);
      expect(weekly.body.period).to.deep.equal({ kind: 'weekly', start: '2026-11-23' });
      // An unlike takes its points back.
      await request(node, 'DELETE', `/characters/${ids['탐정']}/like`, { token: fans[0].accessToken });
      const daily = await board('/rankings/characters?period=daily', viewer.accessToken, (b) => b.items.find((i: { id: string }) => i.id === ids['탐정'])?.score === 6);
      expect(daily.body.items.find((i: { id: string }) => i.id === ids['탐정']).score).to.equal(6);
    });

    it('starts a new day and a new week on the KST calendar, and trends by growth over the previous day', async () => {
      // Thursday: 탐정 grows, 용사 does not.
      clock.set('2026-11-26T09:00:00+09:00');
      for (let i = 0; i < 4; i++) await like(await newUser(node), '탐정');
      const viewer = await newUser(node);
      const today = await request(node, 'GET', '/rankings/characters?period=daily', { token: viewer.accessToken });
      expect(names(today.body.items)).to.deep.equal(['탐정']);
      const trending = await request(node, 'GET', '/trending/daily', { token: viewer.accessToken });
      expect(names(trending.body.items)[0]).to.equal('탐정');
      expect(trending.body.items.find((i: { id: string }) => i.id === ids['탐정']).growth).to.equal(12 - 6);
      // Monday 00:10 KST (still Sunday in UTC): a new week with nothing in it yet; all time keeps everything.
      clock.set('2026-11-30T00:10:00+09:00');
      expect(names((await request(node, 'GET', '/rankings/characters?period=weekly', { token: viewer.accessToken })).body.items)).to.deep.equal([]);
      expect(names((await request(node, 'GET', '/rankings/characters?period=all', { token: viewer.accessToken })).body.items)).to.deep.equal(['용사', '탐정', '마법사']);
      expect((await request(node, 'GET', '/rankings/characters?period=hourly', { token: viewer.accessToken })).status).to.equal(400);
    });

    it('recommends by what a user liked and chatted with, popular ones to a new user; never their own, private or known ones', async () => {
      const newcomer = await newUser(node);
      const fresh = await request(node, 'GET', '/recommendations/characters?limit=50', { token: newcomer.accessToken });
      expect(fresh.body.basedOn).to.equal('popular');
      expect(names(fresh.body.items)).to.deep.equal(['용사', '탐정', '마법사']);
      const fan = await newUser(node);
      await like(fan, '용사');
      const returning = await request(node, 'GET', '/recommendations/characters', { token: fan.accessToken });
      expect(returning.body.basedOn).to.equal('history');
      expect(names(returning.body.items)).to.deep.equal(['마법사']);
      expect(returning.body.items.map((i: { id: string }) => i.id)).to.not.include(ids['용사']);
      const mine = await request(node, 'GET', '/recommendations/characters', { token: creator.accessToken });
      expect(names(mine.body.items)).to.not.include.members(['용사', '탐정', '마법사', '비밀']);
    });
  });
}
