// The lorebook engine: which entries of a character's lorebook go into the prompt of the next reply,
// why, and where. Pure and synchronous: the room's recent messages and its lorebook state go in; the
// entries to inject, the ones held back (and why), and the room's next state come out. The only async
// part, embedding for semantic entries, is `semanticScores`, whose result the caller passes in.
//
// The rules (SillyTavern's World Info is the reference; where we differ, it says so):
//
// Triggers, checked in this order:
//   - constant: always;
//   - keyword: a primary key in the entry's scanned messages (its scanDepth, else the book's: the
//     newest N, both roles). The reason names the key and the newest message holding a key (messages
//     newest first, then keys in the entry's order). With `selective` and secondary keys, the
//     secondary keys (looked for in the same messages, plus injected entries' text when recursing)
//     must satisfy selectiveLogic: and_any (one present), and_all (all present), not_any (none
//     present), not_all (at least one absent);
//   - semantic: for `semantic` entries, the caller's cosine score ≥ semanticThreshold. Secondary keys
//     do not apply: they qualify a keyword, and this trigger has none. A keyword wins as the reason.
// A triggered entry is then held back if none of its enabledBy entries has been injected in this room
// before this scan ('not_enabled'), or if it is cooling down ('cooldown'). Entries that never
// triggered are not reported; disabled entries are ignored.
//
// Matching. Texts and keys are compared in Unicode NFC (a macOS keyboard sends Hangul decomposed),
// lower-cased unless caseSensitive. Keys are plain text, never regular expressions: a card's
// `/pattern/` key would run someone else's regex on our event loop (catastrophic backtracking).
// Whole words (matchWholeWords), at each edge of the key that is a word character (a letter, digit,
// mark or '_'; an edge that is punctuation, as in '#quest', has no boundary to check):
//   - before the key there must be no word character: '엘프' is not found in '다크엘프', 'elf' not in
//     'shelf';
//   - after it there must be no word character, except Hangul: Korean attaches particles and endings
//     to the noun ('엘프는', '엘프의', '엘프들', 'AI가'), so key '엘프' matches '엘프는' and 'AI' matches
//     'AI가'. SillyTavern gets '엘프는' right only because its `\W` counts every Hangul syllable as a
//     boundary, which also finds '엘프' inside '다크엘프'; we keep the left edge strict.
//   - an edge in a script written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) has no
//     boundary to check: there is no word break to find, so that side matches as a substring.
//   Keys of several words are matched the same way (SillyTavern matches them as plain substrings).
//
// Recursion (book.recursiveScanning): the content of the entries injected in one step is scanned for
// the primary keys of entries not yet injected; those found are step 1, entries found in step 1's
// content are step 2, and so on up to MAX_RECURSION_STEPS. Each entry is injected at most once per
// scan, so two entries naming each other cannot loop; the step limit bounds a long chain's cost. An
// entry whose primary key was in the messages but whose secondary keys were not met is looked at
// again when injected content might supply them.
//
// Order and budget. Candidates of one step are admitted in this order: constant entries first, then
// higher insertionOrder first, then book order. Each costs countTokens(content) (the separators a
// prompt puts between entries are the prompt builder's to count). The first candidate
// that would take the total over book.tokenBudget stops admission for the whole scan: it and every
// later candidate are skipped as 'budget', and recursion stops. A smaller entry further down is not
// let in ahead of it: insertionOrder is the creator's priority, and filling gaps would invert it.
// Step 0 (messages, constants, semantic hits) is admitted before step 1, and so on.
//
// State and cooldown. The state maps an entry id to the index of the newest message of the scan that
// last injected it (`lastHitAt`). An entry with cooldown N injected at message index h is held back
// by the scans whose newest message index i satisfies h < i ≤ h + N: "N messages after a hit",
// counting both sides' messages. A scan that has not moved past h (i ≤ h: the same reply
// regenerated) is not held back. enabledBy is met once any named id has a lastHitAt, so an entry
// unlocked by a hit becomes active from the next scan on; reading only the incoming state keeps one
// scan's result independent of the order entries are looked at. The next state drops ids that are no
// longer in the book; entries sharing an id (the schema does not forbid it) share their state.
//
// Speed (bench/chatLorebook.ts). A book is compiled once per book object and the result kept on it
// (see memoOn): keys normalised, classified, and indexed by their first two characters, so a scan
// reads each scanned text once whatever the number of entries and keys. Treat a book as an immutable
// value (a changed book is a new object), and keep a character's parsed book between messages:
// compiling 500 entries and counting the tokens of the injected ones costs about a millisecond, the
// scan itself a few tenths. Token counts are kept per book for the counting function last used.
import { cosineSimilarity } from '../../workers/vector.ts';
import crypto from 'node:crypto';
import type { LorebookActivation, Lorebook, LorebookEntry, LorebookInjection, LorebookState } from './schemas.ts';

