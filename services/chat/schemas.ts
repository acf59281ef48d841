// Shapes of the character chat (seed 004): characters with their AI settings, example dialogues,
// world settings and lorebooks, rooms and messages. Shared by the REST routes, the /chat socket
// events, character cards and the prompt.
import { z } from 'zod';
import { storyDelta, storyDone, storyFailure } from './stories.ts';

const text = (max: number) => z.string().trim().max(max);
const name = z.string().trim().min(1).max(100);

// ---- Lorebooks (a character's custom module) ----

// Where an entry's text goes in the prompt: around the character's description, around the
// example dialogues, or among the recent messages `depth` messages from the end.
export const LOREBOOK_POSITIONS = ['before_char', 'after_char', 'before_examples', 'after_examples', 'at_depth'] as const;
// How secondary keys qualify a primary hit (SillyTavern's selective logic).
export const SELECTIVE_LOGIC = ['and_any', 'and_all', 'not_any', 'not_all'] as const;

export const lorebookEntry = z.object({
  id: z.string().trim().min(1).max(64).meta({ description: 'Stable within the book; other entries name it in enabledBy' }),
  name: text(100).optional(),
  comment: text(500).optional(),
  keys: z.array(z.string().trim().min(1).max(100)).max(50).default([]).meta({ description: 'Primary keywords: any one in the scanned messages triggers the entry' }),
  secondaryKeys: z.array(z.string().trim().min(1).max(100)).max(50).default([]),
  selective: z.boolean().default(false).meta({ description: 'When true, a primary hit also needs the secondary keys, as selectiveLogic says' }),
  selectiveLogic: z.enum(SELECTIVE_LOGIC).default('and_any'),
  content: z.string().max(8000),
  enabled: z.boolean().default(true),
  constant: z.boolean().default(false).meta({ description: 'Always inserted (budget permitting), without a keyword' }),
  caseSensitive: z.boolean().default(false),
  matchWholeWords: z.boolean().default(true),
  scanDepth: z.number().int().min(0).max(100).optional().meta({ description: "Messages scanned for this entry's keys; the book's scanDepth when absent" }),
  insertionOrder: z.number().int().min(-10_000).max(10_000).default(100).meta({ description: 'Higher goes first when the token budget is short, and later in its position' }),
  position: z.enum(LOREBOOK_POSITIONS).default('before_char'),
  depth: z.number().int().min(0).max(100).default(4).meta({ description: 'For position at_depth: messages from the end' }),
  semantic: z.boolean().default(false).meta({ description: 'Also triggered by meaning: embedding similarity of its content to the recent messages' }),
  semanticThreshold: z.number().min(0).max(1).default(0.8),
  cooldown: z.number().int().min(0).max(1000).default(0).meta({ description: 'Messages after a hit during which the entry is not inserted again' }),
  enabledBy: z.array(z.string().max(64)).max(20).default([]).meta({ description: 'Entry ids: this entry is active only once one of them has been hit in the room' }),
});
export type LorebookEntry = z.infer<typeof lorebookEntry>;

export const lorebook = z.object({
  scanDepth: z.number().int().min(0).max(100).default(4),
  tokenBudget: z.number().int().min(0).max(32_000).default(1024),
  recursiveScanning: z.boolean().default(false).meta({ description: "Inserted entries' text is scanned for further keys" }),
  entries: z.array(lorebookEntry).max(2000).default([]),
});
export type Lorebook = z.infer<typeof lorebook>;

// A room's lorebook state between scans (services/chat/lorebook.ts). One map serves both timed
// rules: its value is the cooldown's start, and having a key at all is what enabledBy asks.
export const lorebookState = z.object({
  lastHitAt: z.record(z.string(), z.number().int().min(-1)).default({}).meta({
    description: 'Entry id → index of the newest message of the scan that last injected it (-1: a scan of an empty room)',
  }),
});
export type LorebookState = z.infer<typeof lorebookState>;

