// The AI character chat (seed 004): characters with lorebooks and cards, rooms with streamed,
// resumable replies priced in points.
import { defineModule, type ModulePlatform } from '../../server/module.ts';
import { createLimiter } from '../../server/rateLimits.ts';
import { chatMigrations } from '../../entities/migrations/chat/index.ts';
import { chatEvents } from '../../realtime/chat.ts';
import { cardRoutes, characterRoutes, galleryRoutes } from '../../routes/chat/characters.ts';
import { mediaRoutes } from '../../routes/chat/media.ts';
import { pointPackRoutes } from '../../routes/chat/payments.ts';
import { chatRoutes } from '../../routes/chat/rooms.ts';
import { socialRoutes } from '../../routes/social.ts';
import { storyRoutes } from '../../routes/chat/stories.ts';
import { createStoryService } from '../../services/chat/stories.ts';
import { discoveryRoutes } from '../../routes/chat/discovery.ts';
import { createDiscoveryService, SCORES } from '../../services/chat/discovery.ts';
import { worldSettingRoutes } from '../../routes/chat/worlds.ts';
import { createCharacterService } from '../../services/chat/characters.ts';
import { createGalleryService } from '../../services/chat/gallery.ts';
import { createMediaService } from '../../services/chat/media.ts';
import { createLoreScanner } from '../../services/chat/lore.ts';
import { createMemorySummarizer } from '../../services/chat/memory.ts';
import { chatPointPacks, createPointPackService } from '../../services/chat/pointPacks.ts';
import { createReplyService } from '../../services/chat/replies.ts';
import { createRoomService } from '../../services/chat/rooms.ts';
import { chatServerEvents } from '../../services/chat/schemas.ts';
import { createWorldSettingService } from '../../services/chat/worlds.ts';
import type { Em } from '../../services/transaction.ts';
import { chatConfigSchema, type ChatConfig } from './config.ts';

export const chatModule = defineModule({
  name: 'chat',
  summary: 'AI character chat: characters, lorebooks and cards, streamed replies priced in points',
  config: chatConfigSchema,
  migrations: chatMigrations,
  llmBulkhead: { concurrency: 200, queue: 200 },
  serverEvents: chatServerEvents,
  notificationTypes: {
    'chat.character_liked': { category: 'social', summary: 'Someone liked your character (data: characterId, likeCount)' },
    'chat.character_commented': { category: 'social', summary: 'Someone commented on your character (data: characterId, commentId)' },
    'chat.payment_completed': { category: 'payment', summary: 'A points pack you bought was credited (data: orderId, points)' },
    'chat.points_low': { category: 'payment', summary: 'Your points fell below the low-balance threshold (data: balance)' },
    'chat.story_liked': { category: 'social', summary: 'Someone liked your story (data: storyId, likeCount)' },
    'chat.story_commented': { category: 'social', summary: 'Someone commented on your story (data: storyId, commentId)' },
  },
  createServices: (platform, config) => createChatServices(platform, config),
  routes: (api, chat) => {
    cardRoutes(api, { characters: chat.characters });
    characterRoutes(api, { characters: chat.characters });
    galleryRoutes(api, { gallery: chat.gallery });
    worldSettingRoutes(api, { worlds: chat.worlds });
    socialRoutes(api, { target: chat.characterSocial, path: '/characters', comments: '/comments', noun: 'character', tag: 'chat' });
    storyRoutes(api, { stories: chat.stories });
    socialRoutes(api, { target: chat.storySocial, path: '/stories', comments: '/story-comments', noun: 'story', tag: 'chat' });
    chatRoutes(api, { rooms: chat.rooms, replies: chat.replies });
    pointPackRoutes(api, { pointPacks: chat.pointPacks });
    mediaRoutes(api, { media: chat.media });
    discoveryRoutes(api, { discovery: chat.discovery });
  },
  clientEvents: (chat) => chatEvents({ services: chat }),
  products: chatPointPacks,
  // Point packs credit the wallet in the payment's transaction (services/chat/pointPacks.ts).
  payments: { onPaid: (chat, tx, payment) => chat.pointPacks.onPaid(tx, payment), onRefunded: (chat, tx, payment, amount) => chat.pointPacks.onRefunded(tx, payment, amount) },
});

