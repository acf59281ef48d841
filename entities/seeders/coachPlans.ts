// The coach plans of seed 001: model, prompt and answer token limits, and call limits.
export const coachPlans = [
  { tier: 'free', name: '무료', model: 'gpt-4o-mini', maxPromptTokens: 1000, maxAnswerTokens: 2000, callLimit: 30, callPeriod: 'week', sortOrder: 0 },
  { tier: 'basic', name: '베이직', model: 'gpt-4o-mini', maxPromptTokens: 2000, maxAnswerTokens: 4000, callLimit: 200, callPeriod: 'week', sortOrder: 1 },
  { tier: 'basic_special', name: '베이직(특화)', model: 'o4-mini', maxPromptTokens: 2000, maxAnswerTokens: 4000, callLimit: 100, callPeriod: 'month', sortOrder: 2 },
] as const;