// Why an entry was injected: what an AI message records for each entry of its prompt.
const secondaryKeyMatch = z.object({
  logic: z.enum(SELECTIVE_LOGIC),
  matched: z.array(z.string()).meta({ description: 'Secondary keys found in the scanned text' }),
  missing: z.array(z.string()).meta({ description: 'Secondary keys not found' }),
});
export const lorebookActivation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }),
  z.object({
    kind: z.literal('keyword'),
    key: z.string(),
    messageIndex: z.number().int().meta({ description: 'The newest scanned message the key was found in' }),
    secondary: secondaryKeyMatch.optional(),
  }),
  z.object({
    kind: z.literal('recursive'),
    key: z.string(),
    via: z.string().meta({ description: 'The injected entry whose content holds the key' }),
    step: z.number().int().min(1).meta({ description: '1: found in an entry injected from the messages; 2: in one injected at step 1; …' }),
    secondary: secondaryKeyMatch.optional(),
  }),
  z.object({ kind: z.literal('semantic'), score: z.number().meta({ description: "Cosine similarity of the entry's content to the recent messages" }) }),
]);
export type LorebookActivation = z.infer<typeof lorebookActivation>;

export const lorebookInjection = z.object({
  id: z.string(),
  name: z.string().optional(),
  position: z.enum(LOREBOOK_POSITIONS),
  depth: z.number().int(),
  insertionOrder: z.number().int(),
  tokens: z.number().int().min(0),
  reason: lorebookActivation,
});
export type LorebookInjection = z.infer<typeof lorebookInjection>;

// ---- Characters ----

export const affinityStage = z.object({ name: text(50).min(1), minScore: z.number().int().min(-1000).max(1000), description: text(1000).optional() });
export const affinityRule = z.object({
  trigger: text(200).min(1).meta({ description: 'A word or phrase in the user message' }),
  delta: z.number().int().min(-100).max(100),
  description: text(300).optional(),
});

export const characterSettings = z.object({
  systemPrompt: text(8000).optional(),
  temperature: z.number().min(0).max(2).default(0.8),
  maxTokens: z.number().int().min(16).max(4000).default(600),
  aiModel: text(100).optional(),
  customPromptTemplate: text(8000).optional(),
  useMemory: z.boolean().default(true),
  memoryLength: z.number().int().min(0).max(200).default(20).meta({ description: 'Recent messages kept verbatim in the prompt; older ones are summarised' }),
  responseStyle: text(200).optional(),
});
export type CharacterSettings = z.infer<typeof characterSettings>;

export const exampleDialogue = z.object({ userMessage: text(2000).min(1), characterResponse: text(4000).min(1) });

export const characterInput = z.object({
  name,
  description: text(4000).optional(),
  personality: text(4000).optional(),
  backgroundStory: text(8000).optional(),
  avatarUrl: z.url().max(500).optional(),
  speechStyle: text(2000).optional(),
  greeting: text(4000).optional(),
  worldSetting: text(8000).optional(),
  worldSettingId: z.uuid().optional(),
  userDisplayDescription: text(2000).optional(),
  useCustomDescription: z.boolean().default(false),
  introductionScenes: z.array(text(4000)).max(20).default([]),
  characterType: text(50).optional(),
  baseLanguage: text(20).default('ko'),
  imageDescriptions: z.array(text(2000)).max(20).default([]),
  voiceSettings: z.object({ voice: text(50).optional(), speed: z.number().min(0.25).max(4).optional(), pitch: z.number().min(-20).max(20).optional() }).optional(),
  hasAffinitySystem: z.boolean().default(false),
  affinityRules: z.array(affinityRule).max(100).default([]),
  affinityStages: z.array(affinityStage).max(20).default([]),
  useTranslation: z.boolean().default(false),
  isPublic: z.boolean().default(true),
  isActive: z.boolean().default(true),
  tags: z.array(z.string().trim().min(1).max(30)).max(20).default([]),
  settings: characterSettings.prefault({}),
  exampleDialogues: z.array(exampleDialogue).max(50).default([]),
  lorebook: lorebook.optional(),
});
export type CharacterInput = z.infer<typeof characterInput>;

// ---- Rooms and messages ----

