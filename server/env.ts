// Building blocks for environment variable schemas, shared by the platform's configuration and
// the modules' (a module's schema joins the platform's in server/config.ts).
import { z } from 'zod';

export const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const durationSeconds = z.coerce.number().int().positive();

export const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

// A JSON document in one variable, checked against its schema; a syntax error names the variable too.
export function jsonEnv<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}
