// Emails at rest: a keyed hash (HMAC-SHA256) for lookup and uniqueness, and AES-256-GCM ciphertext
// for the few places that show the address back (the user's own profile). The plain address is
// never stored. Keys come from EMAIL_ENC_KEY, separate from PERSONAL_DATA_KEY, so that rotating
// one does not force re-sealing the other.
import type { Logger } from 'pino';
import { createPersonalDataCipher } from '../crypto/personalData.ts';
import type { Em } from '../transaction.ts';

export type EmailCipher = {
  // Case-insensitive: "Minji@Example.com" and "minji@example.com" are one account.
  normalize: (email: string) => string;
  hash: (email: string) => string;
  // The two columns a row stores for an address, or nulls for an account without one.
  seal: (email: string | null | undefined) => { emailHash: string | null; emailEncrypted: string | null };
  open: (sealed: string | null | undefined) => string | null;
};

const OPENED_CACHE_MAX = 10_000;

export function createEmailCipher(key: Buffer): EmailCipher {
  const cipher = createPersonalDataCipher(key);
  const normalize = (email: string) => email.trim().toLowerCase();
  const hash = (email: string) => cipher.hash(normalize(email));
  // Every authenticated /auth/me shows the address; a sealed value never changes (a new address is a
  // new ciphertext), so its opening is remembered, for a bounded number of values.
  const opened = new Map<string, string>();
  const open = (sealed: string): string => {
    let plain = opened.get(sealed);
    if (plain === undefined) {
      plain = cipher.decrypt(sealed);
      if (opened.size >= OPENED_CACHE_MAX) opened.delete(opened.keys().next().value!);
      opened.set(sealed, plain);
    }
    return plain;
  };
  return {
    normalize,
    hash,
    seal: (email) => (email ? { emailHash: hash(email), emailEncrypted: cipher.encrypt(normalize(email)) } : { emailHash: null, emailEncrypted: null }),
    open: (sealed) => (sealed ? open(sealed) : null),
  };
}

// Databases migrated before Migration20261122000032 still hold plain addresses in users.email and
// identities.email: the migration cannot seal them (the key lives in the app's config, and
// pgcrypto has no AES-GCM nor this HKDF), so the first start with the key seals them here and then
// drops the plain columns. Idempotent: once the columns are gone it is one catalog query.
export async function sealLegacyEmails(em: Em, emails: EmailCipher, logger: Logger): Promise<number> {
  const fork = em.fork();
  const pending = await legacyTables(fork);
  if (pending.length === 0) return 0;
  let sealed = 0;
  await fork.transactional(async (tx) => {
    // Two nodes starting together: the second waits here, then finds the columns gone.
    await tx.execute(`select pg_advisory_xact_lock(hashtext('seal-legacy-emails'))`);
    for (const table of await legacyTables(tx as Em)) {
      const rows = await tx.execute<{ id: string; email: string }[]>(`select id, email from ${table} where email is not null`);
      for (const row of rows) {
        const { emailHash, emailEncrypted } = emails.seal(row.email);
        if (table === 'users') await tx.execute('update users set email_hash = ?, email_encrypted = ? where id = ?', [emailHash, emailEncrypted, row.id]);
        else await tx.execute('update identities set email_encrypted = ? where id = ?', [emailEncrypted, row.id]);
        sealed++;
      }
      await tx.execute(`alter table ${table} drop column email`);
    }
  });
  logger.info({ sealed }, 'plain email columns sealed with EMAIL_ENC_KEY and dropped');
  return sealed;
}

// Tables that still have a plain `email` column next to the sealed one (so the migration ran).
async function legacyTables(em: Em): Promise<('users' | 'identities')[]> {
  const rows = await em.execute<{ table_name: 'users' | 'identities' }[]>(
    `select c.table_name from information_schema.columns c
      where c.table_schema = current_schema() and c.table_name in ('users', 'identities') and c.column_name = 'email'
        and exists (select 1 from information_schema.columns s where s.table_schema = c.table_schema and s.table_name = c.table_name and s.column_name = 'email_encrypted')
      order by c.table_name desc`,
  );
  return rows.map((r) => r.table_name);
}
