import { expect } from 'chai';
import { createEmailCipher, sealLegacyEmails } from '../../services/identity/emails.ts';
import type { ApiNode } from '../../server/node.ts';
import { completeProductionEnv, configRefusal } from '../config.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('identity: emails encrypted at rest (EMAIL_ENC_KEY)', () => {
  let node: ApiNode;
  const sql = <T = any>(q: string, params: unknown[] = []) => node.ctx.db.orm.em.fork().execute<T[]>(q, params);
  const columns = async (table: string) => (await sql<{ column_name: string }>(
    `select column_name from information_schema.columns where table_schema = current_schema() and table_name = ?`, [table],
  )).map((r) => r.column_name);

  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  it('keeps no plain email in users or identities; the keyed hash of the lower-cased address finds the user', async () => {
    expect(await columns('users')).to.include.members(['email_hash', 'email_encrypted']).and.not.include('email');
    expect(await columns('identities')).to.include('email_encrypted').and.not.include('email');

    const u = await newUser(node, { email: `Mixed.Case.${Date.now()}@Example.com` });
    const cipher = createEmailCipher(node.ctx.config.emailEncKey);
    const [row] = await sql<{ id: string; email_hash: string; email_encrypted: string }>('select id, email_hash, email_encrypted from users where email_hash = ?', [cipher.hash(u.email)]);
    expect(row.id).to.equal(u.id);
    expect(row.email_hash).to.match(/^[0-9a-f]{64}$/);
    expect(row.email_encrypted).to.not.include(u.email.toLowerCase().split('@')[0]);
    expect(cipher.open(row.email_encrypted)).to.equal(u.email.toLowerCase());
    // A different key cannot produce the same hash: the address is not guessable from the row alone.
    expect(createEmailCipher(Buffer.alloc(32, 7)).hash(u.email)).to.not.equal(row.email_hash);
  });

  it('still signs in by email in any case, and shows the address back in plain JSON', async () => {
    const u = await newUser(node);
    const login = await request(node, 'POST', '/auth/login', { body: { email: u.email.toUpperCase(), password: u.password } });
    expect(login.status).to.equal(200);
    expect(login.body.user.email).to.equal(u.email);
    const me = await request(node, 'GET', '/auth/me', { token: login.body.accessToken });
    expect(me.body.email).to.equal(u.email);
  });

  it('seals what a social sign-in reports, and links it to the email account by hash', async () => {
    const u = await newUser(node);
    const minted = await request(node, 'POST', '/dev/oauth/google/token', { body: { subject: `enc-${u.id}`, email: u.email.toUpperCase(), name: 'Enc' } });
    const res = await request(node, 'POST', '/auth/oauth/google', { body: { idToken: minted.body.idToken } });
    expect(res.status).to.equal(200);
    expect(res.body.user).to.include({ id: u.id, email: u.email });
    const [identity] = await sql<{ email_encrypted: string }>('select email_encrypted from identities where user_id = ?', [u.id]);
    expect(createEmailCipher(node.ctx.config.emailEncKey).open(identity.email_encrypted)).to.equal(u.email);
  });

  it('seals plain emails left by a database migrated before the key existed, then drops the plain columns', async () => {
    const u = await newUser(node);
    // The state Migration20261122000032 leaves where rows already held addresses.
    await sql('alter table users add column email text unique');
    await sql('alter table identities add column email text');
    await sql('update users set email = ?, email_hash = null, email_encrypted = null where id = ?', [u.email, u.id]);
    expect((await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } })).status).to.equal(401);

    const sealed = await sealLegacyEmails(node.ctx.db.orm.em, node.ctx.emails, node.ctx.logger);
    expect(sealed).to.be.at.least(1);
    expect(await columns('users')).to.not.include('email');
    expect(await columns('identities')).to.not.include('email');
    expect((await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } })).status).to.equal(200);
    // Idempotent: a second start finds nothing to do.
    expect(await sealLegacyEmails(node.ctx.db.orm.em, node.ctx.emails, node.ctx.logger)).to.equal(0);
  });

  it('refuses a malformed key, and the development key in production', () => {
    expect(configRefusal({ EMAIL_ENC_KEY: 'too-short' })).to.match(/EMAIL_ENC_KEY: must be 32 bytes/);
    const { EMAIL_ENC_KEY: _, ...withoutKey } = completeProductionEnv();
    expect(configRefusal(withoutKey)).to.match(/EMAIL_ENC_KEY: the development default cannot be used in production/);
  });
});
