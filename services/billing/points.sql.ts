// The points wallet's statements (services/billing/points.ts). Each movement is one statement: the
// wallet row's guarded update and the ledger entry commit together or not at all, and a second use
// of an idempotency key fails on the ledger's unique key, undoing the update with it.

// Parameters: amount, credited delta, spent delta, user, amount (the guard), then the entry's user,
// type, amount, description, reference type, reference id, key.
// No row back: the wallet is missing, or the balance would go below zero.
export const POINTS_MOVE = `
  with w as (
    update point_wallets
       set balance = balance + ?::bigint,
           total_credited = total_credited + ?::bigint,
           total_spent = total_spent + ?::bigint,
           updated_at = now()
     where user_id = ? and balance + ?::bigint >= 0
     returning balance, debt)
  insert into point_transactions (user_id, type, amount, balance_after, debt_after, description, reference_type, reference_id, idempotency_key)
  select ?, ?, ?, w.balance, w.debt, ?, ?, ?, ? from w
  returning id, type, amount, balance_after, debt_after, description, reference_type, reference_id, idempotency_key, created_at`;

export const POINTS_ENSURE_WALLET = `insert into point_wallets (user_id) values (?) on conflict (user_id) do nothing`;

export const POINTS_BY_KEY = `
  select id, type, amount, balance_after, debt_after, description, reference_type, reference_id, idempotency_key, created_at
    from point_transactions where user_id = ? and idempotency_key = ?`;

export const POINTS_WALLET = `select balance, debt, total_credited, total_spent from point_wallets where user_id = ?`;

export const POINTS_WALLET_FOR_UPDATE = `select balance, debt from point_wallets where user_id = ? for update`;

// Sets both (a reversal or a debt payment, computed under the row lock) and writes the entry.
export const POINTS_SET_AND_LOG = `
  with w as (update point_wallets set balance = ?, debt = ?, updated_at = now() where user_id = ? returning balance, debt)
  insert into point_transactions (user_id, type, amount, balance_after, debt_after, description, reference_type, reference_id, idempotency_key)
  select ?, ?, ?, w.balance, w.debt, ?, ?, ?, ? from w
  returning id, type, amount, balance_after, debt_after, description, reference_type, reference_id, idempotency_key, created_at`;

export const POINTS_RESERVATION_INSERT = `
  insert into point_reservations (id, user_id, amount, reference_type, reference_id, expires_at) values (?, ?, ?, ?, ?, ?)`;

// Closes a held reservation once: the second settle or release of it finds no row.
export const POINTS_RESERVATION_CLOSE = `
  update point_reservations set status = ?, charged = least(?::bigint, amount), closed_at = now()
   where id = ? and status = 'held'
   returning user_id, amount, charged, reference_type, reference_id`;

export const POINTS_RESERVATION_GET = `select id, user_id, amount, status, charged, reference_type, reference_id, expires_at from point_reservations where id = ?`;

export const POINTS_EXPIRED_RESERVATIONS = `select id from point_reservations where status = 'held' and expires_at < ? order by expires_at limit ?`;

export const POINTS_PAGE = `
  select id, type, amount, balance_after, debt_after, description, reference_type, reference_id, created_at
    from point_transactions
   where user_id = ? and (?::bigint is null or id < ?::bigint) and (?::text is null or type = ?::text)
   order by id desc limit ?`;

export const POINTS_SUMMARY = `
  select type, count(*) as n, coalesce(sum(amount), 0) as total
    from point_transactions
   where user_id = ?
     and created_at >= (?::date)::timestamp at time zone ?
     and created_at < ((?::date) + 1)::timestamp at time zone ?
   group by type`;

// Totals per reference id and entry type: what a payment credited, what a reply spent.
export const POINTS_TOTALS_BY_REFERENCE = `
  select reference_id, type, sum(amount)::bigint as total
    from point_transactions
   where user_id = ? and reference_type = ? and reference_id = any(?::text[])
   group by reference_id, type`;
