// The points wallet: what a user holds in points, bought in packs (a module's payment handler
// credits them) and spent on what a module prices in points (chat replies, stories, images).
//
// - An append-only ledger (point_transactions) with the balance and debt after each entry; the
//   entries of a wallet sum to its balance.
// - The balance never goes below zero: every debit is one guarded UPDATE (`balance + amount >= 0`)
//   in the same statement as its ledger entry, so concurrent debits of one wallet serialise on its
//   row and exactly as many succeed as the balance covers.
// - Every movement carries an idempotency key (unique per user): a retried request, a webhook
//   delivered twice, a settle run twice, all move the points once and answer with the first entry.
// - Reservations: a price known only after the work (a reply charged per token) is held before it
//   starts (`reserve`: the points leave the balance), then settled to the actual cost (the rest comes
//   back as `release`), or released whole when the work fails or is cancelled. A reservation
//   nobody closes (its node died) is released when it expires (cron/releaseExpiredReservations.ts).
// - Refunds: a refunded pack takes back what it credited. When some of it was already spent, the
//   balance goes to zero and the rest is recorded as debt, which later credits pay first. Refusing
//   the refund is not an option we have: the provider has already returned the money by then.
import crypto from 'node:crypto';
import { AppError, notFound } from '../errors.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, isUniqueViolation, type Em } from '../transaction.ts';
import {
  POINTS_BY_KEY, POINTS_ENSURE_WALLET, POINTS_EXPIRED_RESERVATIONS, POINTS_MOVE, POINTS_PAGE, POINTS_RESERVATION_CLOSE, POINTS_RESERVATION_GET,
  POINTS_RESERVATION_INSERT, POINTS_SET_AND_LOG, POINTS_SUMMARY, POINTS_TOTALS_BY_REFERENCE, POINTS_WALLET, POINTS_WALLET_FOR_UPDATE,
} from './points.sql.ts';
import { pgArray } from '../pgArray.ts';

export const POINT_ENTRY_TYPES = ['credit', 'bonus', 'spend', 'reserve', 'release', 'reversal', 'debt_payment', 'adjustment'] as const;
export type PointEntryType = (typeof POINT_ENTRY_TYPES)[number];

export type PointReference = { type: string; id: string };
export type PointMovement = { amount: number; idempotencyKey: string; description?: string; reference?: PointReference };

export type PointEntry = {
  id: string;
  type: PointEntryType;
  amount: number;
  balanceAfter: number;
  debtAfter: number;
  description: string | null;
  reference: PointReference | null;
  createdAt: string;
};

// `replayed`: the key had been used; this is the entry its first use wrote, and nothing moved now.
export type MoveResult = { entry: PointEntry; replayed: boolean };
export type Wallet = { balance: number; debt: number; totalCredited: number; totalSpent: number };
export type Reservation = { id: string; amount: number; balanceAfter: number };
export type SettleResult = { reservationId: string; charged: number; released: number; balanceAfter: number; alreadyClosed: boolean };

type EntryRow = {
  id: string; type: PointEntryType; amount: string; balance_after: string; debt_after: string; description: string | null;
  reference_type: string | null; reference_id: string | null; created_at: Date;
};

export function insufficientPoints(balance: number, required: number): AppError {
  return new AppError(402, 'insufficient_points', `This needs ${required} points; the balance is ${balance}`, { extra: { balance, required } });
}

