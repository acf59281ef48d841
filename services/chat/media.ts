// A character's voice and pictures (seed 004, stage 4): text read aloud in a character's voice,
// and pictures of a character drawn from its description, through the LLM gateway and priced in
// points.
//
// Every paid call runs the same way (`paid` below): the per-user media limit (429, before anything
// is held), the character's visibility (404), the points held (402: nothing is sent to the
// provider), the provider called, the result stored under chat/media/<userId> with a random key
// and its expiring URL signed, and only then the hold settled. Any failure on the way releases the
// hold and deletes whatever was stored, so a user pays only for what they can fetch.
//
// Decisions:
// - Who may draw a character: anyone who may see it (its creator, or anyone when it is public
//   and active). The picture is the requester's, stored under their prefix; it does not touch
//   the character or its gallery, so a visitor gains nothing the creator did not publish.
// - Voices: the list is data (OPENAI_VOICES), OpenAI's built-in voices that tts-1 and
//   tts-1-hd (LLM_SPEECH_MODEL) accept. A voice named in the request must be on it (400). A
//   character's voiceSettings.voice that is not on it (card imports carry other providers' voice
//   names) falls back to the gateway's default voice rather than failing the user's request.
//   The request's voice wins over the character's; the character's speed applies either way.
//   voiceSettings.pitch has no OpenAI parameter and is not used.
// - Variations: the gateway has no image-input call (OpenAI's /images/variations takes dall-e-2
//   only, and the fake does not speak it), so a variation is a new generation from the
//   character's description with an instruction to keep the character and change pose,
//   expression, angle and background: n pictures from one gateway call. They are variations of the
//   character, not of one picture's pixels; there is no imageId because generated pictures are
//   not recorded anywhere that could name them.
// - Results are not recorded in Postgres: the ledger entry (reference chat_media/<id>) is the
//   record of the charge, the storage object the result. A retry of a request whose response was
//   lost replays the first response (the routes are `idempotent`), whose URL may by then have
//   expired if the retry comes more than CHAT_MEDIA_URL_SECONDS later.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { SPEECH_FORMATS, type GeneratedImage } from '../../integrations/llm/index.ts';
import { newObjectKey, type ObjectStorage } from '../../integrations/storage/index.ts';
import type { PointsWallet } from '../billing/points.ts';
import { AppError, badRequest, tooManyRequests, unavailable } from '../errors.ts';
import type { Limiter } from '../limiter.ts';
import type { LlmModule } from '../llm/gateway.ts';
import type { TimeFormatter } from '../time.ts';
import type { Character, CharacterService } from './characters.ts';

// OpenAI's built-in voices for tts-1 / tts-1-hd (gpt-4o-mini-tts also has ballad, verse, marin
// and cedar, which tts-1 refuses). Descriptions are OpenAI's own characterisations, shortened.
export const OPENAI_VOICES = [
  { id: 'alloy', description: 'neutral, balanced' },
  { id: 'ash', description: 'clear, warm' },
  { id: 'coral', description: 'bright, friendly' },
  { id: 'echo', description: 'calm, resonant' },
  { id: 'fable', description: 'expressive, storytelling' },
  { id: 'onyx', description: 'deep, authoritative' },
  { id: 'nova', description: 'energetic, youthful' },
  { id: 'sage', description: 'soft, measured' },
  { id: 'shimmer', description: 'light, gentle' },
] as const;
const VOICE_IDS: ReadonlySet<string> = new Set(OPENAI_VOICES.map((v) => v.id));

