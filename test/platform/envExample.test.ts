// .env.example is the operator's list of every variable: the platform's schema (server/config.ts)
// and each listed module's (modules/<module>/config.ts). A variable added to a schema without a
// line here, or a line left behind for a variable no schema reads, fails this test.
import fs from 'node:fs';
import { expect } from 'chai';
import { envSchema } from '../../server/config.ts';
import { modules } from '../../modules/index.ts';

const lines = fs.readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').split('\n');
// `KEY=` lines with their line index; comments and blank lines are not variables.
const entries = lines.flatMap((line, index) => {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
  return m ? [{ key: m[1], index }] : [];
});
const keys = entries.map((e) => e.key);
const platformKeys = Object.keys(envSchema.shape);
const moduleKeys = (m: (typeof modules)[number]): string[] => Object.keys(m.config?.shape ?? {});

describe('platform: .env.example', () => {
  it('lists every variable of the platform schema', () => {
    expect(platformKeys.filter((k) => !keys.includes(k)), 'missing from .env.example').to.deep.equal([]);
  });

  it('lists every variable of every listed module', () => {
    const missing = modules.flatMap((m) => moduleKeys(m).filter((k) => !keys.includes(k)).map((k) => `${m.name}: ${k}`));
    expect(missing, 'missing from .env.example').to.deep.equal([]);
  });

  it('lists no variable that nothing reads, and none twice', () => {
    const known = new Set([...platformKeys, ...modules.flatMap(moduleKeys)]);
    expect(keys.filter((k) => !known.has(k)), 'unknown variables in .env.example').to.deep.equal([]);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i), 'listed twice').to.deep.equal([]);
  });

  it('keeps the platform\'s variables first and each module\'s under its own heading', () => {
    const headings = lines.flatMap((line, index) => {
      // e.g. `# --- module: coach (modules/coach/config.ts)`
      const m = /^# --- module: ([a-z][a-z0-9_-]*) \(modules\/\1\/[\w.-]+\.ts\)/.exec(line);
      return m ? [{ module: m[1], index }] : [];
    });
    const sectionOf = (index: number) => headings.filter((h) => h.index < index).at(-1)?.module ?? 'platform';
    const misplaced = [
      ...platformKeys.map((k) => ({ k, want: 'platform' })),
      ...modules.flatMap((m) => moduleKeys(m).map((k) => ({ k, want: m.name }))),
    ].flatMap(({ k, want }) => {
      const at = entries.find((e) => e.key === k);
      const got = at ? sectionOf(at.index) : want;
      return got === want ? [] : [`${k}: under ${got}, belongs to ${want}`];
    });
    expect(misplaced).to.deep.equal([]);
  });
});
