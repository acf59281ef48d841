// A fake of Firebase Cloud Messaging (HTTP v1) and of Google's OAuth 2.0 token endpoint on one HTTP
// server. The token endpoint verifies the service account's RS256 JWT assertion (jwt-bearer grant)
// against the account's public key, as Google does; messages:send checks the Bearer token it issued
// and answers with FCM's real success and error JSON.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';

export type FcmSent = { token: string; message: Record<string, any> };

export type FakeFcm = {
  // FCM_ENDPOINT, FCM_TOKEN_URL and FCM_SERVICE_ACCOUNT_JSON for a node that should use this fake.
  env: Record<string, string>;
  serviceAccount: Record<string, string>;
  projectId: string;
  sent: FcmSent[];
  sendRequests: number;
  tokenRequests: number;
  assertions: jwt.JwtPayload[];
  // Tokens answered with UNREGISTERED (404), or with INVALID_ARGUMENT on message.token (400).
  unregister: (token: string) => void;
  invalidate: (token: string) => void;
  // The next n sends answer 503 UNAVAILABLE.
  failNext: (n: number) => void;
  // Access tokens issued so far stop working (401), as after a key rotation.
  revokeAccessTokens: () => void;
  close: () => Promise<void>;
};

export async function startFakeFcm(opts: { projectId?: string } = {}): Promise<FakeFcm> {
  const projectId = opts.projectId ?? 'fake-project';
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const unregistered = new Set<string>();
  const invalid = new Set<string>();
  let accessTokens = new Set<string>();
  const state = { failures: 0, sendRequests: 0, tokenRequests: 0 };
  const sent: FcmSent[] = [];
  const assertions: jwt.JwtPayload[] = [];

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'POST' && url.pathname === '/token') return token(body, res);
    const send = url.pathname.match(/^\/v1\/projects\/([^/]+)\/messages:send$/);
    if (req.method === 'POST' && send) return message(send[1], req, body, res);
    googleError(res, 404, 'NOT_FOUND', 'The requested URL was not found on this server.');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const serviceAccount = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: crypto.randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: `firebase-adminsdk@${projectId}.iam.gserviceaccount.com`,
    token_uri: `${base}/token`,
  };

  function token(body: string, res: http.ServerResponse) {
    state.tokenRequests++;
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' + form.get('grant_type') });
    }
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(form.get('assertion') ?? '', publicKey, { algorithms: ['RS256'], audience: `${base}/token`, issuer: serviceAccount.client_email }) as jwt.JwtPayload;
    } catch {
      return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    if (!String(claims.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/firebase.messaging')) {
      return json(res, 400, { error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' });
    }
    assertions.push(claims);
    const accessToken = `ya29.${crypto.randomBytes(24).toString('base64url')}`;
    accessTokens.add(accessToken);
    json(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }

  function message(project: string, req: http.IncomingMessage, body: string, res: http.ServerResponse) {
    state.sendRequests++;
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!accessTokens.has(bearer)) {
      return googleError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    if (project !== projectId) return googleError(res, 403, 'PERMISSION_DENIED', `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}'`);
    if (state.failures > 0) {
      state.failures--;
      return googleError(res, 503, 'UNAVAILABLE', 'The service is currently unavailable.', [fcmError('UNAVAILABLE')]);
    }
    let msg: Record<string, any>;
    try {
      msg = JSON.parse(body).message;
    } catch {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    if (!msg?.token) return googleError(res, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', [fcmError('INVALID_ARGUMENT')]);
    const nonString = Object.entries(msg.data ?? {}).find(([, v]) => typeof v !== 'string');
    if (nonString) {
      return googleError(res, 400, 'INVALID_ARGUMENT', `Invalid value at 'message.data[0].value' (TYPE_STRING)`, [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.data[0].value', description: 'Invalid value (TYPE_STRING)' }] },
      ]);
    }
    if (unregistered.has(msg.token)) return googleError(res, 404, 'NOT_FOUND', 'Requested entity was not found.', [fcmError('UNREGISTERED')]);
    if (invalid.has(msg.token)) {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', [
        fcmError('INVALID_ARGUMENT'),
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.token', description: 'The registration token is not a valid FCM registration token' }] },
      ]);
    }
    sent.push({ token: msg.token, message: msg });
    json(res, 200, { name: `projects/${projectId}/messages/0:${Date.now()}%${crypto.randomBytes(8).toString('hex')}` });
  }

  return {
    env: { FCM_ENDPOINT: base, FCM_TOKEN_URL: `${base}/token`, FCM_SERVICE_ACCOUNT_JSON: JSON.stringify(serviceAccount) },
    serviceAccount,
    projectId,
    sent,
    assertions,
    get sendRequests() {
      return state.sendRequests;
    },
    get tokenRequests() {
      return state.tokenRequests;
    },
    unregister: (t) => void unregistered.add(t),
    invalidate: (t) => void invalid.add(t),
    failNext: (n) => void (state.failures = n),
    revokeAccessTokens: () => void (accessTokens = new Set()),
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function fcmError(errorCode: string) {
  return { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode };
}

function googleError(res: http.ServerResponse, code: number, status: string, message: string, details?: unknown[]) {
  json(res, code, { error: { code, message, status, ...(details ? { details } : {}) } });
}

function json(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
