// `npm run admin -- grant|revoke <email> | list`: the role changes in Postgres, and a running node
// applies it to the account's next request (its access token included), without waiting for its
// user cache to expire.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { adminCli, runAdminCommand, type AdminOutput } from '../../server/admin.ts';
import type { ApiNode } from '../../server/node.ts';
import { createAdminService } from '../../services/identity/admins.ts';
import { createUserCache } from '../../services/identity/userCache.ts';
import { newUser, redisUrl, request, startNode, stopAllNodes, testConfig, type TestUser } from '../helpers.ts';

// Polls `read` for up to a second until it returns `want`; returns what it read last.
async function eventually<T>(read: () => Promise<T>, want: T): Promise<T> {
  const deadline = Date.now() + 1000;
  let value = await read();
  while (value !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

function capture(): AdminOutput & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('identity: the admin command line', () => {
  after(() => stopAllNodes());

  // An admin-only route: 403 admin_only for anyone else; for an admin, 404 (no such account).
  const adminProbe = (node: ApiNode, u: TestUser) =>
    request(node, 'PUT', `/admin/users/${crypto.randomUUID()}/disabled`, { token: u.accessToken, body: { disabled: false } });

  describe('on one node', () => {
    let node: ApiNode;
    // The command's service on the node's own bus, as the command builds it on a node's config.
    const admins = () => createAdminService({
      em: node.ctx.db.orm.em,
      cache: createUserCache({ em: node.ctx.db.orm.em, bus: node.ctx.invalidation, ttlMs: 1, maxEntries: 1 }),
      emails: node.ctx.emails,
    });
    before(async () => {
      node = await startNode();
    });

    it('grants and revokes the role, effective on the next request of a token issued before', async () => {
      const u = await newUser(node);
      // The node now holds the account, as a plain user, in its user cache.
      expect((await adminProbe(node, u)).body.code).to.equal('admin_only');

      const granted = capture();
      expect(await runAdminCommand(['grant', u.email.toUpperCase()], admins(), granted)).to.equal(0);
      expect(granted.lines).to.deep.equal([`granted admin to ${u.email}  ${u.username}  ${u.id}`]);
      expect((await adminProbe(node, u)).status).to.equal(404);

      const again = capture();
      expect(await runAdminCommand(['grant', u.email], admins(), again)).to.equal(0);
      expect(again.lines).to.deep.equal([`${u.email} is already an admin`]);

      const listed = capture();
      expect(await runAdminCommand(['list'], admins(), listed)).to.equal(0);
      expect(listed.lines).to.include(`${u.email}  ${u.username}  ${u.id}`);

      const revoked = capture();
      expect(await runAdminCommand(['revoke', u.email], admins(), revoked)).to.equal(0);
      expect(revoked.lines).to.deep.equal([`revoked admin from ${u.email}  ${u.username}  ${u.id}`]);
      expect((await adminProbe(node, u)).body.code).to.equal('admin_only');
      const after = capture();
      await runAdminCommand(['list'], admins(), after);
      expect(after.lines.join('\n')).to.not.include(u.id);
    });

    it('answers 1 for an email no account has, and 64 with the usage for anything else', async () => {
      const missing = capture();
      expect(await runAdminCommand(['grant', 'nobody-here@example.com'], admins(), missing)).to.equal(1);
      expect(missing.errors).to.deep.equal(['no account has the email nobody-here@example.com']);
      for (const args of [[], ['grant'], ['promote', 'a@example.com'], ['grant', 'a@example.com', 'b@example.com'], ['list', 'x']]) {
        const io = capture();
        expect(await runAdminCommand(args, admins(), io), args.join(' ')).to.equal(64);
        expect(io.errors[0]).to.match(/^usage: npm run admin -- grant <email> \| revoke <email> \| list$/);
      }
      // Refused before anything is started: no database, no context.
      const io = capture();
      expect(await adminCli(['frobnicate'], testConfig(), io)).to.equal(64);
    });
  });

  describe('as its own process, with Redis', () => {
    before(function () {
      if (!redisUrl) this.skip();
    });

    it('reaches a running node through the bus at once', async () => {
      const prefix = `admin_${crypto.randomBytes(3).toString('hex')}`;
      const node = await startNode({ REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix });
      const u = await newUser(node);
      expect((await adminProbe(node, u)).body.code).to.equal('admin_only');
      // The command's whole composition (headless context, its own Redis connections), as `npm run admin` runs it.
      const config = testConfig({ REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix });
      const io = capture();
      expect(await adminCli(['--', 'grant', u.email], config, io)).to.equal(0);
      expect(io.lines[0]).to.match(/^granted admin to /);
      // Well inside the node's 30 s cache TTL: only the invalidation can have made this a 404. It
      // crosses Redis pub/sub, so it is given a second to arrive.
      expect(await eventually(async () => (await adminProbe(node, u)).status, 404)).to.equal(404);
      expect(await adminCli(['revoke', u.email], config, capture())).to.equal(0);
      expect(await eventually(async () => (await adminProbe(node, u)).body.code, 'admin_only')).to.equal('admin_only');
    });
  });
});
