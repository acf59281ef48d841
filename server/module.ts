// The module contract: everything an app module brings, declared in one typed definition that the
// platform wires. Adding a module is one line in modules/index.ts; nothing here names a module.
//
// What MODULES changes: a node builds and serves only the enabled modules (their services, routes,
// namespace, socket events, cron jobs, payment and subscription handlers, LLM bulkhead). Schema and
// reference data are every listed module's, whatever MODULES says, so nodes that serve different
// apps share one database.
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import type { z, ZodObject, ZodType } from 'zod';
import type { Api } from './http/route.ts';
import type { CronJob } from './cronRunner.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { RedisClients } from './context.ts';
import type { ClientEvent } from '../realtime/events.ts';
import type { Payment } from '../entities/billing/Payment.ts';
import type { BulkheadLimits } from '../services/llm/bulkhead.ts';
import type { LlmGateway, LlmModule } from '../services/llm/gateway.ts';
import type { NamespacePort, ServerEventSpecs } from '../services/realtime.ts';
import type { InvalidationBus } from '../services/invalidation.ts';
import type { PaymentService } from '../services/billing/payments.ts';
import type { SubscriptionService, SubscriptionState } from '../services/billing/subscriptions.ts';
import type { NotifyResult } from '../services/notifications/notify.ts';
import type { NotificationService } from '../services/notifications/notifications.ts';
import type { NotificationTypePolicy, NotifyInput } from '../services/notifications/schemas.ts';
import type { NotificationCategory } from '../entities/notifications/Notification.ts';
import type { SmsService } from '../services/sms/sms.ts';
import type { PersonalDataCipher } from '../services/crypto/personalData.ts';
import type { RevenueCatClient } from '../integrations/payments/revenuecat.ts';
import type { ObjectStorage } from '../integrations/storage/index.ts';
import type { Clock, TimeFormatter } from '../services/time.ts';
import type { Em } from '../services/transaction.ts';
import type { WorkerPool, WorkerTask } from '../workers/pool.ts';
import type { ModuleStreams } from '../services/streams/resumableStreams.ts';
import type { PointsWallet } from '../services/billing/points.ts';
import type { WebhookService } from '../services/billing/webhooks.ts';
import type { ModuleSocial } from '../services/social/social.ts';
import type { ModuleRankings } from '../services/rankings/rankings.ts';
import type { JobQueue } from '../services/queue/jobQueue.ts';
import type { TokenLifetimes } from '../services/identity/tokens.ts';

// A payment product a module sells: upserted at every start, so a price change reaches every
// environment. Every product needs its module's payments.onPaid.
export type ProductSeed = { id: string; name: string; amount: number; grants: Record<string, unknown>; sortOrder: number; active?: boolean };

// A notification type a module sends: its category, what it says (documentation), and optionally its
// own push limit (pushLimit: at most `max` pushes to one user per `windowSeconds`; otherwise
// NOTIFY_PUSH_PER_TYPE_PER_HOUR per hour). Each type outside `system` is a switch in the user's settings.
export type NotificationTypeSpec = NotificationTypePolicy & { category: NotificationCategory; summary: string };

