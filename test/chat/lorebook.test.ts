// The lorebook engine (services/chat/lorebook.ts): keyword matching (case, whole words in Latin and
// Korean), secondary keys, scan depth, constants, the token budget, positions, cooldowns, enabledBy,
// recursion, and semantic triggers through a fake embedder. Pure: no database, no network.
import { expect } from 'chai';
import {
  MAX_RECURSION_STEPS,
  placeEntries,
  scanLorebook,
  semanticQueryText,
  semanticScores,
  toInjectionRecords,
  type LorebookMessage,
  type LorebookScan,
} from '../../services/chat/lorebook.ts';
import { lorebook, lorebookEntry, lorebookInjection, lorebookState, type Lorebook, type LorebookState } from '../../services/chat/schemas.ts';

// One token per whitespace-separated word: easy to budget by hand.
const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length;

type EntryInput = Partial<Omit<ReturnType<typeof lorebookEntry.parse>, 'id'>> & { id: string };

function book(entries: EntryInput[], options: Partial<Omit<Lorebook, 'entries'>> = {}): Lorebook {
  return lorebook.parse({ ...options, entries: entries.map((e) => lorebookEntry.parse({ content: `${e.id} content`, ...e })) });
}

// Messages alternating user/character, indexed from `first`.
function chat(texts: string[], first = 0): LorebookMessage[] {
  return texts.map((content, i) => ({ role: i % 2 ? 'character' : 'user', content, index: first + i }));
}

function scan(b: Lorebook, messages: string[] | LorebookMessage[], extra: { state?: LorebookState; semanticHits?: Map<string, number> } = {}): LorebookScan {
  const msgs = typeof messages[0] === 'string' ? chat(messages as string[]) : (messages as LorebookMessage[]);
  return scanLorebook({ book: b, messages: msgs, countTokens: countWords, ...extra });
}

const ids = (s: LorebookScan) => s.injected.map((e) => e.id);
const skippedAs = (s: LorebookScan) => Object.fromEntries(s.skipped.map((e) => [e.id, e.reason]));
const hits = (entry: EntryInput, text: string) => ids(scan(book([entry]), [text])).length === 1;