// The room's messages as the scan needs them; `index` increases by one per message in the room.
export type LorebookMessage = { role: 'user' | 'character'; content: string; index: number };

export type InjectedEntry = LorebookInjection & { content: string };

export const LOREBOOK_SKIP_REASONS = ['budget', 'cooldown', 'not_enabled', 'secondary_not_met'] as const;
export type LorebookSkipReason = (typeof LOREBOOK_SKIP_REASONS)[number];
// `trigger` is what would have injected it (for secondary_not_met: the keyword, with the secondary
// keys found and missing).
export type SkippedEntry = { id: string; name?: string; reason: LorebookSkipReason; trigger: LorebookActivation };

export type LorebookScan = {
  // In the order they were admitted (see the budget rule); placeEntries orders them for the prompt.
  injected: InjectedEntry[];
  skipped: SkippedEntry[];
  tokensUsed: number;
  tokenBudget: number;
  nextState: LorebookState;
};

export type ScanLorebookInput = {
  book: Lorebook;
  // Oldest → newest; only the newest max(scanDepth) are read, so passing the whole room is fine.
  messages: readonly LorebookMessage[];
  state?: LorebookState;
  countTokens: (text: string) => number;
  // Entry id → cosine score, from semanticScores.
  semanticHits?: ReadonlyMap<string, number>;
};

export const MAX_RECURSION_STEPS = 3;