// What a module is given: the platform's shared services, each scoped to the module where that
// matters (its LLM bulkhead, its namespace, its notification types), and nothing of another module.
export type ModulePlatform<E extends ServerEventSpecs = ServerEventSpecs> = {
  module: string;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  time: TimeFormatter;
  em: Em;
  redis?: RedisClients;
  redisKeyPrefix: string;
  bus: InvalidationBus;
  llm: LlmModule;
  // The whole gateway, for what is not per call (its offline flag, embedding model, stats).
  llmGateway: LlmGateway;
  storage: ObjectStorage;
  payments: PaymentService;
  // The points wallet (services/billing/points.ts): credit packs in a payment handler, spend or reserve and settle.
  points: PointsWallet;
  // The node's one webhook service, for a module that also takes a provider's webhook at a path of its own.
  webhooks: WebhookService;
  // Likes and comments on the module's target types (services/social): define({ type, resolve, … }).
  social: ModuleSocial;
  // Ranking boards of the module's items (services/rankings): define({ board }) → add, leaderboard, trending, snapshot.
  rankings: ModuleRankings;
  // The durable job queue (services/queue, pg-boss): define a queue (name it `<module>-…`) in
  // createServices, send to it once the node started.
  queue: JobQueue;
  subscriptions: SubscriptionService;
  revenuecat: RevenueCatClient;
  // notify() for this module's declared notification types only; notifications for the rest.
  notify: (userId: string, input: ModuleNotifyInput) => Promise<NotifyResult>;
  notifications: NotificationService;
  sms: SmsService;
  personalData: PersonalDataCipher;
  realtime: NamespacePort<E>;
  pool: WorkerPool;
  // Resumable streams (services/streams): answers, replies and stories that outlive a connection and their node.
  streams: ModuleStreams;
  // This node's own base URL (known once it listens) and the public one clients reach.
  urls: { readonly self: string; public: () => string };
  // Where a module's offline checkout driver posts RevenueCat-format webhooks, and how it signs them.
  revenuecatSandbox: { webhookUrl: () => string; hmacSecret?: string; authorization?: string };
};

// category defaults to the one the module declared for the type.
export type ModuleNotifyInput = Omit<NotifyInput, 'category'> & { category?: NotifyInput['category'] };

export type PaymentHandlers<S> = {
  onPaid: (services: S, tx: Em, payment: Payment) => Promise<void>;
  // `amount` is what this refund returned (a partial refund leaves the payment paid).
  onRefunded?: (services: S, tx: Em, payment: Payment, amount: number) => Promise<void>;
  onExpired?: (services: S, tx: Em, payment: Payment) => Promise<void>;
};

export type SubscriptionHandlers<S> = {
  // The store/provider subscriptions this module sells; RevenueCat events reach the module that lists it.
  providers: 'revenuecat'[];
  onChanged: (services: S, tx: Em, state: SubscriptionState) => Promise<void>;
};

// A command line entry point (`npm run module -- <module> <command> …`), run on the same composition as the server.
export type ModuleCommand<S> = {
  summary: string;
  run: (services: S, args: string[], ctx: { logger: Logger; signal: AbortSignal }) => Promise<number>;
};

export type AppModule<C extends ZodObject = ZodObject, S = unknown, E extends ServerEventSpecs = ServerEventSpecs> = {
  // Lower-case: the MODULES entry, payment products' module, the Socket.IO namespace (/<name>), metrics labels.
  name: string;
  summary: string;
  // The module's environment variables (keys are variable names); parsed with the platform's, every
  // problem reported at once. `check` adds what is only wrong together or only wrong in production.
  config?: C;
  checkConfig?: (config: z.output<C>, platform: Config) => { incomplete?: string[]; production?: string[] };
  entities?: EntitySchema[];
  migrations?: MigrationObject[];
  // Idempotent reference data, run after migrations.
  seed?: (em: Em) => Promise<void>;
  products?: ProductSeed[];
  llmBulkhead?: BulkheadLimits;
  // How long the tokens of a sign-in that names this app (`app` on /auth/register, /auth/login,
  // /auth/oauth/:provider) live, refreshes included; the platform's ACCESS_/REFRESH_TOKEN_TTL_SECONDS
  // otherwise. One identity system: the account and its sessions are the platform's either way.
  tokenLifetimes?: TokenLifetimes;
  notificationTypes?: Record<string, NotificationTypeSpec>;
  workerTasks?: WorkerTask<any, any>[];
  // Server-to-client events on the module's namespace; declaring them (or clientEvents) opens /<name>.
  serverEvents?: E;
  createServices: (platform: ModulePlatform<E>, config: z.output<C>) => S;
  routes?: (api: Api, services: S, platform: ModulePlatform<E>) => void;
  // Services arrive through a getter: sockets are set up before the services that publish through them.
  clientEvents?: (services: () => S) => ClientEvent<ZodType>[];
  // A namespace for clients without accounts (a rizz job's page): `authenticate` checks the
  // handshake's auth and names the rooms to join; the module emits with realtime.emitToRoom.
  guestSocket?: { authenticate: (services: () => S, auth: Record<string, unknown>) => Promise<{ rooms: string[] }> };
  cron?: (services: S) => CronJob[];
  payments?: PaymentHandlers<S>;
  subscriptions?: SubscriptionHandlers<S>;
  commands?: Record<string, ModuleCommand<S>>;
  // After the node listens (e.g. loading shipped data on a fresh install); a failure is logged, not fatal.
  onStarted?: (services: S, ctx: { signal: AbortSignal; logger: Logger }) => Promise<void>;
  // Finishes the module's own work before the node closes its stores (e.g. ends streams).
  onShutdown?: (services: S) => Promise<void>;
};

