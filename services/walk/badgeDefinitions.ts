// The walk app's 47 badges (seed 003: 6 categories) and the rule language they are written in.
// Rules are data: a metric over the walker's trusted walks and a target. The module's seed writes
// this list to walk_badge_definitions at every migration; changing a rule here changes its
// ruleVersion, and the walk-badges-reevaluate cron job then takes every walker through it.
import crypto from 'node:crypto';
import { z } from 'zod';

export const BADGE_CATEGORIES = ['distance', 'count', 'streak', 'time', 'places', 'social'] as const;
export type BadgeCategory = (typeof BADGE_CATEGORIES)[number];

// Bounded so that a rule can never ask for more than an int column or a count can hold.
const target = z.number().int().min(1).max(1_000_000_000);
const intSet = (min: number, max: number) => z.array(z.number().int().min(min).max(max)).min(1).max(max - min + 1)
  .refine((xs) => new Set(xs).size === xs.length, 'must not repeat a value');

// What a rule may count. Every metric is over the walker's trusted walks (walks.trusted), except the
// streak (walk_profiles, which counts trusted walks only) and together_walks (walk-together sessions).
export const PLAIN_METRICS = [
  'total_distance_m', // metres walked, all walks together
  'single_walk_distance_m', // the longest single walk, in metres
  'walk_count', // walks
  'walk_days', // distinct KST days with a walk
  'longest_streak', // the longest run of consecutive KST days with a walk
  'distinct_places', // distinct ~1 km grid cells the walks started in
  'distinct_regions', // distinct regions (walks.region) walked in
  'walks_with_pets', // walks with at least one pet along
  'distinct_pets', // different pets walked
  'multi_pet_walks', // walks with two pets or more
  'walks_with_photos', // walks with a photo
  'together_walks', // walk-together sessions joined (0 until that table exists)
] as const;
export type PlainMetric = (typeof PLAIN_METRICS)[number];

export const badgeRule = z.discriminatedUnion('metric', [
  z.object({ metric: z.enum(PLAIN_METRICS), target }).strict(),
  // Walks that started in one of these KST hours (walks.local_hour, 0-23).
  z.object({ metric: z.literal('walks_in_hours'), hours: intSet(0, 23), target }).strict(),
  // Walks on a KST date in one of these months (1-12): seasons.
  z.object({ metric: z.literal('walks_in_months'), months: intSet(1, 12), target }).strict(),
  // Walks on one of these ISO weekdays (1 Monday - 7 Sunday) of the KST date.
  z.object({ metric: z.literal('walks_on_weekdays'), days: intSet(1, 7), target }).strict(),
]);
export type BadgeRule = z.infer<typeof badgeRule>;

export const badgeDefinition = z.object({
  code: z.string().regex(/^[A-Z]{3,5}_\d{3}$/),
  category: z.enum(BADGE_CATEGORIES),
  name: z.string().min(1).max(40),
  description: z.string().min(1).max(200),
  // 1 (the first step) to 5 (the hardest) within its category, for the client's badge frame.
  tier: z.number().int().min(1).max(5),
  rule: badgeRule,
});
export type BadgeDefinitionInput = z.infer<typeof badgeDefinition>;
export type BadgeDefinition = BadgeDefinitionInput & { sortOrder: number; ruleVersion: string };