export function scanLorebook(input: ScanLorebookInput): LorebookScan {
  const { book, countTokens } = input;
  const compiled = compileBook(book);
  const lastHitAt = input.state?.lastHitAt ?? {};
  const window = messageWindow(input.messages, compiled.maxScanDepth);
  const scanIndex = input.messages.length ? input.messages[input.messages.length - 1].index : -1;
  const tokenCounts = tokenCountsFor(compiled, countTokens);

  const injected: InjectedEntry[] = [];
  const injectedSet = new Set<CompiledEntry>();
  // Held back for good in this scan (state gates, budget), or until recursion brings the secondary keys.
  const skipped = new Map<CompiledEntry, SkippedEntry>();
  // Triggers that failed only on their secondary keys, which later injected content may supply.
  const pendingSecondary = new Map<CompiledEntry, KeyTrigger>();
  const keyHits = findKeysInMessages(compiled, window);
  let tokensUsed = 0;
  let exhausted = false;

  const gate = (ce: CompiledEntry, trigger: LorebookActivation): Candidate | undefined => {
    const { entry } = ce;
    if (entry.enabledBy.length && !entry.enabledBy.some((id) => Object.hasOwn(lastHitAt, id))) {
      skipped.set(ce, skip(ce, 'not_enabled', trigger));
      return undefined;
    }
    const last = Object.hasOwn(lastHitAt, entry.id) ? lastHitAt[entry.id] : undefined;
    if (entry.cooldown > 0 && last !== undefined && scanIndex > last && scanIndex - last <= entry.cooldown) {
      skipped.set(ce, skip(ce, 'cooldown', trigger));
      return undefined;
    }
    return { ce, trigger };
  };

  const admit = (candidates: Candidate[]): InjectedEntry[] => {
    candidates.sort(admissionOrder);
    const admitted: InjectedEntry[] = [];
    for (const { ce, trigger } of candidates) {
      if (exhausted) {
        skipped.set(ce, skip(ce, 'budget', trigger));
        continue;
      }
      const tokens = tokenCounts(ce);
      if (tokensUsed + tokens > book.tokenBudget) {
        exhausted = true;
        skipped.set(ce, skip(ce, 'budget', trigger));
        continue;
      }
      tokensUsed += tokens;
      const { entry } = ce;
      const record: InjectedEntry = {
        id: entry.id,
        ...(entry.name ? { name: entry.name } : {}),
        position: entry.position,
        depth: entry.depth,
        insertionOrder: entry.insertionOrder,
        tokens,
        reason: trigger,
        content: entry.content,
      };
      injected.push(record);
      admitted.push(record);
      injectedSet.add(ce);
      skipped.delete(ce);
      pendingSecondary.delete(ce);
    }
    return admitted;
  };

  // Step 0: constants, the messages, semantic hits.
  const first: Candidate[] = [];
  for (const ce of compiled.entries) {
    const trigger = firstTrigger(ce, keyHits, window, input.semanticHits, pendingSecondary);
    if (!trigger) continue;
    if (trigger.kind === 'keyword' && trigger.secondary && !secondaryMet(trigger.secondary)) {
      skipped.set(ce, skip(ce, 'secondary_not_met', trigger));
      continue;
    }
    const candidate = gate(ce, trigger);
    if (candidate) first.push(candidate);
  }
  let admitted = admit(first);

  for (let step = 1; book.recursiveScanning && step <= MAX_RECURSION_STEPS && admitted.length && !exhausted; step++) {
    const isOpen = (ce: CompiledEntry) => !injectedSet.has(ce) && (skipped.get(ce)?.reason ?? 'secondary_not_met') === 'secondary_not_met';
    const recursive = findKeysInInjected(compiled, admitted, keyHits, isOpen);
    const candidates: Candidate[] = [];
    for (const ce of compiled.entries) {
      if (!isOpen(ce)) continue;
      const found = recursive.get(ce);
      let trigger: KeyTrigger | undefined = found ? { kind: 'recursive', key: found.key, via: found.via, step } : pendingSecondary.get(ce);
      if (!trigger) continue;
      if (ce.secondary.length) {
        trigger = { ...trigger, secondary: secondaryMatch(ce, keyHits) };
        if (!secondaryMet(trigger.secondary!)) {
          pendingSecondary.set(ce, trigger);
          skipped.set(ce, skip(ce, 'secondary_not_met', trigger));
          continue;
        }
      }
      const candidate = gate(ce, trigger);
      if (candidate) candidates.push(candidate);
    }
    admitted = admit(candidates);
  }

  return {
    injected,
    skipped: [...skipped.values()],
    tokensUsed,
    tokenBudget: book.tokenBudget,
    nextState: { lastHitAt: nextLastHitAt(compiled, lastHitAt, injected, scanIndex) },
  };
}

// What an AI message keeps of a scan: the injected entries and why, without their text.
export function toInjectionRecords(scan: Pick<LorebookScan, 'injected'>): LorebookInjection[] {
  return scan.injected.map(({ content: _content, ...record }) => record);
}

export type LorebookPlacement = {
  beforeChar: string[];
  afterChar: string[];
  beforeExamples: string[];
  afterExamples: string[];
  // Deepest first, so a prompt builder walking the messages from the oldest meets them in order.
  atDepth: { depth: number; content: string }[];
};

// Within a section, ascending insertionOrder (a higher one sits later, nearer the reply: it was
// admitted first and weighs most); equal orders keep their admission order. Blank contents are left out.
export function placeEntries(scan: Pick<LorebookScan, 'injected'>): LorebookPlacement {
  const placement: LorebookPlacement = { beforeChar: [], afterChar: [], beforeExamples: [], afterExamples: [], atDepth: [] };
  const ordered = [...scan.injected].sort((a, b) => a.insertionOrder - b.insertionOrder);
  for (const e of ordered) {
    if (!e.content.trim()) continue;
    switch (e.position) {
      case 'before_char': placement.beforeChar.push(e.content); break;
      case 'after_char': placement.afterChar.push(e.content); break;
      case 'before_examples': placement.beforeExamples.push(e.content); break;
      case 'after_examples': placement.afterExamples.push(e.content); break;
      case 'at_depth': placement.atDepth.push({ depth: e.depth, content: e.content }); break;
    }
  }
  placement.atDepth.sort((a, b) => b.depth - a.depth);
  return placement;
}

