// Pets and their health records (seed 003 `pets`, `pet_health`): only the owner writes. A pet's photo
// goes through the image worker (checked, square-cropped, metadata stripped) into storage; lists give
// it as an expiring URL. Deleting a pet is soft, so walks that named it keep their history.
import crypto from 'node:crypto';
import { z } from 'zod';
import { newObjectKey, type ObjectStorage } from '../../integrations/storage/index.ts';
import type { WorkerPool } from '../../workers/pool.ts';
import { conflict, notFound } from '../errors.ts';
import { acceptImage } from '../images.ts';
import { calendarDate, type TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { pgArray } from '../pgArray.ts';

const PHOTO_URL_SECONDS = 3600;
export const MAX_PETS = 10;
export const MAX_PHOTO_BYTES = 10 * 1024 * 1024;

const weightKg = z.number().min(0.1).max(150).meta({ description: 'Kilograms, 0.1..150' });

export const petInput = z.object({
  name: z.string().trim().min(1).max(30),
  breed: z.string().trim().min(1).max(50).nullable().optional(),
  birthDate: calendarDate.nullable().optional(),
  weightKg: weightKg.nullable().optional(),
});
export const petPatch = petInput.partial();

export const petDto = z
  .object({
    id: z.uuid(), ownerId: z.uuid(), name: z.string(), breed: z.string().nullable(), birthDate: z.string().nullable(), weightKg: z.number().nullable(),
    photoUrl: z.string().nullable(), createdAt: z.string(),
  })
  .meta({ id: 'WalkPet' });
export type PetDto = z.infer<typeof petDto>;

export const HEALTH_KINDS = ['weight', 'vaccination', 'vet_visit'] as const;
export const healthInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('weight'), recordedOn: calendarDate, weightKg, notes: z.string().trim().max(500).optional() }),
  z.object({ kind: z.literal('vaccination'), recordedOn: calendarDate, title: z.string().trim().min(1).max(100).meta({ description: 'The vaccine' }), nextDueOn: calendarDate.optional(), notes: z.string().trim().max(500).optional() }),
  z.object({ kind: z.literal('vet_visit'), recordedOn: calendarDate, title: z.string().trim().min(1).max(100).meta({ description: 'The clinic or reason' }), notes: z.string().trim().max(500).optional() }),
]);
export const healthDto = z
  .object({
    id: z.uuid(), petId: z.uuid(), kind: z.enum(HEALTH_KINDS), recordedOn: z.string(), weightKg: z.number().nullable(), title: z.string().nullable(),
    notes: z.string().nullable(), nextDueOn: z.string().nullable(), createdAt: z.string(),
  })
  .meta({ id: 'WalkPetHealthRecord' });
export type HealthDto = z.infer<typeof healthDto>;

type PetRow = { id: string; owner_id: string; name: string; breed: string | null; birth_date: string | null; weight_kg: string | null; photo_key: string | null; created_at: Date };
type HealthRow = { id: string; pet_id: string; kind: (typeof HEALTH_KINDS)[number]; recorded_on: string; weight_kg: string | null; title: string | null; notes: string | null; next_due_on: string | null; created_at: Date };

const PET_SELECT = `select id, owner_id, name, breed, to_char(birth_date, 'YYYY-MM-DD') as birth_date, weight_kg, photo_key, created_at from walk_pets`;
const HEALTH_SELECT = `select id, pet_id, kind, to_char(recorded_on, 'YYYY-MM-DD') as recorded_on, weight_kg, title, notes, to_char(next_due_on, 'YYYY-MM-DD') as next_due_on, created_at from walk_pet_health`;

