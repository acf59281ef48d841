// Strings Postgres refuses (NUL) or cannot store as valid UTF-8 (lone UTF-16 surrogates) are
// turned away at the edge, before any schema or query sees them: a 400 naming the field, never a
// 500 from the database. HTTP bodies (parsed or kept raw as JSON), queries and path parameters and
// socket payloads all pass here.
import type { FieldIssue } from './errors.ts';

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_DEPTH = 64;

// Whether anything in `value` would be an issue, without building a path or an array: the clean case
// (nearly every request) costs one walk of the value. A GPS track of 7,200 fixes took 7 ms through
// the path-building walk below and takes well under 1 ms here.
function anyHostile(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.includes('\u0000') || LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object') return false;
  if (depth >= MAX_DEPTH) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (anyHostile(value[i], depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key) && (anyHostile(key, depth + 1) || anyHostile((value as Record<string, unknown>)[key], depth + 1))) return true;
  }
  return false;
}

export function hostileStrings(value: unknown, location: string, path: (string | number)[] = [], depth = 0): FieldIssue[] {
  if (depth === 0 && !anyHostile(value, 0)) return [];
  const field = () => (path.length ? path.join('.') : location);
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return [{ field: field(), in: location, message: 'must not contain the NUL character (\\u0000)' }];
    if (LONE_SURROGATE.test(value)) return [{ field: field(), in: location, message: 'must be valid Unicode (it holds a lone UTF-16 surrogate)' }];
    return [];
  }
  if (value === null || typeof value !== 'object') return [];
  if (depth >= MAX_DEPTH) return [{ field: field(), in: location, message: `must not nest deeper than ${MAX_DEPTH} levels` }];
  const issues: FieldIssue[] = [];
  for (const [key, v] of Object.entries(value)) {
    // Keys reach jsonb columns too.
    issues.push(...hostileStrings(key, location, [...path, key], depth + 1).map((i) => ({ ...i, message: `key ${i.message}` })));
    issues.push(...hostileStrings(v, location, [...path, Array.isArray(value) ? Number(key) : key], depth + 1));
    if (issues.length >= 20) break;
  }
  return issues;
}

// A body kept as bytes for its handler (a webhook verifies its signature over them first) reaches
// Postgres all the same once the handler parses it, so JSON in it is checked the same way. Bytes
// that are not JSON are left to the handler, which knows what to answer.
export function hostileJsonBytes(raw: Buffer, location: string): FieldIssue[] {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return [];
  }
  return hostileStrings(value, location);
}
