// Asking the coach: plan and quota, the two caches, retrieval, the prompt, and a streamed answer
// that outlives the connection. The answer is one of the platform's resumable streams
// (services/streams): generated on the node that started it, detached from any socket, for at most
// maxAnswerSeconds, logged with its offsets so a client that drops resumes on any node, and closed
// once even if that node dies. The call is counted at the start and given back when the server is
// at fault (the answer failed inside it, was interrupted by a shutdown, or was lost with its node)
// or when nothing was generated; an answer the user cancelled after it began stays counted.
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
import type { AnswerCache, CacheScope, CachedAnswer } from './answerCache.ts';
import type { KnowledgeService, Passage } from './knowledge.ts';
import type { Plan, PlanService } from './plans.ts';
import type { PromptService } from './prompts.ts';
import type { QuotaGrant, QuotaService } from './quota.ts';
import type { ModuleStreams, RunningStream } from '../streams/resumableStreams.ts';
import type { AnswerDone, AnswerFailure, AskInput, AskResult, coachServerEvents } from './schemas.ts';

export type AskDeps = {
  em: Em;
  plans: PlanService;
  knowledge: KnowledgeService;
  prompts: PromptService;
  quota: QuotaService;
  cache: AnswerCache;
  llm: LlmModule;
  streams: ModuleStreams;
  // How long an answer stays resumable from the stream log (then from its row).
  logTtlSeconds: number;
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

// Answers a dead node left streaming are swept once they are this old (younger ones may still be
// taking their lease).
const SWEEP_AFTER_SECONDS = 20;

export type ResumedAnswer = { text: string; nextOffset: number; done: AnswerDone | null; failure: AnswerFailure | null; status: string };

// An ask as it is scoped and stored: no category is null, tags are a sorted, lower-cased set.
type NormalisedAsk = { question: string; game: string; category: string | null; tags: string[] };

const normaliseTags = (tags: string[] | undefined) => [...new Set((tags ?? []).map((t) => t.trim().toLowerCase()))].sort();

export function createAskService(deps: AskDeps) {
  const { em } = deps;
  const { llm } = deps;
  // To the user's room: every socket of theirs, on every node, including one that reconnected elsewhere.
  const emit = deps.realtime.emitToUser;

  const answers = deps.streams.define<AnswerDone, AnswerFailure>({
    name: 'answer',
    logTtlSeconds: deps.logTtlSeconds,
    emit: (userId, event) => {
      if (event.type === 'delta') emit(userId, 'answer.delta', { answerId: event.id, offset: event.offset, text: event.text });
      else if (event.type === 'done') emit(userId, 'answer.done', event.payload);
      else emit(userId, 'answer.error', event.payload);
    },
    // The platform ends a stream only when the server is at fault, so the call is always given back.
    failure: (answerId, f) => ({ answerId, code: f.code, message: f.message, offset: f.offset, quotaReturned: true }),
    onLost: (answerId, lost) => closeLost(answerId, lost.text),
    candidates: async () => {
      const rows = await em.fork().execute<{ id: string; user_id: string; answer: string }[]>(
        `select id, user_id, answer from coach_answers where status = 'streaming' and created_at < now() - make_interval(secs => ?) order by created_at limit 100`,
        [SWEEP_AFTER_SECONDS],
      );
      return rows.map((r) => ({ id: r.id, userId: r.user_id, text: r.answer }));
    },
  });

  // An answer whose node died: closed (keeping what was generated) and its call given back, once.
  async function closeLost(answerId: string, text: string): Promise<boolean> {
    const [row] = await em.fork().execute<{ user_id: string; plan_tier: Plan['tier']; created_at: Date }[]>(
      `update coach_answers set status = 'failed', error_code = 'answer_lost', answer = ?, quota_returned = true, finished_at = now()
        where id = ? and status = 'streaming' returning user_id, plan_tier, created_at`,
      [text, answerId],
    );
    if (!row) return false;
    await deps.quota.release(row.user_id, await deps.plans.plan(row.plan_tier), { chargedAt: new Date(row.created_at) });
    return true;
  }

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
    answers.assertAccepting();
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
    const done: AnswerDone = {
      answerId: row.id, sources: cached.sources, usage: { promptTokens: 0, completionTokens: 0 }, costUsd: 0, cached: true, cacheKind: kind, planRemaining: remaining,
      model: cached.model, provider: 'cache', length: cached.text.length,
    };
    await answers.complete(row.id, userId, cached.text, done);
    return { answerId: row.id, result: Promise.resolve(toResult(cached.text, done)) };
  }

  function generate(userId: string, answerId: string, input: NormalisedAsk, plan: Plan, scope: CacheScope, passages: Passage[], embedding: number[], counted: QuotaGrant, startedAt: number): Promise<AskResult> {
    return answers.run(answerId, { userId, maxSeconds: deps.maxAnswerSeconds }, (stream) => streamAnswer(stream, userId, input, plan, scope, passages, embedding, counted, startedAt));
  }

  async function streamAnswer(stream: RunningStream<AnswerDone, AnswerFailure>, userId: string, input: NormalisedAsk, plan: Plan, scope: CacheScope, passages: Passage[], embedding: number[], counted: QuotaGrant, startedAt: number): Promise<AskResult> {
    const answerId = stream.id;
    const sources: AnswerSource[] = passages.map((p) => ({ chunkId: p.chunkId, documentId: p.documentId, title: p.title, score: p.score, url: p.url }));
    try {
      // Let the ack with the answerId leave before the first delta.
      await new Promise((r) => setImmediate(r));
      const { messages } = deps.prompts.render({ game: input.game, passages, plan, question: input.question, category: input.category ?? undefined, tags: input.tags });
      const call = llm.streamChat({ messages, model: plan.model, maxTokens: plan.maxAnswerTokens, signal: stream.signal });
      for await (const text of call.stream) stream.append(text);
      const outcome = await call.result;
      const done: AnswerDone = {
        answerId, sources, usage: outcome.usage, costUsd: outcome.costUsd, cached: false, cacheKind: null, planRemaining: counted.remaining,
        model: outcome.model, provider: outcome.provider, length: outcome.text.length,
      };
      const closed = await stream.finish(done, () => finishRow(answerId, {
        status: 'done', answer: outcome.text, model: outcome.model, provider: outcome.provider, promptTokens: outcome.usage.promptTokens, completionTokens: outcome.usage.completionTokens,
        costUsd: outcome.costUsd, sources, latencyMs: Date.now() - startedAt,
      }));
      if (closed) await deps.cache.put(userId, input.question, embedding, scope, { answerId, text: outcome.text, sources, model: outcome.model }).catch((err) => deps.logger.warn({ err }, 'coach answer not cached'));
      return toResult(outcome.text, done);
    } catch (err) {
      const partial = err instanceof LlmError ? err.partial : undefined;
      const generated = partial?.text ?? '';
      const aborted = stream.abortCode();
      const code = aborted === 'cancelled' ? 'cancelled' : aborted === 'timeout' ? 'answer_timeout' : aborted === 'interrupted' ? 'answer_interrupted' : err instanceof AppError ? err.code : 'internal_error';
      // The user's own cancel after text arrived is the one failure that keeps the call counted.
      const quotaReturned = !(aborted === 'cancelled' && (stream.offset() > 0 || generated.length > 0));
      const message = aborted === 'interrupted' ? 'The server shut down before the answer was complete; ask again (the call was not counted)'
        : err instanceof AppError && !aborted ? err.message : aborted === 'cancelled' ? 'The answer was cancelled' : aborted === 'timeout' ? 'The answer took too long' : 'The answer could not be completed';
      const failure: AnswerFailure = { answerId, code, message, offset: stream.offset(), quotaReturned };
      await stream.fail(failure, async () => {
        if (quotaReturned) await deps.quota.release(userId, plan, counted);
        await finishRow(answerId, {
          status: aborted === 'cancelled' ? 'cancelled' : 'failed', answer: generated, errorCode: code, quotaReturned,
          promptTokens: partial?.usage.promptTokens ?? 0, completionTokens: partial?.usage.completionTokens ?? 0, costUsd: partial?.costUsd ?? 0, latencyMs: Date.now() - startedAt,
        });
      });
      if (!(err instanceof AppError) && !aborted) deps.logger.error({ err, answerId }, 'coach answer failed');
      if (aborted === 'interrupted') throw new AppError(503, 'answer_interrupted', message, { extra: { answerId, retryAfter: 1 } });
      throw err instanceof AppError ? err : new AppError(500, 'internal_error', 'The answer could not be completed');
    }
  }

  // Only an answer still streaming: one the sweep closed as lost stays as it closed it.
  async function finishRow(answerId: string, set: Partial<CoachAnswer>): Promise<void> {
    await em.fork().nativeUpdate(CoachAnswer, { id: answerId, status: 'streaming' }, { ...set, finishedAt: new Date() });
  }

  function toResult(text: string, done: AnswerDone): AskResult {
    const { length: _length, ...outcome } = done;
    return { ...outcome, answer: text, sources: done.sources as AskResult['sources'] };
  }

  // What a reconnecting client missed: the text from its offset, and the outcome if there is one.
  // The stream's log answers while the answer is young (and watches it if it is still going); after
  // the log expires, the stored answer does.
  async function resume(userId: string, answerId: string, offset: number): Promise<ResumedAnswer> {
    const row = await em.findOne(CoachAnswer, { id: answerId });
    if (!row || row.userId !== userId) throw notFound('Answer');
    const live = await answers.resume(answerId, offset);
    if (live) return { text: live.text, nextOffset: live.nextOffset, done: live.done, failure: live.failure, status: live.state };
    if (row.status === 'streaming') {
      // The log is gone but the row was never closed: its node stopped (one node without Redis, restarted).
      const failure = await answers.declareLost(answerId, { userId, text: row.answer });
      if (failure) return { text: '', nextOffset: offset, done: null, failure, status: 'failed' };
      await em.refresh(row);
    }
    const remaining = (await deps.quota.status(userId, await deps.plans.plan(row.planTier as Plan['tier']))).remaining;
    const done: AnswerDone | null = row.status === 'done'
      ? {
          answerId, sources: row.sources, usage: { promptTokens: row.promptTokens, completionTokens: row.completionTokens }, costUsd: Number(row.costUsd), cached: row.isCached,
          cacheKind: row.cacheKind ?? null, planRemaining: remaining, model: row.model ?? null, provider: row.isCached ? 'cache' : row.provider ?? null, length: row.answer.length,
        }
      : null;
    const failure: AnswerFailure | null = done ? null : { answerId, code: row.errorCode ?? 'failed', message: 'The answer did not complete', offset: row.answer.length, quotaReturned: row.quotaReturned };
    return { text: row.answer.slice(offset), nextOffset: Math.max(offset, row.answer.length), done, failure, status: row.status };
  }

  // Cancels an answer of this user wherever it is being generated.
  async function cancel(userId: string, answerId: string): Promise<void> {
    const row = await em.findOne(CoachAnswer, { id: answerId });
    if (!row || row.userId !== userId) throw notFound('Answer');
    if (row.status === 'streaming') answers.cancel(answerId);
  }

  return { start, resume, cancel, runningCount: answers.runningCount };
}

export type AskService = ReturnType<typeof createAskService>;

export type { CacheScope, CachedAnswer };