// ---- Semantic triggers ----

// Vectors by content hash. Keep one per embedding model: vectors of two models do not compare.
// A Map or an lru-cache LRUCache fits.
export type EmbeddingCache = {
  get(key: string): readonly number[] | undefined;
  set(key: string, vector: readonly number[]): unknown;
};

export type SemanticScoresInput = {
  entries: readonly LorebookEntry[];
  query: string;
  // One call per scan: the contents not in the cache, then the query, last.
  embed: (texts: string[]) => Promise<number[][]>;
  cache: EmbeddingCache;
};

// Cosine similarity of each enabled semantic entry's content to the query (entry id → score), for
// scanLorebook's semanticHits. Entry contents are embedded once per content (the cache); the query
// every time. No semantic entries or an empty query: no call.
export async function semanticScores(input: SemanticScoresInput): Promise<Map<string, number>> {
  const scores = new Map<string, number>();
  const entries = input.entries.filter((e) => e.semantic && e.enabled && e.content.trim());
  if (!entries.length || !input.query.trim()) return scores;

  const vectors = new Map<string, readonly number[]>();
  const missing = new Map<string, string>();
  for (const e of entries) {
    const hash = contentHash(e);
    const cached = input.cache.get(hash);
    if (cached) vectors.set(hash, cached);
    else missing.set(hash, e.content);
  }
  const texts = [...missing.values(), input.query];
  const embedded = await input.embed(texts);
  if (embedded.length !== texts.length) throw new Error(`embed returned ${embedded.length} vectors for ${texts.length} texts`);
  [...missing.keys()].forEach((hash, i) => {
    vectors.set(hash, embedded[i]);
    input.cache.set(hash, embedded[i]);
  });
  const query = embedded[embedded.length - 1];
  for (const e of entries) scores.set(e.id, cosineSimilarity(query, vectors.get(contentHash(e))!));
  return scores;
}

// The query for semanticScores: the book's scanned messages (its scanDepth, newest last).
export function semanticQueryText(book: Lorebook, messages: readonly LorebookMessage[]): string {
  if (book.scanDepth === 0) return '';
  return messages.slice(-book.scanDepth).map((m) => m.content).join('\n');
}


// Per entry object: a cached book hands the same entries to every scan, so each content is hashed once.
const CONTENT_HASH = Symbol('lorebook content hash');
function contentHash(entry: LorebookEntry): string {
  return memoOn(entry, CONTENT_HASH, () => crypto.createHash('sha256').update(entry.content).digest('hex'));
}

// A value derived from an object, kept on the object itself under a non-enumerable symbol (JSON,
// spread, structuredClone and zod leave it behind), so it lives and dies with it. Not a WeakMap: one
// new book per message fills a WeakMap with short-lived keys, and V8 then walks that ephemeron table
// in every young-generation collection (bench/chatLorebook.ts measured 30–45 ms scavenges and a
// p99 of 20 ms for a book compiled per scan, 3 ms without). A frozen object is not memoised.
function memoOn<T extends object, V>(target: T, key: symbol, compute: () => V): V {
  const held = (target as Record<symbol, V | undefined>)[key];
  if (held !== undefined) return held;
  const value = compute();
  if (Object.isExtensible(target)) Object.defineProperty(target, key, { value, enumerable: false, configurable: true });
  return value;
}

// ---- Compiling a book ----

// `needle`: the key as texts are searched for it (NFC, lower-cased unless case-sensitive). `left`:
// the character before it must not be a word character; `right`: nor the one after, Hangul excepted.
type KeyMatcher = { key: string; needle: string; left: boolean; right: boolean };

type CompiledEntry = {
  entry: LorebookEntry;
  // Its place in CompiledBook.entries, which indexes the per-scan arrays.
  pos: number;
  bookOrder: number;
  scanDepth: number;
  primary: KeyMatcher[];
  // Empty unless the entry is selective.
  secondary: KeyMatcher[];
};

// Every key of the book, by the first two UTF-16 units of its needle (one-unit needles by that unit),
// so a text is read once, whatever the number of entries: at each position, only the keys that
// start with the two units there are compared. Case-sensitive and folded keys are read against the
// text as written and lower-cased respectively.
type KeyPosting = { ce: CompiledEntry; m: KeyMatcher; slot: number; secondary: boolean };
type KeyIndex = { pairs: Map<number, KeyPosting[]>; singles: Map<number, KeyPosting[]>; size: number };

