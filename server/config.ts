// Every environment variable the server reads is declared here, parsed once, and validated.
// A bad value stops the process at start with the variable's name, never later at first use.
import os from 'node:os';
import { z, type ZodObject } from 'zod';
import { booleanFlag, durationSeconds, jsonEnv, list } from './env.ts';
import { loadServiceAccount } from '../integrations/push/serviceAccount.ts';
import { parsePersonalDataKey } from '../services/crypto/personalData.ts';
import { bulkheadsSchema } from '../services/llm/bulkhead.ts';
import { priceTableSchema } from '../services/llm/pricing.ts';
import type { AnyModule } from './module.ts';
import { modules as allModules } from '../modules/index.ts';

const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789abcdef';
const DEV_URL_SIGNING_SECRET = 'dev-only-url-signing-secret-change-me';
const DEV_PERSONAL_DATA_KEY = 'ZGV2LW9ubHktcGVyc29uYWwtZGF0YS1rZXktMzJieXQ=';
const DEV_EMAIL_ENC_KEY = 'ZGV2LW9ubHktZW1haWwtZW5jcnlwdGlvbi1rZXktMzI=';

export const envSchema = z.object({
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
  // The durable job queue (pg-boss, in the same database): how often an idle worker looks for jobs,
  // and how often expired jobs (their node died) are put back for another node.
  QUEUE_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(2),
  QUEUE_SUPERVISE_SECONDS: z.coerce.number().int().min(1).max(600).default(60),

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
  // POST /webhooks/*, per sender IP: providers post from a few addresses, so this is their whole
  // budget; a refused delivery (429) is redelivered by the provider later.
  RATE_LIMIT_WEBHOOK_PER_MINUTE: z.coerce.number().int().positive().default(300),
  SOCKET_EVENTS_PER_10S: z.coerce.number().int().positive().default(50),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  TRUST_PROXY: booleanFlag.default(false),
  // How many proxies in front of the nodes add to X-Forwarded-For: the client's address is the one
  // the outermost of them saw, and whatever a client wrote into the header before it is ignored.
  TRUST_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  // When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (for nodes a scraper
  // reaches on a network clients can also reach; deploy/nginx.conf keeps /metrics off the public side).
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),

  WORKER_POOL_SIZE: z.coerce.number().int().min(1).max(64).optional(),
  WORKER_MAX_QUEUE: z.coerce.number().int().min(1).default(256),
  WORKER_TASK_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),

  // --- social sign-in (integrations/oauth): a provider runs when configured; with none configured the
  // OFFLINE dev issuer stands in for all four, refused in production.
  GOOGLE_CLIENT_IDS: list.default([]),
  GOOGLE_JWKS_URL: z.url().default('https://www.googleapis.com/oauth2/v3/certs'),
  // Bundle ids and/or Services IDs an Apple id_token may be issued to (its `aud`).
  APPLE_CLIENT_IDS: list.default([]),
  APPLE_JWKS_URL: z.url().default('https://appleid.apple.com/auth/keys'),
  // The numeric ids of our Kakao apps: a Kakao access token issued to any other app is refused.
  KAKAO_APP_IDS: list.pipe(z.array(z.string().regex(/^\d{1,20}$/, 'Kakao app ids are numbers'))).default([]),
  KAKAO_API_BASE_URL: z.url().default('https://kapi.kakao.com'),
  // Naver's profile API needs no secret of ours to resolve a user's token, so Naver is switched on.
  NAVER_ENABLED: booleanFlag.default(false),
  NAVER_API_BASE_URL: z.url().default('https://openapi.naver.com'),
  OAUTH_OFFLINE: booleanFlag.optional(),

  CRON_ENABLED_JOBS: list.optional(),
  // The app modules this process serves (default: every module in modules/index.ts).
  MODULES: list.optional(),

  // --- LLM gateway (integrations/llm, services/llm): without OPENAI_API_KEY the OFFLINE driver runs, refused in production
  OPENAI_API_KEY: z.string().min(1).optional(),
  // Any OpenAI-compatible server (vLLM, Ollama, llama.cpp), its /v1 included.
  OPENAI_BASE_URL: z.url().optional(),
  // true forces the offline driver even with a key; it cannot turn the real client on without one.
  LLM_OFFLINE: booleanFlag.optional(),
  LLM_DEFAULT_MODEL: z.string().min(1).default('gpt-4o-mini'),
  LLM_FALLBACK_MODEL: z.string().min(1).optional(),
  LLM_EMBEDDING_MODEL: z.string().min(1).default('text-embedding-3-small'),
  LLM_EMBEDDING_DIMENSIONS: z.coerce.number().int().min(1).max(8192).optional(),
  LLM_SPEECH_MODEL: z.string().min(1).default('tts-1'),
  LLM_SPEECH_VOICE: z.string().min(1).default('alloy'),
  LLM_IMAGE_MODEL: z.string().min(1).default('gpt-image-1'),
  // Wait for the first byte and, in a stream, the longest silence between chunks.
  LLM_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  LLM_IMAGE_TIMEOUT_MS: z.coerce.number().int().positive().default(180_000),
  LLM_MAX_PROMPT_TOKENS: z.coerce.number().int().positive().default(16_000),
  LLM_MAX_COMPLETION_TOKENS: z.coerce.number().int().positive().default(1024),
  LLM_EMBED_BATCH_SIZE: z.coerce.number().int().min(1).max(2048).default(100),
  LLM_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  LLM_RETRY_BASE_MS: z.coerce.number().int().positive().default(1000),
  LLM_CIRCUIT_FAILURES: z.coerce.number().int().positive().default(5),
  LLM_CIRCUIT_COOLDOWN_MS: z.coerce.number().int().positive().default(30_000),
  LLM_QUEUE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  // {"<model>": {"input": USD/1M tokens, "output": USD/1M tokens, "characters": USD/1M chars, "image": USD each}}, over the defaults
  LLM_PRICES_JSON: jsonEnv(priceTableSchema).optional(),
  // {"<module>": {"concurrency": 20, "queue": 40}} or {"<module>": 20}, over the defaults
  LLM_BULKHEADS_JSON: jsonEnv(bulkheadsSchema).optional(),

  // --- payments (integrations/payments): the sandbox provider is the OFFLINE driver, refused in production
  PAYMENTS_SANDBOX: booleanFlag.optional(),
  PAYMENTS_DEFAULT_PROVIDER: z.enum(['toss', 'portone', 'sandbox']).optional(),
  PAYMENT_PENDING_TTL_MINUTES: z.coerce.number().int().min(5).max(24 * 60).default(30),
  // Per attempt, for Toss, PortOne and RevenueCat API calls.
  PAYMENTS_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  TOSS_SECRET_KEY: z.string().min(1).optional(),
  TOSS_CLIENT_KEY: z.string().min(1).optional(),
  TOSS_BASE_URL: z.url().default('https://api.tosspayments.com'),
  // Security keys for the event types Toss signs (tosspayments-webhook-signature); several during rotation.
  TOSS_WEBHOOK_SECRETS: list.default([]),
  PORTONE_API_SECRET: z.string().min(1).optional(),
  PORTONE_STORE_ID: z.string().min(1).optional(),
  PORTONE_CHANNEL_KEY: z.string().min(1).optional(),
  PORTONE_BASE_URL: z.url().default('https://api.portone.io'),
  // Standard Webhooks secrets (whsec_…); several during rotation.
  PORTONE_WEBHOOK_SECRETS: list.default([]),
  REVENUECAT_API_KEY: z.string().min(1).optional(),
  REVENUECAT_BASE_URL: z.url().default('https://api.revenuecat.com'),
  // The Authorization header value set in RevenueCat's dashboard, and/or the HMAC secret of X-RevenueCat-Signature.
  REVENUECAT_WEBHOOK_AUTH: z.string().min(1).optional(),
  REVENUECAT_WEBHOOK_SECRET: z.string().min(1).optional(),
  // The module RevenueCat subscriptions belong to; needed only when several enabled modules sell through RevenueCat.
  REVENUECAT_MODULE: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a module name').optional(),

  // --- object storage (integrations/storage): `local` is the OFFLINE driver, refused in production
  STORAGE_DRIVER: z.enum(['local', 's3']).default('local'),
  STORAGE_LOCAL_DIR: z.string().default('.data/storage'),
  // Base of the URLs the local driver signs; defaults to PUBLIC_URL, then http://localhost:PORT.
  STORAGE_PUBLIC_URL: z.url().optional(),
  // The largest body the local driver's PUT /storage/… accepts.
  STORAGE_MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(12 * 1024 * 1024),
  S3_ENDPOINT: z.url().optional(),
  // Where clients reach the storage service, when not at S3_ENDPOINT: presigned URLs name it.
  S3_PUBLIC_ENDPOINT: z.url().optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not an S3 bucket name').optional(),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: booleanFlag.default(false),
  S3_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(3_000),
  S3_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  S3_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),

  // --- notifications: push (FCM HTTP v1), SMS (CoolSMS), personal data at rest. Unset provider
  // credentials select the OFFLINE outbox drivers, refused in production.
  // 32 bytes (64 hex characters or base64): keys the phone lookup hash and the AES-256-GCM sealing.
  PERSONAL_DATA_KEY: z.string().default(DEV_PERSONAL_DATA_KEY).refine((v) => parsePersonalDataKey(v) !== undefined, 'must be 32 bytes: 64 hex characters or base64'),
  // The service-account key JSON from the Firebase console, inline or as a file path.
  FCM_SERVICE_ACCOUNT_JSON: z.string().optional(),
  FCM_SERVICE_ACCOUNT_FILE: z.string().optional(),
  // Defaults to the service account's project_id.
  FCM_PROJECT_ID: z.string().regex(/^[a-z0-9-]{3,64}$/, 'not a Firebase project id').optional(),
  FCM_ENDPOINT: z.url().default('https://fcm.googleapis.com'),
  // Defaults to the service account's token_uri (https://oauth2.googleapis.com/token).
  FCM_TOKEN_URL: z.url().optional(),
  FCM_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  COOLSMS_API_KEY: z.string().min(1).optional(),
  COOLSMS_API_SECRET: z.string().min(1).optional(),
  // A sender number registered with CoolSMS, digits only.
  COOLSMS_SENDER: z.string().regex(/^\d{8,12}$/, 'digits only, e.g. 0212345678').optional(),
  COOLSMS_BASE_URL: z.url().default('https://api.coolsms.co.kr'),
  COOLSMS_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  // Pushes of one notification type to one user per hour; the rest are skipped (inbox and sockets still get them).
  NOTIFY_PUSH_PER_TYPE_PER_HOUR: z.coerce.number().int().positive().default(20),

  // --- users' emails at rest (services/identity/emails.ts)
  // 32 bytes (64 hex characters or base64, e.g. Fernet-style urlsafe base64): keys users' email hash and ciphertext.
  EMAIL_ENC_KEY: z.string().default(DEV_EMAIL_ENC_KEY).refine((v) => parsePersonalDataKey(v) !== undefined, 'must be 32 bytes: 64 hex characters or base64'),

});