describe('lorebook: keyword matching', () => {
  it('ignores case unless the entry is case-sensitive', () => {
    expect(hits({ id: 'e', keys: ['Elf'] }, 'an ELF appears')).to.equal(true);
    expect(hits({ id: 'e', keys: ['Elf'], caseSensitive: true }, 'an elf appears')).to.equal(false);
    expect(hits({ id: 'e', keys: ['Elf'], caseSensitive: true }, 'an Elf appears')).to.equal(true);
  });

  it('matches whole words in Latin text, or substrings when whole words are off', () => {
    expect(hits({ id: 'e', keys: ['elf'] }, 'the shelf is empty')).to.equal(false);
    expect(hits({ id: 'e', keys: ['elf'] }, 'elves and elfish things')).to.equal(false);
    expect(hits({ id: 'e', keys: ['elf'] }, '"Elf!" she cried')).to.equal(true);
    expect(hits({ id: 'e', keys: ['elf'] }, 'an elf_')).to.equal(false);
    expect(hits({ id: 'e', keys: ['elf'], matchWholeWords: false }, 'the shelf is empty')).to.equal(true);
    // Several words: the edges are still word boundaries.
    expect(hits({ id: 'e', keys: ['dark elf'] }, 'a dark elfish look')).to.equal(false);
    expect(hits({ id: 'e', keys: ['dark elf'] }, 'a dark elf, tall')).to.equal(true);
    // A key edge that is punctuation has no boundary to check.
    expect(hits({ id: 'e', keys: ['#quest'] }, 'new#quest')).to.equal(true);
  });

  it('matches a Korean key followed by a particle, but not inside another word', () => {
    const elf = { id: 'elf', keys: ['엘프'] };
    expect(hits(elf, '엘프는 숲에 산다')).to.equal(true);
    expect(hits(elf, '그 엘프의 활')).to.equal(true);
    expect(hits(elf, '엘프들이 왔다')).to.equal(true);
    expect(hits(elf, '"엘프"라고 불렀다')).to.equal(true);
    expect(hits(elf, '다크엘프가 나타났다')).to.equal(false);
    expect(hits(elf, '엘프ok')).to.equal(false);
    // A particle after a Latin word, as Korean text writes it.
    expect(hits({ id: 'ai', keys: ['AI'] }, 'AI가 말했다')).to.equal(true);
    expect(hits({ id: 'ai', keys: ['AI'] }, 'AIR가 말했다')).to.equal(false);
    // Scripts without spaces match as substrings.
    expect(hits({ id: 'magic', keys: ['魔法'] }, '彼は魔法使いだ')).to.equal(true);
  });

  it('compares texts in NFC, so decomposed Hangul still matches', () => {
    expect(hits({ id: 'elf', keys: ['엘프'] }, '엘프는'.normalize('NFD'))).to.equal(true);
    expect(hits({ id: 'elf', keys: ['엘프'.normalize('NFD')] }, '엘프는')).to.equal(true);
  });

  it('treats keys as text, never as regular expressions', () => {
    expect(hits({ id: 'e', keys: ['/el+f/i'] }, 'an ELLF')).to.equal(false);
    expect(hits({ id: 'e', keys: ['(a+)+$'], matchWholeWords: false }, 'x (a+)+$ y')).to.equal(true);
  });

  it('finds short, overlapping, shared and astral keys anywhere in the text', () => {
    expect(hits({ id: 'e', keys: ['王'] }, '王')).to.equal(true);
    expect(hits({ id: 'e', keys: ['x'] }, 'a b x')).to.equal(true);
    expect(hits({ id: 'e', keys: ['x'] }, 'a b xy')).to.equal(false);
    expect(hits({ id: 'e', keys: ['🐉'] }, 'a 🐉!')).to.equal(true);
    expect(hits({ id: 'e', keys: ['aa'], matchWholeWords: false }, 'baaa')).to.equal(true);
    // The second occurrence is the whole word.
    expect(hits({ id: 'e', keys: ['elf'] }, 'shelf, elf')).to.equal(true);
    // 'A' (U+0041) and '䁁' (U+4041) share an index bucket with the same second unit.
    const b = book([{ id: 'latin', keys: ['AB'], caseSensitive: true }, { id: 'han', keys: ['䁁B'], caseSensitive: true }]);
    expect(ids(scan(b, ['x 䁁B']))).to.deep.equal(['han']);
    expect(ids(scan(b, ['x AB']))).to.deep.equal(['latin']);
    // One key in several entries, with different options.
    const shared = book([{ id: 'folded', keys: ['Elf'] }, { id: 'exact', keys: ['Elf'], caseSensitive: true }, { id: 'sub', keys: ['elf'], matchWholeWords: false }]);
    expect(ids(scan(shared, ['an elfin elf']))).to.deep.equal(['folded', 'sub']);
  });

  it('agrees with a regular-expression statement of the rules on random keys and texts', () => {
    // Letters that collide in the key index, Hangul, a spaceless script, a boundary and '_'.
    const alphabet = ['a', 'b', 'A', '䁁', '엘', '프', '는', '王', ' ', '_', ','];
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const word = (max: number) => Array.from({ length: 1 + Math.floor(random() * max) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    const WORD = '[\\p{L}\\p{N}\\p{M}_]';
    const SPACELESS = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}]/u;
    const reference = (key: string, text: string, caseSensitive: boolean, wholeWords: boolean) => {
      const k = caseSensitive ? key : key.toLowerCase();
      const t = caseSensitive ? text : text.toLowerCase();
      if (!wholeWords) return t.includes(k);
      const chars = [...k];
      const edge = (c: string) => new RegExp(WORD, 'u').test(c) && !SPACELESS.test(c);
      const left = edge(chars[0]) ? `(?<!${WORD})` : '';
      const right = edge(chars[chars.length - 1]) ? `(?!(?!\\p{sc=Hangul})${WORD})` : '';
      return new RegExp(`${left}${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${right}`, 'u').test(t);
    };
    let agreed = 0;
    for (let i = 0; i < 400; i++) {
      const key = word(3).trim();
      if (!key) continue;
      const text = word(14);
      const caseSensitive = random() < 0.3;
      const matchWholeWords = random() < 0.7;
      const expected = reference(key, text, caseSensitive, matchWholeWords);
      expect(hits({ id: 'e', keys: [key], caseSensitive, matchWholeWords }, text), JSON.stringify({ key, text, caseSensitive, matchWholeWords })).to.equal(expected);
      agreed++;
    }
    expect(agreed).to.be.greaterThan(300);
  });

  it('reports the key and the newest message it was found in', () => {
    const b = book([{ id: 'sword', keys: ['blade', 'sword'] }]);
    const s = scan(b, chat(['a sword', 'nothing', 'a blade and a sword', 'nothing'], 10));
    expect(s.injected[0].reason).to.deep.equal({ kind: 'keyword', key: 'blade', messageIndex: 12 });
  });
});

