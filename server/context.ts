// The composition root: builds every shared piece once and hands each consumer what it uses.
// No module reaches back here for a global; everything arrives as an argument.
import { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { openConfiguredDatabase, refuseUnhandledProducts, type Database } from './db.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createLimiter } from './rateLimits.ts';
import { createWorkerPool } from '../workers/pool.ts';
import { createTokenService, type TokenService } from '../services/identity/tokens.ts';
import { createTimeFormatter, systemClock, type Clock, type TimeFormatter } from '../services/time.ts';
import { createAuthService } from '../services/identity/auth.ts';
import { createUserService } from '../services/identity/users.ts';
import { OAUTH_PROVIDERS, oauthRegistry, type OAuthProvider, type OAuthVerifier } from '../services/identity/oauth.ts';
import { namespacePort, type RealtimePort } from '../services/realtime.ts';
import { createLocalInvalidationBus, type InvalidationBus } from '../services/invalidation.ts';
import { createUserCache } from '../services/identity/userCache.ts';
import { createSessionCache } from '../services/identity/sessionCache.ts';
import { createJobQueue, type JobQueue } from '../services/queue/jobQueue.ts';
import { createPointsWallet } from '../services/billing/points.ts';
import { createSocialService, moduleSocial, type SocialService } from '../services/social/social.ts';
import { createRankingService, moduleRankings, type RankingService } from '../services/rankings/rankings.ts';
import { createResumableStreams, moduleStreams, type ResumableStreams } from '../services/streams/resumableStreams.ts';
import { createMemoryStreamLog, createRedisStreamLog } from '../services/streams/streamLog.ts';
import { createRedisInvalidationBus } from './invalidationBus.ts';
import { createGoogleVerifier } from '../integrations/oauth/google.ts';
import { createAppleVerifier } from '../integrations/oauth/apple.ts';
import { createKakaoVerifier } from '../integrations/oauth/kakao.ts';
import { createNaverVerifier } from '../integrations/oauth/naver.ts';
import { createDevIssuer, type DevIssuer } from '../integrations/oauth/devIssuer.ts';
import type { PushProvider } from '../integrations/push/index.ts';
import { createFcmClient } from '../integrations/push/fcm.ts';
import { createOfflinePush } from '../integrations/push/offline.ts';
import type { SmsProvider } from '../integrations/sms/index.ts';
import { createCoolSmsClient } from '../integrations/sms/coolsms.ts';
import { createOfflineSms } from '../integrations/sms/offline.ts';
import { createPersonalDataCipher, type PersonalDataCipher } from '../services/crypto/personalData.ts';
import { createSmsService } from '../services/sms/sms.ts';
import { createNotificationService } from '../services/notifications/notifications.ts';
import { createConfiguredLlm } from './llm.ts';
import type { LlmGateway } from '../services/llm/gateway.ts';
import crypto from 'node:crypto';
import type { PaymentProviderName } from '../entities/billing/Payment.ts';
import type { PaymentProvider } from '../integrations/payments/index.ts';
import { createPortOneProvider } from '../integrations/payments/portone.ts';
import { createOfflineRevenueCatClient, createRevenueCatClient, type RevenueCatClient } from '../integrations/payments/revenuecat.ts';
import { createSandboxProvider } from '../integrations/payments/sandbox.ts';
import { createTossProvider } from '../integrations/payments/toss.ts';
import { createPaymentService, type PaymentHandlers } from '../services/billing/payments.ts';
import { createSubscriptionService, type SubscriptionChanged } from '../services/billing/subscriptions.ts';
import { createWebhookService } from '../services/billing/webhooks.ts';
import type { ObjectStorage } from '../integrations/storage/index.ts';
import { createLocalStorage, type LocalObjectStorage } from '../integrations/storage/local.ts';
import { createS3Storage } from '../integrations/storage/s3.ts';
import { createEmailCipher, sealLegacyEmails, type EmailCipher } from '../services/identity/emails.ts';
import { checkModules, enabledModules, ModuleError, type AnyModule, type ModulePlatform, type ModuleNotifyInput, type NotificationTypeSpec } from './module.ts';
import { modules as listedModules } from '../modules/index.ts';

export type RedisClients = { client: Redis; pub: Redis; sub: Redis };

export type AppContext = {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  time: TimeFormatter;
  db: Database;
  redis?: RedisClients;
  invalidation: InvalidationBus;
  queue: JobQueue;
  tokens: TokenService;
  pool: ReturnType<typeof createWorkerPool>;
  oauthVerifiers: OAuthVerifier[];
  devIssuer?: DevIssuer;
  // Push and SMS drivers (offline outbox drivers in development) and the personal-data cipher.
  push: PushProvider;
  sms: SmsProvider;
  personalData: PersonalDataCipher;
  // The LLM gateway: each app module gets its own handle (its own bulkhead), llm.forModule(name).
  llm: LlmGateway;
  clock: Clock;
  // Every listed module (their schema and reference data), and the ones this process serves (MODULES).
  allModules: AnyModule[];
  modules: AnyModule[];
  storage: ObjectStorage;
  // The same object as `storage` while it runs on the offline local driver, whose URLs this server serves.
  localStorageDriver?: LocalObjectStorage;
  paymentProviders: Map<PaymentProviderName, PaymentProvider>;
  revenuecat: RevenueCatClient;
  // Users' emails at rest (EMAIL_ENC_KEY).
  emails: EmailCipher;
  // This node's own base URL, known once it listens (node.ts sets it): the sandbox provider posts its webhooks there.
  urls: { self: string; public: () => string };
  close: () => Promise<void>;
};

// `acceptsPayments: false` is for command line tools, which never complete a payment.
export async function createContext(config: Config, opts: { logger?: Logger; modules?: AnyModule[]; clock?: Clock; acceptsPayments?: boolean; workQueue?: boolean } = {}): Promise<AppContext> {
  const allModules = opts.modules ?? listedModules;
  checkModules(allModules);
  const modules = enabledModules(allModules, config);
  const logger = opts.logger ?? createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: config.NODE_ID });
  const metrics = createMetrics({ nodeId: config.NODE_ID });
  const db = await openConfiguredDatabase(config, logger, { modules: allModules });
  if (opts.acceptsPayments !== false) {
    try {
      await refuseUnhandledProducts(db.orm, allModules);
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  const redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, logger) : undefined;
  const redisBus = redis ? createRedisInvalidationBus({ client: redis.client, prefix: config.REDIS_KEY_PREFIX, logger }) : undefined;
  const pool = createWorkerPool({
    size: config.WORKER_POOL_SIZE,
    maxQueue: config.WORKER_MAX_QUEUE,
    taskTimeoutMs: config.WORKER_TASK_TIMEOUT_MS,
    onError: (err) => logger.error({ err }, 'worker pool error'),
    tasks: modules.flatMap((m) => m.workerTasks ?? []),
  });
  metrics.watchWorkerPool(() => pool.stats());

  const devIssuer = config.oauthOffline ? createDevIssuer(config.JWT_SECRET) : undefined;
  const oauthVerifiers: OAuthVerifier[] = devIssuer
    ? (Object.keys(OAUTH_PROVIDERS) as OAuthProvider[]).map((p) => devIssuer.verifierFor(p))
    : [
        ...(config.GOOGLE_CLIENT_IDS.length ? [createGoogleVerifier({ clientIds: config.GOOGLE_CLIENT_IDS, jwksUrl: config.GOOGLE_JWKS_URL })] : []),
        ...(config.APPLE_CLIENT_IDS.length ? [createAppleVerifier({ clientIds: config.APPLE_CLIENT_IDS, jwksUrl: config.APPLE_JWKS_URL })] : []),
        ...(config.KAKAO_APP_IDS.length ? [createKakaoVerifier({ appIds: config.KAKAO_APP_IDS, baseUrl: config.KAKAO_API_BASE_URL })] : []),
        ...(config.NAVER_ENABLED ? [createNaverVerifier({ baseUrl: config.NAVER_API_BASE_URL })] : []),
      ];
  if (devIssuer) {
    logger.warn('social sign-in runs on the OFFLINE dev issuer (set GOOGLE_CLIENT_IDS, APPLE_CLIENT_IDS, KAKAO_APP_IDS or NAVER_ENABLED for real sign-in)');
  }
  const { push, sms } = createMessagingProviders(config, db, logger);
  const { storage, localStorageDriver } = createConfiguredStorage(config);
  if (localStorageDriver) logger.warn({ dir: config.STORAGE_LOCAL_DIR }, 'object storage runs on the OFFLINE local driver (set STORAGE_DRIVER=s3 for S3, R2 or MinIO)');

  // Where clients reach us: PUBLIC_URL, else this node (checkout pages, links in messages).
  const urls = { self: `http://127.0.0.1:${config.PORT}`, public: () => config.PUBLIC_URL ?? urls.self };
  const emails = createEmailCipher(config.emailEncKey);
  await sealLegacyEmails(db.orm.em, emails, logger);
  // The durable job queue (pg-boss, in this database): API nodes work it; tools only send.
  const queue = createJobQueue({
    connectionString: db.url, logger, work: opts.workQueue ?? true,
    pollingIntervalSeconds: config.QUEUE_POLL_SECONDS, superviseIntervalSeconds: config.QUEUE_SUPERVISE_SECONDS,
  });
  return {
    queue,
    config,
    logger,
    metrics,
    time: createTimeFormatter(config.TIME_ZONE),
    db,
    redis,
    invalidation: redisBus ?? createLocalInvalidationBus(),
    tokens: createTokenService({
      secret: config.JWT_SECRET,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    }),
    pool,
    oauthVerifiers,
    devIssuer,
    push,
    sms,
    personalData: createPersonalDataCipher(config.personalDataKey),
    llm: createConfiguredLlm(config, { logger, registry: metrics.registry, bulkheads: Object.fromEntries(modules.flatMap((m) => (m.llmBulkhead ? [[m.name, m.llmBulkhead]] : []))) }),
    clock: opts.clock ?? systemClock,
    allModules,
    modules,
    ...createPaymentProviders(config, db, urls),
    emails,
    urls,
    storage,
    localStorageDriver,
    close: async () => {
      await queue.stop({ timeoutMs: 5000 });
      await pool.close();
      await storage.close();
      await redisBus?.close();
      // QUIT waits behind queued commands while Redis is unreachable; a connection not ready is dropped.
      if (redis) await Promise.all([redis.client, redis.pub, redis.sub].map((c) => (c.status === 'ready' ? c.quit().catch(() => undefined) : c.disconnect())));
      await db.close();
    },
  };
}

