// The README's coach client, run exactly as the README prints it, against a real node: the whole
// answer arrives for a fresh ask and for every repeat served from the cache, whose events reach
// the client before the ack of `ask` does.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import type { ApiNode } from '../server/node.ts';
import type { askCoach as AskCoach } from '../examples/coachClient.ts';
import { closeAllSockets, connectSocket, connected, ingestKnowledge, newUser, startNode, stopAllNodes } from './helpers.ts';
import { testState } from './state.ts';

const MARKER = '<!-- coach client:';

// The fenced block after the marker comment, without the list item's indentation.
function readmeBlock(marker: string): string {
  const lines = fs.readFileSync('README.md', 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes(marker));
  expect(at, `README has no "${marker}"`).to.be.greaterThan(-1);
  const open = at + 1;
  const indent = /^(\s*)```ts\s*$/.exec(lines[open])?.[1];
  expect(indent, 'a ```ts fence right after the marker').to.not.equal(undefined);
  const close = lines.findIndex((l, i) => i > open && l === `${indent}\`\`\``);
  return `${lines.slice(open + 1, close).map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l)).join('\n')}\n`;
}

describe('README: the coach socket client', () => {
  let node: ApiNode;
  let askCoach: typeof AskCoach;
  const block = readmeBlock(MARKER);

  before(async () => {
    node = await startNode();
    // Inside the project, so the snippet's imports resolve as they would in an app.
    const dir = path.resolve('.data', `readme-${testState.runId}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'coachClient.ts');
    fs.writeFileSync(file, block);
    ({ askCoach } = await import(pathToFileURL(file).href));
    fs.rmSync(dir, { recursive: true, force: true });

    await ingestKnowledge(node, [{ game: 'readme', title: '웨이브 관리', content: '미니언 웨이브를 당기거나 밀어서 라인 주도권을 잡습니다. 프리징은 상대를 위험한 위치로 끌어냅니다. 웨이브를 밀어 넣은 뒤 귀환하면 손해가 적습니다.' }]);
  });
  after(async () => {
    closeAllSockets();
    await stopAllNodes();
  });

  it('is examples/coachClient.ts, word for word', () => {
    expect(block).to.equal(fs.readFileSync('examples/coachClient.ts', 'utf8'));
  });

  it('gets the whole answer of a fresh ask and of ten repeats answered from the cache', async () => {
    const u = await newUser(node);
    const coach = connectSocket(node, '/coach', { token: u.accessToken });
    await connected(coach);
    const question = `웨이브는 어떻게 관리하나요? (${crypto.randomUUID().slice(0, 8)})`;
    const stored = async (answerId: string) =>
      (await node.ctx.db.orm.em.fork().execute<{ answer: string }[]>('select answer from coach_answers where id = ?', [answerId]))[0].answer;

    for (let i = 0; i <= 10; i++) {
      let streamed = '';
      const answer = await askCoach(coach, { question, game: 'readme' }, (t) => (streamed += t));
      expect(answer.cached, `ask #${i}`).to.equal(i > 0);
      expect(answer.text.length, `ask #${i}`).to.be.greaterThan(0).and.to.equal(answer.length);
      expect(answer.text, `ask #${i}`).to.equal(await stored(answer.answerId)).and.to.equal(streamed);
    }
  });

  it('rejects with the ack\'s error code when the ask is refused', async () => {
    const u = await newUser(node);
    const coach = connectSocket(node, '/coach', { token: u.accessToken });
    await connected(coach);
    const refused = await askCoach(coach, { question: '웨이브?', game: 'no-such-game' }).then(() => undefined, (err: Error & { code?: string }) => err);
    expect(refused?.code).to.equal('unknown_game');
    expect(coach.listeners('answer.delta')).to.have.length(0);
  });
});
