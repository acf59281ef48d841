// A character's image gallery: uploads go through the image worker (real format from the bytes,
// size and pixel limits, auto-orient, 3:4 crop, metadata stripped, WebP) and into object storage
// under random keys; readers get expiring URLs. The creator uploads and deletes; whoever may see
// the character may see its images.
import crypto from 'node:crypto';
import { z } from 'zod';
import { acceptImage } from '../images.ts';
import { newObjectKey, type ObjectStorage } from '../../integrations/storage/index.ts';
import type { WorkerPool } from '../../workers/pool.ts';
import { conflict, notFound } from '../errors.ts';
import type { TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import type { CharacterService } from './characters.ts';

export const MAX_GALLERY_IMAGES = 20;
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
const URL_SECONDS = 3600;

export const galleryImageDto = z
  .object({
    id: z.uuid(),
    url: z.string().meta({ description: 'Expires at urlExpiresAt; list again for fresh ones' }),
    thumbnailUrl: z.string(),
    urlExpiresAt: z.string(),
    width: z.number().int(),
    height: z.number().int(),
    order: z.number().int(),
    createdAt: z.string(),
  })
  .meta({ id: 'CharacterImage' });
export type GalleryImageDto = z.infer<typeof galleryImageDto>;

type Row = { id: string; character_id: string; storage_key: string; width: number; height: number; order_index: number; created_at: Date };

export function createGalleryService(deps: { em: Em; time: TimeFormatter; storage: ObjectStorage; pool: WorkerPool; characters: CharacterService }) {
  const { em, time, storage } = deps;
  // Object keys are <prefix>/<uuid>.<ext> (integrations/storage): the thumbnail shares the image's uuid under thumbs/.
  const thumbKey = (key: string) => key.replace(/\/([^/]+)$/, '/thumbs/$1');

  async function toDto(r: Row): Promise<GalleryImageDto> {
    const [image, thumb] = await Promise.all([storage.presignGet(r.storage_key, { expiresInSeconds: URL_SECONDS }), storage.presignGet(thumbKey(r.storage_key), { expiresInSeconds: URL_SECONDS })]);
    return { id: r.id, url: image.url, thumbnailUrl: thumb.url, urlExpiresAt: time.format(image.expiresAt), width: r.width, height: r.height, order: r.order_index, createdAt: time.format(new Date(r.created_at)) };
  }

  async function assertOwner(userId: string, characterId: string): Promise<void> {
    const [c] = await em.fork().execute<{ creator_id: string }[]>(`select creator_id from chat_characters where id = ? and deleted_at is null`, [characterId]);
    if (!c || c.creator_id !== userId) throw notFound('Character');
  }

  async function upload(userId: string, characterId: string, bytes: Buffer): Promise<GalleryImageDto> {
    await assertOwner(userId, characterId);
    const processed = await acceptImage(deps.pool, { bytes, aspect: { w: 3, h: 4 }, format: 'webp', limits: { maxBytes: MAX_IMAGE_BYTES } });
    const id = crypto.randomUUID();
    const key = newObjectKey(`chat/characters/${characterId}`, 'webp');
    await storage.put(key, processed.image, { contentType: 'image/webp' });
    await storage.put(thumbKey(key), processed.thumbnail, { contentType: 'image/webp' });
    try {
      const row = await inTransaction(em.fork(), async (tx) => {
        // The character row is the lock that keeps two uploads from both taking the last slot.
        await tx.execute(`select id from chat_characters where id = ? for update`, [characterId]);
        const [{ n, next }] = await tx.execute<{ n: string; next: number }[]>(`select count(*) as n, coalesce(max(order_index) + 1, 0) as next from chat_character_images where character_id = ?`, [characterId]);
        if (Number(n) >= MAX_GALLERY_IMAGES) throw conflict('gallery_full', `A character has at most ${MAX_GALLERY_IMAGES} images; delete one first`);
        const [r] = await tx.execute<Row[]>(
          `insert into chat_character_images (id, character_id, storage_key, content_type, width, height, bytes, order_index) values (?, ?, ?, 'image/webp', ?, ?, ?, ?) returning *`,
          [id, characterId, key, processed.width, processed.height, processed.image.byteLength, next],
        );
        return r;
      });
      return toDto(row);
    } catch (err) {
      await Promise.all([storage.delete(key), storage.delete(thumbKey(key))]).catch(() => undefined);
      throw err;
    }
  }

  async function list(viewerId: string, characterId: string): Promise<GalleryImageDto[]> {
    await deps.characters.get(characterId, viewerId); // 404 unless the viewer may see the character
    const rows = await em.fork().execute<Row[]>(`select * from chat_character_images where character_id = ? order by order_index`, [characterId]);
    return Promise.all(rows.map(toDto));
  }

  async function remove(userId: string, characterId: string, imageId: string): Promise<void> {
    await assertOwner(userId, characterId);
    const [gone] = await em.fork().execute<Row[]>(`delete from chat_character_images where id = ? and character_id = ? returning *`, [imageId, characterId]);
    if (!gone) throw notFound('Image');
    await Promise.all([storage.delete(gone.storage_key), storage.delete(thumbKey(gone.storage_key))]);
  }

  return { upload, list, remove };
}

export type GalleryService = ReturnType<typeof createGalleryService>;
