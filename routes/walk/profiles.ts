// Walk profiles and pets: GET/PUT /walk/profile, GET /walk/users/:id, the pets of /pets and their
// photo and health records.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { uploadedFile } from '../../server/http/upload.ts';
import { healthDto, healthInput, HEALTH_KINDS, MAX_PHOTO_BYTES, petDto, petInput, petPatch, type PetService } from '../../services/walk/pets.ts';
import { profileDto, profileInput, publicProfileDto, type ProfileService } from '../../services/walk/profiles.ts';

const idParams = z.object({ id: z.uuid() });
// Room for a form's boundaries and part headers around a 10 MB photo.
const FORM_OVERHEAD_BYTES = 64 * 1024;

export function profileRoutes(api: Api, deps: { profiles: ProfileService }): void {
  api.route({
    method: 'get', path: '/walk/profile', summary: 'My walk profile (made from my account on first use): nickname, region, premium, home zones, streak', tags: ['walk'], auth: 'user',
    responses: { 200: { description: 'The profile', schema: profileDto } },
    handler: async ({ auth }) => ({ body: await deps.profiles.mine(auth.userId) }),
  });
  api.route({
    method: 'put', path: '/walk/profile', summary: 'Change my nickname, region or home zones (fields left out stay)', tags: ['walk'], auth: 'user', body: profileInput,
    responses: { 200: { description: 'The profile', schema: profileDto } },
    handler: async ({ auth, body }) => ({ body: await deps.profiles.update(auth.userId, body) }),
  });
  api.route({
    method: 'get', path: '/walk/users/:id', summary: "Someone's walk profile as others see it (no home zones)", tags: ['walk'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The profile', schema: publicProfileDto }, 404: { description: 'No walker with that id' } },
    handler: async ({ auth, params }) => ({ body: await deps.profiles.publicProfile(auth.userId, params.id) }),
  });
}

export function petRoutes(api: Api, deps: { pets: PetService }): void {
  api.route({
    method: 'get', path: '/pets', summary: 'My pets', tags: ['walk'], auth: 'user',
    responses: { 200: { description: 'The pets', schema: z.object({ items: z.array(petDto) }) } },
    handler: async ({ auth }) => ({ body: { items: await deps.pets.list(auth.userId) } }),
  });
  api.route({
    method: 'post', path: '/pets', summary: 'Add a pet', tags: ['walk'], auth: 'user', body: petInput,
    responses: { 201: { description: 'The pet', schema: petDto }, 409: { description: 'too_many_pets' } },
    handler: async ({ auth, body }) => ({ status: 201, body: await deps.pets.create(auth.userId, body) }),
  });
  api.route({
    method: 'get', path: '/pets/:id', summary: 'A pet', tags: ['walk'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The pet', schema: petDto }, 404: { description: 'No such pet' } },
    handler: async ({ params }) => ({ body: await deps.pets.get(params.id) }),
  });
  api.route({
    method: 'patch', path: '/pets/:id', summary: 'Change a pet of mine', tags: ['walk'], auth: 'user', params: idParams, body: petPatch,
    responses: { 200: { description: 'The pet', schema: petDto }, 404: { description: 'No such pet of yours' } },
    handler: async ({ auth, params, body }) => ({ body: await deps.pets.update(auth.userId, params.id, body) }),
  });
  api.route({
    method: 'delete', path: '/pets/:id', summary: 'Remove a pet of mine (walks that named it keep it)', tags: ['walk'], auth: 'user', params: idParams,
    responses: { 204: { description: 'Removed' }, 404: { description: 'No such pet of yours' } },
    handler: async ({ auth, params }) => deps.pets.remove(auth.userId, params.id),
  });
  api.route({
    method: 'put', path: '/pets/:id/photo', summary: "A pet's photo (JPEG, PNG or WebP, as the body or a form's `file`; ≤ 10 MB; cropped square, stored as WebP)", tags: ['walk'], auth: 'user',
    params: idParams, rawBody: { maxBytes: MAX_PHOTO_BYTES + FORM_OVERHEAD_BYTES, contentType: ['image/jpeg', 'image/png', 'image/webp', 'multipart/form-data'] },
    responses: { 200: { description: 'The pet', schema: petDto }, 400: { description: 'Not a photo we take, naming `file`' }, 413: { description: 'Larger than 10 MB' } },
    handler: async ({ auth, params, rawBody, ctx }) => ({ body: await deps.pets.setPhoto(auth.userId, params.id, (await uploadedFile(ctx, rawBody!)).bytes) }),
  });
  api.route({
    method: 'get', path: '/pets/:id/health', summary: "A pet's health records, newest first (weight history, vaccinations, vet visits)", tags: ['walk'], auth: 'user',
    params: idParams, query: z.object({ kind: z.enum(HEALTH_KINDS).optional() }),
    responses: { 200: { description: 'The records', schema: z.object({ items: z.array(healthDto) }) } },
    handler: async ({ auth, params, query }) => ({ body: { items: await deps.pets.health(params.id, auth.userId, query.kind) } }),
  });
  api.route({
    method: 'post', path: '/pets/:id/health', summary: 'Add a health record (a newer weight becomes the pet\'s weight)', tags: ['walk'], auth: 'user', params: idParams, body: healthInput,
    responses: { 201: { description: 'The record', schema: healthDto } },
    handler: async ({ auth, params, body }) => ({ status: 201, body: await deps.pets.addHealth(auth.userId, params.id, body) }),
  });
  api.route({
    method: 'delete', path: '/pets/:id/health/:recordId', summary: 'Remove a health record', tags: ['walk'], auth: 'user', params: z.object({ id: z.uuid(), recordId: z.uuid() }),
    responses: { 204: { description: 'Removed' } },
    handler: async ({ auth, params }) => deps.pets.removeHealth(auth.userId, params.id, params.recordId),
  });
}