function connectRedis(url: string, logger: Logger): RedisClients {
  const client = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
  client.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const pub = client.duplicate();
  // The adapter subscribes to a room's channel when the room appears on this node. ioredis
  // re-subscribes on reconnect only to what Redis confirmed, and drops a queued command after
  // maxRetriesPerRequest, so a room made during an outage would never hear other nodes again. Its
  // (un)subscribes wait for the reconnect instead, in order; nothing else runs on this connection.
  const sub = client.duplicate({ maxRetriesPerRequest: null });
  for (const c of [pub, sub]) c.on('error', (err) => logger.warn({ err: err.message }, 'redis (socket.io adapter) connection error'));
  return { client, pub, sub };
}

function createMessagingProviders(config: Config, db: Database, logger: Logger): { push: PushProvider; sms: SmsProvider } {
  const push = config.fcmServiceAccount
    ? createFcmClient({
      serviceAccount: config.fcmServiceAccount,
      projectId: config.FCM_PROJECT_ID,
      endpoint: config.FCM_ENDPOINT,
      tokenUrl: config.FCM_TOKEN_URL,
      timeoutMs: config.FCM_TIMEOUT_MS,
      logger,
    })
    : createOfflinePush({ em: db.orm.em, logger });
  const sms = config.COOLSMS_API_KEY
    ? createCoolSmsClient({
      apiKey: config.COOLSMS_API_KEY,
      apiSecret: config.COOLSMS_API_SECRET!,
      sender: config.COOLSMS_SENDER!,
      baseUrl: config.COOLSMS_BASE_URL,
      timeoutMs: config.COOLSMS_TIMEOUT_MS,
      logger,
    })
    : createOfflineSms({ em: db.orm.em, logger });
  if (push.offline) logger.warn('push runs on the OFFLINE outbox driver (set FCM_SERVICE_ACCOUNT_JSON for Firebase Cloud Messaging)');
  if (sms.offline) logger.warn('SMS runs on the OFFLINE outbox driver (set COOLSMS_API_KEY, COOLSMS_API_SECRET and COOLSMS_SENDER)');
  return { push, sms };
}

