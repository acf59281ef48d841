// Point packs (seed 004, "결제 상품"): the chat's payment products, sold through the platform's
// payments and paid out into the platform's points wallet. Nothing here moves money or keeps a
// balance of its own: an order is the platform's (services/billing/payments.ts), the points are the
// wallet's (services/billing/points.ts), and this file decides only what a pack grants and takes back.
//
// Decisions:
// - Grants are frozen at checkout. The platform freezes the price in the order; the points it buys
//   are frozen with it, in the order's metadata, so an admin editing a pack while an order is pending
//   cannot turn 4,500 KRW into 1,000 points (or a promised bonus into none). The metadata is signed:
//   the platform's generic POST /payments/orders lets a client set metadata, so unsigned grants would
//   be the client's word. An order without valid signed grants (one made through that generic route)
//   gets the pack's grants as they are when it is paid.
// - A refund takes back the refunded share of what the payment credited (points and bonus together):
//   after refunds totalling r of an A KRW order that credited C points, floor(C × r / A) have been
//   taken back. Computed on the running total, so partial refunds never drift by rounding and a full
//   refund takes back exactly C. The wallet takes it from the balance and records the rest as debt,
//   which later credits pay first (services/billing/points.ts: the provider has already returned the
//   money when we hear of a refund, so refusing it is not an option).
// - Every movement is keyed on the payment (and, for refunds, on the refunded total), so a webhook
//   delivered twice, a confirm racing its webhook or a handler re-run moves points once.
// - The catalogue is payment_products rows of module `chat`. The four seed packs are declared in the
//   module definition (`products`), which the platform writes at every migration; admins create
//   more (ids `chat.<slug>`), edit any pack, and take packs off sale (a soft delete: orders keep
//   their product). A pack an admin created or edited is marked managed_by 'admin', and the
//   platform's seeder (which rewrites declared products at every migration) leaves it alone.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { Payment } from '../../entities/billing/Payment.ts';
import type { WebhookHeaders } from '../../integrations/payments/standardWebhooks.ts';
import type { PaymentService } from '../billing/payments.ts';
import type { PointsWallet } from '../billing/points.ts';
import { orderDto } from '../billing/schemas.ts';
import type { WebhookOutcome, WebhookService } from '../billing/webhooks.ts';
import { cursorCodec } from '../cursor.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { clientInstant, type Clock } from '../time.ts';
import { isUniqueViolation, onCommitted, type Em } from '../transaction.ts';

const MODULE = 'chat';

export const packGrants = z.object({ points: z.number().int().positive(), bonus: z.number().int().min(0).default(0) });
export type PackGrants = z.infer<typeof packGrants>;

// The seed's four packs: upserted into payment_products as the module's declared products.
export const chatPointPacks: { id: string; name: string; amount: number; grants: PackGrants; sortOrder: number }[] = [
  { id: 'chat.starter', name: '스타터 팩', amount: 1000, grants: { points: 100, bonus: 0 }, sortOrder: 0 },
  { id: 'chat.basic', name: '베이직 팩', amount: 4500, grants: { points: 500, bonus: 50 }, sortOrder: 1 },
  { id: 'chat.premium', name: '프리미엄 팩', amount: 8500, grants: { points: 1000, bonus: 150 }, sortOrder: 2 },
  { id: 'chat.ultimate', name: '얼티밋 팩', amount: 24000, grants: { points: 3000, bonus: 600 }, sortOrder: 3 },
];

export const pointPackId = z
  .string()
  .regex(/^chat\.[a-z0-9][a-z0-9_-]{0,39}$/, 'chat. followed by 1-40 lower-case letters, digits, _ or -')
  .meta({ example: 'chat.event-pack' });

