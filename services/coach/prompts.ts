// The coach's prompts: nunjucks templates (the seeds use Jinja2) under templates/coach/, one per
// game (`<game>.njk`, usually extending `default.njk`) and `default.njk` for the rest. The
// retrieved passages (numbered, with titles), the plan, the question and its scope are in scope.
//
// Templates are read once, at start, and rendered from that copy: `templateVersion` is a hash of
// exactly the sources that render a game's prompt, so an edited template (after a restart) never
// reuses answers cached under the old one, and an unrelated game's template does not disturb them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';
import type { Passage } from './knowledge.ts';

export type PromptPlan = { tier: string; name: string; model?: string; maxAnswerTokens: number };

export type RenderInput = {
  game: string;
  passages: Passage[];
  plan: PromptPlan;
  question: string;
  category?: string | null;
  tags?: string[];
};

export type RenderedPrompt = { messages: { role: 'system' | 'user'; content: string }[]; templateVersion: string };

export const DEFAULT_TEMPLATES_DIR = 'templates/coach';

const TEMPLATE_FILE = /^[a-z0-9][a-z0-9_-]{0,39}\.njk$/;
const REFERENCE = /\{%-?\s*(?:extends|include|import|from)\s+["']([^"']+)["']/g;

export function createPromptService(opts: { dir?: string } = {}) {
  const dir = path.resolve(opts.dir ?? DEFAULT_TEMPLATES_DIR);
  const sources = new Map<string, string>();
  for (const file of fs.readdirSync(dir)) if (TEMPLATE_FILE.test(file) || file.startsWith('_')) sources.set(file, fs.readFileSync(path.join(dir, file), 'utf8'));
  if (!sources.has('default.njk')) throw new Error(`${path.join(dir, 'default.njk')} is missing: every game without its own template renders it`);

  const loader: nunjucks.ILoader = {
    getSource(name: string) {
      const src = sources.get(name);
      if (src === undefined) throw new Error(`template ${name} not found in ${dir}`);
      return { src, path: path.join(dir, name), noCache: false };
    },
  };
  // Not HTML: escaping would turn "<" and "&" in passages into entities the model then repeats.
  const env = new nunjucks.Environment(loader, { autoescape: false, trimBlocks: true, lstripBlocks: true, throwOnUndefined: false });

  const versions = new Map<string, string>();
  function versionOf(name: string): string {
    let v = versions.get(name);
    if (!v) {
      const hash = crypto.createHash('sha256');
      for (const file of closure(name)) hash.update(`${file}\u0000${sources.get(file) ?? ''}\u0000`);
      v = `${name.replace(/\.njk$/, '')}@${hash.digest('hex').slice(0, 16)}`;
      versions.set(name, v);
    }
    return v;
  }

  // The template and everything it extends or includes, each once.
  function closure(name: string, seen = new Set<string>()): Set<string> {
    if (seen.has(name)) return seen;
    seen.add(name);
    for (const m of (sources.get(name) ?? '').matchAll(REFERENCE)) closure(m[1], seen);
    return seen;
  }

  function templateFor(game: string): string {
    const own = `${game.trim().toLowerCase()}.njk`;
    return TEMPLATE_FILE.test(own) && sources.has(own) && own !== 'default.njk' ? own : 'default.njk';
  }

  function render(input: RenderInput): RenderedPrompt {
    const name = templateFor(input.game);
    const system = env.render(name, {
      game: input.game,
      question: input.question,
      category: input.category ?? null,
      tags: input.tags ?? [],
      plan: { tier: input.plan.tier, name: input.plan.name, model: input.plan.model, maxAnswerTokens: input.plan.maxAnswerTokens },
      passages: input.passages.map((p, i) => ({ number: i + 1, title: p.title, text: p.text.trim(), url: p.url, category: p.category, tags: p.tags, score: p.score })),
    });
    return {
      messages: [
        { role: 'system', content: system.replace(/\n{3,}/g, '\n\n').trim() },
        // The question goes as the user's own message, never spliced into the instructions.
        { role: 'user', content: input.question },
      ],
      templateVersion: versionOf(name),
    };
  }

  return { render, templates: () => [...sources.keys()].sort(), templateVersion: (game: string) => versionOf(templateFor(game)) };
}

export type PromptService = ReturnType<typeof createPromptService>;
