// World settings a character can take its world from: a creator's own, or anyone's public one
// (usage_count counts the characters that chose it).
import crypto from 'node:crypto';
import { z } from 'zod';
import { cursorCodec } from '../cursor.ts';
import { notFound } from '../errors.ts';
import { clientInstant, type TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';

export const worldSettingInput = z.object({
  name: z.string().trim().min(1).max(100),
  description: z.string().trim().max(8000).optional(),
  rules: z.string().trim().max(8000).optional(),
  isPublic: z.boolean().default(false),
});
export type WorldSettingInput = z.infer<typeof worldSettingInput>;

export const worldSettingDto = z
  .object({ id: z.uuid(), creatorId: z.uuid(), ...worldSettingInput.shape, usageCount: z.number().int(), createdAt: z.string(), updatedAt: z.string() })
  .meta({ id: 'WorldSetting' });
export type WorldSettingDto = z.infer<typeof worldSettingDto>;

type Row = { id: string; creator_id: string; name: string; description: string | null; rules: string | null; is_public: boolean; usage_count: number; created_at: Date; updated_at: Date };

const pageCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));

export function createWorldSettingService(deps: { em: Em; time: TimeFormatter }) {
  const { em, time } = deps;
  const toDto = (r: Row): WorldSettingDto => ({
    id: r.id, creatorId: r.creator_id, name: r.name, description: r.description ?? undefined, rules: r.rules ?? undefined, isPublic: r.is_public,
    usageCount: r.usage_count, createdAt: time.format(new Date(r.created_at)), updatedAt: time.format(new Date(r.updated_at)),
  });

  async function row(id: string): Promise<Row | undefined> {
    return (await em.fork().execute<Row[]>(`select * from chat_world_settings where id = ?`, [id]))[0];
  }

  async function create(userId: string, input: WorldSettingInput): Promise<WorldSettingDto> {
    const [r] = await em.fork().execute<Row[]>(
      `insert into chat_world_settings (id, creator_id, name, description, rules, is_public) values (?, ?, ?, ?, ?, ?) returning *`,
      [crypto.randomUUID(), userId, input.name, input.description ?? null, input.rules ?? null, input.isPublic],
    );
    return toDto(r);
  }

  async function get(viewerId: string, id: string): Promise<WorldSettingDto> {
    const r = await row(id);
    if (!r || (!r.is_public && r.creator_id !== viewerId)) throw notFound('World setting');
    return toDto(r);
  }

  async function update(userId: string, id: string, input: WorldSettingInput): Promise<WorldSettingDto> {
    const [r] = await em.fork().execute<Row[]>(
      `update chat_world_settings set name = ?, description = ?, rules = ?, is_public = ?, updated_at = now() where id = ? and creator_id = ? returning *`,
      [input.name, input.description ?? null, input.rules ?? null, input.isPublic, id, userId],
    );
    if (!r) throw notFound('World setting');
    return toDto(r);
  }

  // Characters that used it keep their own world text; their link to it is cleared (on delete set null).
  async function remove(userId: string, id: string): Promise<void> {
    const gone = await em.fork().execute<{ id: string }[]>(`delete from chat_world_settings where id = ? and creator_id = ? returning id`, [id, userId]);
    if (gone.length === 0) throw notFound('World setting');
  }

  // Public ones and the viewer's own (mine=true: only the viewer's), newest first.
  async function list(viewerId: string, q: { mine: boolean; cursor?: string; limit: number }): Promise<{ items: WorldSettingDto[]; nextCursor: string | null }> {
    const after = q.cursor ? pageCursor.decode(q.cursor) : undefined;
    const rows = await em.fork().execute<Row[]>(
      `select * from chat_world_settings
        where (creator_id = ? or (not ?::boolean and is_public))
          and (?::timestamptz is null or (created_at, id) < (?::timestamptz, ?::uuid))
        order by created_at desc, id desc limit ?`,
      [viewerId, q.mine, after?.at ?? null, after?.at ?? null, after?.id ?? null, q.limit + 1],
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { items: page.map(toDto), nextCursor: rows.length > q.limit && last ? pageCursor.encode({ at: new Date(last.created_at).toISOString(), id: last.id }) : null };
  }

  return { create, get, update, remove, list };
}

export type WorldSettingService = ReturnType<typeof createWorldSettingService>;