// A rule's version is the hash of its canonical JSON: any change to what it measures or asks for
// is a new version, and renaming or rewording a badge is not (nobody needs re-evaluating for that).
export function ruleVersion(rule: BadgeRule): string {
  return crypto.createHash('sha256').update(canonicalJson(rule)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

// Codes step by 10 within a category so that a badge can later slot in between two others.
// Codes are forever (users' rows point at them): retire a badge by removing it (it is deactivated),
// never by giving its code to another.
const BADGES: BadgeDefinitionInput[] = [
  // ---- distance (10): all walks together, then one walk ----
  { code: 'DIST_010', category: 'distance', tier: 1, name: '동네 한 바퀴', description: '누적 10km를 걸었어요', rule: { metric: 'total_distance_m', target: 10_000 } },
  { code: 'DIST_020', category: 'distance', tier: 2, name: '멍멍 마라토너', description: '누적 42.195km, 마라톤 한 번만큼 걸었어요', rule: { metric: 'total_distance_m', target: 42_195 } },
  { code: 'DIST_030', category: 'distance', tier: 2, name: '백 킬로 산책러', description: '누적 100km를 걸었어요', rule: { metric: 'total_distance_m', target: 100_000 } },
  { code: 'DIST_040', category: 'distance', tier: 3, name: '부산까지 걸었개', description: '누적 325km, 서울에서 부산까지만큼 걸었어요', rule: { metric: 'total_distance_m', target: 325_000 } },
  { code: 'DIST_050', category: 'distance', tier: 3, name: '오백 킬로 발바닥', description: '누적 500km를 걸었어요', rule: { metric: 'total_distance_m', target: 500_000 } },
  { code: 'DIST_060', category: 'distance', tier: 4, name: '국토 종주', description: '누적 1,000km를 걸었어요', rule: { metric: 'total_distance_m', target: 1_000_000 } },
  { code: 'DIST_070', category: 'distance', tier: 5, name: '지구 10분의 1', description: '누적 4,008km, 지구 둘레의 10분의 1을 걸었어요', rule: { metric: 'total_distance_m', target: 4_008_000 } },
  { code: 'DIST_080', category: 'distance', tier: 1, name: '오늘은 길게', description: '한 번에 3km 이상 걸었어요', rule: { metric: 'single_walk_distance_m', target: 3_000 } },
  { code: 'DIST_090', category: 'distance', tier: 2, name: '먼 산책', description: '한 번에 5km 이상 걸었어요', rule: { metric: 'single_walk_distance_m', target: 5_000 } },
  { code: 'DIST_100', category: 'distance', tier: 4, name: '원정 산책대', description: '한 번에 10km 이상 걸었어요', rule: { metric: 'single_walk_distance_m', target: 10_000 } },

  // ---- count (8): walks, then days walked ----
  { code: 'CNT_010', category: 'count', tier: 1, name: '첫 산책', description: '첫 산책을 기록했어요', rule: { metric: 'walk_count', target: 1 } },
  { code: 'CNT_020', category: 'count', tier: 1, name: '산책 습관', description: '산책 10번을 기록했어요', rule: { metric: 'walk_count', target: 10 } },
  { code: 'CNT_030', category: 'count', tier: 2, name: '산책 단골', description: '산책 30번을 기록했어요', rule: { metric: 'walk_count', target: 30 } },
  { code: 'CNT_040', category: 'count', tier: 2, name: '오십 번의 외출', description: '산책 50번을 기록했어요', rule: { metric: 'walk_count', target: 50 } },
  { code: 'CNT_050', category: 'count', tier: 3, name: '백 번의 산책', description: '산책 100번을 기록했어요', rule: { metric: 'walk_count', target: 100 } },
  { code: 'CNT_060', category: 'count', tier: 4, name: '일 년 치 산책', description: '산책 365번을 기록했어요', rule: { metric: 'walk_count', target: 365 } },
  { code: 'CNT_070', category: 'count', tier: 5, name: '천 번의 발자국', description: '산책 1,000번을 기록했어요', rule: { metric: 'walk_count', target: 1_000 } },
  { code: 'CNT_080', category: 'count', tier: 3, name: '백 일의 산책', description: '서로 다른 100일에 산책했어요', rule: { metric: 'walk_days', target: 100 } },

  // ---- streak (7): consecutive KST days ----
  { code: 'STRK_010', category: 'streak', tier: 1, name: '사흘 연속', description: '3일 연속으로 산책했어요', rule: { metric: 'longest_streak', target: 3 } },
  { code: 'STRK_020', category: 'streak', tier: 1, name: '일주일 개근', description: '7일 연속으로 산책했어요', rule: { metric: 'longest_streak', target: 7 } },
  { code: 'STRK_030', category: 'streak', tier: 2, name: '2주 연속', description: '14일 연속으로 산책했어요', rule: { metric: 'longest_streak', target: 14 } },
  { code: 'STRK_040', category: 'streak', tier: 3, name: '한 달 개근', description: '30일 연속으로 산책했어요', rule: { metric: 'longest_streak', target: 30 } },
  { code: 'STRK_050', category: 'streak', tier: 3, name: '오십 일 연속', description: '50일 연속으로 산책했어요', rule: { metric: 'longest_streak', target: 50 } },
  { code: 'STRK_060', category: 'streak', tier: 4, name: '백 일 연속', description: '100일 연속으로 산책했어요', rule: { metric: 'longest_streak', target: 100 } },
  { code: 'STRK_070', category: 'streak', tier: 5, name: '365일 산책러', description: '1년 동안 하루도 빠짐없이 산책했어요', rule: { metric: 'longest_streak', target: 365 } },

  // ---- time (9): time of day (KST hour the walk started), weekends, seasons ----
  { code: 'TIME_010', category: 'time', tier: 2, name: '새벽 산책러', description: '새벽 5~7시에 10번 산책했어요', rule: { metric: 'walks_in_hours', hours: [5, 6], target: 10 } },
  { code: 'TIME_020', category: 'time', tier: 2, name: '아침형 댕댕이', description: '아침 7~10시에 30번 산책했어요', rule: { metric: 'walks_in_hours', hours: [7, 8, 9], target: 30 } },
  { code: 'TIME_030', category: 'time', tier: 2, name: '노을 산책', description: '저녁 5~8시에 30번 산책했어요', rule: { metric: 'walks_in_hours', hours: [17, 18, 19], target: 30 } },
  { code: 'TIME_040', category: 'time', tier: 2, name: '밤 산책 올빼미', description: '밤 9시~자정에 10번 산책했어요', rule: { metric: 'walks_in_hours', hours: [21, 22, 23], target: 10 } },
  { code: 'TIME_050', category: 'time', tier: 2, name: '주말 나들이', description: '주말에 30번 산책했어요', rule: { metric: 'walks_on_weekdays', days: [6, 7], target: 30 } },
  { code: 'TIME_060', category: 'time', tier: 3, name: '봄꽃 산책', description: '봄(3~5월)에 20번 산책했어요', rule: { metric: 'walks_in_months', months: [3, 4, 5], target: 20 } },
  { code: 'TIME_070', category: 'time', tier: 3, name: '여름 더위 이기기', description: '여름(6~8월)에 20번 산책했어요', rule: { metric: 'walks_in_months', months: [6, 7, 8], target: 20 } },
  { code: 'TIME_080', category: 'time', tier: 3, name: '낙엽 밟기', description: '가을(9~11월)에 20번 산책했어요', rule: { metric: 'walks_in_months', months: [9, 10, 11], target: 20 } },
  { code: 'TIME_090', category: 'time', tier: 3, name: '겨울 눈밭 산책', description: '겨울(12~2월)에 20번 산책했어요', rule: { metric: 'walks_in_months', months: [12, 1, 2], target: 20 } },

  // ---- places (6): where walks started (≈1 km cells), regions ----
  { code: 'PLACE_010', category: 'places', tier: 1, name: '새로운 골목', description: '서로 다른 5곳(약 1km 구역)에서 산책했어요', rule: { metric: 'distinct_places', target: 5 } },
  { code: 'PLACE_020', category: 'places', tier: 2, name: '동네 탐험가', description: '서로 다른 20곳에서 산책했어요', rule: { metric: 'distinct_places', target: 20 } },
  { code: 'PLACE_030', category: 'places', tier: 3, name: '지도 채우기', description: '서로 다른 50곳에서 산책했어요', rule: { metric: 'distinct_places', target: 50 } },
  { code: 'PLACE_040', category: 'places', tier: 4, name: '산책 지도 제작자', description: '서로 다른 100곳에서 산책했어요', rule: { metric: 'distinct_places', target: 100 } },
  { code: 'PLACE_050', category: 'places', tier: 2, name: '이웃 동네 나들이', description: '서로 다른 3개 지역에서 산책했어요', rule: { metric: 'distinct_regions', target: 3 } },
  { code: 'PLACE_060', category: 'places', tier: 4, name: '전국 산책 여행', description: '서로 다른 10개 지역에서 산책했어요', rule: { metric: 'distinct_regions', target: 10 } },

  // ---- social (7): pets along, photos, walking together ----
  { code: 'SOCL_010', category: 'social', tier: 2, name: '단짝 산책', description: '반려견과 함께 50번 산책했어요', rule: { metric: 'walks_with_pets', target: 50 } },
  { code: 'SOCL_020', category: 'social', tier: 1, name: '다둥이 보호자', description: '서로 다른 반려견 2마리와 산책했어요', rule: { metric: 'distinct_pets', target: 2 } },
  { code: 'SOCL_030', category: 'social', tier: 2, name: '우리 집 총출동', description: '두 마리 이상과 함께 10번 산책했어요', rule: { metric: 'multi_pet_walks', target: 10 } },
  { code: 'SOCL_040', category: 'social', tier: 1, name: '찰칵, 첫 사진', description: '산책 중 사진을 처음 남겼어요', rule: { metric: 'walks_with_photos', target: 1 } },
  { code: 'SOCL_050', category: 'social', tier: 3, name: '산책 사진가', description: '30번의 산책에서 사진을 남겼어요', rule: { metric: 'walks_with_photos', target: 30 } },
  { code: 'SOCL_060', category: 'social', tier: 1, name: '함께 걸어요', description: '처음으로 친구와 함께 산책했어요', rule: { metric: 'together_walks', target: 1 } },
  { code: 'SOCL_070', category: 'social', tier: 3, name: '산책 메이트', description: '친구와 함께 10번 산책했어요', rule: { metric: 'together_walks', target: 10 } },
];

// Parsed at load: a malformed badge stops the process at start-up, not at someone's walk.
export const BADGE_DEFINITIONS: readonly BadgeDefinition[] = BADGES.map((b, i) => {
  const parsed = badgeDefinition.parse(b);
  return { ...parsed, sortOrder: (BADGE_CATEGORIES.indexOf(parsed.category) + 1) * 100 + i, ruleVersion: ruleVersion(parsed.rule) };
});
