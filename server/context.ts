// The composition root: builds every shared piece once and hands each consumer what it uses.
// No module reaches back here for a global; everything arrives as an argument.
import { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { openConfiguredDatabase, type Database } from './db.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createLimiter } from './rateLimits.ts';
import { createWorkerPool } from '../workers/pool.ts';
import { createTokenService, type TokenService } from '../services/identity/tokens.ts';
import { createTimeFormatter, type TimeFormatter } from '../services/time.ts';
import { createAuthService } from '../services/identity/auth.ts';
import { createUserService } from '../services/identity/users.ts';
import { oauthRegistry, type OAuthVerifier } from '../services/identity/oauth.ts';
import type { RealtimePort } from '../services/realtime.ts';
import { createLocalInvalidationBus, type InvalidationBus } from '../services/invalidation.ts';
import { createUserCache } from '../services/identity/userCache.ts';
import { createRedisInvalidationBus } from './invalidationBus.ts';
import { createGoogleVerifier } from '../integrations/oauth/google.ts';
import { createDevIssuer, type DevIssuer } from '../integrations/oauth/devIssuer.ts';

export type RedisClients = { client: Redis; pub: Redis; sub: Redis };

export type AppContext = {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  time: TimeFormatter;
  db: Database;
  redis?: RedisClients;
  invalidation: InvalidationBus;
  tokens: TokenService;
  pool: ReturnType<typeof createWorkerPool>;
  oauthVerifiers: OAuthVerifier[];
  devIssuer?: DevIssuer;
  close: () => Promise<void>;
};

export async function createContext(config: Config, opts: { logger?: Logger } = {}): Promise<AppContext> {
  const logger = opts.logger ?? createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: config.NODE_ID });
  const metrics = createMetrics({ nodeId: config.NODE_ID });
  const db = await openConfiguredDatabase(config, logger);
  const redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, logger) : undefined;
  const redisBus = redis ? createRedisInvalidationBus({ client: redis.client, prefix: config.REDIS_KEY_PREFIX, logger }) : undefined;
  const pool = createWorkerPool({
    size: config.WORKER_POOL_SIZE,
    maxQueue: config.WORKER_MAX_QUEUE,
    taskTimeoutMs: config.WORKER_TASK_TIMEOUT_MS,
    onError: (err) => logger.error({ err }, 'worker pool error'),
  });
  metrics.watchWorkerPool(() => pool.stats());

  const devIssuer = config.oauthOffline ? createDevIssuer(config.JWT_SECRET) : undefined;
  const oauthVerifiers: OAuthVerifier[] = devIssuer
    ? [devIssuer.verifierFor('google')]
    : [createGoogleVerifier({ clientIds: config.GOOGLE_CLIENT_IDS, jwksUrl: config.GOOGLE_JWKS_URL })];
  if (devIssuer) logger.warn('social sign-in runs on the OFFLINE dev issuer (set GOOGLE_CLIENT_IDS for real Google sign-in)');

  return {
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
    close: async () => {
      await pool.close();
      await redisBus?.close();
      if (redis) await Promise.all([redis.client.quit(), redis.pub.quit(), redis.sub.quit()].map((p) => p.catch(() => undefined)));
      await db.close();
    },
  };
}

function connectRedis(url: string, logger: Logger): RedisClients {
  const client = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
  client.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const pub = client.duplicate();
  const sub = client.duplicate();
  for (const c of [pub, sub]) c.on('error', (err) => logger.warn({ err: err.message }, 'redis (socket.io adapter) connection error'));
  return { client, pub, sub };
}

// Services are built once the realtime port exists, since they publish through it.
export function createServices(ctx: AppContext, realtime: RealtimePort) {
  const em = ctx.db.orm.em;
  const userCache = createUserCache({ em, bus: ctx.invalidation, ttlMs: 30_000, maxEntries: 50_000 });
  return {
    auth: createAuthService({ em, tokens: ctx.tokens, realtime, time: ctx.time, oauth: oauthRegistry(ctx.oauthVerifiers), logger: ctx.logger }),
    users: createUserService({ em, time: ctx.time, realtime, cache: userCache }),
  };
}

export type Services = ReturnType<typeof createServices>;

export function createLimits(ctx: AppContext) {
  const shared = { redis: ctx.redis?.client, keyPrefix: ctx.config.REDIS_KEY_PREFIX, durationSeconds: 60 };
  return {
    ip: createLimiter({ ...shared, name: 'ip', points: ctx.config.RATE_LIMIT_IP_PER_MINUTE }),
    user: createLimiter({ ...shared, name: 'user', points: ctx.config.RATE_LIMIT_USER_PER_MINUTE }),
    strict: createLimiter({ ...shared, name: 'auth', points: ctx.config.RATE_LIMIT_AUTH_PER_MINUTE }),
  };
}
