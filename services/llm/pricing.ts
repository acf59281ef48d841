// What a call costs, in USD, from a per-model price table. Prices are per 1M tokens (input,
// output), per 1M characters (speech models priced by input text) or per image. The table is
// configuration (LLM_PRICES_JSON merges over the defaults), because prices change and
// self-hosted models cost nothing per call.
import { z } from 'zod';

export const modelPriceSchema = z
  .object({
    input: z.number().nonnegative().optional(),
    output: z.number().nonnegative().optional(),
    characters: z.number().nonnegative().optional(),
    image: z.number().nonnegative().optional(),
  })
  .strict();

export const priceTableSchema = z.record(z.string().min(1), modelPriceSchema);

export type ModelPrice = z.infer<typeof modelPriceSchema>;
export type PriceTable = z.infer<typeof priceTableSchema>;

// OpenAI list prices (USD) for standard processing.
export const DEFAULT_PRICES: PriceTable = {
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'text-embedding-3-small': { input: 0.02 },
  'text-embedding-3-large': { input: 0.13 },
  'tts-1': { characters: 15 },
  'tts-1-hd': { characters: 30 },
  'gpt-image-1': { input: 5, output: 40 },
  'dall-e-3': { image: 0.04 },
  'dall-e-2': { image: 0.02 },
};

export type CostQuantities = { promptTokens?: number; completionTokens?: number; characters?: number; images?: number };

export type Pricing = {
  // undefined when the model has no price: the caller decides whether that is worth a warning.
  priceOf: (model: string) => ModelPrice | undefined;
  costUsd: (model: string, q: CostQuantities) => number;
};

export function createPricing(table: PriceTable): Pricing {
  // Providers answer with dated snapshots (gpt-4o-mini-2024-07-18); they cost what the alias costs.
  const priceOf = (model: string) => table[model] ?? table[model.replace(/-\d{4}-\d{2}-\d{2}$/, '')];
  return {
    priceOf,
    costUsd(model, q) {
      const p = priceOf(model);
      if (!p) return 0;
      const usd =
        ((q.promptTokens ?? 0) * (p.input ?? 0)) / 1e6 +
        ((q.completionTokens ?? 0) * (p.output ?? 0)) / 1e6 +
        ((q.characters ?? 0) * (p.characters ?? 0)) / 1e6 +
        (q.images ?? 0) * (p.image ?? 0);
      // Twelve decimals: far below a millionth of a cent, and free of float noise like 0.30000000000000004.
      return Math.round(usd * 1e12) / 1e12;
    },
  };
}
