// Knowledge documents from files, for `npm run ingest` and the first start's seeding:
// - .jsonl: one document per line, `{ game, gameTitle?, category?, tags?, title, content, url? }`;
// - .md: a front matter block (`key: value` lines between `---`; tags as `[a, b]` or `a, b`) and
//   the markdown body as content; the title defaults to the first `# ` heading.
// Every problem is reported with its file and line, and nothing is ingested while any remains.
import fs from 'node:fs';
import path from 'node:path';
import { knowledgeDocumentSchema, type KnowledgeDocument, type KnowledgeService } from './knowledge.ts';
import type { Logger } from 'pino';
import type { SeedRuns } from '../seedRuns.ts';

export type SourcedDocument = { document: KnowledgeDocument; file: string; line: number };
export type FileProblem = { file: string; line: number; message: string };

export function listKnowledgeFiles(target: string): string[] {
  const stat = fs.statSync(target);
  if (stat.isFile()) return [target];
  return fs.readdirSync(target, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(jsonl|md)$/i.test(f) && !/(^|[\\/])README\.md$/i.test(f))
    .map((f) => path.join(target, f))
    .filter((f) => fs.statSync(f).isFile())
    .sort();
}

export function readKnowledgeFiles(files: string[]): { documents: SourcedDocument[]; problems: FileProblem[] } {
  const documents: SourcedDocument[] = [];
  const problems: FileProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ file, line: 0, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
      continue;
    }
    const candidates = /\.jsonl$/i.test(file) ? fromJsonl(text) : fromMarkdown(text);
    for (const c of candidates) {
      if ('error' in c) {
        problems.push({ file, line: c.line, message: c.error });
        continue;
      }
      const parsed = knowledgeDocumentSchema.safeParse(c.value);
      if (parsed.success) documents.push({ document: parsed.data, file, line: c.line });
      else for (const issue of parsed.error.issues) problems.push({ file, line: c.line, message: `${issue.path.join('.') || 'document'}: ${issue.message}` });
    }
  }
  return { documents, problems };
}

type Candidate = { value: unknown; line: number } | { error: string; line: number };

function fromJsonl(text: string): Candidate[] {
  const out: Candidate[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('//')) return;
    try {
      out.push({ value: JSON.parse(line), line: i + 1 });
    } catch (err) {
      out.push({ error: `not valid JSON (${(err as Error).message})`, line: i + 1 });
    }
  });
  return out;
}

function fromMarkdown(text: string): Candidate[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const meta: Record<string, unknown> = {};
  let bodyStart = 0;
  if (lines[0]?.trim() === '---') {
    const end = lines.findIndex((l, i) => i > 0 && l.trim() === '---');
    if (end < 0) return [{ error: 'front matter is not closed with ---', line: 1 }];
    for (let i = 1; i < end; i++) {
      const l = lines[i];
      if (!l.trim() || l.trim().startsWith('#')) continue;
      const m = /^([A-Za-z][A-Za-z0-9_]*)\s*:\s*(.*)$/.exec(l);
      if (!m) return [{ error: `front matter line is not "key: value"`, line: i + 1 }];
      const value = m[2].trim().replace(/^(["'])(.*)\1$/, '$2');
      meta[m[1]] = m[1] === 'tags' ? value.replace(/^\[|\]$/g, '').split(',').map((t) => t.trim().replace(/^(["'])(.*)\1$/, '$2')).filter(Boolean) : value;
    }
    bodyStart = end + 1;
  }
  const content = lines.slice(bodyStart).join('\n').trim();
  if (meta.title === undefined) {
    const heading = /^#\s+(.+)$/m.exec(content);
    if (heading) meta.title = heading[1].trim();
  }
  return [{ value: { ...meta, content }, line: 1 }];
}

const SEED = 'coach-knowledge';

// The first start of a fresh installation ingests the knowledge shipped in data/knowledge/, so the
// default run answers from something real. An installation that has knowledge of its own is left
// alone; a seed that was cut short (the node stopped mid-way) is resumed, and since ingesting is
// idempotent per document, what was already stored is skipped as unchanged.
export async function seedShippedKnowledge(
  knowledge: Pick<KnowledgeService, 'games' | 'ingest'>,
  dir: string,
  logger: Logger,
  opts: { seedRuns: SeedRuns; signal?: AbortSignal },
): Promise<boolean> {
  const state = await opts.seedRuns.state(SEED);
  if (state === 'completed' || !fs.existsSync(dir)) return false;
  if (state === 'never' && (await knowledge.games()).length > 0) return false;
  const { documents, problems } = readKnowledgeFiles(listKnowledgeFiles(dir));
  if (problems.length > 0) {
    logger.warn({ problems: problems.slice(0, 5) }, 'shipped coach knowledge has problems; not seeding it');
    return false;
  }
  await opts.seedRuns.markStarted(SEED);
  const started = Date.now();
  const report = await knowledge.ingest(documents.map((d) => d.document), { signal: opts.signal });
  await opts.seedRuns.markCompleted(SEED);
  logger.info({ documents: report.documents.length, resumed: state === 'started', versions: report.versions, ms: Date.now() - started }, 'coach knowledge seeded from the shipped set');
  return true;
}