const packFields = {
  name: z.string().trim().min(1).max(100).meta({ example: '이벤트 팩' }),
  description: z.string().trim().max(500).nullable().default(null),
  price: z.number().int().min(100).max(10_000_000).meta({ description: 'KRW', example: 3000 }),
  points: z.number().int().min(1).max(100_000_000).meta({ example: 300 }),
  bonus: z.number().int().min(0).max(100_000_000).default(0),
  sortOrder: z.number().int().min(0).max(100_000).default(100),
  active: z.boolean().default(true),
};
export const pointPackInput = z.object(packFields);
export type PointPackInput = z.infer<typeof pointPackInput>;
export const pointPackCreate = z.object({ id: pointPackId, ...packFields });
export type PointPackCreate = z.infer<typeof pointPackCreate>;

export const pointPackDto = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    price: z.number().int().meta({ description: 'KRW' }),
    points: z.number().int(),
    bonus: z.number().int(),
    totalPoints: z.number().int().meta({ description: 'points + bonus' }),
    sortOrder: z.number().int(),
    active: z.boolean(),
  })
  .meta({ id: 'ChatPointPack' });
export type PointPackDto = z.infer<typeof pointPackDto>;

export const checkoutDto = orderDto.extend({ pack: pointPackDto.meta({ description: 'The pack as ordered: these grants are what the payment credits' }) }).meta({ id: 'ChatCheckout' });

export const paymentHistoryItem = orderDto
  .extend({
    points: z
      .object({
        credited: z.number().int().meta({ description: "The pack's points credited by this payment" }),
        bonus: z.number().int().meta({ description: 'Its bonus points credited' }),
        reversed: z.number().int().meta({ description: 'Points its refunds took back (from the balance, the rest as debt)' }),
      }),
  })
  .meta({ id: 'ChatPaymentHistoryItem' });
export type PaymentHistoryItem = z.infer<typeof paymentHistoryItem>;

export const historyQuery = z.object({
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
const historyCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));

// What checkout writes into the order's metadata: the grants, when, and a MAC over them and the order.
const frozenGrants = z.object({ chatPoints: z.number().int().positive(), chatBonus: z.number().int().min(0), chatGrantsAt: z.number().int(), chatGrantsSig: z.string() });
// Checkout signs just before the platform stamps the order, so the two instants are this close.
const FROZEN_CLOCK_SLACK_MS = 60_000;

type PackRow = { id: string; name: string; description: string | null; amount: number; grants: unknown; sort_order: number; active: boolean };
const PACK_COLUMNS = 'id, name, description, amount, grants, sort_order, active';

