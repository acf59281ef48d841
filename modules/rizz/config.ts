// The rizz module's environment variables (PortOne, storage, SMS and the LLM are the platform's).
// They join the platform's in one validated configuration.
import { z } from 'zod';

export const rizzConfigSchema = z.object({
  // Replicate (the three portraits): an API token and the model, `owner/name` or `owner/name:<version>`.
  // Without a token the OFFLINE image driver answers (deterministic variants of the photo), refused in production.
  REPLICATE_API_TOKEN: z.string().min(1).optional(),
  REPLICATE_MODEL: z.string().regex(/^[\w.-]+\/[\w.-]+(:[0-9a-f]{64})?$|^[0-9a-f]{64}$/, 'owner/name, owner/name:<version> or a version id').default('black-forest-labs/flux-kontext-pro'),
  REPLICATE_BASE_URL: z.url().default('https://api.replicate.com/v1'),
  // A generation run (three portraits and the report take a minute or two) not finished in this time
  // is taken to have died with its node, and the queue runs it again elsewhere.
  RIZZ_GENERATION_EXPIRE_SECONDS: z.coerce.number().int().min(1).max(3600).default(600),
  // The page the SMS links to; the job id is appended. Default: PUBLIC_URL + /result/.
  RIZZ_RESULT_URL: z.url().optional(),
});
export type RizzConfig = z.output<typeof rizzConfigSchema>;

// In production the portraits come from Replicate: the offline image driver is for development.
export function checkRizzConfig(env: RizzConfig): { production: string[] } {
  return { production: env.REPLICATE_API_TOKEN ? [] : ['REPLICATE_API_TOKEN: set it (the OFFLINE image driver is refused in production)'] };
}
