// The one way array parameters travel: MikroORM's raw `execute` spreads a JS array into a list of
// placeholders, so they go as Postgres array literals and are cast in SQL (`?::uuid[]`, `?::text[]`,
// `?::int[]`, `?::real[]`). Strings are quoted and escaped, so any text (and any uuid) is safe.
export function pgArray(values: readonly (string | number)[]): string {
  return `{${values.map((v) => (typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '0') : `"${v.replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;
}
