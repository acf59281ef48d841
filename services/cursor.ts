// Opaque keyset cursors, one codec for every paged list: a cursor is the base64url JSON of the
// last row's key (opaque, so a list's paging key can change without breaking clients), and
// decoding runs the list's zod schema over the decoded value. A cursor is client input like any
// other: one that decodes to nonsense (a non-UUID id, an instant Postgres cannot hold, a negative
// id) is a 400 invalid_cursor naming the field, never a query the database refuses with a 500.
import { z } from 'zod';
import { AppError } from './errors.ts';

type FieldAt = { field: string; in: string };

export type CursorCodec<S extends z.ZodType> = {
  encode: (key: z.input<S>) => string;
  // Throws a 400 invalid_cursor naming the field (by default ?cursor=) for anything this codec did not encode.
  decode: (cursor: string, at?: FieldAt) => z.output<S>;
};

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function cursorCodec<S extends z.ZodType>(schema: S): CursorCodec<S> {
  return {
    encode: (key) => Buffer.from(JSON.stringify(key)).toString('base64url'),
    decode: (cursor, at = { field: 'cursor', in: 'query' }) => {
      // Buffer.from skips characters outside the alphabet, so garbage would decode to something.
      if (BASE64URL.test(cursor)) {
        let key: unknown;
        try {
          key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
        } catch {
          throw invalidCursor(at);
        }
        const parsed = schema.safeParse(key);
        if (parsed.success) return parsed.data;
      }
      throw invalidCursor(at);
    },
  };
}

function invalidCursor(at: FieldAt): AppError {
  const message = 'is not a cursor this API returned';
  return new AppError(400, 'invalid_cursor', `${at.field}: ${message}`, { issues: [{ field: at.field, in: at.in, message }] });
}