// The gateway refuses longer speech input; checked here too so the 400 names our field.
export const TTS_MAX_CHARACTERS = 4096;
export const MAX_VARIATIONS = 4;
// What the image models we support accept between them (gpt-image-1: the first three; dall-e-3
// adds the 1792 ones); a size the configured model does not take is the provider's 422.
export const IMAGE_SIZES = ['1024x1024', '1024x1536', '1536x1024', '1024x1792', '1792x1024', 'auto'] as const;
// dall-e-3 takes 4,000 characters of prompt: the character's appearance and the user's scene
// are each capped so a prompt fits every model.
const APPEARANCE_MAX_CHARACTERS = 2500;
const SCENE_MAX_CHARACTERS = 1000;
// A provider that answers with a URL (dall-e-*) is fetched once, bounded in time and size.
const IMAGE_DOWNLOAD_TIMEOUT_MS = 30_000;
const IMAGE_MAX_BYTES = 20 * 1024 * 1024;

const characterId = z.uuid().meta({ example: 'c0a8012e-7f5b-4a57-9b1d-1d2f3e4a5b6c' });
const scene = z.string().trim().min(1).max(SCENE_MAX_CHARACTERS).optional()
  .meta({ description: "What the picture shows besides the character's looks (place, mood, action)", example: '비 오는 밤, 서점 창가에서' });

export const ttsBody = z.object({
  text: z.string().trim().min(1).max(TTS_MAX_CHARACTERS).meta({ example: '어서 오세요. 오늘은 어떤 책을 찾으세요?' }),
  characterId: characterId.optional().meta({ description: "Speak with this character's voice settings (voice, speed)" }),
  voice: z.string().refine((v) => VOICE_IDS.has(v), { message: `must be one of ${[...VOICE_IDS].join(', ')} (GET /ai/voices)` }).optional()
    .meta({ description: "A voice from GET /ai/voices; wins over the character's", example: 'nova' }),
  format: z.enum(SPEECH_FORMATS).default('mp3'),
});
export const imageBody = z.object({ characterId, prompt: scene, size: z.enum(IMAGE_SIZES).default('1024x1024') });
export const variationsBody = z.object({
  characterId,
  n: z.number().int().min(1).max(MAX_VARIATIONS).default(2),
  prompt: scene,
  size: z.enum(IMAGE_SIZES).default('1024x1024'),
});
// The service takes requests as the route's schemas leave them (validated, defaults applied).
export type TtsRequest = z.output<typeof ttsBody>;
export type ImageRequest = z.output<typeof imageBody>;
export type VariationsRequest = z.output<typeof variationsBody>;

export const voiceDto = z.object({ id: z.string(), description: z.string(), default: z.boolean() }).meta({ id: 'Voice' });
const mediaFile = {
  url: z.string().meta({ description: 'Expires at expiresAt' }),
  expiresAt: z.string(),
  contentType: z.string(),
};
const charge = {
  pointsCharged: z.number().int(),
  balance: z.number().int().meta({ description: 'Points left after this charge' }),
};
export const ttsDto = z.object({ ...mediaFile, ...charge, voice: z.string().nullable().meta({ description: "The voice used; null: the gateway's default" }), characters: z.number().int() }).meta({ id: 'SpeechResult' });
export const imageDto = z.object({ ...mediaFile, ...charge }).meta({ id: 'ImageResult' });
export const variationsDto = z.object({ images: z.array(z.object(mediaFile)), ...charge }).meta({ id: 'ImageVariations' });
export type TtsDto = z.infer<typeof ttsDto>;
export type ImageDto = z.infer<typeof imageDto>;
export type VariationsDto = z.infer<typeof variationsDto>;

export type MediaPrices = {
  // Points per started 1,000 characters of speech.
  ttsPer1kCharacters: number;
  imagePoints: number;
};

type StoredFile = z.infer<z.ZodObject<typeof mediaFile>>;

