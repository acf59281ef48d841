// The walk module's environment variables (sign-in, storage, notifications are the platform's).
// They join the platform's in one validated configuration.
import { z } from 'zod';
import { jsonEnv, list } from '../../server/env.ts';
import { serviceAccountSchema } from '../../integrations/push/serviceAccount.ts';

export const walkConfigSchema = z.object({
  // The most fixes one walk may carry (seed 003: a 2-hour walk at 1 Hz is 7,200).
  WALK_MAX_TRACK_POINTS: z.coerce.number().int().min(100).max(20_000).default(20_000),
  // A walk shorter than this does not count (seed 003: 500 m).
  WALK_MIN_DISTANCE_M: z.coerce.number().int().min(0).max(10_000).default(500),
  // Faster than this on average, or for long stretches, is not walking (seed 003: 15 km/h).
  WALK_MAX_SPEED_KMH: z.coerce.number().min(5).max(40).default(15),
  // Walking together: a walker with no position for this long is shown as stale to the others.
  WALK_TOGETHER_STALE_SECONDS: z.coerce.number().min(1).max(600).default(30),
  // How often each API node looks for stale walkers and abandoned sessions.
  WALK_TOGETHER_SWEEP_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  // A session whose walkers have all been stale (or never joined) this long closes as abandoned.
  WALK_TOGETHER_ABANDON_SECONDS: z.coerce.number().int().min(1).max(86_400).default(1800),
  // Outside data (services/walk/outside.ts). Without a key its driver is offline: the cron records
  // and the routes answer 'unavailable: not configured'. 공공데이터포털 keys work in either form.
  KMA_SERVICE_KEY: z.string().min(1).optional(),
  KMA_BASE_URL: z.url().default('https://apis.data.go.kr/1360000/VilageFcstInfoService_2.0'),
  AIRKOREA_SERVICE_KEY: z.string().min(1).optional(),
  AIRKOREA_BASE_URL: z.url().default('https://apis.data.go.kr/B552584/ArpltnInforInqireSvc'),
  // Kakao Local (nearby animal hospitals): the app's REST API key, sent as `KakaoAK <key>`.
  KAKAO_REST_API_KEY: z.string().min(1).optional(),
  KAKAO_LOCAL_BASE_URL: z.url().default('https://dapi.kakao.com'),
  // Each call to these providers gives up after this long (the vets route waits on one at most).
  WALK_OUTSIDE_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(4000),
  // Premium by card (Toss 자동결제, services/walk/subscription.ts): the monthly price in KRW, charged
  // at subscribe and every month after; a subscriber keeps the price they subscribed at.
  WALK_PREMIUM_MONTHLY_KRW: z.coerce.number().int().min(100).max(1_000_000).default(4900),
  WALK_PREMIUM_ORDER_NAME: z.string().trim().min(1).max(100).default('멍이랑 프리미엄 (월간)'),
  // Premium bought in the stores (services/walk/storeSubscriptions.ts). App Store Server
  // Notifications V2 reach POST /webhooks/walk/app-store once the app's bundle id is set.
  WALK_APPLE_BUNDLE_ID: z.string().trim().min(1).max(155).optional(),
  // The app's Apple ID (numeric); set, a notification for another app id changes nothing.
  WALK_APPLE_APP_ID: z.coerce.number().int().positive().optional(),
  // The App Store environments whose purchases grant premium. Sandbox stays in by default: App
  // Review and TestFlight buy in Sandbox against the production server.
  WALK_APPLE_ENVIRONMENTS: list.pipe(z.array(z.enum(['Production', 'Sandbox', 'Xcode', 'LocalTesting'])).min(1)).default(['Production', 'Sandbox']),
  // PEM certificate(s) pinned in place of Apple Root CA - G3: for tests against a fake; refused in production.
  APPLE_ROOT_CA_PEM: z.string().includes('BEGIN CERTIFICATE', { message: 'must be PEM certificate text' }).optional(),
  // Google Play real-time developer notifications reach POST /webhooks/walk/google-play (a Pub/Sub
  // push subscription with authentication) once all four are set: the app's package name, the push
  // subscription's OIDC audience and service account, and the service account (JSON key, with the
  // Play Console's "View financial data" permission) the Play Developer API is called as.
  WALK_PLAY_PACKAGE_NAME: z.string().regex(/^[A-Za-z][\w]*(\.[A-Za-z][\w]*)+$/, 'not an Android package name').optional(),
  WALK_PLAY_PUSH_AUDIENCE: z.string().trim().min(1).optional(),
  WALK_PLAY_PUSH_SERVICE_ACCOUNT: z.email().optional(),
  WALK_PLAY_SERVICE_ACCOUNT_JSON: jsonEnv(serviceAccountSchema).optional(),
  WALK_PLAY_API_BASE_URL: z.url().default('https://androidpublisher.googleapis.com'),
  WALK_PLAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(10_000),
});
export type WalkConfig = z.output<typeof walkConfigSchema>;

const PLAY_VARIABLES = ['WALK_PLAY_PACKAGE_NAME', 'WALK_PLAY_PUSH_AUDIENCE', 'WALK_PLAY_PUSH_SERVICE_ACCOUNT', 'WALK_PLAY_SERVICE_ACCOUNT_JSON'] as const;

// The store settings that are only wrong together, or only in production.
export function checkWalkConfig(env: WalkConfig, platform: { isProduction: boolean }): { incomplete: string[]; production: string[] } {
  const missing = PLAY_VARIABLES.filter((k) => env[k] === undefined);
  const incomplete = missing.length > 0 && missing.length < PLAY_VARIABLES.length
    ? [`${missing.join(', ')}: set them too (Google Play notifications need all of ${PLAY_VARIABLES.join(', ')})`]
    : [];
  const production = platform.isProduction && env.APPLE_ROOT_CA_PEM ? ['APPLE_ROOT_CA_PEM: unset it (only Apple Root CA - G3 is trusted in production)'] : [];
  return { incomplete, production };
}