type CompiledBook = {
  entries: CompiledEntry[];
  exactKeys: KeyIndex;
  foldedKeys: KeyIndex;
  ids: Set<string>;
  maxScanDepth: number;
  // For the counting function last used (a book is scanned with one).
  tokenCounts: { countTokens: (text: string) => number; counts: Map<CompiledEntry, number> } | undefined;
};

const COMPILED = Symbol('compiled lorebook');

function compileBook(book: Lorebook): CompiledBook {
  return memoOn(book, COMPILED, () => compile(book));
}

function compile(book: Lorebook): CompiledBook {
  const entries: CompiledEntry[] = [];
  const exactKeys = emptyKeyIndex();
  const foldedKeys = emptyKeyIndex();
  let maxScanDepth = 0;
  book.entries.forEach((entry, bookOrder) => {
    if (!entry.enabled) return;
    const folded = !entry.caseSensitive;
    const scanDepth = entry.scanDepth ?? book.scanDepth;
    const matcher = (key: string) => compileKey(key, folded, entry.matchWholeWords);
    const primary = entry.keys.map(matcher).filter((m) => m.needle);
    const secondary = entry.selective ? entry.secondaryKeys.map(matcher).filter((m) => m.needle) : [];
    if (primary.length) maxScanDepth = Math.max(maxScanDepth, scanDepth);
    const ce: CompiledEntry = { entry, pos: entries.length, bookOrder, scanDepth, primary, secondary };
    entries.push(ce);
    const index = folded ? foldedKeys : exactKeys;
    primary.forEach((m, slot) => addKey(index, { ce, m, slot, secondary: false }));
    secondary.forEach((m, slot) => addKey(index, { ce, m, slot, secondary: true }));
  });
  return { entries, exactKeys, foldedKeys, ids: new Set(book.entries.map((e) => e.id)), maxScanDepth, tokenCounts: undefined };
}

function compileKey(key: string, folded: boolean, wholeWords: boolean): KeyMatcher {
  const normal = key.normalize('NFC');
  const needle = folded ? normal.toLowerCase() : normal;
  if (!wholeWords || !needle) return { key, needle, left: false, right: false };
  const first = needle.codePointAt(0)!;
  const last = codePointBefore(needle, needle.length);
  return {
    key,
    needle,
    left: isWordChar(first) && !isSpacelessScript(first),
    right: isWordChar(last) && !isSpacelessScript(last),
  };
}

function emptyKeyIndex(): KeyIndex {
  return { pairs: new Map(), singles: new Map(), size: 0 };
}

// Two units in one small integer (a Smi, cheap as a Map key). The top bits of the first unit are
// dropped, so unrelated pairs may share a bucket: startsWith confirms every candidate.
function pairKey(first: number, second: number): number {
  return ((first & 0x3fff) << 16) | second;
}

function addKey(index: KeyIndex, posting: KeyPosting): void {
  const { needle } = posting.m;
  const map = needle.length === 1 ? index.singles : index.pairs;
  const key = needle.length === 1 ? needle.charCodeAt(0) : pairKey(needle.charCodeAt(0), needle.charCodeAt(1));
  const list = map.get(key);
  if (list) list.push(posting);
  else map.set(key, [posting]);
  index.size++;
}

function tokenCountsFor(compiled: CompiledBook, countTokens: (text: string) => number) {
  if (compiled.tokenCounts?.countTokens !== countTokens) compiled.tokenCounts = { countTokens, counts: new Map() };
  const known = compiled.tokenCounts.counts;
  return (ce: CompiledEntry): number => {
    let n = known.get(ce);
    if (n === undefined) known.set(ce, (n = countTokens(ce.entry.content)));
    return n;
  };
}

// ---- Scanning ----

// A text in both forms a key may ask for; the lower-cased one is made on first use.
type ScanText = { exact: string; lower?: string };
type WindowMessage = { index: number; text: ScanText };
type KeywordFound = { key: string; messageIndex: number };
type Candidate = { ce: CompiledEntry; trigger: LorebookActivation };
type KeyTrigger = Extract<LorebookActivation, { kind: 'keyword' | 'recursive' }>;