export function createMediaService(deps: {
  llm: LlmModule;
  storage: ObjectStorage;
  points: PointsWallet;
  characters: Pick<CharacterService, 'forChat'>;
  limiter: Limiter;
  time: TimeFormatter;
  logger: Logger;
  prices: MediaPrices;
  urlSeconds: number;
  // LLM_SPEECH_VOICE: marked in the list, and what the gateway speaks when no voice is chosen.
  defaultVoice: string;
  // After a charge, as replies and stories report theirs (the module's low-balance notice).
  onCharged?: (userId: string, balance: number, charged: number) => void;
}) {
  const { storage, points, time, logger } = deps;

  function voices() {
    return OPENAI_VOICES.map((v) => ({ id: v.id, description: v.description, default: v.id === deps.defaultVoice }));
  }

  async function limit(userId: string, cost: number): Promise<void> {
    const retryAfter = await deps.limiter.consume(userId, cost);
    if (retryAfter !== null) throw tooManyRequests('media_rate_limited', `Too many voice and image requests; retry in ${retryAfter} s`, retryAfter);
  }

  // Holds `amount`, runs `produce` (which stores its files through `store`), then charges the
  // hold in full. On any failure: the hold released, the stored files deleted, the error rethrown.
  async function paid<R>(userId: string, amount: number, description: string, produce: (store: (bytes: Buffer, contentType: string, ext: string) => Promise<StoredFile>) => Promise<R>): Promise<R & { pointsCharged: number; balance: number }> {
    const mediaId = crypto.randomUUID();
    // A fresh key per attempt: the route's Idempotency-Key already answers a retry with the first
    // response, and a key reused after a released hold would replay the closed hold (a free call).
    const hold = amount > 0
      ? await points.reserve(userId, { amount, idempotencyKey: `chat.media:${mediaId}`, description, reference: { type: 'chat_media', id: mediaId } })
      : null;
    const stored: string[] = [];
    const store = async (bytes: Buffer, contentType: string, ext: string): Promise<StoredFile> => {
      const key = newObjectKey(`chat/media/${userId}`, ext);
      stored.push(key);
      await storage.put(key, bytes, { contentType });
      const signed = await storage.presignGet(key, { expiresInSeconds: deps.urlSeconds });
      return { url: signed.url, expiresAt: time.format(signed.expiresAt), contentType };
    };
    try {
      const result = await produce(store);
      const settled = hold ? await points.settle(hold.id, amount, description) : null;
      if (settled && settled.charged > 0) deps.onCharged?.(userId, settled.balanceAfter, settled.charged);
      return { ...result, pointsCharged: settled?.charged ?? 0, balance: settled?.balanceAfter ?? (await points.balance(userId)).balance };
    } catch (err) {
      if (hold) await points.release(hold.id, `${description}: failed`).catch((e: unknown) => logger.error({ err: e, reservationId: hold.id }, 'media hold not released; the expiry job will'));
      await Promise.all(stored.map((key) => storage.delete(key))).catch((e: unknown) => logger.warn({ err: e, keys: stored }, 'unpaid media left in storage'));
      if (!(err instanceof AppError)) logger.error({ err, userId }, 'media generation failed');
      throw err;
    }
  }

  async function tts(userId: string, body: TtsRequest): Promise<TtsDto> {
    await limit(userId, 1);
    const character = body.characterId ? await deps.characters.forChat(body.characterId, userId) : null;
    const own = character?.input.voiceSettings;
    const voice = body.voice ?? (own?.voice && VOICE_IDS.has(own.voice) ? own.voice : null);
    const amount = Math.ceil(body.text.length / 1000) * deps.prices.ttsPer1kCharacters;
    return paid(userId, amount, character ? `Voice of ${character.input.name}` : 'Text to speech', async (store) => {
      const speech = await deps.llm.speech({ input: body.text, voice: voice ?? undefined, speed: own?.speed, format: body.format });
      // The offline driver answers WAV whatever was asked: the extension follows what came back.
      const file = await store(speech.audio, speech.contentType, speech.format);
      return { ...file, voice, characters: body.text.length };
    });
  }

  async function image(userId: string, body: ImageRequest): Promise<ImageDto> {
    await limit(userId, 1);
    const character = await deps.characters.forChat(body.characterId, userId);
    const prompt = imagePrompt(character, body.prompt);
    return paid(userId, deps.prices.imagePoints, `Picture of ${character.input.name}`, async (store) => {
      const [file] = await generate(store, { prompt, size: body.size, n: 1 });
      return file;
    });
  }

  async function variations(userId: string, body: VariationsRequest): Promise<VariationsDto> {
    // Each picture costs the provider a generation: the limit counts them, not the request.
    await limit(userId, body.n);
    const character = await deps.characters.forChat(body.characterId, userId);
    const prompt = `${imagePrompt(character, body.prompt)}\n\nDraw a fresh variation of this character: keep the same person (face, hair, build, outfit) recognisable, and change the pose, expression, camera angle and background.`;
    return paid(userId, deps.prices.imagePoints * body.n, `${body.n} pictures of ${character.input.name}`, async (store) => ({
      images: await generate(store, { prompt, size: body.size, n: body.n }),
    }));
  }

  async function generate(store: (bytes: Buffer, contentType: string, ext: string) => Promise<StoredFile>, req: { prompt: string; size: string; n: number }): Promise<StoredFile[]> {
    const out = await deps.llm.generateImage(req);
    if (out.images.length < req.n) throw unavailable('llm_bad_output', 'The AI service returned fewer pictures than asked; nothing was charged');
    const files: StoredFile[] = [];
    for (const img of out.images.slice(0, req.n)) {
      const bytes = await imageBytes(img);
      const kind = sniffImage(bytes);
      if (!kind) throw unavailable('llm_bad_output', 'The AI service returned something that is not a picture; nothing was charged');
      files.push(await store(bytes, kind.contentType, kind.ext));
    }
    return files;
  }

  return { voices, tts, image, variations };
}