export type Config = ReturnType<typeof buildConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// `modules` is the module list (modules/index.ts); each enabled module's variables are parsed with
// its own schema, and every problem — platform's or a module's — is reported in one refusal.
export function loadConfig(env: NodeJS.ProcessEnv = process.env, modules: AnyModule[] = allModules): Config {
  const vars = stripEmpty(env);
  const parsed = envSchema.safeParse(vars);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  const requested = parsed.success ? parsed.data.MODULES : undefined;
  const unknown = (requested ?? []).filter((name) => !modules.some((m) => m.name === name));
  if (unknown.length > 0) lines.push(`  MODULES: no module named ${unknown.join(', ')} (known: ${modules.map((m) => m.name).join(', ') || 'none'})`);
  const enabled = requested ? modules.filter((m) => requested.includes(m.name)) : modules;
  const moduleConfigs: Record<string, unknown> = {};
  for (const m of enabled) {
    if (!m.config) continue;
    const result = (m.config as ZodObject).safeParse(vars);
    if (result.success) moduleConfigs[m.name] = result.data;
    else lines.push(...result.error.issues.map((i: { path: PropertyKey[]; message: string }) => `  ${i.path.join('.')}: ${i.message}`));
  }
  if (!parsed.success || lines.length > 0) throw new ConfigError(`Invalid environment:\n${lines.join('\n')}`);
  const config = buildConfig(parsed.data, moduleConfigs);
  const checks = enabled.map((m) => m.checkConfig?.(moduleConfigs[m.name] as never, config) ?? {});
  // Every incomplete area is reported at once, so an operator fixes them in one pass.
  const incomplete = [...incompleteStorage(config), ...incompletePayments(config), ...incompleteNotifications(config), ...checks.flatMap((c) => c.incomplete ?? [])];
  if (incomplete.length > 0) throw new ConfigError(`Invalid environment:\n  ${incomplete.join('\n  ')}`);
  refuseUnsafeProduction(config, checks.flatMap((c) => c.production ?? []));
  return config;
}