function scanText(content: string): ScanText {
  return { exact: content.normalize('NFC') };
}

function lowerCased(text: ScanText): string {
  return (text.lower ??= text.exact.toLowerCase());
}

// Newest first.
function messageWindow(messages: readonly LorebookMessage[], depth: number): WindowMessage[] {
  const window: WindowMessage[] = [];
  for (let i = messages.length - 1; i >= 0 && window.length < depth; i--) {
    window.push({ index: messages[i].index, text: scanText(messages[i].content) });
  }
  return window;
}

// Where the book's keys are in the messages: per entry, the newest message (window position) with a
// primary key and the first such key in the entry's order; and which secondary keys were seen, which
// recursion adds to as entries are injected.
type KeyHits = { primaryAt: Int32Array; primarySlot: Int32Array; secondary: (Set<number> | undefined)[] };

function findKeysInMessages(compiled: CompiledBook, window: readonly WindowMessage[]): KeyHits {
  const n = compiled.entries.length;
  const hits: KeyHits = { primaryAt: new Int32Array(n).fill(-1), primarySlot: new Int32Array(n), secondary: new Array(n) };
  window.forEach((message, at) => {
    const visit = (p: KeyPosting) => {
      const { pos, scanDepth } = p.ce;
      if (at >= scanDepth) return;
      if (p.secondary) (hits.secondary[pos] ??= new Set()).add(p.slot);
      else if (hits.primaryAt[pos] === -1 || (hits.primaryAt[pos] === at && p.slot < hits.primarySlot[pos])) {
        hits.primaryAt[pos] = at;
        hits.primarySlot[pos] = p.slot;
      }
    };
    readKeys(message.text, compiled, visit);
  });
  return hits;
}

// Primary keys of open entries in the contents just injected: per entry, the first content (in
// admission order) and its first key there. Secondary keys seen join the scan's.
function findKeysInInjected(
  compiled: CompiledBook,
  admitted: readonly InjectedEntry[],
  hits: KeyHits,
  isOpen: (ce: CompiledEntry) => boolean,
): Map<CompiledEntry, { key: string; via: string }> {
  const found = new Map<CompiledEntry, { key: string; via: string; text: number; slot: number }>();
  admitted.forEach((entry, text) => {
    const visit = (p: KeyPosting) => {
      if (p.secondary) {
        (hits.secondary[p.ce.pos] ??= new Set()).add(p.slot);
        return;
      }
      if (!isOpen(p.ce)) return;
      const previous = found.get(p.ce);
      if (!previous || (previous.text === text && p.slot < previous.slot)) found.set(p.ce, { key: p.m.key, via: entry.id, text, slot: p.slot });
    };
    readKeys(scanText(entry.content), compiled, visit);
  });
  return found;
}

function readKeys(text: ScanText, compiled: CompiledBook, visit: (p: KeyPosting) => void): void {
  if (compiled.exactKeys.size) readKeyIndex(text.exact, compiled.exactKeys, visit);
  if (compiled.foldedKeys.size) readKeyIndex(lowerCased(text), compiled.foldedKeys, visit);
}

function readKeyIndex(text: string, index: KeyIndex, visit: (p: KeyPosting) => void): void {
  const { pairs, singles } = index;
  const hasSingles = singles.size > 0;
  const end = text.length;
  let next = end ? text.charCodeAt(0) : 0;
  for (let at = 0; at < end; at++) {
    const unit = next;
    next = at + 1 < end ? text.charCodeAt(at + 1) : -1;
    if (hasSingles) {
      const postings = singles.get(unit);
      if (postings) for (const p of postings) if (boundariesHold(text, at, 1, p.m)) visit(p);
    }
    if (next < 0) break;
    const postings = pairs.get(pairKey(unit, next));
    if (!postings) continue;
    for (const p of postings) {
      const { needle } = p.m;
      if (text.startsWith(needle, at) && boundariesHold(text, at, needle.length, p.m)) visit(p);
    }
  }
}