function createConfiguredStorage(config: Config): { storage: ObjectStorage; localStorageDriver?: LocalObjectStorage } {
  if (config.STORAGE_DRIVER === 's3') {
    const storage = createS3Storage({
      bucket: config.S3_BUCKET!,
      region: config.S3_REGION,
      endpoint: config.S3_ENDPOINT,
      publicEndpoint: config.S3_PUBLIC_ENDPOINT,
      credentials: config.S3_ACCESS_KEY_ID ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY! } : undefined,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      connectTimeoutMs: config.S3_CONNECT_TIMEOUT_MS,
      requestTimeoutMs: config.S3_REQUEST_TIMEOUT_MS,
      maxAttempts: config.S3_MAX_ATTEMPTS,
    });
    return { storage };
  }
  const local = createLocalStorage({ dir: config.STORAGE_LOCAL_DIR, signingSecret: config.URL_SIGNING_SECRET, publicUrl: config.storagePublicUrl });
  return { storage: local, localStorageDriver: local };
}

function createPaymentProviders(config: Config, db: Database, urls: AppContext['urls']) {
  const paymentProviders = new Map<PaymentProviderName, PaymentProvider>();
  if (config.TOSS_SECRET_KEY) {
    paymentProviders.set('toss', createTossProvider({ secretKey: config.TOSS_SECRET_KEY, clientKey: config.TOSS_CLIENT_KEY!, baseUrl: config.TOSS_BASE_URL, timeoutMs: config.PAYMENTS_TIMEOUT_MS }));
  }
  if (config.PORTONE_API_SECRET) {
    paymentProviders.set('portone', createPortOneProvider({ apiSecret: config.PORTONE_API_SECRET, storeId: config.PORTONE_STORE_ID!, channelKey: config.PORTONE_CHANNEL_KEY!, baseUrl: config.PORTONE_BASE_URL, timeoutMs: config.PAYMENTS_TIMEOUT_MS }));
  }
  if (config.paymentsSandbox) {
    paymentProviders.set('sandbox', createSandboxProvider({
      em: () => db.orm.em.fork(),
      webhookSecret: sandboxWebhookSecret(config.URL_SIGNING_SECRET),
      publicUrl: urls.public,
      webhookUrl: () => `${urls.self}/webhooks/sandbox`,
    }));
  }
  const revenuecat = config.REVENUECAT_API_KEY
    ? createRevenueCatClient({ apiKey: config.REVENUECAT_API_KEY, baseUrl: config.REVENUECAT_BASE_URL, timeoutMs: config.PAYMENTS_TIMEOUT_MS })
    : createOfflineRevenueCatClient();
  return { paymentProviders, revenuecat };
}

