// Splits a knowledge document into retrievable chunks: along markdown headings first, then
// paragraphs, packed to a token budget, with a short overlap inside a section so that a passage cut
// between two chunks is still found whole in one of them. Paragraphs are never split while they
// fit the hard limit, so one that is longer than `summarizeAboveTokens` stays whole and is then
// condensed by the LLM (seed 001) rather than cut mid-thought.

export type ChunkingOptions = {
  countTokens: (text: string) => number;
  // A chunk is closed at a section boundary once it has this many tokens.
  minTokens?: number;
  // Paragraphs are packed up to this many tokens.
  maxTokens?: number;
  // The tail of the previous chunk (whole sentences) repeated at the start of the next.
  overlapTokens?: number;
  // Paragraphs over this are split on sentences: nothing sensible is summarised from a wall of text
  // longer than a model's prompt.
  hardLimitTokens?: number;
};

export type Chunk = { text: string; tokens: number };

export const CHUNKING_DEFAULTS = { minTokens: 300, maxTokens: 600, overlapTokens: 60, hardLimitTokens: 6000 };

// `overlap`: a tail repeated from the previous chunk, which alone never makes a chunk.
type Unit = { text: string; tokens: number; startsSection: boolean; overlap: boolean };

export function chunkDocument(content: string, opts: ChunkingOptions): Chunk[] {
  const o = { ...CHUNKING_DEFAULTS, ...opts };
  const units = toUnits(content.replace(/\r\n?/g, '\n'), o);
  const chunks: (Chunk & { startsSection: boolean })[] = [];
  let current: Unit[] = [];
  let tokens = 0;

  const flush = (nextStartsSection: boolean) => {
    if (current.length === 0) return;
    const text = current.map((u) => u.text).join('\n\n');
    chunks.push({ text, tokens: o.countTokens(text), startsSection: current[0].startsSection });
    const carried = nextStartsSection ? null : overlapOf(current[current.length - 1], o);
    current = carried ? [carried] : [];
    tokens = carried ? carried.tokens : 0;
  };

  const onlyOverlap = () => current.every((u) => u.overlap);
  for (const unit of units) {
    if (!onlyOverlap() && (tokens + unit.tokens > o.maxTokens || (unit.startsSection && tokens >= o.minTokens))) flush(unit.startsSection);
    // A new section starts without the previous tail, and a tail never pushes a unit over budget.
    if (current.length > 0 && onlyOverlap() && (unit.startsSection || tokens + unit.tokens > o.maxTokens)) {
      current = [];
      tokens = 0;
    }
    current.push(unit);
    tokens += unit.tokens;
  }
  if (!onlyOverlap()) flush(true);
  return mergeShortSections(chunks, o).map(({ text, tokens }) => ({ text, tokens }));
}

// A short section closing a document (or followed by a long one) would otherwise stand alone as a
// tiny chunk; it joins the chunk before it while both fit the budget. Only section starts are
// merged: they carry no overlap, so no sentence is repeated.
function mergeShortSections(chunks: (Chunk & { startsSection: boolean })[], o: { countTokens: (t: string) => number; minTokens: number; maxTokens: number }) {
  const out: (Chunk & { startsSection: boolean })[] = [];
  for (const c of chunks) {
    const prev = out[out.length - 1];
    if (prev && c.startsSection && c.tokens < o.minTokens && prev.tokens + c.tokens <= o.maxTokens) {
      const text = `${prev.text}\n\n${c.text}`;
      out[out.length - 1] = { text, tokens: o.countTokens(text), startsSection: prev.startsSection };
    } else {
      out.push(c);
    }
  }
  return out;
}

// Paragraphs, with each heading glued to the paragraph after it (a heading alone retrieves nothing).
function toUnits(content: string, o: Required<Omit<ChunkingOptions, 'countTokens'>> & ChunkingOptions): Unit[] {
  const units: Unit[] = [];
  let pendingHeading: string | null = null;
  for (const block of content.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    // A heading may sit directly on top of its first paragraph, without a blank line.
    while (lines.length > 0 && /^#{1,6}\s/.test(lines[0])) {
      const heading = lines.shift()!.trim();
      pendingHeading = pendingHeading ? `${pendingHeading}\n${heading}` : heading;
    }
    if (lines.length === 0) continue;
    const body = lines.join('\n').trim();
    const text = pendingHeading ? `${pendingHeading}\n${body}` : body;
    const startsSection = pendingHeading !== null;
    pendingHeading = null;
    const tokens = o.countTokens(text);
    if (tokens <= o.hardLimitTokens) {
      units.push({ text, tokens, startsSection, overlap: false });
      continue;
    }
    splitOversized(text, o).forEach((piece, i) => units.push({ text: piece, tokens: o.countTokens(piece), startsSection: startsSection && i === 0, overlap: false }));
  }
  if (pendingHeading) units.push({ text: pendingHeading, tokens: o.countTokens(pendingHeading), startsSection: true, overlap: false });
  return units;
}

function splitOversized(text: string, o: { countTokens: (t: string) => number; hardLimitTokens: number }): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const sentence of sentences(text)) {
    const candidate = current ? `${current} ${sentence}` : sentence;
    if (current && o.countTokens(candidate) > o.hardLimitTokens) {
      pieces.push(current);
      current = sentence;
    } else {
      current = candidate;
    }
  }
  if (current) pieces.push(current);
  // A single sentence over the limit is cut by characters: still better than dropping it.
  return pieces.flatMap((p) => (o.countTokens(p) > o.hardLimitTokens ? cutByCharacters(p, o) : [p]));
}

function cutByCharacters(text: string, o: { countTokens: (t: string) => number; hardLimitTokens: number }): string[] {
  const chars = Array.from(text);
  const ratio = Math.max(1, Math.floor((chars.length * o.hardLimitTokens) / Math.max(1, o.countTokens(text))));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += ratio) out.push(chars.slice(i, i + ratio).join(''));
  return out;
}

function sentences(text: string): string[] {
  return text.split(/(?<=[.!?。！？])\s+|\n+/u).map((s) => s.trim()).filter(Boolean);
}

// The last whole sentences of a unit, up to the overlap budget.
function overlapOf(unit: Unit, o: { countTokens: (t: string) => number; overlapTokens: number }): Unit | null {
  if (o.overlapTokens <= 0) return null;
  const all = sentences(unit.text.replace(/^#{1,6}\s.*\n/, ''));
  const picked: string[] = [];
  let tokens = 0;
  for (let i = all.length - 1; i >= 0; i--) {
    const t = o.countTokens(all[i]);
    if (tokens + t > o.overlapTokens) break;
    picked.unshift(all[i]);
    tokens += t;
  }
  if (picked.length === 0 || picked.length === all.length) return null;
  const text = picked.join(' ');
  return { text, tokens: o.countTokens(text), startsSection: false, overlap: true };
}
