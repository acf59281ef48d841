// Ask the coach over the /coach socket and print the answer as it streams, through a dropped
// connection: the client reconnects and resumes from what it holds (examples/coachClient.ts, the
// client the README shows).
//
//   API_URL=http://localhost:3000 ACCESS_TOKEN=<access token> node examples/coach-ask.ts ["question"]
//
// Needs Node.js ≥ 22.18 (it runs TypeScript as is), or the project's own: node_modules/.bin/node.
// GAME: the knowledge to ask (lol, the default, or valorant: see GET /api/coach/games).
// DROP_AFTER=N: cut the connection once, after the Nth piece of the answer, as a flaky network would
// (default 1; 0 never). The answer is printed whole either way.
//
// An access token from a running `npm start` (development: the offline dev sign-in is refused in
// production), either with email and password:
//   curl -s localhost:3000/auth/register -H 'content-type: application/json' \
//     -d '{"email":"me@example.com","password":"correct horse 42","username":"me"}'     → {"accessToken":"…",…}
// or through the offline Google sign-in:
//   curl -s localhost:3000/dev/oauth/google/token -H 'content-type: application/json' -d '{"subject":"me","email":"me@example.com"}'
//   curl -s localhost:3000/auth/oauth/google -H 'content-type: application/json' -d '{"idToken":"<idToken from above>"}'
import { io } from 'socket.io-client';
import { askCoach } from './coachClient.ts';

const url = process.env.API_URL ?? 'http://localhost:3000';
const token = process.env.ACCESS_TOKEN;
const question = process.argv[2] ?? '웨이브 관리는 어떻게 하나요?';
const game = process.env.GAME ?? 'lol';
const dropAfter = Number(process.env.DROP_AFTER ?? 1);
if (!token) {
  console.error('Set ACCESS_TOKEN (see the top of this file for how to get one).');
  process.exit(2);
}

const coach = io(`${url}/coach`, { auth: { token }, transports: ['websocket'] });
let pieces = 0;
let reconnects = 0;
coach.on('connect_error', (err: Error & { data?: { code?: string } }) => {
  console.error(`cannot connect: ${err.message}${err.data?.code ? ` (${err.data.code})` : ''}`);
  if (!coach.active) process.exit(1); // refused (a bad or expired token), not a network problem
});
coach.io.on('reconnect', () => {
  reconnects++;
  console.error('\n[reconnected: resuming]');
});

try {
  const answer = await askCoach(coach, { question, game }, (text) => {
    process.stdout.write(text);
    if (++pieces === dropAfter) {
      console.error('\n[dropping the connection]');
      coach.io.engine.close(); // the transport dies as on a network drop; Socket.IO reconnects by itself
    }
  });
  process.stdout.write('\n');
  console.error(`[answer ${answer.answerId}: ${answer.length} characters, cached: ${answer.cached}, reconnects: ${reconnects}]`);
  coach.close();
} catch (err) {
  const e = err as Error & { code?: string };
  console.error(`\nthe ask failed: ${e.code ?? ''} ${e.message}`);
  coach.close();
  process.exitCode = 1;
}
