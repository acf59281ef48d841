// The AI coach (seeds 000, 001): streamed answers grounded in a knowledge base, plan quotas,
// RevenueCat subscriptions. Everything it brings to the platform is declared here.
import { coachEntities } from '../../entities/coach/index.ts';
import { coachMigrations } from '../../entities/migrations/coach/index.ts';
import { seedCoachPlans } from '../../entities/seeders/coach.ts';
import { createOfflineRevenueCatCheckout, createRevenueCatCheckout } from '../../integrations/payments/revenuecatCheckout.ts';
import { coachEvents } from '../../realtime/coach.ts';
import { coachRoutes } from '../../routes/coach/ask.ts';
import { billingRoutes } from '../../routes/coach/billing.ts';
import { coachKnowledgeRoutes } from '../../routes/coach/knowledge.ts';
import { coachSandboxRoutes } from '../../routes/coach/sandbox.ts';
import { coachStatsRoutes } from '../../routes/coach/stats.ts';
import { retryCoachCheckouts } from '../../cron/coach/retryCheckouts.ts';
import { defineModule, type ModulePlatform } from '../../server/module.ts';
import { createAnswerCache } from '../../services/coach/answerCache.ts';
import { createAskService } from '../../services/coach/ask.ts';
import { createHistoryService } from '../../services/coach/history.ts';
import { createKnowledgeService } from '../../services/coach/knowledge.ts';
import { seedShippedKnowledge } from '../../services/coach/knowledgeFiles.ts';
import { createPlanService } from '../../services/coach/plans.ts';
import { createPromptService } from '../../services/coach/prompts.ts';
import { createQuotaService } from '../../services/coach/quota.ts';
import { coachServerEvents } from '../../services/coach/schemas.ts';
import { createCoachStatsService } from '../../services/coach/stats.ts';
import { createCoachSubscriptionService } from '../../services/coach/subscriptions.ts';
import { createVectorIndex } from '../../services/coach/vectorIndex.ts';
import { createSeedRuns } from '../../services/seedRuns.ts';
import { checkCoachConfig, coachConfigSchema, coachSettings, type CoachConfig } from './config.ts';
import { ingestCommand } from './ingest.ts';

export const coachModule = defineModule({
  name: 'coach',
  summary: 'AI coach: streamed answers grounded in a knowledge base, plan quotas, RevenueCat subscriptions',
  config: coachConfigSchema,
  checkConfig: checkCoachConfig,
  entities: coachEntities,
  migrations: coachMigrations,
  seed: seedCoachPlans,
  // A streamed answer holds its slot for seconds while costing this node almost nothing; the coach
  // carries 200 concurrent streams per node (bench/coach.ts).
  llmBulkhead: { concurrency: 200, queue: 200 },
  notificationTypes: {
    'coach.checkout_ready': { category: 'payment', summary: 'A subscription checkout that could not be created at first is ready (data: checkoutId, checkoutUrl, tier)' },
    'coach.checkout_failed': { category: 'payment', summary: 'A subscription checkout could not be created after its retries (data: checkoutId, tier)' },
  },
  serverEvents: coachServerEvents,
  createServices: (platform, env) => createCoachServices(platform, coachSettings(env, platform.config)),
  routes: (api, coach) => {
    billingRoutes(api, { coachSubscriptions: coach.subscriptions });
    if (coach.subscriptions.offline) coachSandboxRoutes(api, { coachSubscriptions: coach.subscriptions });
    coachStatsRoutes(api, { coachStats: coach.stats });
    coachKnowledgeRoutes(api, { coachKnowledge: coach.knowledge });
    coachRoutes(api, { ask: coach.ask, history: coach.history });
  },
  clientEvents: (coach) => coachEvents({ ask: () => coach()?.ask }),
  cron: (coach) => [retryCoachCheckouts(coach.subscriptions)],
  subscriptions: { providers: ['revenuecat'], onChanged: (coach, tx, state) => coach.subscriptions.applyToPlan(tx, state) },
  commands: { ingest: ingestCommand },
  // A fresh installation answers from the shipped knowledge; stopping interrupts it and the next start resumes.
  onStarted: async (coach, { signal, logger }) => {
    if (!coach.settings.COACH_KB_SEED_ON_START) return;
    await seedShippedKnowledge(coach.knowledge, coach.settings.COACH_KB_SEED_DIR, logger, { seedRuns: createSeedRuns(coach.em), signal });
  },
});

