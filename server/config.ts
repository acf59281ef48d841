// Every environment variable the server reads is declared here, parsed once, and validated.
// A bad value stops the process at start with the variable's name, never later at first use.
import os from 'node:os';
import { z } from 'zod';

const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789abcdef';
const DEV_URL_SIGNING_SECRET = 'dev-only-url-signing-secret-change-me';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const durationSeconds = z.coerce.number().int().positive();

const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  NODE_ID: z.string().min(1).default(`${os.hostname()}-${process.pid}`),
  PUBLIC_URL: z.url().optional(),
  TIME_ZONE: z.string().default('Asia/Seoul').refine(isValidTimeZone, 'not an IANA time zone'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: booleanFlag.default(false),

  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  EMBEDDED_PG_DIR: z.string().default('.data/postgres'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  MIGRATE_ON_START: booleanFlag.default(true),

  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  // Separates deployments (or test runs) that share one Redis: rate-limit keys and Socket.IO channels.
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]{1,40}$/, 'letters, digits, ":", "_" and "-" only').default('rp'),

  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_JWT_SECRET),
  JWT_ISSUER: z.string().default('realtime-platform'),
  JWT_AUDIENCE: z.string().default('realtime-platform-clients'),
  ACCESS_TOKEN_TTL_SECONDS: durationSeconds.default(30 * 60),
  REFRESH_TOKEN_TTL_SECONDS: durationSeconds.default(14 * 24 * 60 * 60),
  URL_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_URL_SIGNING_SECRET),

  CORS_ORIGINS: list.default(['http://localhost:3000', 'http://127.0.0.1:3000']),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  RATE_LIMIT_IP_PER_MINUTE: z.coerce.number().int().positive().default(600),
  RATE_LIMIT_USER_PER_MINUTE: z.coerce.number().int().positive().default(300),
  RATE_LIMIT_AUTH_PER_MINUTE: z.coerce.number().int().positive().default(20),
  SOCKET_EVENTS_PER_10S: z.coerce.number().int().positive().default(50),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  TRUST_PROXY: booleanFlag.default(false),

  WORKER_POOL_SIZE: z.coerce.number().int().min(1).max(64).optional(),
  WORKER_MAX_QUEUE: z.coerce.number().int().min(1).default(256),
  WORKER_TASK_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),

  GOOGLE_CLIENT_IDS: list.default([]),
  GOOGLE_JWKS_URL: z.url().default('https://www.googleapis.com/oauth2/v3/certs'),
  OAUTH_OFFLINE: booleanFlag.optional(),

  CRON_ENABLED_JOBS: list.optional(),
});

export type Config = ReturnType<typeof buildConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid environment:\n${lines.join('\n')}`);
  }
  const config = buildConfig(parsed.data);
  refuseUnsafeProduction(config);
  return config;
}

function buildConfig(env: z.infer<typeof envSchema>) {
  return {
    ...env,
    isProduction: env.NODE_ENV === 'production',
    // Without Google client ids there is nothing to verify against: the dev issuer stands in.
    oauthOffline: env.OAUTH_OFFLINE ?? env.GOOGLE_CLIENT_IDS.length === 0,
    accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
  };
}

// Production must never run on secrets committed to this repository or on offline drivers
// that fake a provider; both would be silent security holes, so they fail at once.
function refuseUnsafeProduction(config: Config): void {
  if (!config.isProduction) return;
  const problems: string[] = [];
  if (config.JWT_SECRET === DEV_JWT_SECRET) problems.push('JWT_SECRET: the development default cannot be used in production');
  if (config.URL_SIGNING_SECRET === DEV_URL_SIGNING_SECRET) {
    problems.push('URL_SIGNING_SECRET: the development default cannot be used in production');
  }
  if (config.oauthOffline) problems.push('GOOGLE_CLIENT_IDS: set it (the offline dev issuer is refused in production)');
  if (!config.DATABASE_URL) problems.push('DATABASE_URL: production needs a real Postgres, not the embedded one');
  if (problems.length > 0) throw new ConfigError(`Refusing to start in production:\n  ${problems.join('\n  ')}`);
}

// `FOO=` in a .env file means "unset", not "the empty string".
function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