function createChatServices(platform: ModulePlatform<typeof chatServerEvents>, config: ChatConfig) {
  const { em, time, logger } = platform;
  const tell = (userId: string, input: Parameters<typeof platform.notify>[1]) => void platform.notify(userId, input).catch((err: unknown) => logger.warn({ err, type: input.type }, 'notification not sent'));
  // Once, when a charge takes the balance from at or above the threshold to below it.
  const onCharged = (userId: string, balance: number, charged: number) => {
    const threshold = config.CHAT_POINTS_LOW_THRESHOLD;
    if (balance < threshold && balance + charged >= threshold) tell(userId, { type: 'chat.points_low', title: '포인트가 얼마 남지 않았어요', body: `남은 포인트 ${balance}`, data: { balance } });
  };
  const characters = createCharacterService({ em, time, bus: platform.bus });
  const rooms = createRoomService({ em, time, characters });
  const memory = createMemorySummarizer({ em, llm: platform.llm, logger, model: config.CHAT_MODEL });
  const replies = createReplyService({
    em,
    llm: platform.llm,
    streams: platform.streams,
    points: platform.points,
    realtime: platform.realtime,
    rooms,
    characters,
    logger,
    defaultModel: config.CHAT_MODEL,
    pricing: { mode: config.CHAT_PRICE_MODE, replyPoints: config.CHAT_REPLY_POINTS, pointsPer1kTokens: config.CHAT_POINTS_PER_1K_TOKENS, modelPoints: config.CHAT_MODEL_POINTS_JSON ?? {} },
    maxReplySeconds: config.CHAT_MAX_REPLY_SECONDS,
    logTtlSeconds: config.CHAT_REPLY_LOG_SECONDS,
    scanLore: createLoreScanner({ llm: platform.llm, logger }),
    onCharged,
    onReplied: (roomId, character) => {
      memory.schedule(roomId, character);
      score(characterBoard, character.id, SCORES.reply);
    },
  });
  const pointPacks = createPointPackService({
    em, clock: platform.clock, logger, points: platform.points, payments: platform.payments,
    signingSecret: platform.config.URL_SIGNING_SECRET, toss: { configured: Boolean(platform.config.TOSS_SECRET_KEY) }, webhooks: platform.webhooks,
    onCredited: (payment, points) => tell(payment.userId, { type: 'chat.payment_completed', title: '결제가 완료되었어요', body: `${payment.orderName}: ${points} 포인트`, data: { orderId: payment.orderId, points } }),
  });
  // Ranking boards (the platform's rankings): scored as characters and stories are used (services/chat/discovery.ts SCORES).
  const characterBoard = platform.rankings.define({ board: 'characters' });
  const storyBoard = platform.rankings.define({ board: 'stories' });
  const score = (board: typeof characterBoard, id: string, points: number) => void board.add(id, points).catch((err: unknown) => logger.warn({ err, board: board.board }, 'ranking score not added'));
  // What a like or a comment does besides counting: a ranking score, and a word to the owner.
  const SOCIAL_WORDS = {
    character: { key: 'characterId', liked: ['chat.character_liked', '캐릭터에 좋아요가 달렸어요'], commented: ['chat.character_commented', '캐릭터에 새 댓글이 달렸어요'] },
    story: { key: 'storyId', liked: ['chat.story_liked', '스토리에 좋아요가 달렸어요'], commented: ['chat.story_commented', '스토리에 새 댓글이 달렸어요'] },
  } as const;
  const socialEffects = (kind: keyof typeof SOCIAL_WORDS, board: typeof characterBoard, table: 'chat_characters' | 'chat_stories') => {
    const words = SOCIAL_WORDS[kind];
    return {
      onCountsChanged: async (tx: Em, id: string, counts: { likes: number }) => void (await tx.execute(`update ${table} set like_count = ? where id = ?`, [counts.likes, id])),
      onLiked: (e: { targetId: string; ownerId: string; userId: string; counts: { likes: number } }) => {
        score(board, e.targetId, SCORES.like);
        if (e.ownerId !== e.userId) tell(e.ownerId, { type: words.liked[0], title: words.liked[1], body: `좋아요 ${e.counts.likes}개`, data: { [words.key]: e.targetId, likeCount: e.counts.likes } });
      },
      onUnliked: (e: { targetId: string }) => score(board, e.targetId, -SCORES.like),
      onCommented: (e: { targetId: string; ownerId: string; comment: { id: string; body: string } }) => {
        score(board, e.targetId, SCORES.comment);
        tell(e.ownerId, { type: words.commented[0], title: words.commented[1], body: e.comment.body.slice(0, 100), data: { [words.key]: e.targetId, commentId: e.comment.id } });
      },
    };
  };
  // Likes and comments: the platform's social service, with the chat's visibility rules.
  const characterSocial = platform.social.define({
    type: 'character',
    resolve: (characterId, viewerId) => characters.forChat(characterId, viewerId).then((c) => ({ ownerId: c.creatorId }), () => null),
    ...socialEffects('character', characterBoard, 'chat_characters'),
  });
  const stories = createStoryService({
    em, time, clock: platform.clock, logger, llm: platform.llm, streams: platform.streams, points: platform.points, realtime: platform.realtime, characters,
    model: config.CHAT_MODEL, pointsPerStory: config.CHAT_STORY_POINTS, maxSeconds: config.CHAT_MAX_REPLY_SECONDS * 2, logTtlSeconds: config.CHAT_REPLY_LOG_SECONDS,
    onCharged,
    onViewed: (storyId) => score(storyBoard, storyId, SCORES.view),
  });
  const storySocial = platform.social.define({
    type: 'story',
    resolve: (storyId, viewerId) => stories.resolve(storyId, viewerId),
    ...socialEffects('story', storyBoard, 'chat_stories'),
  });
  const gallery = createGalleryService({ em, time, storage: platform.storage, pool: platform.pool, characters });
  const worlds = createWorldSettingService({ em, time });
  const media = createMediaService({
    llm: platform.llm, storage: platform.storage, points: platform.points, characters, time, logger,
    limiter: createLimiter({ name: 'chat-media', points: config.CHAT_MEDIA_PER_MINUTE, durationSeconds: 60, redis: platform.redis?.client, keyPrefix: platform.redisKeyPrefix }),
    prices: { ttsPer1kCharacters: config.CHAT_TTS_POINTS, imagePoints: config.CHAT_IMAGE_POINTS },
    urlSeconds: config.CHAT_MEDIA_URL_SECONDS,
    defaultVoice: platform.config.LLM_SPEECH_VOICE,
    onCharged,
  });
  const discovery = createDiscoveryService({ em, time, characters, characterBoard, storyBoard, characterLikes: characterSocial });
  return { config, characters, rooms, replies, memory, pointPacks, gallery, worlds, characterSocial, stories, storySocial, media, discovery };
}

export type ChatServices = ReturnType<typeof createChatServices>;