// The HMAC secret RevenueCat webhooks are checked with. Without RevenueCat (the offline client) and
// with none configured, a module's offline checkout signs its RevenueCat-format webhooks with one
// derived from URL_SIGNING_SECRET, as the payment sandbox does.
export function revenueCatWebhookSecret(config: Config): string | undefined {
  if (config.REVENUECAT_WEBHOOK_SECRET || config.REVENUECAT_API_KEY || !config.paymentsSandbox) return config.REVENUECAT_WEBHOOK_SECRET;
  return crypto.createHmac('sha256', config.URL_SIGNING_SECRET).update('sandbox-revenuecat-webhooks').digest('hex');
}

// The sandbox signs its webhooks like a Standard Webhooks provider, with a key of its own.
export function sandboxWebhookSecret(urlSigningSecret: string): string {
  return `whsec_${crypto.createHmac('sha256', urlSigningSecret).update('sandbox-payment-webhooks').digest('base64')}`;
}

// Services are built once the realtime port exists, since they publish through it: the platform's
// first, then each enabled module's from the platform pieces it is given.
export function createServices(ctx: AppContext, realtime: RealtimePort) {
  const em = ctx.db.orm.em;
  // Filled below; payment and subscription handlers reach a module's services through it.
  const moduleServices = new Map<string, unknown>();
  const servicesOf = (name: string) => moduleServices.get(name);
  const served = new Set(ctx.modules.map((m) => m.name));

  const paymentHandlers = new Map<string, PaymentHandlers | 'not_served'>();
  for (const m of ctx.allModules) {
    if (!m.payments) continue;
    const h = m.payments;
    paymentHandlers.set(m.name, served.has(m.name)
      ? {
        onPaid: (tx, p) => h.onPaid(servicesOf(m.name), tx, p),
        onRefunded: h.onRefunded && ((tx, p, amount) => h.onRefunded!(servicesOf(m.name), tx, p, amount)),
        onExpired: h.onExpired && ((tx, p) => h.onExpired!(servicesOf(m.name), tx, p)),
      }
      : 'not_served');
  }
  const payments = createPaymentService({
    em,
    providers: ctx.paymentProviders,
    defaultProvider: ctx.config.PAYMENTS_DEFAULT_PROVIDER ?? ([...ctx.paymentProviders.keys()][0] ?? 'sandbox'),
    time: ctx.time,
    clock: ctx.clock,
    logger: ctx.logger,
    pendingTtlMinutes: ctx.config.PAYMENT_PENDING_TTL_MINUTES,
    handlers: paymentHandlers,
  });
  const subscriptions = createSubscriptionService({ revenuecat: ctx.revenuecat, revenuecatModule: revenueCatOwner(ctx, served, servicesOf), logger: ctx.logger });
  const userCache = createUserCache({ em, bus: ctx.invalidation, ttlMs: 30_000, maxEntries: 50_000 });
  const sessionCache = createSessionCache({ em, bus: ctx.invalidation, ttlMs: 30_000, maxEntries: 100_000 });
  const sms = createSmsService({ em, provider: ctx.sms, cipher: ctx.personalData, logger: ctx.logger });
  const notificationTypes: Record<string, NotificationTypeSpec> = Object.assign({}, ...ctx.allModules.map((m) => m.notificationTypes ?? {}));
  const notifications = createNotificationService({
    em,
    time: ctx.time,
    realtime,
    push: ctx.push,
    sms,
    pushLimiter: createLimiter({
      name: 'notify-push', points: ctx.config.NOTIFY_PUSH_PER_TYPE_PER_HOUR, durationSeconds: 3600, redis: ctx.redis?.client, keyPrefix: ctx.config.REDIS_KEY_PREFIX,
    }),
    // Every listed module's types, served here or not: settings list them all, and any node may push any.
    types: notificationTypes,
    typePushLimiters: new Map(Object.entries(notificationTypes).flatMap(([type, spec]) => spec.pushLimit
      ? [[type, createLimiter({ name: `notify-push:${type}`, points: spec.pushLimit.max, durationSeconds: spec.pushLimit.windowSeconds, redis: ctx.redis?.client, keyPrefix: ctx.config.REDIS_KEY_PREFIX })] as const]
      : [])),
    logger: ctx.logger,
    defaultTimeZone: ctx.config.TIME_ZONE,
    clock: ctx.clock,
  });
  // RevenueCat webhooks are checked with these, and a module's offline checkout signs and sends its own with them.
  const revenuecatSandbox = {
    webhookUrl: () => `${ctx.urls.self}/webhooks/revenuecat`,
    hmacSecret: revenueCatWebhookSecret(ctx.config),
    authorization: ctx.config.REVENUECAT_WEBHOOK_AUTH,
  };
  const points = createPointsWallet({ em, time: ctx.time, clock: ctx.clock });
  const social = createSocialService({ em, time: ctx.time });
  const rankings = createRankingService({ em, redis: ctx.redis?.client, keyPrefix: `${ctx.config.REDIS_KEY_PREFIX}:rankings`, clock: ctx.clock, logger: ctx.logger.child({ service: 'rankings' }) });
  const platform = {
    points,
    rankings,
    auth: createAuthService({
      em, tokens: ctx.tokens, realtime, time: ctx.time, oauth: oauthRegistry(ctx.oauthVerifiers), emails: ctx.emails, sessions: sessionCache, logger: ctx.logger,
      // Every listed module, served here or not: a session of any app is refreshed on any node.
      apps: new Map(ctx.allModules.map((m) => [m.name, m.tokenLifetimes])),
    }),
    users: createUserService({ em, time: ctx.time, realtime, cache: userCache, sessions: sessionCache, emails: ctx.emails }),
    sms,
    notifications,
    payments,
    subscriptions,
    webhooks: createWebhookService({
      em,
      payments,
      subscriptions,
      logger: ctx.logger,
      secrets: {
        toss: ctx.config.TOSS_WEBHOOK_SECRETS,
        portone: ctx.config.PORTONE_WEBHOOK_SECRETS,
        sandbox: [sandboxWebhookSecret(ctx.config.URL_SIGNING_SECRET)],
        revenuecat: { authorization: revenuecatSandbox.authorization, hmacSecret: revenuecatSandbox.hmacSecret },
      },
    }),
  };

  // One per node: it holds the leases of the streams this node generates and drains them on shutdown.
  const streams = createResumableStreams({
    log: (kind, ttlSeconds) => ctx.redis
      ? createRedisStreamLog({ redis: ctx.redis.client, prefix: `${ctx.config.REDIS_KEY_PREFIX}:stream:${kind}`, ttlSeconds })
      : createMemoryStreamLog({ ttlSeconds }),
    bus: ctx.invalidation,
    nodeId: ctx.config.NODE_ID,
    logger: ctx.logger,
  });
  const modules = ctx.modules.map((def) => {
    const handle = modulePlatform(ctx, def, { realtime, payments, subscriptions, notifications, sms, revenuecatSandbox, streams, points, webhooks: platform.webhooks, social, rankings });
    const services: unknown = def.createServices(handle, ctx.config.modules[def.name] as never);
    moduleServices.set(def.name, services);
    return { def, services, platform: handle };
  });
  return { ...platform, streams, modules };
}

