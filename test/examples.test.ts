// The clients in examples/, run the way their headers say (`node examples/<file>.ts` with API_URL
// and ACCESS_TOKEN) as child processes against a test node, so they keep working as the server changes.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { expect } from 'chai';
import type { ApiNode } from '../server/node.ts';
import { ingestKnowledge, newUser, startNode, stopAllNodes, type TestUser } from './helpers.ts';

type Run = { stdout: () => string; stderr: () => string; exited: Promise<number | null>; waitFor: (stream: 'stdout' | 'stderr', text: string) => Promise<void>; kill: () => void };

function runExample(file: string, env: Record<string, string>, args: string[] = []): Run {
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters: { stream: 'stdout' | 'stderr'; text: string; resolve: () => void }[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].setEncoding('utf8').on('data', (chunk: string) => {
      out[stream] += chunk;
      for (const w of waiters.filter((x) => x.stream === stream && out[stream].includes(x.text))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  exited.finally(() => clearTimeout(timer));
  return {
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited,
    waitFor: (stream, text) => (out[stream].includes(text) ? Promise.resolve() : new Promise((resolve, reject) => {
      waiters.push({ stream, text, resolve });
      exited.then((code) => reject(new Error(`${file} exited (${code}) before "${text}":\n${out.stdout}\n${out.stderr}`)));
    })),
    kill: () => child.kill('SIGKILL'),
  };
}

describe('examples/', () => {
  let node: ApiNode;
  let u: TestUser;
  const env = () => ({ API_URL: node.url, ACCESS_TOKEN: u.accessToken });
  before(async () => {
    node = await startNode();
    u = await newUser(node);
  });
  after(stopAllNodes);

  describe('coach-ask.ts', () => {
    before(async () => {
      await ingestKnowledge(node, [{ game: 'examples', title: '귀환 타이밍', content: '웨이브를 밀어 넣은 뒤 귀환하면 손해가 적습니다. 골드가 아이템 구매에 충분할 때 귀환합니다. 상대 정글의 위치를 확인하고 귀환하세요.' }]);
    });

    const resumes = async () => {
      const metric = await node.ctx.metrics.registry.getSingleMetric('socket_events_total')!.get();
      return metric.values.filter((v) => v.labels.namespace === 'coach' && v.labels.event === 'answer.resume' && v.labels.outcome === 'ok').reduce((n, v) => n + v.value, 0);
    };
    const latestAnswer = async () => (await node.ctx.db.orm.em.fork().execute<{ answer: string; is_cached: boolean }[]>(
      'select answer, is_cached from coach_answers where user_id = ? order by created_at desc limit 1', [u.id]))[0];

    it('prints the whole answer through a dropped connection, fresh and then from the cache', async () => {
      const question = `귀환은 언제 하나요? (${crypto.randomUUID().slice(0, 8)})`;
      for (const cached of [false, true]) {
        const before = await resumes();
        const run = runExample('examples/coach-ask.ts', { ...env(), GAME: 'examples', DROP_AFTER: '1' }, [question]);
        expect(await run.exited, run.stderr()).to.equal(0);
        const stored = await latestAnswer();
        expect(stored.is_cached).to.equal(cached);
        expect(run.stdout()).to.equal(`${stored.answer}\n`);
        expect(run.stderr()).to.include('[dropping the connection]').and.to.include(`cached: ${cached}`);
        // A fresh answer streams in pieces: what was sent while the connection was down came back through answer.resume.
        if (!cached) {
          expect(run.stderr()).to.include('reconnects: 1');
          expect(await resumes()).to.be.greaterThan(before);
        }
      }
    });

    it('fails with the server\'s code and a non-zero exit for a game without knowledge', async () => {
      const run = runExample('examples/coach-ask.ts', { ...env(), GAME: 'no-such-game', DROP_AFTER: '0' });
      expect(await run.exited).to.equal(1);
      expect(run.stderr()).to.include('unknown_game');
    });

    it('says what it needs without a token', async () => {
      const run = runExample('examples/coach-ask.ts', { API_URL: node.url, ACCESS_TOKEN: '' });
      expect(await run.exited).to.equal(2);
      expect(run.stderr()).to.include('ACCESS_TOKEN');
    });
  });

  describe('notifications.ts', () => {
    const notify = (title: string) => node.services.notifications.notify(u.id, { type: 'social.like', category: 'social', title });

    it('prints what it missed before it started, what arrives live, and what was sent while it was reconnecting', async () => {
      const earlier = (await notify('before the example started')).notification;
      const run = runExample('examples/notifications.ts', { ...env(), EXIT_AFTER: '3' });
      try {
        await run.waitFor('stderr', 'caught up');
        const live = (await notify('while it listens')).notification;
        await run.waitFor('stdout', `#${live.id} [live]`);

        // Drop its transport as a network would; the notification sent meanwhile reaches it through notifications.sync.
        const nsp = node.realtime.namespace('notifications')!;
        for (const socket of nsp.sockets.values()) if (socket.data.auth.userId === u.id) socket.conn.close();
        const missed = (await notify('while it was away')).notification;

        expect(await run.exited, run.stderr()).to.equal(0);
        expect(run.stdout()).to.include(`#${earlier.id} [earlier]`).and.to.include('before the example started');
        expect(run.stdout()).to.include(`#${missed.id} [missed]`).and.to.include('while it was away');
        expect(run.stderr()).to.include('reconnecting');
      } finally {
        run.kill();
      }
    });
  });

  describe('rizz-job.ts', () => {
    it('pays (sandbox), registers the phone, sends the selfie, follows the job to completed and opens the result', async () => {
      const selfie = path.join(os.tmpdir(), `rizz-example-${crypto.randomUUID()}.jpg`);
      fs.writeFileSync(selfie, await sharp({ create: { width: 900, height: 1200, channels: 3, background: { r: 180, g: 140, b: 120 } } }).jpeg().toBuffer());
      const run = runExample('examples/rizz-job.ts', { API_URL: node.url, PHONE: '010-2468-1357' }, [selfie]);
      try {
        expect(await run.exited, run.stdout() + run.stderr()).to.equal(0);
        const out = run.stdout();
        for (const status of ['pending_phone', 'pending_upload', 'processing', 'completed']) expect(out).to.include(`job.updated: ${status}`);
        expect(out.match(/^portrait \d: http/gm)).to.have.length(3);
        expect(out).to.match(/recommendations: SC003 /);
      } finally {
        run.kill();
        fs.rmSync(selfie, { force: true });
      }
    });

    it('says what it needs without a photo', async () => {
      const run = runExample('examples/rizz-job.ts', { API_URL: node.url });
      expect(await run.exited).to.equal(2);
      expect(run.stderr()).to.include('Usage');
    });
  });
});
