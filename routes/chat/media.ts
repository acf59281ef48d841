// Voices and pictures at the seed's paths: POST /ai/tts, GET /ai/voices, POST /ai/image,
// POST /ai/image/variations. The paid ones are `idempotent`: a retry with the same
// Idempotency-Key gets the first response back and is not charged again.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { imageBody, imageDto, ttsBody, ttsDto, variationsBody, variationsDto, voiceDto, type MediaService } from '../../services/chat/media.ts';

const paidErrors = {
  402: { description: 'insufficient_points: the balance does not cover the price; nothing was generated' },
  429: { description: 'media_rate_limited: too many voice and image requests this minute (Retry-After says when)' },
  503: { description: 'The AI service failed; the held points were released' },
};

export function mediaRoutes(api: Api, deps: { media: MediaService }): void {
  api.route({
    method: 'get', path: '/ai/voices', summary: 'The voices POST /ai/tts speaks with', tags: ['chat'], auth: 'user',
    responses: { 200: { description: 'Voices; `default` is used when neither the request nor the character names one', schema: z.object({ voices: z.array(voiceDto) }) } },
    handler: () => ({ body: { voices: deps.media.voices() } }),
  });

  api.route({
    method: 'post', path: '/ai/tts', summary: "Read a text aloud, in a character's voice or a listed one; priced per started 1,000 characters", tags: ['chat'],
    auth: 'user', body: ttsBody, idempotent: true,
    responses: { 200: { description: 'The audio, stored, with an expiring URL', schema: ttsDto }, 404: { description: 'No such character, or not one you may see' }, ...paidErrors },
    handler: async ({ auth, body }) => ({ body: await deps.media.tts(auth.userId, body) }),
  });

  api.route({
    method: 'post', path: '/ai/image', summary: "Draw a character from its image description (and an optional scene); priced per picture", tags: ['chat'],
    auth: 'user', body: imageBody, idempotent: true,
    responses: { 200: { description: 'The picture, stored, with an expiring URL', schema: imageDto }, 404: { description: 'No such character, or not one you may see' }, ...paidErrors },
    handler: async ({ auth, body }) => ({ body: await deps.media.image(auth.userId, body) }),
  });

  api.route({
    method: 'post', path: '/ai/image/variations', summary: 'Draw n new variations of a character (pose, expression, angle, background); priced per picture', tags: ['chat'],
    auth: 'user', body: variationsBody, idempotent: true,
    responses: { 200: { description: 'The pictures, stored, with expiring URLs', schema: variationsDto }, 404: { description: 'No such character, or not one you may see' }, ...paidErrors },
    handler: async ({ auth, body }) => ({ body: await deps.media.variations(auth.userId, body) }),
  });
}
