// MikroORM's raw `execute` spreads a JS array into a list of placeholders, so array parameters
// travel as Postgres array literals and are cast in SQL (`?::text[]`, `?::real[]`).
export function pgArray(values: readonly (string | number)[]): string {
  return `{${values.map((v) => (typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '0') : `"${v.replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;
}