describe('lorebook: secondary keys', () => {
  const text = 'the elf draws a bow';
  const cases: [string, string[], boolean][] = [
    ['and_any', ['bow', 'sword'], true],
    ['and_any', ['axe', 'sword'], false],
    ['and_all', ['bow', 'draws'], true],
    ['and_all', ['bow', 'sword'], false],
    ['not_any', ['axe', 'sword'], true],
    ['not_any', ['bow', 'sword'], false],
    ['not_all', ['bow', 'sword'], true],
    ['not_all', ['bow', 'draws'], false],
  ];
  for (const [logic, secondaryKeys, expected] of cases) {
    it(`${logic} with [${secondaryKeys}] ${expected ? 'injects' : 'holds back'}`, () => {
      const b = book([{ id: 'e', keys: ['elf'], selective: true, selectiveLogic: logic as 'and_any', secondaryKeys }]);
      const s = scan(b, [text]);
      if (expected) {
        expect(ids(s)).to.deep.equal(['e']);
        const reason = s.injected[0].reason;
        expect(reason.kind).to.equal('keyword');
        if (reason.kind === 'keyword') expect(reason.secondary?.logic).to.equal(logic);
      } else {
        expect(ids(s)).to.deep.equal([]);
        expect(skippedAs(s)).to.deep.equal({ e: 'secondary_not_met' });
      }
    });
  }

  it('records which secondary keys were found and which were missing', () => {
    const b = book([{ id: 'e', keys: ['elf'], selective: true, selectiveLogic: 'and_all', secondaryKeys: ['bow', 'sword'] }]);
    const s = scan(b, ['the elf has a bow']);
    expect(s.skipped[0].trigger).to.deep.equal({
      kind: 'keyword', key: 'elf', messageIndex: 0, secondary: { logic: 'and_all', matched: ['bow'], missing: ['sword'] },
    });
  });

  it('ignores secondary keys unless the entry is selective, and an empty list asks nothing', () => {
    expect(hits({ id: 'e', keys: ['elf'], secondaryKeys: ['sword'], selectiveLogic: 'and_all' }, 'an elf')).to.equal(true);
    expect(hits({ id: 'e', keys: ['elf'], selective: true, selectiveLogic: 'and_all' }, 'an elf')).to.equal(true);
  });

  it('finds secondary keys anywhere in the scanned messages, not only where the primary was', () => {
    const b = book([{ id: 'e', keys: ['elf'], selective: true, secondaryKeys: ['bow'] }]);
    expect(ids(scan(b, ['a bow', 'an elf']))).to.deep.equal(['e']);
  });
});

