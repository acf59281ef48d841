// The coach's environment variables: they join the platform's in one validated configuration
// (server/config.ts) and in .env.example.
import { z } from 'zod';
import { booleanFlag, durationSeconds, jsonEnv } from '../../server/env.ts';
import type { Config } from '../../server/config.ts';
import { PAID_TIERS, type PaidTier } from '../../entities/coach/CoachPlan.ts';

export const coachConfigSchema = z.object({
  // --- answers (services/coach/ask.ts): how long a generation may run, and how long its
  // deltas stay buffered for clients that reconnect (after that, finished answers come from Postgres)
  COACH_MAX_ANSWER_SECONDS: z.coerce.number().int().min(5).max(600).default(120),
  COACH_ANSWER_BUFFER_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),

  // --- answer caches (services/coach/answerCache.ts), Redis when REDIS_URL is set
  // Cosine similarity for reusing an earlier answer in the same scope. Unset: 0.97 on the offline
  // n-gram embedder (lexical: one swapped word in a long question still scores ~0.96), 0.92 on OpenAI text-embedding-3-*.
  COACH_SEMANTIC_THRESHOLD: z.coerce.number().gt(0).max(1).optional(),
  COACH_EXACT_TTL_SECONDS: durationSeconds.default(300),
  COACH_SEMANTIC_TTL_SECONDS: durationSeconds.default(24 * 60 * 60),
  COACH_SEMANTIC_MAX_PER_SCOPE: z.coerce.number().int().min(1).max(10_000).default(100),

  // --- subscriptions (RevenueCat Web Billing)
  // The Web Purchase Link of the coach offering (https://pay.rev.cat/<token>); the App User ID is appended.
  // Without it (or without REVENUECAT_API_KEY) checkouts run on the OFFLINE sandbox page, refused in production.
  REVENUECAT_PURCHASE_LINK_URL: z.url().optional(),
  // RevenueCat API v2 (cancelling Web Billing subscriptions at period end): project id and a v2 secret key.
  REVENUECAT_PROJECT_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a RevenueCat project id').optional(),
  REVENUECAT_V2_API_KEY: z.string().min(1).optional(),
  // {"<store product id>": "basic" | "basic_special"} and {"<entitlement id>": tier}: what a purchase is worth.
  COACH_PRODUCT_TIERS_JSON: jsonEnv(z.record(z.string(), z.enum(PAID_TIERS))).optional(),
  COACH_ENTITLEMENT_TIERS_JSON: jsonEnv(z.record(z.string(), z.enum(PAID_TIERS))).optional(),
  // {"basic": "<package id>", …}: the package the purchase link pre-selects for a tier.
  COACH_TIER_PACKAGES_JSON: jsonEnv(z.record(z.enum(PAID_TIERS), z.string().min(1))).optional(),
  // A checkout that could not be created is retried this often, at most this many times.
  COACH_CHECKOUT_RETRY_HOURS: z.coerce.number().positive().max(168).default(6),
  COACH_CHECKOUT_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),

  // --- knowledge base and prompts (services/coach/knowledge.ts, vectorIndex.ts, prompts.ts)
  // auto: pgvector where `create extension vector` succeeds, else exact top-k over real[] in the worker pool.
  COACH_VECTOR_INDEX: z.enum(['auto', 'pgvector', 'exact']).default('auto'),
  // pgvector's hnsw.ef_search: candidates per query (higher: better recall, slower).
  COACH_PGVECTOR_EF_SEARCH: z.coerce.number().int().min(1).max(1000).default(100),
  // Chunks longer than this many tokens are summarised by the LLM before they are stored (seed 001).
  COACH_KB_SUMMARIZE_ABOVE_TOKENS: z.coerce.number().int().min(100).max(8000).default(1200),
  // The knowledge `npm start` ingests when the knowledge base is empty; false skips it.
  COACH_KB_SEED_DIR: z.string().default('data/knowledge'),
  COACH_KB_SEED_ON_START: booleanFlag.default(true),
  COACH_TEMPLATES_DIR: z.string().default('templates/coach'),
});

export type CoachConfig = ReturnType<typeof coachSettings>;

// What the variables mean once the platform's are known (the LLM driver picks the cache threshold).
export function coachSettings(env: z.output<typeof coachConfigSchema>, platform: Config) {
  return {
    ...env,
    // Cosine similarity for the semantic cache: the offline n-gram embedder is lexical, OpenAI's are not.
    semanticThreshold: env.COACH_SEMANTIC_THRESHOLD ?? (platform.llmOffline ? 0.97 : 0.92),
    checkoutOffline: !platform.REVENUECAT_API_KEY || !env.REVENUECAT_PURCHASE_LINK_URL,
    productTiers: env.COACH_PRODUCT_TIERS_JSON ?? { coach_basic_monthly: 'basic', coach_basic_special_monthly: 'basic_special' } as Record<string, PaidTier>,
    entitlementTiers: env.COACH_ENTITLEMENT_TIERS_JSON ?? { basic: 'basic', basic_special: 'basic_special' } as Record<string, PaidTier>,
    tierPackages: { basic: 'coach_basic_monthly', basic_special: 'coach_basic_special_monthly', ...env.COACH_TIER_PACKAGES_JSON } as Record<PaidTier, string>,
  };
}

export function checkCoachConfig(env: z.output<typeof coachConfigSchema>, platform: Config): { production: string[] } {
  const offline = !platform.REVENUECAT_API_KEY || !env.REVENUECAT_PURCHASE_LINK_URL;
  return { production: offline ? ['REVENUECAT_PURCHASE_LINK_URL: set it with REVENUECAT_API_KEY (the offline coach checkout sandbox is refused in production)'] : [] };
}