export type Services = ReturnType<typeof createServices>;

// A module's services, typed by its definition: `moduleServices(node.services, myModule)`.
export function moduleServices<S>(services: Services, def: { name: string; createServices: (...args: never[]) => S }): S {
  const runtime = services.modules.find((m) => m.def.name === def.name);
  if (!runtime) throw new ModuleError(`module ${def.name} is not enabled on this node (MODULES)`);
  return runtime.services as S;
}

function modulePlatform(
  ctx: AppContext,
  def: AnyModule,
  shared: Pick<ModulePlatform, 'payments' | 'subscriptions' | 'notifications' | 'sms' | 'revenuecatSandbox' | 'points' | 'webhooks'> & { realtime: RealtimePort; streams: ResumableStreams; social: SocialService; rankings: RankingService },
): ModulePlatform {
  const types = def.notificationTypes ?? {};
  const { notifications } = shared;
  return {
    module: def.name,
    config: ctx.config,
    logger: ctx.logger.child({ module: def.name }),
    metrics: ctx.metrics,
    clock: ctx.clock,
    time: ctx.time,
    em: ctx.db.orm.em,
    redis: ctx.redis,
    redisKeyPrefix: `${ctx.config.REDIS_KEY_PREFIX}:${def.name}`,
    bus: ctx.invalidation,
    llm: ctx.llm.forModule(def.name),
    llmGateway: ctx.llm,
    storage: ctx.storage,
    payments: shared.payments,
    points: shared.points,
    webhooks: shared.webhooks,
    social: moduleSocial(shared.social, def.name),
    rankings: moduleRankings(shared.rankings, def.name),
    queue: ctx.queue,
    subscriptions: shared.subscriptions,
    revenuecat: ctx.revenuecat,
    notify: (userId: string, input: ModuleNotifyInput) => {
      const spec = types[input.type];
      // A programming error, loud where it is made: every type a module sends is declared (and documented).
      if (!spec) return Promise.reject(new ModuleError(`module ${def.name} sends notification type ${input.type} without declaring it (notificationTypes)`));
      return notifications.notify(userId, { ...input, category: input.category ?? spec.category });
    },
    notifications,
    sms: shared.sms,
    personalData: ctx.personalData,
    realtime: namespacePort(shared.realtime, def.name, def.serverEvents ?? {}),
    pool: ctx.pool,
    streams: moduleStreams(shared.streams, def.name),
    urls: ctx.urls,
    revenuecatSandbox: shared.revenuecatSandbox,
  };
}

