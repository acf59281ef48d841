// A module that exists only in the tests: it proves the contract by plugging in through the module
// list alone — its config, entity, migration, products and payment handler, a route, a socket
// namespace with a client and a server event, a cron job, a worker task, a notification type and token lifetimes.
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { z } from 'zod';
import { defineClientEvent } from '../../realtime/events.ts';
import { defineModule } from '../../server/module.ts';
import type { SubscriptionState } from '../../services/billing/subscriptions.ts';
import { notFound } from '../../services/errors.ts';
import { inTransaction } from '../../services/transaction.ts';
import { defineWorkerTask } from '../../workers/pool.ts';

export const Widget = defineEntity({
  name: 'Widget',
  tableName: 'test_widgets',
  properties: {
    id: p.uuid().primary(),
    ownerId: p.uuid(),
    name: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type Widget = InferEntity<typeof Widget>;

export class Migration20261127900001_test_widgets extends Migration {
  override up(): void {
    this.addSql(`create table test_widgets (id uuid primary key, owner_id uuid not null, name text not null, created_at timestamptz not null default now())`);
    this.addSql(`create table test_widget_grants (order_id text primary key, user_id uuid not null, widgets int not null, refunded int not null default 0, expired boolean not null default false)`);
  }
  override down(): void {
    this.addSql('drop table if exists test_widget_grants');
    this.addSql('drop table if exists test_widgets');
  }
}

export const countLettersTask = defineWorkerTask<{ text: string }, { letters: number }>({ label: 'letter count', file: new URL('./widgetsWorker.ts', import.meta.url), name: 'countLetters' });

// What the handlers saw, for the tests to assert on (each also writes in the payment's transaction).
export const widgetEvents: { event: 'paid' | 'refunded' | 'expired'; orderId: string; amount?: number }[] = [];
export const widgetSubscriptionChanges: SubscriptionState[] = [];

const widgetDto = z.object({ id: z.uuid(), name: z.string(), letters: z.number().int() });
const widgetServerEvents = {
  'widget.created': { summary: 'A widget of yours was created (on any node)', schema: widgetDto },
};

export const widgetsModule = defineModule({
  name: 'widgets',
  summary: 'Test module: widgets bought with points',
  config: z.object({ WIDGETS_DEFAULT_NAME: z.string().min(1).max(40).default('widget') }),
  entities: [Widget],
  migrations: [{ name: 'Migration20261127900001_test_widgets', class: Migration20261127900001_test_widgets }],
  products: [
    { id: 'widgets.pack', name: '위젯 팩', amount: 4500, grants: { widgets: 5 }, sortOrder: 0 },
    { id: 'widgets.report', name: '위젯 리포트', amount: 9900, grants: { widgets: 1 }, sortOrder: 1 },
    { id: 'widgets.starter', name: '위젯 스타터', amount: 1000, grants: { widgets: 1 }, sortOrder: 2 },
    { id: 'widgets.premium', name: '위젯 프리미엄', amount: 8500, grants: { widgets: 20 }, sortOrder: 3 },
  ],
  notificationTypes: {
    'widgets.ready': { category: 'system', summary: 'Your widget is ready' },
    // A type with its own push limit and a switch of its own (test/notifications/typeSwitches.test.ts).
    'widgets.restocked': { category: 'chat', pushLimit: { max: 1, windowSeconds: 600 }, summary: 'Widgets are back in stock' },
  },
  workerTasks: [countLettersTask],
  llmBulkhead: { concurrency: 3, queue: 1 },
  // The walk app's lifetimes (60 min / 7 days), so the tests can tell them from the platform's defaults.
  tokenLifetimes: { accessSeconds: 60 * 60, refreshSeconds: 7 * 24 * 60 * 60 },
  serverEvents: widgetServerEvents,
  createServices: (platform, config) => {
    const em = platform.em;
    async function create(userId: string, name: string | undefined) {
      const text = name ?? config.WIDGETS_DEFAULT_NAME;
      const { letters } = await platform.pool.run(countLettersTask, { text });
      const widget = await inTransaction(em, async (tx) => {
        const w = tx.create(Widget, { id: crypto.randomUUID(), ownerId: userId, name: text, createdAt: new Date() });
        await tx.flush();
        return w;
      });
      const dto = { id: widget.id, name: widget.name, letters };
      platform.realtime.emitToUser(userId, 'widget.created', dto);
      await platform.notify(userId, { type: 'widgets.ready', title: `${text} is ready` });
      return dto;
    }
    async function get(userId: string, id: string) {
      const w = await em.fork().findOne(Widget, { id, ownerId: userId });
      if (!w) throw notFound('Widget');
      return { id: w.id, name: w.name, letters: w.name.length };
    }
    async function sweep() {
      const rows = await em.fork().execute<{ n: string }[]>('select count(*) as n from test_widgets');
      return { widgets: Number(rows[0].n) };
    }
    return { create, get, sweep, platform };
  },
  routes: (api, widgets) => {
    api.route({
      method: 'post', path: '/widgets', summary: 'Create a widget', tags: ['widgets'], auth: 'user',
      body: z.object({ name: z.string().min(1).max(40).optional() }),
      responses: { 201: { description: 'The widget', schema: widgetDto } },
      handler: async ({ auth, body }) => ({ status: 201, body: await widgets.create(auth.userId, body.name) }),
    });
    api.route({
      method: 'get', path: '/widgets/:id', summary: 'One of my widgets', tags: ['widgets'], auth: 'user', params: z.object({ id: z.uuid() }),
      responses: { 200: { description: 'The widget', schema: widgetDto } },
      handler: async ({ auth, params }) => ({ body: await widgets.get(auth.userId, params.id) }),
    });
  },
  clientEvents: (widgets) => [
    defineClientEvent({
      event: 'widget.create',
      summary: 'Create a widget; widget.created follows on every socket of yours',
      schema: z.object({ name: z.string().min(1).max(40).optional() }).strict(),
      handler: async (payload, { auth }) => ({ widget: await widgets()!.create(auth.userId, payload.name) }),
    }),
  ],
  cron: (widgets) => [{ name: 'widgets-sweep', schedule: '*/10 * * * *', description: 'Count the widgets', run: async () => widgets.sweep() }],
  // RevenueCat events reach it only where REVENUECAT_MODULE=widgets (the coach sells there too).
  subscriptions: { providers: ['revenuecat'], onChanged: async (_widgets, _tx, state) => void widgetSubscriptionChanges.push(state) },
  payments: {
    onPaid: async (_widgets, tx, payment) => {
      await tx.execute('insert into test_widget_grants (order_id, user_id, widgets) values (?, ?, ?)', [payment.orderId, payment.userId, 5]);
      widgetEvents.push({ event: 'paid', orderId: payment.orderId });
    },
    onRefunded: async (_widgets, tx, payment, amount) => {
      await tx.execute('update test_widget_grants set refunded = refunded + ? where order_id = ?', [amount, payment.orderId]);
      widgetEvents.push({ event: 'refunded', orderId: payment.orderId, amount });
    },
    onExpired: async (_widgets, _tx, payment) => void widgetEvents.push({ event: 'expired', orderId: payment.orderId }),
  },
});
