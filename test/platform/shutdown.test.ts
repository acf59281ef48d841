import { once } from 'node:events';
import { expect } from 'chai';
import { connectSocket, nextEvent, connected, newUser, request, startNode } from '../helpers.ts';
import { testState } from '../state.ts';
import { createDatabaseIfMissing, dropDatabase } from '../../server/db.ts';

describe('platform: graceful shutdown', () => {
  it('finishes in-flight requests, reports unready, closes sockets, then stops accepting', async () => {
    const node = await startNode({ SHUTDOWN_TIMEOUT_MS: '5000' });
    const u = await newUser(node);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const socketClosed = nextEvent(socket, 'disconnect');

    // Shut down while a sign-in (an argon2 verify, tens of ms) is being handled.
    let shutdown!: Promise<void>;
    node.server.once('request', () => {
      shutdown = node.shutdown('test');
    });
    const inFlight = await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } });
    expect(inFlight.status).to.equal(200);

    const started = Date.now();
    await shutdown;
    expect(Date.now() - started).to.be.lessThan(5000);
    const reason = await socketClosed;
    expect(reason).to.equal('io server disconnect');
    const after = await fetch(node.url + '/health').then(() => 'answered', (e: Error) => e.message);
    expect(after).to.match(/fetch failed/);
  });

  it('is bounded: a request that never ends does not hold shutdown past the timeout', async () => {
    const node = await startNode({ SHUTDOWN_TIMEOUT_MS: '300' });
    // A client that sends headers but never the body keeps a request in flight.
    const net = await import('node:net');
    const conn = net.connect(node.port, '127.0.0.1');
    await once(conn, 'connect');
    conn.write('POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    await once(node.server, 'request');
    conn.on('error', () => undefined);
    const started = Date.now();
    await node.shutdown('test');
    expect(Date.now() - started).to.be.lessThan(3000);
    conn.destroy();
  });

  it('drains on SIGTERM when run as `npm start` runs it, and exits 0', async function () {
    this.timeout(60_000);
    const { spawn } = await import('node:child_process');
    // A database of its own, migrated by the server as a fresh start does: the run's database also
    // holds the test module's products, which `npm start`'s module list rightly refuses to serve.
    const url = new URL(testState.databaseUrl);
    url.pathname = `${url.pathname}_npm_start`;
    await createDatabaseIfMissing(url.toString());
    // Dropped here, not in an after() hook: with the embedded Postgres, root hooks stop the server first.
    try {
      const child = spawn(process.execPath, ['server/main.ts'], {
        env: { ...process.env, DATABASE_URL: url.toString(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', COACH_KB_SEED_ON_START: 'false', REDIS_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const read = (d: Buffer) => {
          output += d.toString();
          if (/API node listening/.test(output)) resolve();
        };
        child.stdout.on('data', read);
        child.stderr.on('data', read);
        void exited.then(() => reject(new Error(`server exited early: ${output}`)));
      });
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(output).to.match(/shutting down/).and.to.match(/shutdown complete/);
    } finally {
      await dropDatabase(url.toString());
    }
  });
});