export function createPointsWallet(deps: { em: Em; time: TimeFormatter; clock: Clock; reservationTtlSeconds?: number }) {
  const { em, time } = deps;
  const reservationTtlMs = (deps.reservationTtlSeconds ?? 900) * 1000;

  const toEntry = (r: EntryRow): PointEntry => ({
    id: String(r.id),
    type: r.type,
    amount: Number(r.amount),
    balanceAfter: Number(r.balance_after),
    debtAfter: Number(r.debt_after),
    description: r.description,
    reference: r.reference_type && r.reference_id ? { type: r.reference_type, id: r.reference_id } : null,
    createdAt: time.format(new Date(r.created_at)),
  });

  function assertAmount(amount: number): void {
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new Error(`points: amount must be a positive integer, got ${amount}`);
  }

  async function byKey(db: Em, userId: string, key: string): Promise<MoveResult | null> {
    const [row] = await db.execute<EntryRow[]>(POINTS_BY_KEY, [userId, key]);
    return row ? { entry: toEntry(row), replayed: true } : null;
  }

  // One movement by `signed` points: one statement, no transaction needed. Inside `tx`, the key is
  // checked first instead (a unique violation would abort the caller's transaction).
  async function move(db: Em, userId: string, type: PointEntryType, signed: number, m: PointMovement, inTx: boolean): Promise<MoveResult> {
    if (inTx) {
      const replay = await byKey(db, userId, m.idempotencyKey);
      if (replay) return replay;
    }
    const credited = signed > 0 && (type === 'credit' || type === 'bonus' || type === 'adjustment') ? signed : 0;
    const spent = type === 'spend' || type === 'reserve' || type === 'release' ? -signed : 0;
    const params = [signed, credited, spent, userId, signed, userId, type, signed, m.description ?? null, m.reference?.type ?? null, m.reference?.id ?? null, m.idempotencyKey];
    for (let attempt = 0; attempt < 2; attempt++) {
      let rows: EntryRow[];
      try {
        rows = await db.execute<EntryRow[]>(POINTS_MOVE, params);
      } catch (err) {
        if (!inTx && isUniqueViolation(err)) return (await byKey(db, userId, m.idempotencyKey))!;
        throw err;
      }
      if (rows.length) return { entry: toEntry(rows[0]), replayed: false };
      const [wallet] = await db.execute<{ balance: string }[]>(POINTS_WALLET, [userId]);
      if (wallet) {
        // Refused by the guard; or the key was used meanwhile by a movement this one lost to.
        const replay = await byKey(db, userId, m.idempotencyKey);
        if (replay) return replay;
        throw insufficientPoints(Number(wallet.balance), -signed);
      }
      if (signed < 0) throw insufficientPoints(0, -signed);
      await db.execute(POINTS_ENSURE_WALLET, [userId]);
    }
    throw new Error('points: wallet could not be created');
  }

  async function balance(userId: string): Promise<Wallet> {
    const [w] = await em.fork().execute<{ balance: string; debt: string; total_credited: string; total_spent: string }[]>(POINTS_WALLET, [userId]);
    return w
      ? { balance: Number(w.balance), debt: Number(w.debt), totalCredited: Number(w.total_credited), totalSpent: Number(w.total_spent) }
      : { balance: 0, debt: 0, totalCredited: 0, totalSpent: 0 };
  }

  // Spends points at once (a fixed price). Throws insufficient_points (402) and moves nothing when
  // the balance does not cover it.
  async function spend(userId: string, m: PointMovement): Promise<MoveResult> {
    assertAmount(m.amount);
    return move(em.fork(), userId, 'spend', -m.amount, m, false);
  }

  // Credits points (a pack bought, a bonus, an operator's adjustment), inside the caller's
  // transaction when given (a payment handler's). Debt from an earlier refund is paid first.
  async function credit(userId: string, m: PointMovement & { type?: 'credit' | 'bonus' | 'adjustment' }, tx?: Em): Promise<MoveResult> {
    assertAmount(m.amount);
    const work = async (db: Em) => {
      const result = await move(db, userId, m.type ?? 'credit', m.amount, m, true);
      if (!result.replayed && result.entry.debtAfter > 0) await payDebt(db, userId, m);
      return result;
    };
    return tx ? work(tx) : (replayOnConflict(userId, m.idempotencyKey, () => inTransaction(em.fork(), work)) as Promise<MoveResult>);
  }

  // Two movements with one key racing in their own transactions: the loser's unique violation rolls
  // its transaction back, and it answers with the winner's entry. (A caller's transaction is not
  // ours to roll back; callers that pass one serialise on their own row, as a payment does.)
  async function replayOnConflict<T>(userId: string, key: string, work: () => Promise<T>): Promise<T | MoveResult> {
    try {
      return await work();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const replay = await byKey(em.fork(), userId, key);
      if (!replay) throw err;
      return replay;
    }
  }

  async function payDebt(db: Em, userId: string, m: PointMovement): Promise<void> {
    const [w] = await db.execute<{ balance: string; debt: string }[]>(POINTS_WALLET_FOR_UPDATE, [userId]);
    const pay = Math.min(Number(w.balance), Number(w.debt));
    if (pay <= 0) return;
    await db.execute(POINTS_SET_AND_LOG, [
      Number(w.balance) - pay, Number(w.debt) - pay, userId,
      userId, 'debt_payment', -pay, 'Debt from an earlier refund, paid from this credit', m.reference?.type ?? null, m.reference?.id ?? null, `${m.idempotencyKey}:debt`,
    ]);
  }

  // Takes back points a refund reverses: from the balance as far as it goes, the rest as debt.
  async function reverse(userId: string, m: PointMovement, tx?: Em): Promise<MoveResult & { debtAdded: number }> {
    assertAmount(m.amount);
    const work = async (db: Em) => {
      const replay = await byKey(db, userId, m.idempotencyKey);
      if (replay) return { ...replay, debtAdded: 0 };
      await db.execute(POINTS_ENSURE_WALLET, [userId]);
      const [w] = await db.execute<{ balance: string; debt: string }[]>(POINTS_WALLET_FOR_UPDATE, [userId]);
      const take = Math.min(Number(w.balance), m.amount);
      const debtAdded = m.amount - take;
      const [row] = await db.execute<EntryRow[]>(POINTS_SET_AND_LOG, [
        Number(w.balance) - take, Number(w.debt) + debtAdded, userId,
        userId, 'reversal', -take, m.description ?? null, m.reference?.type ?? null, m.reference?.id ?? null, m.idempotencyKey,
      ]);
      return { entry: toEntry(row), replayed: false, debtAdded };
    };
    return tx ? work(tx) : replayOnConflict(userId, m.idempotencyKey, () => inTransaction(em.fork(), work)).then((r) => ({ debtAdded: 0, ...(r as MoveResult) }));
  }

  // Holds `amount` for work whose price is settled after it (at most `amount` is ever charged).
  // The same key returns the same reservation.
  async function reserve(userId: string, m: PointMovement & { ttlSeconds?: number }): Promise<Reservation> {
    assertAmount(m.amount);
    const held = await replayOnConflict(userId, m.idempotencyKey, () => hold(userId, m));
    if ('entry' in held) return { id: held.entry.reference!.id, amount: -held.entry.amount, balanceAfter: held.entry.balanceAfter };
    return held;
  }

  async function hold(userId: string, m: PointMovement & { ttlSeconds?: number }): Promise<Reservation> {
    return inTransaction(em.fork(), async (tx) => {
      const replay = await byKey(tx, userId, m.idempotencyKey);
      const id = replay?.entry.reference?.type === 'point_reservation' ? replay.entry.reference.id : crypto.randomUUID();
      if (replay) return { id, amount: -replay.entry.amount, balanceAfter: replay.entry.balanceAfter };
      const moved = await move(tx, userId, 'reserve', -m.amount, { ...m, reference: { type: 'point_reservation', id } }, true);
      const expiresAt = new Date(deps.clock.now().getTime() + (m.ttlSeconds ? m.ttlSeconds * 1000 : reservationTtlMs));
      await tx.execute(POINTS_RESERVATION_INSERT, [id, userId, m.amount, m.reference?.type ?? null, m.reference?.id ?? null, expiresAt]);
      return { id, amount: m.amount, balanceAfter: moved.entry.balanceAfter };
    });
  }

  // Charges `charged` of a held reservation (capped at what was held) and gives the rest back.
  // Closing an already-closed reservation changes nothing and says so.
  async function settle(reservationId: string, charged: number, description?: string): Promise<SettleResult> {
    if (!Number.isSafeInteger(charged) || charged < 0) throw new Error(`points: charged must be a non-negative integer, got ${charged}`);
    return close(reservationId, 'settled', charged, description);
  }

  async function release(reservationId: string, description?: string): Promise<SettleResult> {
    return close(reservationId, 'released', 0, description);
  }

  async function close(reservationId: string, status: 'settled' | 'released', charged: number, description?: string): Promise<SettleResult> {
    return inTransaction(em.fork(), async (tx) => {
      const [held] = await tx.execute<{ user_id: string; amount: string; charged: string }[]>(POINTS_RESERVATION_CLOSE, [status, charged, reservationId]);
      if (!held) {
        const [r] = await tx.execute<{ user_id: string; amount: string; charged: string | null }[]>(POINTS_RESERVATION_GET, [reservationId]);
        if (!r) throw notFound('Reservation');
        const wallet = await tx.execute<{ balance: string }[]>(POINTS_WALLET, [r.user_id]);
        const kept = Number(r.charged ?? 0);
        return { reservationId, charged: kept, released: Number(r.amount) - kept, balanceAfter: Number(wallet[0]?.balance ?? 0), alreadyClosed: true };
      }
      const kept = Number(held.charged);
      const back = Number(held.amount) - kept;
      let balanceAfter: number;
      if (back > 0) {
        const moved = await move(tx, held.user_id, 'release', back, {
          amount: back, idempotencyKey: `release:${reservationId}`, description: description ?? (status === 'released' ? 'Reservation released' : 'Unused part of a reservation'),
          reference: { type: 'point_reservation', id: reservationId },
        }, true);
        balanceAfter = moved.entry.balanceAfter;
      } else {
        balanceAfter = Number((await tx.execute<{ balance: string }[]>(POINTS_WALLET, [held.user_id]))[0].balance);
      }
      return { reservationId, charged: kept, released: back, balanceAfter, alreadyClosed: false };
    });
  }

  // Reservations whose holder never closed them (its node died mid-generation): released.
  async function releaseExpired(limit = 500): Promise<number> {
    const rows = await em.fork().execute<{ id: string }[]>(POINTS_EXPIRED_RESERVATIONS, [deps.clock.now(), limit]);
    let released = 0;
    for (const { id } of rows) if (!(await release(id, 'Reservation expired')).alreadyClosed) released++;
    return released;
  }

  async function transactions(userId: string, opts: { beforeId?: string; limit: number; type?: PointEntryType }): Promise<{ items: PointEntry[]; nextBeforeId: string | null }> {
    const before = opts.beforeId ?? null;
    const type = opts.type ?? null;
    const rows = await em.fork().execute<EntryRow[]>(POINTS_PAGE, [userId, before, before, type, type, opts.limit + 1]);
    const items = rows.slice(0, opts.limit).map(toEntry);
    return { items, nextBeforeId: rows.length > opts.limit ? items[items.length - 1].id : null };
  }

  // Movements by type over [from, to], whole days in `zone`.
  async function summary(userId: string, range: { from: string; to: string; zone: string }): Promise<{ byType: Partial<Record<PointEntryType, { count: number; total: number }>>; credited: number; spent: number }> {
    const rows = await em.fork().execute<{ type: PointEntryType; n: string; total: string }[]>(POINTS_SUMMARY, [userId, range.from, range.zone, range.to, range.zone]);
    const byType = Object.fromEntries(rows.map((r) => [r.type, { count: Number(r.n), total: Number(r.total) }])) as Partial<Record<PointEntryType, { count: number; total: number }>>;
    const sum = (...types: PointEntryType[]) => types.reduce((n, t) => n + (byType[t]?.total ?? 0), 0);
    return { byType, credited: sum('credit', 'bonus'), spent: -sum('spend', 'reserve', 'release') };
  }

  // The ledger's totals per reference id and entry type (e.g. what each payment credited), read in
  // the caller's transaction when given.
  async function totalsByReference(userId: string, referenceType: string, ids: string[], tx?: Em): Promise<Map<string, Partial<Record<PointEntryType, number>>>> {
    const totals = new Map<string, Partial<Record<PointEntryType, number>>>();
    if (ids.length === 0) return totals;
    const rows = await (tx ?? em.fork()).execute<{ reference_id: string; type: PointEntryType; total: string }[]>(POINTS_TOTALS_BY_REFERENCE, [userId, referenceType, pgArray(ids)]);
    for (const r of rows) totals.set(r.reference_id, { ...totals.get(r.reference_id), [r.type]: Number(r.total) });
    return totals;
  }

  return { balance, spend, credit, reverse, reserve, settle, release, releaseExpired, transactions, summary, totalsByReference };
}

export type PointsWallet = ReturnType<typeof createPointsWallet>;