function buildConfig(env: z.infer<typeof envSchema>, modules: Record<string, unknown>) {
  return {
    ...env,
    isProduction: env.NODE_ENV === 'production',
    // With no provider configured there is nothing to verify against: the dev issuer stands in for all.
    oauthOffline: env.OAUTH_OFFLINE ?? !(env.GOOGLE_CLIENT_IDS.length || env.APPLE_CLIENT_IDS.length || env.KAKAO_APP_IDS.length || env.NAVER_ENABLED),
    // Without an API key there is no provider to call: the offline LLM driver stands in.
    llmOffline: env.LLM_OFFLINE === true || !env.OPENAI_API_KEY,
    accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
    paymentsSandbox: env.PAYMENTS_SANDBOX ?? env.NODE_ENV !== 'production',
    // Not the request's Host header: URLs are also minted outside requests (cron, SMS links) and a
    // client-chosen Host must never end up in a link we sign.
    storagePublicUrl: env.STORAGE_PUBLIC_URL ?? env.PUBLIC_URL ?? `http://localhost:${env.PORT}`,
    fcmServiceAccount: fcmServiceAccount(env),
    pushOffline: !env.FCM_SERVICE_ACCOUNT_JSON && !env.FCM_SERVICE_ACCOUNT_FILE,
    smsOffline: !env.COOLSMS_API_KEY,
    personalDataKey: parsePersonalDataKey(env.PERSONAL_DATA_KEY)!,
    emailEncKey: parsePersonalDataKey(env.EMAIL_ENC_KEY)!,
    // Each enabled module's own variables, parsed with its schema (keyed by module name).
    modules,
  };
}