export const MESSAGE_STATUSES = ['streaming', 'done', 'failed', 'cancelled'] as const;

export const usageDto = z.object({ promptTokens: z.number().int(), completionTokens: z.number().int() });

export const chatMessageDto = z
  .object({
    id: z.uuid(),
    roomId: z.uuid(),
    seq: z.number().int().meta({ description: 'Order in the room: a client that reconnects asks for what came after the last seq it holds' }),
    senderType: z.enum(['user', 'character']),
    content: z.string(),
    status: z.enum(MESSAGE_STATUSES),
    clientMessageId: z.string().nullable(),
    replyTo: z.uuid().nullable(),
    pointsCharged: z.number().int(),
    errorCode: z.string().nullable(),
    superseded: z.boolean().meta({ description: 'Replaced by a regenerated reply or an edited turn; kept for the record' }),
    createdAt: z.string(),
  })
  .meta({ id: 'ChatMessage' });
export type ChatMessageDto = z.infer<typeof chatMessageDto>;

export const affinityDto = z.object({ score: z.number().int(), stage: z.string().nullable() });

export const chatRoomDto = z
  .object({
    id: z.uuid(),
    characterId: z.uuid(),
    characterName: z.string(),
    title: z.string(),
    messageCount: z.number().int(),
    affinity: affinityDto.nullable().meta({ description: "The character's affinity towards you in this room, when the character has an affinity system" }),
    lastMessageAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'ChatRoom' });
export type ChatRoomDto = z.infer<typeof chatRoomDto>;

export const createRoomInput = z.object({ characterId: z.uuid(), title: z.string().trim().min(1).max(100).optional() });

export const sendMessageInput = z.object({
  roomId: z.uuid(),
  content: z.string().trim().min(1).max(4000),
  clientMessageId: z.string().trim().min(8).max(64).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_"').meta({
    description: 'Chosen by the client, unique per message: a resend after a dropped connection stores the message and generates the reply once',
    example: 'c0a8012e-7f5b-4a57-9b1d-1d2f3e4a5b6c',
  }),
});
export type SendMessageInput = z.infer<typeof sendMessageInput>;

export const replyDone = z.object({
  message: chatMessageDto,
  usage: usageDto,
  pointsCharged: z.number().int(),
  balance: z.number().int().meta({ description: 'Your points after this reply' }),
  affinity: affinityDto.nullable(),
});
export type ReplyDone = z.infer<typeof replyDone>;

export const replyFailure = z.object({
  messageId: z.uuid(),
  roomId: z.uuid(),
  code: z.string().meta({ description: 'cancelled, reply_timeout, answer_interrupted (the server shut down), answer_lost (the server generating it stopped), or the error\'s code' }),
  message: z.string(),
  offset: z.number().int().min(0),
  pointsCharged: z.literal(0).meta({ description: 'A reply that did not complete costs nothing: its hold is released' }),
});
export type ReplyFailure = z.infer<typeof replyFailure>;

export const replyDelta = z.object({ messageId: z.uuid(), roomId: z.uuid(), offset: z.number().int().min(0), text: z.string() });

export const chatServerEvents = {
  'message.delta': { summary: 'A piece of a reply at `offset` (UTF-16 units); apply it when offset equals the length you hold', schema: replyDelta },
  'message.done': { summary: 'The reply is complete: the stored message, usage, points charged and your balance', schema: replyDone },
  'message.error': { summary: 'The reply failed or was cancelled at this offset; its points were released', schema: replyFailure },
  'message.created': { summary: 'A message was stored in one of your rooms (from any of your devices)', schema: chatMessageDto },
  'story.delta': { summary: 'A piece of a story being generated, at `offset`', schema: storyDelta },
  'story.done': { summary: 'The story is complete: the stored story, usage, points charged and your balance', schema: storyDone },
  'story.error': { summary: 'The story failed or was cancelled at this offset; its points were released', schema: storyFailure },
  'typing.indicator': { summary: 'You are (or stopped) typing in a room on another of your devices', schema: z.object({ roomId: z.uuid(), typing: z.boolean() }) },
};
