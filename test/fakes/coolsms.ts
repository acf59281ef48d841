// A fake of CoolSMS (SOLAPI) messages API v4. It authenticates each request as CoolSMS does:
// `Authorization: HMAC-SHA256 apiKey=…, date=…, salt=…, signature=…` where the signature is the hex
// HMAC-SHA256 of date + salt keyed with the API secret, the date within 15 minutes, and no signature
// used twice; failures answer with CoolSMS's error JSON ({ errorCode, errorMessage }, 403). It can be
// told to fail (500 InternalError) or stall (hold the response) for the next requests.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type CoolSmsSent = { to: string; from: string; text: string; messageId: string };

export type FakeCoolSms = {
  url: string;
  env: Record<string, string>;
  sent: CoolSmsSent[];
  requests: number;
  // Refusals by errorCode (SignatureDoesNotMatch, DuplicatedSignature, …), to assert on.
  refusals: string[];
  failNext: (n: number, status?: number) => void;
  stallNext: (n: number) => void;
  close: () => Promise<void>;
};

export async function startFakeCoolSms(opts: { apiKey?: string; apiSecret?: string; sender?: string } = {}): Promise<FakeCoolSms> {
  const apiKey = opts.apiKey ?? 'NCSFAKEAPIKEY0001';
  const apiSecret = opts.apiSecret ?? 'FAKESECRETFAKESECRETFAKESECRET01';
  const sender = opts.sender ?? '0212345678';
  const seenSignatures = new Set<string>();
  const sent: CoolSmsSent[] = [];
  const refusals: string[] = [];
  const state = { requests: 0, failures: 0, failStatus: 500, stalls: 0 };
  const stalled = new Set<http.ServerResponse>();

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    state.requests++;
    if (req.method !== 'POST' || req.url !== '/messages/v4/send') return error(res, 404, 'NotFound', 'Resource not found');
    const auth = authenticate(req.headers.authorization);
    if (auth) {
      refusals.push(auth.code);
      return error(res, auth.status, auth.code, auth.message);
    }
    if (state.stalls > 0) {
      state.stalls--;
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      return;
    }
    if (state.failures > 0) {
      state.failures--;
      return error(res, state.failStatus, state.failStatus >= 500 ? 'InternalError' : 'TooManyRequests', 'Temporary failure; try again');
    }
    let message: { to?: unknown; from?: unknown; text?: unknown };
    try {
      message = JSON.parse(body).message ?? {};
    } catch {
      return error(res, 400, 'ValidationError', 'JSON 형식이 올바르지 않습니다.');
    }
    for (const field of ['to', 'from', 'text'] as const) {
      if (typeof message[field] !== 'string' || !message[field]) return error(res, 400, 'ValidationError', `${field} 은(는) 필수 입력 항목입니다.`);
    }
    if (message.from !== sender) return error(res, 400, 'ValidationError', '발신번호가 등록되지 않았습니다.');
    const messageId = `M4V${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}${crypto.randomBytes(8).toString('hex').toUpperCase()}`;
    sent.push({ to: message.to as string, from: message.from as string, text: message.text as string, messageId });
    const bytes = Buffer.byteLength(message.text as string);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({
      groupId: `G4V${crypto.randomBytes(10).toString('hex').toUpperCase()}`,
      messageId,
      statusCode: '2000',
      statusMessage: '정상 접수(이통사로 접수 예정) ',
      to: message.to,
      from: message.from,
      type: bytes > 90 ? 'LMS' : 'SMS',
      country: '82',
      accountId: '19010100000000',
    }));
  });

  function authenticate(header: string | undefined): { status: number; code: string; message: string } | undefined {
    const match = header?.match(/^HMAC-SHA256 apiKey=([^,]+), date=([^,]+), salt=([^,]+), signature=([0-9a-f]+)$/);
    if (!match) return { status: 401, code: 'InvalidAuthenticationHeader', message: 'Authorization 헤더를 확인하세요.' };
    const [, key, date, salt, signature] = match;
    if (key !== apiKey) return { status: 403, code: 'InvalidAPIKey', message: '유효하지 않은 API Key 입니다.' };
    const at = Date.parse(date);
    if (Number.isNaN(at) || Math.abs(Date.now() - at) > 15 * 60_000) return { status: 403, code: 'RequestTimeTooSkewed', message: '요청 시간이 서버 시간과 15분 이상 차이가 납니다.' };
    if (salt.length < 12 || salt.length > 64) return { status: 403, code: 'SignatureDoesNotMatch', message: 'salt 는 12~64 바이트여야 합니다.' };
    const expected = crypto.createHmac('sha256', apiSecret).update(date + salt).digest('hex');
    const ok = expected.length === signature.length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
    if (!ok) return { status: 403, code: 'SignatureDoesNotMatch', message: '생성한 signature를 확인하세요.' };
    if (seenSignatures.has(signature)) return { status: 403, code: 'DuplicatedSignature', message: '15분 안에 동일한 signature 값이 사용되었습니다.' };
    seenSignatures.add(signature);
    return undefined;
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    env: { COOLSMS_BASE_URL: url, COOLSMS_API_KEY: apiKey, COOLSMS_API_SECRET: apiSecret, COOLSMS_SENDER: sender },
    sent,
    refusals,
    get requests() {
      return state.requests;
    },
    failNext: (n, status = 500) => {
      state.failures = n;
      state.failStatus = status;
    },
    stallNext: (n) => void (state.stalls = n),
    close: () => new Promise((r) => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function error(res: http.ServerResponse, status: number, errorCode: string, errorMessage: string) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ errorCode, errorMessage }));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