// RevenueCat's subscriptions belong to the one listed module that sells through it, or to
// REVENUECAT_MODULE when several do.
function revenueCatOwner(ctx: AppContext, served: Set<string>, servicesOf: (name: string) => unknown): { name: string; onChanged: SubscriptionChanged | 'not_served' } | undefined {
  const sellers = ctx.allModules.filter((m) => m.subscriptions?.providers.includes('revenuecat'));
  const chosen = ctx.config.REVENUECAT_MODULE;
  if (chosen && !sellers.some((m) => m.name === chosen)) throw new ModuleError(`REVENUECAT_MODULE: module ${chosen} declares no RevenueCat subscriptions (sellers: ${sellers.map((m) => m.name).join(', ') || 'none'})`);
  if (!chosen && sellers.length > 1) throw new ModuleError(`REVENUECAT_MODULE: set it; several modules sell RevenueCat subscriptions (${sellers.map((m) => m.name).join(', ')})`);
  const owner = chosen ? sellers.find((m) => m.name === chosen)! : sellers[0];
  if (!owner) return undefined;
  const onChanged = owner.subscriptions!.onChanged;
  return { name: owner.name, onChanged: served.has(owner.name) ? (tx, state) => onChanged(servicesOf(owner.name), tx, state) : 'not_served' };
}


export function createLimits(ctx: AppContext) {
  const shared = { redis: ctx.redis?.client, keyPrefix: ctx.config.REDIS_KEY_PREFIX, durationSeconds: 60 };
  return {
    ip: createLimiter({ ...shared, name: 'ip', points: ctx.config.RATE_LIMIT_IP_PER_MINUTE }),
    user: createLimiter({ ...shared, name: 'user', points: ctx.config.RATE_LIMIT_USER_PER_MINUTE }),
    strict: createLimiter({ ...shared, name: 'auth', points: ctx.config.RATE_LIMIT_AUTH_PER_MINUTE }),
    webhook: createLimiter({ ...shared, name: 'webhook', points: ctx.config.RATE_LIMIT_WEBHOOK_PER_MINUTE }),
  };
}