// Production must never run on secrets committed to this repository or on offline drivers
// that fake a provider; both would be silent security holes, so they fail at once.
function refuseUnsafeProduction(config: Config, moduleProblems: string[]): void {
  if (!config.isProduction) return;
  const problems: string[] = [];
  if (config.JWT_SECRET === DEV_JWT_SECRET) problems.push('JWT_SECRET: the development default cannot be used in production');
  if (config.URL_SIGNING_SECRET === DEV_URL_SIGNING_SECRET) {
    problems.push('URL_SIGNING_SECRET: the development default cannot be used in production');
  }
  if (config.oauthOffline) {
    problems.push('GOOGLE_CLIENT_IDS / APPLE_CLIENT_IDS / KAKAO_APP_IDS / NAVER_ENABLED: configure at least one provider and leave OAUTH_OFFLINE unset (the offline dev issuer is refused in production)');
  }
  if (config.llmOffline) problems.push('OPENAI_API_KEY: set it and leave LLM_OFFLINE unset (the offline LLM driver is refused in production)');
  if (!config.DATABASE_URL) problems.push('DATABASE_URL: production needs a real Postgres, not the embedded one');
  if (config.STORAGE_DRIVER === 'local') {
    problems.push('STORAGE_DRIVER: set it to s3 with S3_BUCKET (the offline local driver keeps files on one node\'s disk and is refused in production)');
  }
  if (config.paymentsSandbox) problems.push('PAYMENTS_SANDBOX: the offline sandbox payment provider is refused in production');
  if ((config.REVENUECAT_WEBHOOK_AUTH || config.REVENUECAT_WEBHOOK_SECRET) && !config.REVENUECAT_API_KEY) {
    problems.push('REVENUECAT_API_KEY: required to confirm RevenueCat webhooks with its API (the offline client is refused in production)');
  }
  if (config.PERSONAL_DATA_KEY === DEV_PERSONAL_DATA_KEY) problems.push('PERSONAL_DATA_KEY: the development default cannot be used in production');
  if (config.EMAIL_ENC_KEY === DEV_EMAIL_ENC_KEY) problems.push('EMAIL_ENC_KEY: the development default cannot be used in production');
  if (config.pushOffline) problems.push('FCM_SERVICE_ACCOUNT_JSON: set it or FCM_SERVICE_ACCOUNT_FILE (the offline push outbox is refused in production)');
  if (config.smsOffline) problems.push('COOLSMS_API_KEY: set it with COOLSMS_API_SECRET and COOLSMS_SENDER (the offline SMS outbox is refused in production)');
  problems.push(...moduleProblems);
  if (problems.length > 0) throw new ConfigError(`Refusing to start in production:\n  ${problems.join('\n  ')}`);
}

