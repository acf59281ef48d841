// `npm start` as an operator runs it: signals sent to npm's PID must reach the server, and an npm
// that dies leaves no server behind. Each test spawns the real script and checks, with ps, that
// npm and every process under it are gone afterwards.
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createDatabaseIfMissing, dropDatabase } from '../../server/db.ts';
import { testState } from '../state.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

type Proc = { pid: number; ppid: number; command: string };

function processTable(): Proc[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n').flatMap((line) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), command: m[3] }] : [];
  });
}

function descendants(root: number): Proc[] {
  const table = processTable();
  const found: Proc[] = [];
  const walk = (pid: number) => {
    for (const p of table.filter((p) => p.ppid === pid)) {
      found.push(p);
      walk(p.pid);
    }
  };
  walk(root);
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!pids.some(alive)) return [];
    await new Promise((r) => setTimeout(r, 100));
  }
  return pids.filter(alive);
}

describe('platform: npm start and signals', function () {
  // Spawns npm and a server that migrates a database of its own: slower than an in-process node.
  this.timeout(90_000);
  if (process.platform === 'win32') return;

  let databaseUrl: string;
  let started: number[] = [];

  before(async () => {
    // A database of its own: the run's database also sells the test module's products, which a
    // server started with the real module list refuses to start on.
    const url = new URL(testState.databaseUrl);
    url.pathname = `${url.pathname}_signals`;
    databaseUrl = url.toString();
    await createDatabaseIfMissing(databaseUrl);
  });

  afterEach(async () => {
    // Whatever a failed test left running: asked to stop, then killed.
    const left = started.filter(alive);
    for (const pid of left) process.kill(pid, 'SIGTERM');
    for (const pid of await gone(left, 15_000)) process.kill(pid, 'SIGKILL');
    started = [];
  });

  after(async () => {
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  // Resolves once the server logged that it is ready, with every process npm started.
  async function npmStart(): Promise<{ npmPid: number; server: Proc; all: number[] }> {
    const env: Record<string, string | undefined> = {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: databaseUrl,
      REDIS_URL: undefined,
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      COACH_KB_SEED_ON_START: 'false',
    };
    const child = spawn('npm', ['start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child.pid!);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/"msg":"ready: /.test(output)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`npm start exited (${code}) before the server was ready:\n${output.slice(-2000)}`)));
    });
    const all = descendants(child.pid!);
    started.push(...all.map((p) => p.pid));
    const server = all.find((p) => /server\/main\.ts/.test(p.command) && /node/.test(p.command.split(' ')[0]));
    expect(server, `no server process under npm: ${JSON.stringify(all)}`).to.not.equal(undefined);
    return { npmPid: child.pid!, server: server!, all: all.map((p) => p.pid) };
  }

  it('kill -TERM on npm\'s PID stops the server, leaving no process behind', async () => {
    const { npmPid, all } = await npmStart();
    process.kill(npmPid, 'SIGTERM');
    expect(await gone([npmPid, ...all], 20_000), 'still running after SIGTERM to npm').to.deep.equal([]);
  });

  it('a server whose npm is killed outright (SIGKILL, nothing forwarded) stops on its own', async () => {
    const { npmPid, server } = await npmStart();
    process.kill(npmPid, 'SIGKILL');
    expect(await gone([server.pid], 20_000), 'server still running after its npm died').to.deep.equal([]);
  });
});