describe('lorebook: scan depth, constants', () => {
  it("scans the book's depth of newest messages, or the entry's own", () => {
    const messages = ['the dragon wakes', 'hello', 'how are you'];
    expect(ids(scan(book([{ id: 'dragon', keys: ['dragon'] }], { scanDepth: 2 }), messages))).to.deep.equal([]);
    expect(ids(scan(book([{ id: 'dragon', keys: ['dragon'] }], { scanDepth: 3 }), messages))).to.deep.equal(['dragon']);
    expect(ids(scan(book([{ id: 'dragon', keys: ['dragon'], scanDepth: 3 }], { scanDepth: 1 }), messages))).to.deep.equal(['dragon']);
    expect(ids(scan(book([{ id: 'dragon', keys: ['dragon'], scanDepth: 0 }], { scanDepth: 4 }), messages))).to.deep.equal([]);
  });

  it('injects constant entries without a keyword, even in an empty room', () => {
    const b = book([{ id: 'world', constant: true }, { id: 'elf', keys: ['elf'] }]);
    const s = scanLorebook({ book: b, messages: [], countTokens: countWords });
    expect(ids(s)).to.deep.equal(['world']);
    expect(s.injected[0].reason).to.deep.equal({ kind: 'constant' });
    expect(s.nextState.lastHitAt).to.deep.equal({ world: -1 });
  });

  it('ignores disabled entries entirely', () => {
    const b = book([{ id: 'off', constant: true, enabled: false }, { id: 'elf', keys: ['elf'], enabled: false }]);
    const s = scan(b, ['an elf']);
    expect(s.injected).to.deep.equal([]);
    expect(s.skipped).to.deep.equal([]);
  });
});

describe('lorebook: token budget and order', () => {
  // Contents of 3, 4, 2 and 5 words; a budget of 9.
  const b = book(
    [
      { id: 'low', keys: ['elf'], insertionOrder: 10, content: 'one two three' },
      { id: 'high', keys: ['elf'], insertionOrder: 300, content: 'one two three four' },
      { id: 'small', keys: ['elf'], insertionOrder: 5, content: 'one two' },
      { id: 'constant', constant: true, insertionOrder: -50, content: 'one two three four five' },
    ],
    { tokenBudget: 9 },
  );

  it('admits constants first, then higher insertionOrder, and stops at the first that does not fit', () => {
    const s = scan(b, ['an elf']);
    expect(ids(s)).to.deep.equal(['constant', 'high']);
    expect(s.tokensUsed).to.equal(9);
    expect(s.tokenBudget).to.equal(9);
    // 'small' would fit in what is left, but admission stopped at 'low': the creator's order holds.
    expect(s.skipped.map((e) => [e.id, e.reason])).to.deep.equal([['low', 'budget'], ['small', 'budget']]);
    expect(s.skipped[0].trigger).to.deep.equal({ kind: 'keyword', key: 'elf', messageIndex: 0 });
    expect(s.injected.map((e) => e.tokens)).to.deep.equal([5, 4]);
  });

  it('breaks insertionOrder ties by book order', () => {
    const tie = book([{ id: 'b', keys: ['elf'] }, { id: 'a', keys: ['elf'] }]);
    expect(ids(scan(tie, ['elf']))).to.deep.equal(['b', 'a']);
  });

  it('a zero budget injects nothing', () => {
    const s = scanLorebook({ book: { ...b, tokenBudget: 0 }, messages: chat(['elf']), countTokens: countWords });
    expect(s.injected).to.deep.equal([]);
    expect(new Set(s.skipped.map((e) => e.reason))).to.deep.equal(new Set(['budget']));
  });

  it('counts tokens once per entry and counting function', () => {
    let calls = 0;
    const counting = (t: string) => (calls++, countWords(t));
    const big = { ...b, tokenBudget: 100 };
    scanLorebook({ book: big, messages: chat(['elf']), countTokens: counting });
    scanLorebook({ book: big, messages: chat(['elf again']), countTokens: counting });
    expect(calls).to.equal(4);
  });
});

describe('lorebook: the compiled book', () => {
  it('is kept out of sight on the book: JSON, spread copies and frozen books are unaffected', () => {
    const b = book([{ id: 'elf', keys: ['elf'] }]);
    const before = JSON.stringify(b);
    expect(ids(scan(b, ['elf']))).to.deep.equal(['elf']);
    expect(JSON.stringify(b)).to.equal(before);
    expect(Object.keys(b)).to.deep.equal(['scanDepth', 'tokenBudget', 'recursiveScanning', 'entries']);
    // A changed book is a new object, compiled anew.
    expect(ids(scan({ ...b, entries: [{ ...b.entries[0], keys: ['orc'] }] }, ['elf']))).to.deep.equal([]);
    const frozen = Object.freeze(book([{ id: 'orc', keys: ['orc'] }]));
    expect(ids(scan(frozen, ['orc']))).to.deep.equal(['orc']);
  });
});

