// Handshake authentication for every namespace: `io(url + "/ns", { auth: { token } })`.
// A missing or invalid token, or a token whose session was signed out or whose account was
// disabled, fails with connect_error carrying a clear message and a code in `data`.
import { AppError } from '../services/errors.ts';
import type { TokenService } from '../services/identity/tokens.ts';
import { isSessionLive } from '../services/identity/sessions.ts';
import type { Orm } from '../server/db.ts';
import type { AppSocket } from './events.ts';

type ConnectError = Error & { data?: { code: string } };

function connectError(code: string, message: string): ConnectError {
  const err: ConnectError = new Error(message);
  err.data = { code };
  return err;
}

export function socketAuthMiddleware(deps: { tokens: TokenService; orm: Orm }) {
  return async (socket: AppSocket, next: (err?: Error) => void) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || !token) return next(connectError('missing_token', 'Send an access token in auth.token'));
    try {
      const auth = deps.tokens.verifyAccess(token);
      const live = await isSessionLive(deps.orm.em.fork(), auth.userId, auth.sessionId);
      if (!live) return next(connectError('session_revoked', 'This session has been signed out or the account disabled'));
      socket.data.auth = auth;
      next();
    } catch (err) {
      if (err instanceof AppError) return next(connectError(err.code, err.message));
      next(connectError('internal_error', 'Could not authenticate the connection'));
    }
  };
}