// Keeps each module's own types (config, services, events) while the platform handles the list.
export function defineModule<C extends ZodObject, S, E extends ServerEventSpecs = Record<never, never>>(def: AppModule<C, S, E>): AppModule<C, S, E> {
  return def;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the list holds modules of every config, services and event type
export type AnyModule = AppModule<any, any, any>;

// The module definitions are checked once, before anything starts: names unique and well formed,
// every product sellable (its module handles payment), notification types named under the module.
export function checkModules(modules: AnyModule[]): void {
  const problems: string[] = [];
  const names = new Set<string>();
  const products = new Map<string, string>();
  for (const m of modules) {
    if (!/^[a-z][a-z0-9_-]{0,19}$/.test(m.name)) problems.push(`module "${m.name}": the name must be a lower-case identifier`);
    if (names.has(m.name)) problems.push(`module "${m.name}" is listed twice`);
    names.add(m.name);
    if (m.name === 'notifications') problems.push('module "notifications": the name is taken by the platform\'s namespace');
    for (const p of m.products ?? []) {
      if (products.has(p.id)) problems.push(`product ${p.id} is declared by ${products.get(p.id)} and ${m.name}`);
      products.set(p.id, m.name);
      if (!m.payments?.onPaid) problems.push(`product ${p.id} (module ${m.name}) is on sale, but module ${m.name} declares no payments.onPaid handler`);
      if (!Number.isInteger(p.amount) || p.amount <= 0) problems.push(`product ${p.id}: the amount must be a positive whole number of KRW`);
    }
    if (m.tokenLifetimes) {
      const { accessSeconds, refreshSeconds } = m.tokenLifetimes;
      if (![accessSeconds, refreshSeconds].every((n) => Number.isInteger(n) && n > 0)) problems.push(`module "${m.name}": tokenLifetimes must be positive whole seconds`);
      else if (accessSeconds > refreshSeconds) problems.push(`module "${m.name}": tokenLifetimes.accessSeconds must not exceed refreshSeconds`);
    }
    for (const [type, spec] of Object.entries(m.notificationTypes ?? {})) {
      if (!type.startsWith(`${m.name}.`)) problems.push(`notification type ${type} (module ${m.name}) must start with "${m.name}."`);
      if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(type)) problems.push(`notification type ${type} (module ${m.name}): the name must be a lower-case identifier of at most 64 characters`);
      const limit = spec.pushLimit;
      if (limit && ![limit.max, limit.windowSeconds].every((n) => Number.isInteger(n) && n > 0)) problems.push(`notification type ${type} (module ${m.name}): pushLimit needs a positive whole max and windowSeconds`);
    }
  }
  if (problems.length > 0) throw new ModuleError(`The module list is not valid:\n  ${problems.join('\n  ')}`);
}

export class ModuleError extends Error {
  override name = 'ModuleError';
}

// The modules this process serves: MODULES names them (default: all), in the list's order.
export function enabledModules(all: AnyModule[], config: Pick<Config, 'MODULES'>): AnyModule[] {
  if (!config.MODULES) return all;
  return all.filter((m) => config.MODULES!.includes(m.name));
}