function boundariesHold(text: string, at: number, length: number, m: KeyMatcher): boolean {
  if (m.left && isWordChar(codePointBefore(text, at))) return false;
  if (m.right) {
    const next = text.codePointAt(at + length);
    if (next !== undefined && isWordChar(next) && !isHangul(next)) return false;
  }
  return true;
}

function firstTrigger(
  ce: CompiledEntry,
  hits: KeyHits,
  window: readonly WindowMessage[],
  semanticHits: ReadonlyMap<string, number> | undefined,
  pendingSecondary: Map<CompiledEntry, KeyTrigger>,
): LorebookActivation | undefined {
  const { entry } = ce;
  if (entry.constant) return { kind: 'constant' };
  let unmet: LorebookActivation | undefined;
  const at = hits.primaryAt[ce.pos];
  if (at >= 0) {
    const found: KeywordFound = { key: ce.primary[hits.primarySlot[ce.pos]].key, messageIndex: window[at].index };
    if (!ce.secondary.length) return { kind: 'keyword', ...found };
    const secondary = secondaryMatch(ce, hits);
    const trigger: KeyTrigger = { kind: 'keyword', ...found, secondary };
    if (secondaryMet(secondary)) return trigger;
    pendingSecondary.set(ce, trigger);
    unmet = trigger;
  }
  const score = entry.semantic ? semanticHits?.get(entry.id) : undefined;
  if (score !== undefined && score >= entry.semanticThreshold) return { kind: 'semantic', score };
  return unmet;
}

type SecondaryMatch = { logic: LorebookEntry['selectiveLogic']; matched: string[]; missing: string[] };

function secondaryMatch(ce: CompiledEntry, hits: KeyHits): SecondaryMatch {
  const seen = hits.secondary[ce.pos];
  const matched: string[] = [];
  const missing: string[] = [];
  ce.secondary.forEach((m, slot) => (seen?.has(slot) ? matched : missing).push(m.key));
  return { logic: ce.entry.selectiveLogic, matched, missing };
}

function secondaryMet({ logic, matched, missing }: SecondaryMatch): boolean {
  switch (logic) {
    case 'and_any': return matched.length > 0;
    case 'and_all': return missing.length === 0;
    case 'not_any': return matched.length === 0;
    case 'not_all': return missing.length > 0;
  }
}

function admissionOrder(a: Candidate, b: Candidate): number {
  const constant = Number(b.trigger.kind === 'constant') - Number(a.trigger.kind === 'constant');
  return constant || b.ce.entry.insertionOrder - a.ce.entry.insertionOrder || a.ce.bookOrder - b.ce.bookOrder;
}

function skip(ce: CompiledEntry, reason: LorebookSkipReason, trigger: LorebookActivation): SkippedEntry {
  return { id: ce.entry.id, ...(ce.entry.name ? { name: ce.entry.name } : {}), reason, trigger };
}

function nextLastHitAt(compiled: CompiledBook, previous: Record<string, number>, injected: readonly InjectedEntry[], scanIndex: number) {
  const next: Record<string, number> = {};
  for (const [id, index] of Object.entries(previous)) if (compiled.ids.has(id)) next[id] = index;
  for (const e of injected) next[e.id] = scanIndex;
  return next;
}

// ---- Characters ----

const WORD = /[\p{L}\p{N}\p{M}]/u;
const HANGUL = /\p{Script=Hangul}/u;
const SPACELESS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

// Letters, digits, marks and '_' (as `\w` counts it); -1 (no character) is not one.
function isWordChar(cp: number): boolean {
  if (cp < 0) return false;
  if (cp < 0x80) return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f;
  return WORD.test(String.fromCodePoint(cp));
}

function isHangul(cp: number): boolean {
  return cp >= 0x1100 && HANGUL.test(String.fromCodePoint(cp));
}

function isSpacelessScript(cp: number): boolean {
  return cp >= 0x0e00 && SPACELESS.test(String.fromCodePoint(cp));
}

function codePointBefore(text: string, at: number): number {
  if (at <= 0) return -1;
  const low = text.charCodeAt(at - 1);
  if (low >= 0xdc00 && low <= 0xdfff && at >= 2) {
    const high = text.charCodeAt(at - 2);
    if (high >= 0xd800 && high <= 0xdbff) return (high - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
  }
  return low;
}