export type MediaService = ReturnType<typeof createMediaService>;

// The character's looks as the creator wrote them: imageDescriptions when there are any, else its
// description; the user's scene comes after, marked as such.
function imagePrompt(c: Character, scene: string | undefined): string {
  const looks = c.input.imageDescriptions.length ? c.input.imageDescriptions.join('\n') : (c.input.description ?? '');
  if (!looks.trim()) throw badRequest('character_not_describable', 'This character has no image description or description to draw from', 'characterId');
  return [
    `An illustration of the character "${c.input.name}".`,
    `Appearance: ${looks.slice(0, APPEARANCE_MAX_CHARACTERS)}`,
    ...(scene ? [`Scene: ${scene}`] : []),
  ].join('\n');
}

async function imageBytes(img: GeneratedImage): Promise<Buffer> {
  if (img.b64) return Buffer.from(img.b64, 'base64');
  if (!img.url || !img.url.startsWith('https://')) throw unavailable('llm_bad_output', 'The AI service returned no picture; nothing was charged');
  // dall-e-* answers with a short-lived URL of its own: copied now, into our storage.
  const res = await fetch(img.url, { signal: AbortSignal.timeout(IMAGE_DOWNLOAD_TIMEOUT_MS) }).catch(() => null);
  if (!res?.ok) throw unavailable('llm_unavailable', 'The generated picture could not be fetched; nothing was charged');
  if (Number(res.headers.get('content-length') ?? 0) > IMAGE_MAX_BYTES) throw unavailable('llm_bad_output', 'The generated picture is too large');
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.byteLength > IMAGE_MAX_BYTES) throw unavailable('llm_bad_output', 'The generated picture is too large');
  return bytes;
}

// By magic bytes: the content type stored (and served) is what the bytes are, not what a
// provider said.
function sniffImage(b: Buffer): { contentType: string; ext: string } | null {
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) return { contentType: 'image/png', ext: 'png' };
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { contentType: 'image/jpeg', ext: 'jpg' };
  if (b.length >= 12 && b.toString('ascii', 0, 4) === 'RIFF' && b.toString('ascii', 8, 12) === 'WEBP') return { contentType: 'image/webp', ext: 'webp' };
  return null;
}
