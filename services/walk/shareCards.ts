// Share cards: a picture of one of my walks to post elsewhere — the route, distance, duration, date
// and my pet's photo, drawn in the worker pool (workers/walk/shareCard.ts) and stored. A card is
// public once shared, so it shows only what others may see of the walk: the route cut at my home
// zones as GET /walks/:id shows it to others (nothing of a route that lies wholly inside them: the
// card then has the numbers and no line), and only a trusted walk has one (others never see a
// flagged walk).
//
// A card is drawn once per version of what it shows: the object key is derived from a hash of the
// route others see, the numbers, the pet's photo and the layout, so asking again reuses the stored
// card, two requests at once store one object (on one node they also share one drawing), and a
// changed photo or home zone draws a new card, which replaces the old one.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ObjectNotFoundError, type ObjectStorage } from '../../integrations/storage/index.ts';
import { defineWorkerTask, type WorkerPool } from '../../workers/pool.ts';
import { SHARE_CARD_LAYOUT, SHARE_CARD_SIZE, type ShareCardInput, type ShareCardResult } from '../../workers/walk/shareCard.ts';
import { conflict, notFound } from '../errors.ts';
import type { TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import type { ProfileService } from './profiles.ts';
import { trimHomeZones } from './walks.ts';

export const renderShareCardTask = defineWorkerTask<ShareCardInput, ShareCardResult>({
  label: 'walk share card', file: new URL('../../workers/walk/shareCard.ts', import.meta.url), name: 'renderShareCardTask',
});

// Like the other stored images' URLs: long enough to download and post, short enough not to be a permalink.
export const SHARE_CARD_URL_SECONDS = 3600;
const KEY_PREFIX = (walkId: string) => `walk/share-cards/${walkId}`;

export const shareCardDto = z
  .object({
    url: z.string().meta({ description: 'Where to fetch the PNG; expires at expiresAt (ask again for a fresh URL: the card is not drawn again)' }),
    expiresAt: z.string(),
    width: z.number().int(),
    height: z.number().int(),
  })
  .meta({ id: 'WalkShareCard' });
export type ShareCardDto = z.infer<typeof shareCardDto>;

type WalkRow = {
  user_id: string; trusted: boolean; route: { coordinates: [number, number][] }; distance_m: number; duration_s: number; local_date: string;
};

// The object key of a card version: a UUID made from the content hash (keys are `<prefix>/<uuid>.ext`).
function keyOf(walkId: string, hash: string): string {
  const h = hash.slice(0, 32);
  return `${KEY_PREFIX(walkId)}/${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}.png`;
}

export function createShareCardService(deps: {
  em: Em; time: TimeFormatter; logger: Logger; pool: WorkerPool; storage: ObjectStorage; profiles: ProfileService;
  // Each card drawn (a metric).
  onRendered?: () => void;
}) {
  const { em, time, storage } = deps;
  // Cards being drawn on this node, by key: a second request for the same version waits for the first.
  const drawing = new Map<string, Promise<boolean>>();

  // What the card shows, as others may see it, and the hash of it.
  async function contentOf(db: Em, userId: string, walkId: string) {
    const [w] = await db.execute<WalkRow[]>(
      `select user_id, trusted, route, distance_m, duration_s, to_char(local_date, 'YYYY-MM-DD') as local_date from walks where id = ?`, [walkId]);
    if (!w || w.user_id !== userId) throw notFound('Walk');
    if (!w.trusted) throw conflict('walk_not_trusted', 'A flagged walk is not shown to others, so it has no share card');
    const route = trimHomeZones(w.route.coordinates, await deps.profiles.homeZonesOf(db, userId)).coordinates;
    // The walk's first pet with a photo (its oldest, so the choice is stable).
    const [pet] = await db.execute<{ photo_key: string }[]>(
      `select p.photo_key from walk_walk_pets wp join walk_pets p on p.id = wp.pet_id
        where wp.walk_id = ? and p.deleted_at is null and p.photo_key is not null order by p.created_at, p.id limit 1`, [walkId]);
    const content = { layout: SHARE_CARD_LAYOUT, size: SHARE_CARD_SIZE, route, distanceM: w.distance_m, durationS: w.duration_s, localDate: w.local_date, photoKey: pet?.photo_key ?? null };
    const hash = crypto.createHash('sha256').update(JSON.stringify(content)).digest('hex');
    return { content, hash, key: keyOf(walkId, hash) };
  }

  // Draws and stores the card unless it is already stored (answers whether it drew).
  async function draw(walkId: string, content: Awaited<ReturnType<typeof contentOf>>['content'], hash: string, key: string): Promise<boolean> {
    // Read again once this flight is the only one for the key: a flight that ended between the
    // caller's read and now has stored this very version.
    if (await storedHash(em.fork(), walkId) === hash) return false;
    const petPhoto = content.photoKey ? await storage.get(content.photoKey).then((o) => new Uint8Array(o.bytes), (err: unknown) => {
      // The pet's photo was replaced or deleted while we drew: the card goes without it (the next
      // request sees the new state, hashes differently, and draws again).
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }) : undefined;
    const card = await deps.pool.run(renderShareCardTask, { route: content.route, distanceM: content.distanceM, durationS: content.durationS, localDate: content.localDate, petPhoto });
    deps.onRendered?.();
    // The same version always lands on the same key, so a race between nodes overwrites one object with the same picture.
    await storage.put(key, card.image, { contentType: card.contentType, cacheControl: 'private, max-age=3600' });
    const replaced = await inTransaction(em.fork(), async (tx) => {
      // The walk's row serialises card writes for it, so the previous key read here is the one replaced.
      await tx.execute(`select id from walks where id = ? for update`, [walkId]);
      const [previous] = await tx.execute<{ storage_key: string }[]>(`select storage_key from walk_share_cards where walk_id = ?`, [walkId]);
      await tx.execute(
        `insert into walk_share_cards (walk_id, content_hash, storage_key, width, height, bytes) values (?, ?, ?, ?, ?, ?)
         on conflict (walk_id) do update set content_hash = excluded.content_hash, storage_key = excluded.storage_key, width = excluded.width,
           height = excluded.height, bytes = excluded.bytes, created_at = now()`,
        [walkId, hash, key, card.width, card.height, card.image.byteLength]);
      return previous && previous.storage_key !== key ? previous.storage_key : null;
    });
    // Once the row points at the new card, the old one is nobody's (a failed delete leaves an orphan, logged).
    if (replaced) await storage.delete(replaced).catch((err: unknown) => deps.logger.warn({ err, key: replaced }, 'old share card not deleted'));
    return true;
  }

  async function storedHash(db: Em, walkId: string): Promise<string | null> {
    const [r] = await db.execute<{ content_hash: string }[]>(`select content_hash from walk_share_cards where walk_id = ?`, [walkId]);
    return r?.content_hash ?? null;
  }

  // POST /walks/:id/share-card. `created` is false when the stored card of this version was reused.
  async function cardFor(userId: string, walkId: string): Promise<{ card: ShareCardDto; created: boolean }> {
    const db = em.fork();
    const { content, hash, key } = await contentOf(db, userId, walkId);
    let created = false;
    if ((await storedHash(db, walkId)) !== hash) {
      const joined = drawing.get(key);
      if (joined) await joined;
      else {
        const flight = draw(walkId, content, hash, key).finally(() => drawing.delete(key));
        drawing.set(key, flight);
        created = await flight;
      }
    }
    const url = await storage.presignGet(key, { expiresInSeconds: SHARE_CARD_URL_SECONDS });
    return { card: { url: url.url, expiresAt: time.format(url.expiresAt), width: SHARE_CARD_SIZE, height: SHARE_CARD_SIZE }, created };
  }

  return { cardFor };
}

export type ShareCardService = ReturnType<typeof createShareCardService>;