describe('lorebook: placement', () => {
  it('puts entries in their sections, ascending insertionOrder, deepest first at depth', () => {
    const b = book([
      { id: 'a', constant: true, position: 'before_char', insertionOrder: 200, content: 'A' },
      { id: 'b', constant: true, position: 'before_char', insertionOrder: 100, content: 'B' },
      { id: 'c', constant: true, position: 'after_char', content: 'C' },
      { id: 'd', constant: true, position: 'before_examples', content: 'D' },
      { id: 'e', constant: true, position: 'after_examples', content: 'E' },
      { id: 'f', constant: true, position: 'at_depth', depth: 0, insertionOrder: 50, content: 'F' },
      { id: 'g', constant: true, position: 'at_depth', depth: 4, content: 'G' },
      { id: 'h', constant: true, position: 'at_depth', depth: 0, insertionOrder: 10, content: 'H' },
      { id: 'blank', constant: true, content: '  ' },
    ]);
    const s = scan(b, ['hi']);
    expect(placeEntries(s)).to.deep.equal({
      beforeChar: ['B', 'A'],
      afterChar: ['C'],
      beforeExamples: ['D'],
      afterExamples: ['E'],
      atDepth: [{ depth: 4, content: 'G' }, { depth: 0, content: 'H' }, { depth: 0, content: 'F' }],
    });
    const injectedA = s.injected.find((e) => e.id === 'a')!;
    expect(injectedA).to.include({ position: 'before_char', depth: 4, insertionOrder: 200, content: 'A', tokens: 1 });
  });

  it('keeps, per AI message, what was injected and why, without the text', () => {
    const s = scan(book([{ id: 'elf', name: 'Elves', keys: ['elf'], content: 'long text' }]), ['elf']);
    const records = toInjectionRecords(s);
    expect(records).to.deep.equal([
      { id: 'elf', name: 'Elves', position: 'before_char', depth: 4, insertionOrder: 100, tokens: 2, reason: { kind: 'keyword', key: 'elf', messageIndex: 0 } },
    ]);
    expect(() => lorebookInjection.array().parse(records)).not.to.throw();
  });
});

describe('lorebook: state (cooldown, enabledBy)', () => {
  it('holds an entry back for `cooldown` messages after a hit', () => {
    const b = book([{ id: 'elf', keys: ['elf'], cooldown: 2 }]);
    const at = (index: number, state: LorebookState) => scan(b, [{ role: 'user', content: 'elf', index }], { state });
    const first = at(10, { lastHitAt: {} });
    expect(ids(first)).to.deep.equal(['elf']);
    expect(first.nextState).to.deep.equal({ lastHitAt: { elf: 10 } });
    expect(skippedAs(at(11, first.nextState))).to.deep.equal({ elf: 'cooldown' });
    const twelve = at(12, first.nextState);
    expect(skippedAs(twelve)).to.deep.equal({ elf: 'cooldown' });
    expect(twelve.nextState).to.deep.equal({ lastHitAt: { elf: 10 } });
    expect(ids(at(13, first.nextState))).to.deep.equal(['elf']);
    // The same point scanned again (a regenerated reply) is not held back.
    expect(ids(at(10, first.nextState))).to.deep.equal(['elf']);
  });

  it('cools down constant entries too', () => {
    const b = book([{ id: 'w', constant: true, cooldown: 1 }]);
    expect(skippedAs(scan(b, chat(['x'], 5), { state: { lastHitAt: { w: 4 } } }))).to.deep.equal({ w: 'cooldown' });
  });

  it('activates an enabledBy entry from the scan after its enabler was injected', () => {
    const b = book([
      { id: 'cave', keys: ['cave'] },
      { id: 'secret', keys: ['cave', 'secret'], enabledBy: ['cave'] },
    ]);
    const first = scan(b, chat(['we enter the cave'], 0));
    expect(ids(first)).to.deep.equal(['cave']);
    expect(skippedAs(first)).to.deep.equal({ secret: 'not_enabled' });

    const second = scan(b, chat(['ok', 'what secret?'], 1), { state: first.nextState });
    expect(ids(second)).to.deep.equal(['secret']);
    expect(second.injected[0].reason).to.deep.equal({ kind: 'keyword', key: 'secret', messageIndex: 2 });
    expect(second.nextState).to.deep.equal({ lastHitAt: { cave: 0, secret: 2 } });
  });

  it("drops ids no longer in the book and leaves the caller's state as it was", () => {
    const state = lorebookState.parse({ lastHitAt: { gone: 3, elf: 1 } });
    const s = scan(book([{ id: 'elf', keys: ['elf'] }]), chat(['elf'], 7), { state });
    expect(s.nextState).to.deep.equal({ lastHitAt: { elf: 7 } });
    expect(state).to.deep.equal({ lastHitAt: { gone: 3, elf: 1 } });
  });
});

