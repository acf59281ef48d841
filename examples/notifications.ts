// Print your notifications as they arrive on the /notifications socket, and catch up on the ones
// sent while the connection was down (after a reconnect, to any node, or a `resync`).
//
//   API_URL=http://localhost:3000 ACCESS_TOKEN=<access token> node examples/notifications.ts
//
// Needs Node.js ≥ 22.18 (it runs TypeScript as is), or the project's own: node_modules/.bin/node.
// EXIT_AFTER=N exits after printing N notifications (for scripts); without it, runs until Ctrl-C.
//
// An access token from a running `npm start` (development: the offline dev sign-in is refused in
// production), either with email and password:
//   curl -s localhost:3000/auth/register -H 'content-type: application/json' \
//     -d '{"email":"me@example.com","password":"correct horse 42","username":"me"}'     → {"accessToken":"…",…}
// or through the offline Google sign-in:
//   curl -s localhost:3000/dev/oauth/google/token -H 'content-type: application/json' -d '{"subject":"me","email":"me@example.com"}'
//   curl -s localhost:3000/auth/oauth/google -H 'content-type: application/json' -d '{"idToken":"<idToken from above>"}'
//
// Notifications come from the server's modules; `curl -X POST localhost:3000/notifications/read-all
// -H "authorization: Bearer $ACCESS_TOKEN"` makes a `notification.read` arrive.
import { io } from 'socket.io-client';

type Notification = { id: string; type: string; category: string; title: string; body: string; createdAt: string; readAt: string | null };

const url = process.env.API_URL ?? 'http://localhost:3000';
const token = process.env.ACCESS_TOKEN;
const exitAfter = Number(process.env.EXIT_AFTER ?? 0);
if (!token) {
  console.error('Set ACCESS_TOKEN (see the top of this file for how to get one).');
  process.exit(2);
}

const socket = io(`${url}/notifications`, { auth: { token }, transports: ['websocket'] });
const printed = new Set<string>();
// The last id of an unbroken run of notifications: what the next sync asks after. Live events move
// it only once a sync has caught up; before that, something older may still be missing.
let after: string | undefined;
let caughtUp = false;

function show(n: Notification, how: 'earlier' | 'live' | 'missed') {
  if (printed.has(n.id)) return; // a live event and a sync page can carry the same one
  printed.add(n.id);
  console.log(`#${n.id} [${how}] ${n.createdAt} ${n.category}/${n.type}: ${n.title}${n.body ? ` — ${n.body}` : ''}`);
  if (exitAfter && printed.size >= exitAfter) {
    socket.close();
    process.exit(0);
  }
}

async function catchUp() {
  caughtUp = false;
  const first = after === undefined;
  for (;;) {
    const page = await socket.emitWithAck('notifications.sync', after ? { after } : {});
    if (!page.ok) throw Object.assign(new Error(page.error.message), { code: page.error.code });
    for (const n of page.items as Notification[]) {
      show(n, first ? 'earlier' : 'missed');
      after = n.id;
    }
    if (!page.hasMore) {
      console.error(`caught up (${page.unreadCount} unread)`);
      caughtUp = true;
      return;
    }
  }
}

socket.on('notification', ({ notification, unreadCount }: { notification: Notification; unreadCount: number }) => {
  show(notification, 'live');
  if (caughtUp && (after === undefined || BigInt(notification.id) > BigInt(after))) after = notification.id;
  console.error(`${unreadCount} unread`);
});
socket.on('notification.read', ({ ids, all, unreadCount }: { ids: string[]; all: boolean; unreadCount: number }) => {
  console.error(`read ${all ? 'all' : ids.join(', ')}; ${unreadCount} unread`);
});

// Every (re)connect, and a `resync` (the server's link to the other nodes was down), may have missed some.
const sync = () => catchUp().catch((err: Error) => console.error(`sync failed: ${err.message}`));
socket.on('connect', () => {
  console.error(`connected to ${url}/notifications`);
  sync();
});
socket.on('resync', sync);
socket.on('disconnect', (reason) => {
  caughtUp = false;
  console.error(`disconnected (${reason})${socket.active ? '; reconnecting…' : ''}`);
  if (reason === 'io server disconnect') process.exit(1); // the server closed it: signed out, or the session was revoked
});
socket.on('connect_error', (err: Error & { data?: { code?: string } }) => {
  console.error(`cannot connect: ${err.message}${err.data?.code ? ` (${err.data.code})` : ''}`);
  if (!socket.active) process.exit(1); // refused (a bad or expired token), not a network problem
});
process.on('SIGINT', () => {
  socket.close();
  process.exit(0);
});
