// Characters at the seed's paths: POST/GET /characters, GET/PUT/DELETE /characters/:id, and a
// creator's list at GET /users/:id/characters.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { characterDto, characterListQuery, type CharacterService } from '../../services/chat/characters.ts';
import { characterInput } from '../../services/chat/schemas.ts';
import { galleryImageDto, MAX_IMAGE_BYTES, type GalleryService } from '../../services/chat/gallery.ts';
import { CARD_LIMITS } from '../../services/chat/cards.ts';

const idParams = z.object({ id: z.uuid() });
const page = z.object({ items: z.array(characterDto), nextCursor: z.string().nullable() });

export function characterRoutes(api: Api, deps: { characters: CharacterService }): void {
  api.route({
    method: 'post', path: '/characters', summary: 'Create a character', tags: ['chat'], auth: 'user', body: characterInput,
    responses: { 201: { description: 'The character', schema: characterDto } },
    handler: async ({ auth, body }) => ({ status: 201, body: await deps.characters.create(auth.userId, body) }),
  });

  api.route({
    method: 'get', path: '/characters', summary: 'Public characters: search (q), filter (tag, type), recent or popular, by cursor', tags: ['chat'], auth: 'user',
    query: characterListQuery,
    responses: { 200: { description: 'A page; pass nextCursor as cursor for the next', schema: page } },
    handler: async ({ auth, query }) => ({ body: await deps.characters.listPublic(query, auth.userId) }),
  });

  api.route({
    method: 'get', path: '/characters/:id', summary: 'A character (a private one only for its creator)', tags: ['chat'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The character', schema: characterDto }, 404: { description: 'No such character, or not one you may see' } },
    handler: async ({ auth, params }) => ({ body: await deps.characters.get(params.id, auth.userId) }),
  });

  api.route({
    method: 'put', path: '/characters/:id', summary: 'Replace a character of yours (fields left out take their defaults)', tags: ['chat'], auth: 'user',
    params: idParams, body: characterInput,
    responses: { 200: { description: 'The character', schema: characterDto }, 404: { description: 'No such character of yours' } },
    handler: async ({ auth, params, body }) => ({ body: await deps.characters.update(auth.userId, params.id, body) }),
  });

  api.route({
    method: 'delete', path: '/characters/:id', summary: 'Delete a character of yours (its rooms keep their messages)', tags: ['chat'], auth: 'user', params: idParams,
    responses: { 204: { description: 'Deleted' }, 404: { description: 'No such character of yours' } },
    handler: async ({ auth, params }) => deps.characters.remove(auth.userId, params.id),
  });

  api.route({
    method: 'get', path: '/users/:id/characters', summary: "A creator's characters: all of yours, or another creator's public ones", tags: ['chat'], auth: 'user',
    params: idParams, query: characterListQuery,
    responses: { 200: { description: 'A page', schema: page } },
    handler: async ({ auth, params, query }) => ({ body: await deps.characters.listByCreator(params.id, query, auth.userId) }),
  });
}

// A character's image gallery: the creator uploads (the image's bytes as the body) and deletes.
export function galleryRoutes(api: Api, deps: { gallery: GalleryService }): void {
  api.route({
    method: 'post', path: '/characters/:id/images', summary: 'Upload an image to a character of yours (JPEG, PNG or WebP as the request body, ≤ 10 MB, ≥ 512 px; cropped to 3:4, stored as WebP)',
    tags: ['chat'], auth: 'user', params: idParams, rawBody: { maxBytes: MAX_IMAGE_BYTES, contentType: 'image/jpeg' },
    responses: {
      201: { description: 'The stored image, with expiring URLs', schema: galleryImageDto },
      400: { description: 'Not an image we take (unsupported_format, too_small, corrupt_image…), naming `file`' },
      409: { description: 'gallery_full' },
      413: { description: 'Larger than 10 MB' },
    },
    handler: async ({ auth, params, rawBody }) => ({ status: 201, body: await deps.gallery.upload(auth.userId, params.id, rawBody!) }),
  });
  api.route({
    method: 'get', path: '/characters/:id/images', summary: "A character's gallery, with expiring URLs", tags: ['chat'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The images in order', schema: z.object({ items: z.array(galleryImageDto) }) }, 404: { description: 'No such character you may see' } },
    handler: async ({ auth, params }) => ({ body: { items: await deps.gallery.list(auth.userId, params.id) } }),
  });
  api.route({
    method: 'delete', path: '/characters/:id/images/:imageId', summary: 'Delete an image of a character of yours', tags: ['chat'], auth: 'user',
    params: z.object({ id: z.uuid(), imageId: z.uuid() }),
    responses: { 204: { description: 'Deleted' }, 404: { description: 'No such image of yours' } },
    handler: async ({ auth, params }) => deps.gallery.remove(auth.userId, params.id, params.imageId),
  });
}

// Community character cards: import (V2/V3 JSON or a card PNG as the body) and export.
export function cardRoutes(api: Api, deps: { characters: CharacterService }): void {
  api.route({
    method: 'post', path: '/characters/import',
    summary: 'Import a Character Card V2 or V3 (JSON, or PNG with the card in its chara/ccv3 tEXt chunk) as a new character of yours; its lorebook becomes the character\'s',
    tags: ['chat'], auth: 'user', rawBody: { maxBytes: CARD_LIMITS.fileBytes, contentType: 'application/octet-stream' },
    responses: {
      201: { description: 'The character, and what was imported but will not take effect here', schema: z.object({ character: characterDto, spec: z.string(), warnings: z.array(z.object({ field: z.string(), message: z.string() })) }) },
      400: { description: 'Not a valid card (invalid_card, unsupported_card_spec, unsupported_card_format…), naming the field; nothing stored' },
      413: { description: 'Larger than 20 MB' },
    },
    handler: async ({ auth, rawBody, ctx }) => ({ status: 201, body: await deps.characters.importCard(auth.userId, rawBody!, ctx.get('content-type') || undefined) }),
  });

  api.route({
    method: 'get', path: '/characters/:id/export', summary: 'A character of yours as a Character Card: V2 or V3 JSON, or a PNG carrying both', tags: ['chat'], auth: 'user',
    params: idParams, query: z.object({ format: z.enum(['v2', 'v3', 'png']).default('v3') }),
    responses: { 200: { description: 'The card (application/json, or image/png for format=png)' }, 404: { description: 'No such character of yours' } },
    handler: async ({ auth, params, query }) => {
      const card = await deps.characters.exportCard(auth.userId, params.id, query.format);
      if (Buffer.isBuffer(card)) return { body: card, headers: { 'Content-Type': 'image/png', 'Content-Disposition': `attachment; filename="character-${params.id}.png"` } };
      return { body: card };
    },
  });
}