describe('lorebook: recursion', () => {
  it("triggers entries named in injected entries' content, each once, when two name each other", () => {
    const b = book(
      [
        { id: 'king', keys: ['king'], content: 'The king rules from the castle.' },
        { id: 'castle', keys: ['castle'], content: 'The castle belongs to the king.' },
      ],
      { recursiveScanning: true },
    );
    const s = scan(b, ['who is the king?']);
    expect(ids(s)).to.deep.equal(['king', 'castle']);
    expect(s.injected[1].reason).to.deep.equal({ kind: 'recursive', key: 'castle', via: 'king', step: 1 });
    expect(ids(scan({ ...b, recursiveScanning: false }, ['who is the king?']))).to.deep.equal(['king']);
  });

  it(`stops after ${MAX_RECURSION_STEPS} steps`, () => {
    const chain = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
    const b = book(
      chain.map((id, i) => ({ id, keys: [id], content: `see ${chain[i + 1] ?? 'nothing'}` })),
      { recursiveScanning: true },
    );
    const s = scan(b, ['tell me about a0']);
    expect(ids(s)).to.deep.equal(chain.slice(0, MAX_RECURSION_STEPS + 1));
    expect(s.injected.map((e) => (e.reason.kind === 'recursive' ? e.reason.step : 0))).to.deep.equal([0, 1, 2, 3]);
  });

  it('lets injected content supply the secondary keys a message lacked', () => {
    const b = book(
      [
        { id: 'elf', keys: ['elf'], content: 'Elves carry a bow.' },
        { id: 'archer', keys: ['archer'], selective: true, secondaryKeys: ['bow'], insertionOrder: 50 },
      ],
      { recursiveScanning: true },
    );
    const s = scan(b, ['an elf archer']);
    expect(ids(s)).to.deep.equal(['elf', 'archer']);
    expect(s.injected[1].reason).to.deep.equal({
      kind: 'keyword', key: 'archer', messageIndex: 0, secondary: { logic: 'and_any', matched: ['bow'], missing: [] },
    });
    expect(s.skipped).to.deep.equal([]);
  });

  it('keeps a recursive hit waiting for secondary keys that a later step supplies', () => {
    const b = book(
      [
        { id: 'elf', keys: ['elf'], content: 'Elves live near archers and the river.' },
        { id: 'archer', keys: ['archer', 'archers'], selective: true, secondaryKeys: ['bow'], insertionOrder: 50 },
        { id: 'river', keys: ['river'], content: 'The river people make the best bow.' },
      ],
      { recursiveScanning: true },
    );
    const s = scan(b, ['an elf']);
    expect(ids(s)).to.deep.equal(['elf', 'river', 'archer']);
    expect(s.injected[2].reason).to.deep.equal({
      kind: 'recursive', key: 'archers', via: 'elf', step: 1, secondary: { logic: 'and_any', matched: ['bow'], missing: [] },
    });
  });

  it('skips what recursion finds once the budget is spent', () => {
    const b = book(
      [
        { id: 'king', keys: ['king'], content: 'The king rules from the castle.' },
        { id: 'castle', keys: ['castle'], content: 'Stone.' },
      ],
      { recursiveScanning: true, tokenBudget: 6 },
    );
    const s = scan(b, ['the king']);
    expect(ids(s)).to.deep.equal(['king']);
    expect(skippedAs(s)).to.deep.equal({ castle: 'budget' });
  });
});