export function createPointPackService(deps: {
  em: Em;
  clock: Clock;
  logger: Logger;
  points: PointsWallet;
  payments: PaymentService;
  // Derives the key that signs frozen grants (URL_SIGNING_SECRET).
  signingSecret: string;
  // The seed's checkout is Toss: orders go there when it is configured, else to the platform's
  // default provider (the offline sandbox in development).
  toss: { configured: boolean };
  webhooks: WebhookService;
  // After a pack's points are credited (the payment committed): the module tells the user.
  onCredited?: (payment: Payment, points: number) => void;
}) {
  const { em, points, payments } = deps;
  const grantsKey = crypto.createHmac('sha256', deps.signingSecret).update('chat-point-pack-grants').digest();
  const checkoutProvider = deps.toss.configured ? ('toss' as const) : undefined;

  // The platform's own webhook service, so /payment/webhook and /webhooks/toss record a delivery
  // once between them and apply it through the same payment move.
  const tossWebhook = deps.toss.configured ? deps.webhooks.toss : undefined;

  const key = (payment: Payment, what: string) => `chat.pack:${payment.id}:${what}`;
  const reference = (payment: Payment) => ({ type: 'payment', id: payment.orderId });

  function toPack(r: PackRow): PointPackDto {
    const g = packGrants.parse(r.grants);
    return { id: r.id, name: r.name, description: r.description, price: r.amount, points: g.points, bonus: g.bonus, totalPoints: g.points + g.bonus, sortOrder: r.sort_order, active: r.active };
  }

  async function packRow(db: Em, id: string): Promise<PackRow | undefined> {
    const [row] = await db.execute<PackRow[]>(`select ${PACK_COLUMNS} from payment_products where id = ? and module = ?`, [id, MODULE]);
    return row;
  }

  async function listPacks(): Promise<PointPackDto[]> {
    const rows = await em.fork().execute<PackRow[]>(`select ${PACK_COLUMNS} from payment_products where module = ? and active order by sort_order, id`, [MODULE]);
    return rows.map(toPack);
  }

  // ---- admin ----

  async function createPack(input: PointPackCreate): Promise<PointPackDto> {
    try {
      const [row] = await em.fork().execute<PackRow[]>(
        `insert into payment_products (id, module, name, description, amount, grants, sort_order, active, managed_by) values (?, ?, ?, ?, ?, ?, ?, ?, 'admin')
         on conflict (id) do nothing returning ${PACK_COLUMNS}`,
        [input.id, MODULE, input.name, input.description, input.price, JSON.stringify({ points: input.points, bonus: input.bonus }), input.sortOrder, input.active],
      );
      if (row) return toPack(row);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    throw conflict('product_exists', `A product "${input.id}" exists already`, 'id');
  }

  async function updatePack(id: string, input: PointPackInput): Promise<PointPackDto> {
    const [row] = await em.fork().execute<PackRow[]>(
      `update payment_products set name = ?, description = ?, amount = ?, grants = ?, sort_order = ?, active = ?, managed_by = 'admin' where id = ? and module = ? returning ${PACK_COLUMNS}`,
      [input.name, input.description, input.price, JSON.stringify({ points: input.points, bonus: input.bonus }), input.sortOrder, input.active, id, MODULE],
    );
    if (!row) throw notFound('Point pack');
    return toPack(row);
  }

  // Off sale, not deleted: past orders reference it (payments.product_id).
  async function removePack(id: string): Promise<void> {
    const rows = await em.fork().execute(`update payment_products set active = false, managed_by = 'admin' where id = ? and module = ? returning id`, [id, MODULE]);
    if (rows.length === 0) throw notFound('Point pack');
  }

  // ---- orders ----

  function sign(g: { userId: string; productId: string; amount: number; points: number; bonus: number; at: number }): string {
    return crypto.createHmac('sha256', grantsKey).update(JSON.stringify([g.userId, g.productId, g.amount, g.points, g.bonus, g.at])).digest('base64url');
  }

  async function checkout(userId: string, productId: string) {
    const row = await packRow(em.fork(), productId);
    // Only chat packs: the platform's createOrder would sell any module's product here.
    if (!row || !row.active) throw badRequest('unknown_product', `No point pack "${productId}" is on sale`, 'productId');
    const pack = toPack(row);
    const at = deps.clock.now().getTime();
    const metadata = {
      chatPoints: pack.points, chatBonus: pack.bonus, chatGrantsAt: at,
      chatGrantsSig: sign({ userId, productId, amount: pack.price, points: pack.points, bonus: pack.bonus, at }),
    };
    const order = await payments.createOrder(userId, { productId, provider: checkoutProvider, metadata });
    return { ...order, pack };
  }

  // The grants the order froze, when its signature holds for this very order; else the pack as it is now.
  async function grantsOf(tx: Em, payment: Payment): Promise<PackGrants> {
    const frozen = frozenGrants.safeParse(payment.metadata ?? {});
    if (frozen.success) {
      const m = frozen.data;
      const expected = Buffer.from(sign({ userId: payment.userId, productId: payment.productId, amount: payment.amount, points: m.chatPoints, bonus: m.chatBonus, at: m.chatGrantsAt }));
      const given = Buffer.from(m.chatGrantsSig);
      const fresh = Math.abs(payment.createdAt.getTime() - m.chatGrantsAt) <= FROZEN_CLOCK_SLACK_MS;
      if (fresh && given.length === expected.length && crypto.timingSafeEqual(given, expected)) return { points: m.chatPoints, bonus: m.chatBonus };
      deps.logger.warn({ orderId: payment.orderId }, 'point pack order carries grants that are not ours; crediting the pack as it is now');
    }
    const row = await packRow(tx, payment.productId);
    // A payment row names its product under a foreign key, so the row is there.
    return packGrants.parse(row!.grants);
  }

  // payments.onPaid: runs in the payment's transaction, so the points arrive with the payment or not at all.
  async function onPaid(tx: Em, payment: Payment): Promise<void> {
    const g = await grantsOf(tx, payment);
    const common = { reference: reference(payment), description: payment.orderName };
    const credited = await points.credit(payment.userId, { ...common, type: 'credit', amount: g.points, idempotencyKey: key(payment, 'points') }, tx);
    if (g.bonus > 0) await points.credit(payment.userId, { ...common, type: 'bonus', amount: g.bonus, idempotencyKey: key(payment, 'bonus'), description: `${payment.orderName} bonus` }, tx);
    // Told once the payment's transaction has committed, and only the first time it credits.
    if (!credited.replayed) onCommitted(tx, () => deps.onCredited?.(payment, g.points + g.bonus));
  }

  // payments.onRefunded: `amount` is what this refund returned; payment.refundedAmount already includes it.
  async function onRefunded(tx: Em, payment: Payment, amount: number): Promise<void> {
    const totals = (await points.totalsByReference(payment.userId, 'payment', [payment.orderId], tx)).get(payment.orderId) ?? {};
    const credited = (totals.credit ?? 0) + (totals.bonus ?? 0);
    const take = reversedAfter(credited, payment.refundedAmount, payment.amount) - reversedAfter(credited, payment.refundedAmount - amount, payment.amount);
    if (take <= 0) return;
    const result = await points.reverse(payment.userId, {
      amount: take,
      // One key per refunded total: a redelivered refund finds its reversal, the next refund gets its own.
      idempotencyKey: key(payment, `refund:${payment.refundedAmount}`),
      reference: reference(payment),
      description: `${payment.orderName} refund (${payment.refundedAmount} of ${payment.amount} KRW)`,
    }, tx);
    if (result.debtAdded > 0) deps.logger.info({ orderId: payment.orderId, debtAdded: result.debtAdded }, 'refunded points were already spent; recorded as debt');
  }

  // ---- history ----

  async function history(userId: string, q: z.infer<typeof historyQuery>): Promise<{ items: PaymentHistoryItem[]; nextCursor: string | null }> {
    const db = em.fork();
    const after = q.cursor ? historyCursor.decode(q.cursor) : undefined;
    const rows = await db.find(
      Payment,
      { userId, module: MODULE, ...(after ? { $or: [{ createdAt: { $lt: after.at } }, { createdAt: after.at, id: { $lt: after.id } }] } : {}) },
      { orderBy: { createdAt: 'desc', id: 'desc' }, limit: q.limit + 1 },
    );
    const shown = rows.slice(0, q.limit);
    const credited = await points.totalsByReference(userId, 'payment', shown.map((p) => p.orderId));
    const items = shown.map((p) => {
      const c = credited.get(p.orderId) ?? {};
      const [credit, bonus] = [c.credit ?? 0, c.bonus ?? 0];
      return { ...payments.toDto(p), points: { credited: credit, bonus, reversed: reversedAfter(credit + bonus, p.refundedAmount, p.amount) } };
    });
    const last = shown.at(-1);
    return { items, nextCursor: rows.length > q.limit && last ? historyCursor.encode({ at: last.createdAt.toISOString(), id: last.id }) : null };
  }

  return {
    listPacks,
    createPack,
    updatePack,
    removePack,
    checkout,
    history,
    // undefined where Toss is not configured (the platform then serves no /webhooks/toss either)
    tossWebhook: tossWebhook as ((rawBody: Buffer, headers: WebhookHeaders) => Promise<WebhookOutcome>) | undefined,
    onPaid,
    onRefunded,
  };
}

export type PointPackService = ReturnType<typeof createPointPackService>;

// Points taken back once refunds total `refunded` of an `amount` KRW order that credited `credited`.
export function reversedAfter(credited: number, refunded: number, amount: number): number {
  if (amount <= 0 || refunded <= 0) return 0;
  return Math.floor((credited * Math.min(refunded, amount)) / amount);
}