export function createPetService(deps: { em: Em; time: TimeFormatter; storage: ObjectStorage; pool: WorkerPool }) {
  const { em, time, storage } = deps;

  async function toDto(r: PetRow): Promise<PetDto> {
    const photo = r.photo_key ? await storage.presignGet(r.photo_key, { expiresInSeconds: PHOTO_URL_SECONDS }) : null;
    return {
      id: r.id, ownerId: r.owner_id, name: r.name, breed: r.breed, birthDate: r.birth_date, weightKg: r.weight_kg === null ? null : Number(r.weight_kg),
      photoUrl: photo?.url ?? null, createdAt: time.format(new Date(r.created_at)),
    };
  }
  const healthToDto = (r: HealthRow): HealthDto => ({
    id: r.id, petId: r.pet_id, kind: r.kind, recordedOn: r.recorded_on, weightKg: r.weight_kg === null ? null : Number(r.weight_kg), title: r.title, notes: r.notes,
    nextDueOn: r.next_due_on, createdAt: time.format(new Date(r.created_at)),
  });

  // The pet, if it exists (not deleted); writes also need `ownerId` to be its owner (else 404: no leak).
  async function load(db: Em, petId: string, ownerId?: string, lock = false): Promise<PetRow> {
    const [r] = await db.execute<PetRow[]>(`${PET_SELECT} where id = ? and deleted_at is null${lock ? ' for update' : ''}`, [petId]);
    if (!r || (ownerId !== undefined && r.owner_id !== ownerId)) throw notFound('Pet');
    return r;
  }

  async function list(ownerId: string): Promise<PetDto[]> {
    const rows = await em.fork().execute<PetRow[]>(`${PET_SELECT} where owner_id = ? and deleted_at is null order by created_at, id`, [ownerId]);
    return Promise.all(rows.map(toDto));
  }

  async function get(petId: string): Promise<PetDto> {
    return toDto(await load(em.fork(), petId));
  }

  async function create(ownerId: string, input: z.infer<typeof petInput>): Promise<PetDto> {
    return inTransaction(em.fork(), async (tx) => {
      // The owner's row is the lock that keeps two creates from both taking the last slot.
      await tx.execute(`select id from users where id = ? for update`, [ownerId]);
      const [{ n }] = await tx.execute<{ n: string }[]>(`select count(*) as n from walk_pets where owner_id = ? and deleted_at is null`, [ownerId]);
      if (Number(n) >= MAX_PETS) throw conflict('too_many_pets', `A walker has at most ${MAX_PETS} pets`);
      const [r] = await tx.execute<PetRow[]>(
        `insert into walk_pets (id, owner_id, name, breed, birth_date, weight_kg) values (?, ?, ?, ?, ?, ?)
         returning id, owner_id, name, breed, to_char(birth_date, 'YYYY-MM-DD') as birth_date, weight_kg, photo_key, created_at`,
        [crypto.randomUUID(), ownerId, input.name, input.breed ?? null, input.birthDate ?? null, input.weightKg ?? null]);
      return toDto(r);
    });
  }

  async function update(ownerId: string, petId: string, patch: z.infer<typeof petPatch>): Promise<PetDto> {
    const db = em.fork();
    await load(db, petId, ownerId);
    const columns = { name: 'name', breed: 'breed', birthDate: 'birth_date', weightKg: 'weight_kg' } as const;
    const set = (Object.keys(columns) as (keyof typeof columns)[]).filter((k) => patch[k] !== undefined);
    if (set.length) {
      await db.execute(`update walk_pets set ${set.map((k) => `${columns[k]} = ?`).join(', ')}, updated_at = now() where id = ?`, [...set.map((k) => patch[k] ?? null), petId]);
    }
    return get(petId);
  }

  async function remove(ownerId: string, petId: string): Promise<void> {
    const db = em.fork();
    const pet = await load(db, petId, ownerId);
    await db.execute(`update walk_pets set deleted_at = now(), photo_key = null where id = ?`, [petId]);
    if (pet.photo_key) await storage.delete(pet.photo_key).catch(() => undefined);
  }

  // A new photo replaces the old one (deleted once the row points at the new one).
  async function setPhoto(ownerId: string, petId: string, bytes: Buffer): Promise<PetDto> {
    await load(em.fork(), petId, ownerId);
    const image = await acceptImage(deps.pool, { bytes, aspect: { w: 1, h: 1 }, format: 'webp', limits: { maxBytes: MAX_PHOTO_BYTES } });
    const key = newObjectKey(`walk/pets/${petId}`, 'webp');
    await storage.put(key, image.image, { contentType: 'image/webp' });
    let previous: string | null = null;
    try {
      await inTransaction(em.fork(), async (tx) => {
        previous = (await load(tx, petId, ownerId, true)).photo_key;
        await tx.execute(`update walk_pets set photo_key = ?, updated_at = now() where id = ?`, [key, petId]);
      });
    } catch (err) {
      await storage.delete(key).catch(() => undefined);
      throw err;
    }
    if (previous) await storage.delete(previous).catch(() => undefined);
    return get(petId);
  }

  async function health(petId: string, ownerId: string, kind?: (typeof HEALTH_KINDS)[number]): Promise<HealthDto[]> {
    const db = em.fork();
    await load(db, petId, ownerId);
    const rows = await db.execute<HealthRow[]>(`${HEALTH_SELECT} where pet_id = ?${kind ? ' and kind = ?' : ''} order by recorded_on desc, created_at desc limit 500`, kind ? [petId, kind] : [petId]);
    return rows.map(healthToDto);
  }

  // A weight record also becomes the pet's current weight when it is the newest.
  async function addHealth(ownerId: string, petId: string, input: z.infer<typeof healthInput>): Promise<HealthDto> {
    return inTransaction(em.fork(), async (tx) => {
      await load(tx, petId, ownerId, true);
      const [r] = await tx.execute<HealthRow[]>(
        `insert into walk_pet_health (id, pet_id, kind, recorded_on, weight_kg, title, notes, next_due_on) values (?, ?, ?, ?, ?, ?, ?, ?)
         returning id, pet_id, kind, to_char(recorded_on, 'YYYY-MM-DD') as recorded_on, weight_kg, title, notes, to_char(next_due_on, 'YYYY-MM-DD') as next_due_on, created_at`,
        [crypto.randomUUID(), petId, input.kind, input.recordedOn, input.kind === 'weight' ? input.weightKg : null, 'title' in input ? input.title : null,
          input.notes ?? null, input.kind === 'vaccination' ? input.nextDueOn ?? null : null]);
      if (input.kind === 'weight') {
        await tx.execute(`update walk_pets set weight_kg = ?, updated_at = now() where id = ?
          and not exists (select 1 from walk_pet_health h where h.pet_id = ? and h.kind = 'weight' and h.recorded_on > ?)`, [input.weightKg, petId, petId, input.recordedOn]);
      }
      return healthToDto(r);
    });
  }

  async function removeHealth(ownerId: string, petId: string, recordId: string): Promise<void> {
    const db = em.fork();
    await load(db, petId, ownerId);
    const gone = await db.execute(`delete from walk_pet_health where id = ? and pet_id = ? returning id`, [recordId, petId]);
    if (!gone.length) throw notFound('Health record');
  }

  // The weights of `petIds` that belong to `ownerId` (for a walk's calories); an unknown id is a 400.
  async function ownedWeights(db: Em, ownerId: string, petIds: string[]): Promise<Map<string, number | null>> {
    if (!petIds.length) return new Map();
    const rows = await db.execute<{ id: string; weight_kg: string | null }[]>(
      `select id, weight_kg from walk_pets where owner_id = ? and deleted_at is null and id = any(?::uuid[])`, [ownerId, pgArray(petIds)]);
    return new Map(rows.map((r) => [r.id, r.weight_kg === null ? null : Number(r.weight_kg)]));
  }

  return { list, get, create, update, remove, setPhoto, health, addHealth, removeHealth, ownedWeights };
}

export type PetService = ReturnType<typeof createPetService>;
