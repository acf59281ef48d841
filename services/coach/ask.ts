// Asking the coach: plan and quota, the two caches, retrieval, the prompt, and a streamed answer
// that outlives the connection. The generation runs on the node that started it, detached from
// any socket, for at most maxAnswerSeconds; every delta is buffered with its offset before it is
// emitted, so a client that drops can resume on any node. The call is counted once (at the start,
// given back only if nothing was generated) and stored once, when it ends.
import type { Logger } from 'pino';
import { CoachAnswer, type AnswerSource } from '../../entities/coach/CoachAnswer.ts';
import { AppError, badRequest, notFound } from '../errors.ts';
import type { InvalidationBus } from '../invalidation.ts';
import type { LlmModule } from '../llm/gateway.ts';
import { LlmError } from '../llm/errors.ts';
import { countTextTokens } from '../llm/tokens.ts';
import type { NamespacePort } from '../realtime.ts';
import type { TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import type { AnswerBuffer, BufferedAnswer } from './answerBuffer.ts';
import type { AnswerCache, CacheScope, CachedAnswer } from './answerCache.ts';
import type { KnowledgeService, Passage } from './knowledge.ts';
import type { Plan, PlanService } from './plans.ts';
import type { PromptService } from './prompts.ts';
import type { QuotaGrant, QuotaService } from './quota.ts';
import type { AnswerDone, AnswerFailure, AskInput, AskResult, coachServerEvents } from './schemas.ts';

export type AskDeps = {
  em: Em;
  plans: PlanService;
  knowledge: KnowledgeService;
  prompts: PromptService;
  quota: QuotaService;
  cache: AnswerCache;
  llm: LlmModule;
  buffer: AnswerBuffer;
  realtime: NamespacePort<typeof coachServerEvents>;
  bus: InvalidationBus;
  time: TimeFormatter;
  logger: Logger;
  maxAnswerSeconds: number;
};

export type StartedAnswer = {
  answerId: string;
  // Settles when the answer is complete (or failed); the socket path does not wait for it.
  result: Promise<AskResult>;
};

const CANCEL_TOPIC = 'coach.cancel';

// An ask as it is scoped and stored: no category is null, tags are a sorted, lower-cased set.
type NormalisedAsk = { question: string; game: string; category: string | null; tags: string[] };

const normaliseTags = (tags: string[] | undefined) => [...new Set((tags ?? []).map((t) => t.trim().toLowerCase()))].sort();

export function createAskService(deps: AskDeps) {
  const { em } = deps;
  const { llm } = deps;
  // Generations running on this node, so a cancel arriving through the bus (from any node) finds them.
  const running = new Map<string, { userId: string; abort: AbortController }>();
  deps.bus.subscribe(CANCEL_TOPIC, (answerId) => running.get(answerId)?.abort.abort());

  // Starts an answer: every refusal (validation, plan limits, quota) is thrown from here, before an
  // answerId exists; after it, outcomes arrive as events (and through `result`).
  async function start(userId: string, raw: AskInput): Promise<StartedAnswer> {
    const input: NormalisedAsk = { question: raw.question, game: raw.game, category: raw.category ?? null, tags: normaliseTags(raw.tags) };
    const plan = await deps.plans.planFor(userId);
    const questionTokens = countTextTokens(input.question);
    if (questionTokens > plan.maxPromptTokens) {
      throw new AppError(400, 'question_too_long', `The question is ${questionTokens} tokens; the ${plan.name} plan allows ${plan.maxPromptTokens}`, {
        issues: [{ field: 'question', message: `at most ${plan.maxPromptTokens} tokens on the ${plan.tier} plan` }],
        extra: { tokens: questionTokens, limit: plan.maxPromptTokens },
      });
    }
    const status = await deps.quota.status(userId, plan);
    if (status.remaining <= 0) await deps.quota.consume(userId, plan); // throws quota_exceeded with the reset time
    const kbVersion = await deps.knowledge.version(input.game);
    if (kbVersion === 0) throw badRequest('unknown_game', `There is no knowledge for "${input.game}"; see GET /api/coach/games`, 'game');
    const startedAt = Date.now();
    const templateVersion = deps.prompts.templateVersion(input.game);
    const scope: CacheScope = { game: input.game, category: input.category, tags: input.tags, model: plan.model, templateVersion, kbVersion };

    const exact = await deps.cache.getExact(userId, input.question, scope);
    if (exact) return serveCached(userId, input, plan, exact, 'exact', status.remaining, startedAt);

    const retrieval = await deps.knowledge.retrieve({ game: input.game, category: input.category ?? undefined, tags: input.tags, query: input.question, topK: 5 });
    const semantic = await deps.cache.getSemantic(retrieval.queryEmbedding, scope);
    if (semantic) return serveCached(userId, input, plan, semantic, 'semantic', status.remaining, startedAt);

    // From here the call is counted; an answer that produces nothing gives it back.
    const counted = await deps.quota.consume(userId, plan);
    const answer = await createAnswerRow(userId, input, plan, { status: 'streaming' });
    const result = generate(userId, answer.id, input, plan, scope, retrieval.passages, retrieval.queryEmbedding, counted, startedAt);
    result.catch(() => undefined); // observed through events; REST callers await it
    return { answerId: answer.id, result };
  }

  async function createAnswerRow(userId: string, input: NormalisedAsk, plan: Plan, extra: Partial<CoachAnswer>) {
    const fork = em.fork();
    const row = fork.create(CoachAnswer, {
      userId, game: input.game, category: input.category, tags: input.tags, question: input.question, planTier: plan.tier, status: 'streaming', model: plan.model, ...extra,
    } as CoachAnswer);
    await fork.flush();
    return row;
  }

  // A cached answer costs nothing and is not counted against the plan; it still arrives as a
  // stream (one delta) so clients handle both paths the same way.
  // `remaining` is the status read at the start of this ask: a cached answer does not change it.
  async function serveCached(userId: string, input: NormalisedAsk, plan: Plan, cached: CachedAnswer, kind: 'exact' | 'semantic', remaining: number, startedAt: number): Promise<StartedAnswer> {
    const row = await createAnswerRow(userId, input, plan, {
      status: 'done', answer: cached.text, sources: cached.sources, model: cached.model, isCached: true, cacheKind: kind, costUsd: 0, latencyMs: Date.now() - startedAt, finishedAt: new Date(),
    });
    const done: AnswerDone = { answerId: row.id, sources: cached.sources, usage: { promptTokens: 0, completionTokens: 0 }, costUsd: 0, cached: true, cacheKind: kind, planRemaining: remaining, length: cached.text.length };
    deps.buffer.append(row.id, cached.text);
    await deps.buffer.finish(row.id, done);
    const result = Promise.resolve(toResult(cached.text, done, cached.model, 'cache'));
    // Emitted after the caller has the answerId (the socket ack goes first).
    setImmediate(() => {
      emit(userId, 'answer.delta', { answerId: row.id, offset: 0, text: cached.text });
      emit(userId, 'answer.done', done);
    });
    return { answerId: row.id, result };
  }

  async function generate(userId: string, answerId: string, input: NormalisedAsk, plan: Plan, scope: CacheScope, passages: Passage[], embedding: number[], counted: QuotaGrant, startedAt: number): Promise<AskResult> {
    const remaining = counted.remaining;
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(new Error('answer took too long')), deps.maxAnswerSeconds * 1000);
    running.set(answerId, { userId, abort });
    const sources: AnswerSource[] = passages.map((p) => ({ chunkId: p.chunkId, documentId: p.documentId, title: p.title, score: p.score, url: p.url }));
    let offset = 0;
    try {
      // Let the ack with the answerId leave before the first delta.
      await new Promise((r) => setImmediate(r));
      const { messages } = deps.prompts.render({ game: input.game, passages, plan, question: input.question, category: input.category ?? undefined, tags: input.tags });
      const call = llm.streamChat({ messages, model: plan.model, maxTokens: plan.maxAnswerTokens, signal: abort.signal });
      for await (const text of call.stream) {
        deps.buffer.append(answerId, text);
        emit(userId, 'answer.delta', { answerId, offset, text });
        offset += text.length;
      }
      const outcome = await call.result;
      const done: AnswerDone = { answerId, sources, usage: outcome.usage, costUsd: outcome.costUsd, cached: false, cacheKind: null, planRemaining: remaining, length: outcome.text.length };
      await finishRow(answerId, { status: 'done', answer: outcome.text, model: outcome.model, provider: outcome.provider, promptTokens: outcome.usage.promptTokens, completionTokens: outcome.usage.completionTokens, costUsd: outcome.costUsd, sources, latencyMs: Date.now() - startedAt });
      await deps.buffer.finish(answerId, done);
      emit(userId, 'answer.done', done);
      await deps.cache.put(userId, input.question, embedding, scope, { answerId, text: outcome.text, sources, model: outcome.model }).catch((err) => deps.logger.warn({ err }, 'coach answer not cached'));
      return toResult(outcome.text, done, outcome.model, outcome.provider);
    } catch (err) {
      const partial = err instanceof LlmError ? err.partial : undefined;
      const cancelled = abort.signal.aborted;
      const code = cancelled ? (abort.signal.reason instanceof Error && abort.signal.reason.message === 'answer took too long' ? 'answer_timeout' : 'cancelled') : err instanceof AppError ? err.code : 'internal_error';
      // Nothing generated: the call is given back. Anything generated was paid for and stays counted.
      if (offset === 0 && !partial?.text) await deps.quota.release(userId, plan, counted).catch(() => undefined);
      await finishRow(answerId, {
        status: cancelled ? 'cancelled' : 'failed', answer: partial?.text ?? '', errorCode: code,
        promptTokens: partial?.usage.promptTokens ?? 0, completionTokens: partial?.usage.completionTokens ?? 0, costUsd: partial?.costUsd ?? 0, latencyMs: Date.now() - startedAt,
      });
      const failure: AnswerFailure = { answerId, code, message: err instanceof AppError ? err.message : 'The answer could not be completed', offset };
      await deps.buffer.fail(answerId, failure).catch(() => undefined);
      emit(userId, 'answer.error', failure);
      if (!(err instanceof AppError)) deps.logger.error({ err, answerId }, 'coach answer failed');
      throw err instanceof AppError ? err : new AppError(500, 'internal_error', 'The answer could not be completed');
    } finally {
      clearTimeout(deadline);
      running.delete(answerId);
    }
  }

  async function finishRow(answerId: string, set: Partial<CoachAnswer>): Promise<void> {
    await em.fork().nativeUpdate(CoachAnswer, { id: answerId }, { ...set, finishedAt: new Date() });
  }

  // To the user's room: every socket of theirs, on every node, including one that reconnected elsewhere.
  const emit = deps.realtime.emitToUser;

  function toResult(text: string, done: AnswerDone, model: string | null, provider: string | null): AskResult {
    return { answerId: done.answerId, answer: text, sources: done.sources as AskResult['sources'], usage: done.usage, costUsd: done.costUsd, cached: done.cached, cacheKind: done.cacheKind, planRemaining: done.planRemaining, model, provider };
  }

  // What a reconnecting client missed: the text from its offset, and the outcome if there is one.
  // The buffer answers while the answer is young; after it expires, the stored answer does.
  async function resume(userId: string, answerId: string, offset: number): Promise<BufferedAnswer & { status: string }> {
    const row = await em.findOne(CoachAnswer, { id: answerId });
    if (!row || row.userId !== userId) throw notFound('Answer');
    const buffered = await deps.buffer.read(answerId, offset);
    if (buffered) return { ...buffered, status: buffered.done ? 'done' : buffered.failure ? 'failed' : 'streaming' };
    if (row.status === 'streaming') {
      // The generating node stopped without finishing (it crashed); the answer will not complete.
      return { text: '', nextOffset: offset, done: null, failure: { answerId, code: 'answer_lost', message: 'The answer was interrupted; ask again', offset }, status: 'failed' };
    }
    const remaining = (await deps.quota.status(userId, await deps.plans.plan(row.planTier as Plan['tier']))).remaining;
    const done: AnswerDone | null = row.status === 'done'
      ? { answerId, sources: row.sources, usage: { promptTokens: row.promptTokens, completionTokens: row.completionTokens }, costUsd: Number(row.costUsd), cached: row.isCached, cacheKind: row.cacheKind ?? null, planRemaining: remaining, length: row.answer.length }
      : null;
    const failure: AnswerFailure | null = done ? null : { answerId, code: row.errorCode ?? 'failed', message: 'The answer did not complete', offset: row.answer.length };
    return { text: row.answer.slice(offset), nextOffset: row.answer.length, done, failure, status: row.status };
  }

  // Cancels an answer of this user wherever it is being generated.
  async function cancel(userId: string, answerId: string): Promise<void> {
    const row = await em.findOne(CoachAnswer, { id: answerId });
    if (!row || row.userId !== userId) throw notFound('Answer');
    if (row.status === 'streaming') deps.bus.publish(CANCEL_TOPIC, answerId);
  }

  return { start, resume, cancel, runningCount: () => running.size };
}

export type AskService = ReturnType<typeof createAskService>;

export type { CacheScope, CachedAnswer };