describe('lorebook: semantic triggers', () => {
  // Deterministic vectors: one dimension per theme word, plus a constant so none is zero.
  const THEMES = ['sea', 'forest', 'fire'];
  function fakeEmbedder() {
    const calls: string[][] = [];
    const embed = async (texts: string[]) => {
      calls.push(texts);
      return texts.map((t) => [...THEMES.map((w) => (t.toLowerCase().includes(w) ? 1 : 0)), 0.1]);
    };
    return { embed, calls };
  }
  const b = book([
    { id: 'ocean', semantic: true, semanticThreshold: 0.9, content: 'The sea people' },
    { id: 'woods', semantic: true, semanticThreshold: 0.9, content: 'The forest folk' },
    { id: 'plain', content: 'The sea, not semantic' },
    { id: 'elf', keys: ['elf'], semantic: true, content: 'Elves of the forest' },
  ]);

  it('scores semantic entries against the query and triggers those over their threshold', async () => {
    const { embed } = fakeEmbedder();
    const messages = chat(['hello', 'we sail the open sea']);
    const scores = await semanticScores({ entries: b.entries, query: semanticQueryText(b, messages), embed, cache: new Map() });
    expect([...scores.keys()].sort()).to.deep.equal(['elf', 'ocean', 'woods']);
    expect(scores.get('ocean')).to.be.greaterThan(0.9);
    expect(scores.get('woods')).to.be.lessThan(0.1);

    const s = scanLorebook({ book: b, messages, countTokens: countWords, semanticHits: scores });
    expect(ids(s)).to.deep.equal(['ocean']);
    const reason = s.injected[0].reason;
    expect(reason.kind).to.equal('semantic');
    if (reason.kind === 'semantic') expect(reason.score).to.equal(scores.get('ocean'));
  });

  it('prefers a keyword as the reason when both trigger', () => {
    const s = scan(b, ['an elf in the forest'], { semanticHits: new Map([['elf', 0.99]]) });
    expect(s.injected[0].reason).to.deep.equal({ kind: 'keyword', key: 'elf', messageIndex: 0 });
  });

  it('embeds each entry content once, through the cache', async () => {
    const { embed, calls } = fakeEmbedder();
    const cache = new Map<string, readonly number[]>();
    await semanticScores({ entries: b.entries, query: 'the sea', embed, cache });
    await semanticScores({ entries: b.entries, query: 'the forest', embed, cache });
    // A re-parsed book: new objects, same contents.
    const copy = lorebook.parse(JSON.parse(JSON.stringify(b)));
    await semanticScores({ entries: copy.entries, query: 'fire', embed, cache });
    expect(calls).to.deep.equal([['The sea people', 'The forest folk', 'Elves of the forest', 'the sea'], ['the forest'], ['fire']]);
    expect(cache.size).to.equal(3);
  });

  it('makes no call without semantic entries or without a query', async () => {
    const { embed, calls } = fakeEmbedder();
    expect((await semanticScores({ entries: b.entries, query: '  ', embed, cache: new Map() })).size).to.equal(0);
    expect((await semanticScores({ entries: [b.entries[2]], query: 'sea', embed, cache: new Map() })).size).to.equal(0);
    expect(calls).to.deep.equal([]);
  });

  it('refuses an embedder that returns the wrong number of vectors', async () => {
    const embed = async () => [[1, 0]];
    let error: unknown;
    try {
      await semanticScores({ entries: b.entries, query: 'sea', embed, cache: new Map() });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/1 vectors for 4 texts/);
  });
});
