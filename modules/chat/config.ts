// The character chat's environment variables: they join the platform's in one validated
// configuration (server/config.ts) and in .env.example.
import { z } from 'zod';
import { jsonEnv } from '../../server/env.ts';

export const chatConfigSchema = z.object({
  // --- replies (services/chat/replies.ts)
  // The model a character answers with unless its settings name another.
  CHAT_MODEL: z.string().min(1).default('gpt-4o-mini'),
  // How a reply is priced in points: a fixed price per reply, or per 1,000 tokens (prompt and
  // completion) of the model that answered. Either way the most it can cost is held before it starts.
  CHAT_PRICE_MODE: z.enum(['per_reply', 'per_token']).default('per_reply'),
  CHAT_REPLY_POINTS: z.coerce.number().int().min(0).max(100_000).default(10),
  CHAT_POINTS_PER_1K_TOKENS: z.coerce.number().int().min(0).max(100_000).default(5),
  // {"gpt-4o": 30}: per-reply (or per-1K-token) prices of models that cost more than the default.
  CHAT_MODEL_POINTS_JSON: jsonEnv(z.record(z.string(), z.number().int().min(0).max(100_000))).optional(),
  CHAT_MAX_REPLY_SECONDS: z.coerce.number().int().min(5).max(600).default(120),
  // A user whose balance falls below this after a charge is told once (chat.points_low).
  CHAT_POINTS_LOW_THRESHOLD: z.coerce.number().int().min(0).max(1_000_000).default(20),
  // --- stories (services/chat/stories.ts): the price of a generated story, held before it starts
  CHAT_STORY_POINTS: z.coerce.number().int().min(0).max(100_000).default(30),
  // How long a reply stays resumable from the stream log (then from Postgres).
  CHAT_REPLY_LOG_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),

  // --- voices and images (services/chat/media.ts)
  // Speech is priced per started 1,000 characters of text, images per picture; both are held
  // before the provider is called and charged only when the result is stored.
  CHAT_TTS_POINTS: z.coerce.number().int().min(0).max(100_000).default(5),
  CHAT_IMAGE_POINTS: z.coerce.number().int().min(0).max(100_000).default(30),
  // TTS and image requests per user per minute (a variations request counts one per image): these
  // cost real money per call, so they get a limit of their own under the general per-user one.
  CHAT_MEDIA_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(10),
  // How long the returned URLs of generated audio and images stay valid.
  CHAT_MEDIA_URL_SECONDS: z.coerce.number().int().min(60).max(604_800).default(3600),
});

export type ChatConfig = z.output<typeof chatConfigSchema>;
