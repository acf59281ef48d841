// A module's notification types in the platform's orchestrator: each one outside `system` is a push
// switch in the user's settings, and a type may bring its own push limit (the test module's
// widgets.restocked: one push per 10 minutes; undeclared types keep NOTIFY_PUSH_PER_TYPE_PER_HOUR).
import { expect } from 'chai';
import { checkModules, defineModule, ModuleError } from '../../server/module.ts';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

describe('notifications: per-type switches and push limits', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode({ NOTIFY_PUSH_PER_TYPE_PER_HOUR: '5' });
  });
  after(stopAllNodes);

  let tokens = 0;
  const withToken = async (): Promise<TestUser> => {
    const u = await newUser(node);
    const token = `type-switch-token-${Date.now().toString(36)}-${++tokens}-${'z'.repeat(30)}`;
    expect((await request(node, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'fcm', token } })).status).to.equal(201);
    return u;
  };
  const push = async (u: TestUser, type: string, category: 'chat' | 'system' = 'chat') => {
    const result = await node.services.notifications.notify(u.id, { type, category, title: type });
    return result.deliveries.filter((d) => d.channel === 'push').map((d) => `${d.outcome}${d.outcome === 'skipped_type_off' ? `:${d.detail}` : ''}`)[0];
  };
  const settings = (u: TestUser, body: unknown) => request(node, 'PUT', '/notifications/settings', { token: u.accessToken, body });

  it('lists every declared type outside system as a switch, on by default', async () => {
    const u = await newUser(node);
    const got = await request(node, 'GET', '/notifications/settings', { token: u.accessToken });
    expect(got.status).to.equal(200);
    expect(got.body.types).to.include({ 'widgets.restocked': true, 'walk.reminder': true, 'chat.story_liked': true });
    expect(got.body.types).to.not.have.property('widgets.ready'); // system: always on
  });

  it('skips the push of a type switched off, keeps its category\'s other types, and switches it back on', async () => {
    const u = await withToken();
    const off = await settings(u, { types: { 'widgets.restocked': false } });
    expect(off.status, JSON.stringify(off.body)).to.equal(200);
    expect(off.body.types['widgets.restocked']).to.equal(false);
    expect(off.body.categories.chat).to.equal(true);
    expect(await push(u, 'widgets.restocked')).to.equal('skipped_type_off:widgets.restocked');
    expect(await push(u, 'chat.reply')).to.equal('sent');
    // The inbox still has it.
    const inbox = await request(node, 'GET', '/notifications', { token: u.accessToken });
    expect(inbox.body.items.map((n: { type: string }) => n.type)).to.include('widgets.restocked');
    // A change to something else keeps the switch; switching it on lets it through.
    expect((await settings(u, { quietHours: null })).body.types['widgets.restocked']).to.equal(false);
    expect((await settings(u, { types: { 'widgets.restocked': true } })).body.types['widgets.restocked']).to.equal(true);
    expect(await push(u, 'widgets.restocked')).to.equal('sent');
    // The category switch is the coarser one: off, it stops the type whatever the type's switch says.
    await settings(u, { categories: { chat: false } });
    const categoryOff = await node.services.notifications.notify(u.id, { type: 'widgets.restocked', category: 'chat', title: 'x' });
    expect(categoryOff.deliveries.find((d) => d.channel === 'push')).to.deep.include({ outcome: 'skipped_category_off', detail: 'chat' });
    const [row] = await node.ctx.db.orm.em.fork().execute<{ outcome: string }[]>(
      `select d.outcome from notification_deliveries d join notifications n on n.id = d.notification_id
        where n.user_id = ? and n.type = 'widgets.restocked' and d.channel = 'push' order by d.id limit 1`, [u.id]);
    expect(row.outcome).to.equal('skipped_type_off');
  });

  it('refuses an undeclared type, and a system type, naming the field', async () => {
    const u = await newUser(node);
    const unknown = await settings(u, { types: { 'widgets.nope': false } });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.errors.map((e: { field: string }) => e.field)).to.deep.equal(['types.widgets.nope']);
    const system = await settings(u, { types: { 'widgets.ready': false } });
    expect(system.status).to.equal(400);
    expect(system.body.errors[0]).to.include({ field: 'types.widgets.ready' });
    expect(system.body.errors[0].message).to.match(/system/);
    const malformed = await settings(u, { types: { 'NOT A TYPE': false } });
    expect(malformed.status).to.equal(400);
    expect((await settings(u, { types: { 'widgets.restocked': 'no' } })).status).to.equal(400);
  });

  it('holds a type to its own push limit, and other types to the platform\'s', async () => {
    const u = await withToken();
    expect([await push(u, 'widgets.restocked'), await push(u, 'widgets.restocked')]).to.deep.equal(['sent', 'skipped_rate_limited']);
    // An undeclared type (5 an hour here) is not held to widgets.restocked's limit of one.
    const others = [];
    for (let i = 0; i < 6; i++) others.push(await push(u, 'chat.reply'));
    expect(others).to.deep.equal(['sent', 'sent', 'sent', 'sent', 'sent', 'skipped_rate_limited']);
    // Per user: another user's first is sent.
    expect(await push(await withToken(), 'widgets.restocked')).to.equal('sent');
  });

  it('tells a module which of a batch of users switched a type or its category off', async () => {
    const [muted, fresh, categoryOff, optedIn] = [await newUser(node), await newUser(node), await newUser(node), await newUser(node)];
    await settings(muted, { types: { 'widgets.restocked': false } });
    await settings(categoryOff, { categories: { chat: false } });
    await settings(optedIn, { categories: { marketing: true } });
    const ids = [muted, fresh, categoryOff, optedIn].map((u) => u.id);
    const { switchedOff } = node.services.notifications.settings;
    expect([...(await switchedOff(ids, 'widgets.restocked', 'chat'))].sort()).to.deep.equal([muted.id, categoryOff.id].sort());
    // Marketing is off without a row (opt-in).
    expect([...(await switchedOff(ids, 'widgets.promo', 'marketing'))].sort()).to.deep.equal([muted.id, fresh.id, categoryOff.id].sort());
    expect((await switchedOff(ids, 'widgets.ready', 'system')).size).to.equal(0);
  });

  it('refuses a module whose type declares a push limit that is not positive whole numbers', () => {
    const bad = defineModule({ name: 'limits', summary: '', notificationTypes: { 'limits.x': { category: 'walk', summary: '', pushLimit: { max: 0, windowSeconds: 1.5 } } }, createServices: () => ({}) });
    expect(() => checkModules([bad])).to.throw(ModuleError, /limits\.x.*pushLimit/);
  });
});
