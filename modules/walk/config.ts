// The walk module's environment variables (sign-in, storage, notifications are the platform's).
// They join the platform's in one validated configuration.
import { z } from 'zod';

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
});
export type WalkConfig = z.output<typeof walkConfigSchema>;