// Settings that are only wrong together, checked in every environment so a half-configured S3 fails
// at start rather than at the first upload.
function incompleteStorage(config: Config): string[] {
  const problems: string[] = [];
  if (config.STORAGE_DRIVER === 's3' && !config.S3_BUCKET) problems.push('S3_BUCKET: required when STORAGE_DRIVER=s3');
  if (Boolean(config.S3_ACCESS_KEY_ID) !== Boolean(config.S3_SECRET_ACCESS_KEY)) {
    problems.push('S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY: set both, or neither to use the default AWS credential chain');
  }
  return problems;
}

function incompletePayments(config: Config): string[] {
  const problems: string[] = [];
  if (Boolean(config.TOSS_SECRET_KEY) !== Boolean(config.TOSS_CLIENT_KEY)) problems.push('TOSS_SECRET_KEY / TOSS_CLIENT_KEY: set both to use Toss Payments');
  const portone = [config.PORTONE_API_SECRET, config.PORTONE_STORE_ID, config.PORTONE_CHANNEL_KEY];
  if (portone.some(Boolean) && !portone.every(Boolean)) problems.push('PORTONE_API_SECRET / PORTONE_STORE_ID / PORTONE_CHANNEL_KEY: set all three to use PortOne');
  const available = { toss: Boolean(config.TOSS_SECRET_KEY), portone: Boolean(config.PORTONE_API_SECRET), sandbox: config.paymentsSandbox };
  if (config.PAYMENTS_DEFAULT_PROVIDER && !available[config.PAYMENTS_DEFAULT_PROVIDER]) {
    problems.push(`PAYMENTS_DEFAULT_PROVIDER: ${config.PAYMENTS_DEFAULT_PROVIDER} is not configured`);
  }
  return problems;
}

function incompleteNotifications(config: Config): string[] {
  const problems: string[] = [];
  const coolsms = [config.COOLSMS_API_KEY, config.COOLSMS_API_SECRET, config.COOLSMS_SENDER];
  if (coolsms.some(Boolean) && !coolsms.every(Boolean)) problems.push('COOLSMS_API_KEY / COOLSMS_API_SECRET / COOLSMS_SENDER: set all three to send SMS');
  if (config.fcmServiceAccount && !config.FCM_PROJECT_ID && !config.fcmServiceAccount.project_id) {
    problems.push('FCM_PROJECT_ID: required when the service account names no project_id');
  }
  return problems;
}

// Parsed at start so that a broken key stops the process with the variable's name, never the key.
function fcmServiceAccount(env: { FCM_SERVICE_ACCOUNT_JSON?: string; FCM_SERVICE_ACCOUNT_FILE?: string }) {
  try {
    return loadServiceAccount({ json: env.FCM_SERVICE_ACCOUNT_JSON, file: env.FCM_SERVICE_ACCOUNT_FILE });
  } catch (err) {
    const name = env.FCM_SERVICE_ACCOUNT_JSON ? 'FCM_SERVICE_ACCOUNT_JSON' : 'FCM_SERVICE_ACCOUNT_FILE';
    throw new ConfigError(`Invalid environment:\n  ${name}: ${(err as Error).message}`);
  }
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

