// The rizz module's environment variables (none of its own yet: PortOne, storage, SMS and the LLM are
// the platform's). They join the platform's in one validated configuration.
import { z } from 'zod';

export const rizzConfigSchema = z.object({});
export type RizzConfig = z.output<typeof rizzConfigSchema>;
