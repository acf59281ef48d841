// A Google service-account key (the JSON file the Firebase console downloads), given inline or as
// a path. Parsed once at start so that a broken key stops the process with the variable's name.
import fs from 'node:fs';
import { z } from 'zod';

export const serviceAccountSchema = z.object({
  project_id: z.string().min(1).optional(),
  private_key_id: z.string().optional(),
  private_key: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  client_email: z.string().min(3),
  token_uri: z.url().optional(),
});
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

// Throws an Error whose message says what is wrong (never the key itself).
export function loadServiceAccount(source: { json?: string; file?: string }): ServiceAccount | undefined {
  let text = source.json;
  if (!text && source.file) {
    try {
      text = fs.readFileSync(source.file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${source.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON');
  }
  const parsed = serviceAccountSchema.safeParse(json);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}