function createCoachServices(platform: ModulePlatform<typeof coachServerEvents>, settings: CoachConfig) {
  const { em, logger, time, clock } = platform;
  const registry = platform.metrics.registry;
  const cache = createAnswerCache({
    threshold: settings.semanticThreshold,
    exactTtlSeconds: settings.COACH_EXACT_TTL_SECONDS,
    semanticTtlSeconds: settings.COACH_SEMANTIC_TTL_SECONDS,
    maxPerScope: settings.COACH_SEMANTIC_MAX_PER_SCOPE,
    embeddingModel: platform.llmGateway.offline ? 'offline' : platform.config.LLM_EMBEDDING_MODEL,
    redis: platform.redis?.client,
    keyPrefix: platform.redisKeyPrefix,
    logger,
  });
  const knowledge = createKnowledgeService({
    em,
    llm: platform.llm,
    index: createVectorIndex({ em, pool: platform.pool, logger, mode: settings.COACH_VECTOR_INDEX, efSearch: settings.COACH_PGVECTOR_EF_SEARCH }),
    logger,
    summarizeAboveTokens: settings.COACH_KB_SUMMARIZE_ABOVE_TOKENS,
    // Re-ingesting a game drops its cached answers (the cache key's kbVersion already keeps them from being served).
    onGameChanged: (game) => void cache.invalidateGame(game).catch((err) => logger.warn({ err, game }, 'coach cache not invalidated')),
  });
  const quota = createQuotaService({ em, registry, time, clock });
  const prompts = createPromptService({ dir: settings.COACH_TEMPLATES_DIR });
  const plans = createPlanService({ em, clock });
  const ask = createAskService({
    em,
    plans,
    knowledge,
    prompts,
    quota,
    cache,
    llm: platform.llm,
    streams: platform.streams,
    logTtlSeconds: settings.COACH_ANSWER_BUFFER_SECONDS,
    realtime: platform.realtime,
    bus: platform.bus,
    time,
    logger,
    maxAnswerSeconds: settings.COACH_MAX_ANSWER_SECONDS,
  });
  const subscriptions = createCoachSubscriptionService({
    em,
    checkout: createCheckout(platform, settings),
    notify: platform.notify,
    productTiers: settings.productTiers,
    entitlementTiers: settings.entitlementTiers,
    tierPackages: settings.tierPackages,
    retryHours: settings.COACH_CHECKOUT_RETRY_HOURS,
    maxRetries: settings.COACH_CHECKOUT_MAX_RETRIES,
    registry,
    time,
    clock,
    logger,
  });
  return {
    em,
    settings,
    offlineLlm: platform.llmGateway.offline,
    quota,
    cache,
    knowledge,
    prompts,
    plans,
    ask,
    history: createHistoryService({ em, time }),
    subscriptions,
    stats: createCoachStatsService({ em, timeZone: platform.config.TIME_ZONE }),
  };
}

export type CoachServices = ReturnType<typeof createCoachServices>;

// Checkouts on RevenueCat Web Billing, or the OFFLINE sandbox page without its credentials.
function createCheckout(platform: ModulePlatform<typeof coachServerEvents>, settings: CoachConfig) {
  const { config } = platform;
  if (!settings.checkoutOffline) {
    return createRevenueCatCheckout({
      apiKey: config.REVENUECAT_API_KEY!,
      baseUrl: config.REVENUECAT_BASE_URL,
      purchaseLinkUrl: settings.REVENUECAT_PURCHASE_LINK_URL!,
      timeoutMs: config.PAYMENTS_TIMEOUT_MS,
      v2: settings.REVENUECAT_PROJECT_ID && settings.REVENUECAT_V2_API_KEY ? { projectId: settings.REVENUECAT_PROJECT_ID, apiKey: settings.REVENUECAT_V2_API_KEY } : undefined,
    });
  }
  platform.logger.warn('coach checkouts run on the OFFLINE sandbox page (set REVENUECAT_API_KEY and REVENUECAT_PURCHASE_LINK_URL for RevenueCat Web Billing)');
  return createOfflineRevenueCatCheckout({
    checkoutPageUrl: (checkoutId) => `${platform.urls.public()}/sandbox/coach-checkout/${encodeURIComponent(checkoutId)}`,
    webhookUrl: platform.revenuecatSandbox.webhookUrl,
    webhookSecret: platform.revenuecatSandbox.hmacSecret!,
    webhookAuthorization: platform.revenuecatSandbox.authorization,
  });
}
