// Every documented operation and socket event, walked with hostile values: NUL, lone surrogates,
// numbers beyond bigint and float range, wrong types, huge strings, cursors that decode to nonsense,
// dates outside Postgres' range, malformed JSON, with and without a token. Nothing may answer 5xx,
// every HTTP error must be problem+json with a `code`, no ack may be internal_error, and nothing may
// be logged at error level. The operations come from /openapi.json and the events from its
// `x-socket-io` list, so a new route or event is fuzzed without touching this file; the valid values
// the hostile ones replace come from the schemas (their example, default, enum, format or pattern).
import crypto from 'node:crypto';
import { expect } from 'chai';
import { io as ioClient, type Socket } from 'socket.io-client';
import { signStandardWebhook } from '../../integrations/payments/standardWebhooks.ts';
import { revenueCatWebhookSecret, sandboxWebhookSecret } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { startFakePortOne, type FakePortOne } from '../fakes/portone.ts';
import { startFakeToss, type FakeToss } from '../fakes/toss.ts';
import { startNodeWithLogs, stopAllNodes, type LogLine } from '../helpers.ts';

type JsonSchema = Record<string, any>;
type Hostile = { label: string; value: unknown };
type Path = (string | number)[];
// One request, as the fuzz builds it: the operation's valid values with one slot replaced.
type Parts = {
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  header: Record<string, unknown>;
  body: unknown;
  raw?: { text: string; contentType: string; headers?: Record<string, string> };
  // null: send none; undefined: the account's token.
  authorization?: string | null;
};

const PORTONE_WEBHOOK_SECRET = `whsec_${Buffer.from('portone-fuzz-webhook-secret-0123456789').toString('base64')}`;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const someUuid = '3f2a8c1e-5b7d-4e9f-a1c3-0d2e4f6a8b9c';
const deep = (levels: number): unknown => (levels === 0 ? 'x' : { a: deep(levels - 1) });

// One list for every slot: a body field, a query or path parameter, a socket payload field.
const HOSTILE: Hostile[] = [
  { label: 'NUL', value: 'a\u0000b' },
  { label: 'lone high surrogate', value: 'a\ud800b' },
  { label: 'lone low surrogate', value: '\udc00' },
  { label: 'integer beyond bigint', value: 9999999999999999999 },
  { label: 'integer beyond bigint as text', value: '9999999999999999999' },
  { label: 'below bigint as text', value: '-9223372036854775809' },
  { label: '-1', value: -1 },
  { label: '0', value: 0 },
  { label: '1e308', value: 1e308 },
  { label: '-1e308', value: -1e308 },
  { label: 'fraction', value: 0.5 },
  { label: 'NaN text', value: 'NaN' },
  { label: 'Infinity text', value: 'Infinity' },
  { label: 'long string', value: 'x'.repeat(10_000) },
  { label: 'boolean', value: true },
  { label: 'null', value: null },
  { label: 'empty array', value: [] },
  { label: 'array of strings', value: ['a', 'b'] },
  { label: 'object', value: { a: 1 } },
  { label: 'nested 80 deep', value: deep(80) },
  { label: 'empty string', value: '' },
  { label: 'whitespace', value: '  \t ' },
  { label: 'RTL override', value: '\u202Eevil\u202C' },
  { label: 'astral and combining', value: '🙂𝕏e\u0301' },
  { label: 'SQL-ish', value: "' OR '1'='1'; --" },
  { label: 'path traversal', value: '../../etc/passwd' },
  { label: 'percent escapes', value: '%00%ff%' },
  { label: 'nil uuid', value: '00000000-0000-0000-0000-000000000000' },
  { label: 'not-hex uuid', value: 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz' },
  { label: 'garbage cursor', value: '!!!not-base64!!!' },
  { label: 'cursor with a non-UUID id', value: b64({ at: '2024-01-01T00:00:00.000Z', id: 'not-a-uuid' }) },
  { label: 'cursor in year -271821', value: b64({ at: '-271821-04-20T00:00:00.000Z', id: someUuid }) },
  { label: 'cursor in year 275760', value: b64({ at: '+275760-09-13T00:00:00.000Z', id: someUuid }) },
  { label: 'cursor before -1', value: b64({ before: '-1' }) },
  { label: 'cursor of null', value: b64(null) },
  { label: 'date -271821-04-20', value: '-271821-04-20' },
  { label: 'date 275760-09-13', value: '275760-09-13' },
  { label: 'date 0000-01-01', value: '0000-01-01' },
  { label: 'date 9999-12-31', value: '9999-12-31' },
  { label: 'date 2024-02-30', value: '2024-02-30' },
];

// Whole-body variants besides the per-field ones.
const MALFORMED_BODIES = [
  { label: 'malformed JSON', raw: '{"a": ', contentType: 'application/json' },
  { label: 'JSON with a duplicate key and trailing garbage', raw: '{"a":1,"a":2} x', contentType: 'application/json' },
  { label: 'form body', raw: 'a=1&b=%00', contentType: 'application/x-www-form-urlencoded' },
  { label: 'text body', raw: 'hello', contentType: 'text/plain' },
];

// Hostile Authorization headers for routes that need a token.
const HOSTILE_AUTH = ['Bearer', 'Bearer garbage', `Bearer ${'a'.repeat(8000)}`, 'Basic dXNlcjpwYXNz', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', `Bearer ${b64({ alg: 'HS256' })}.${b64({ sub: 'not-a-uuid', exp: 9e15 })}.sig`];

const PARALLEL_REQUESTS = 6;

// Candidates for a required string with a pattern but no example; the first the pattern accepts is used.
const STRING_CANDIDATES = ['lol', 'google', 'fuzz_value', 'abc123', '1042', '00:00', 'Asia/Seoul', `uploads/${someUuid}.png`, 'abcdefghij0123456789klmnop', '2024-01-01'];

describe('platform: fuzzing every operation and socket event', function () {
  this.timeout(120_000);
  let node: ApiNode;
  let logged: LogLine[];
  let doc: JsonSchema;
  let signers: ReturnType<typeof webhookSigners>;
  let toss: FakeToss;
  let portone: FakePortOne;

  before(async () => {
    // The real Toss and PortOne clients, against their fakes, so that their routes are served too.
    toss = await startFakeToss({ secretKey: 'test_sk_fuzz' });
    portone = await startFakePortOne({ apiSecret: 'portone-fuzz-secret', storeId: 'store-fuzz', webhookSecret: PORTONE_WEBHOOK_SECRET });
    // The limits are raised so that the fuzz reaches the handlers instead of the limiters.
    ({ node, logs: logged } = await startNodeWithLogs({
      TOSS_SECRET_KEY: 'test_sk_fuzz', TOSS_CLIENT_KEY: 'test_ck_fuzz', TOSS_BASE_URL: toss.url,
      PORTONE_API_SECRET: 'portone-fuzz-secret', PORTONE_STORE_ID: 'store-fuzz', PORTONE_CHANNEL_KEY: 'channel-fuzz', PORTONE_BASE_URL: portone.url,
      PORTONE_WEBHOOK_SECRETS: PORTONE_WEBHOOK_SECRET, PAYMENTS_TIMEOUT_MS: '2000',
      SOCKET_EVENTS_PER_10S: '1000000', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000',
    }, 'warn'));
    doc = (await (await fetch(`${node.url}/openapi.json`)).json()) as JsonSchema;
    signers = webhookSigners(node);
  });
  after(async () => {
    await stopAllNodes();
    await toss?.close();
    await portone?.close();
  });

  // Logins that survive the fuzz signing them out (POST /auth/logout) or disabling them: a token
  // that stops working is replaced by a fresh account's, once however many requests notice.
  function account(role: 'user' | 'admin') {
    const create = async () => {
      const n = crypto.randomBytes(5).toString('hex');
      const res = await fetch(`${node.url}/auth/register`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `fuzz_${n}@example.com`, username: `fuzz_${n}`, password: 'fuzz password 42' }),
      });
      const body = (await res.json()) as { accessToken: string; user: { id: string } };
      if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(body)}`);
      if (role === 'admin') await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [body.user.id]);
      return body.accessToken;
    };
    let current: Promise<string> | undefined;
    const replacements = new Map<string, Promise<string>>();
    return {
      token: () => (current ??= create()),
      renew: (stale: string) => {
        let next = replacements.get(stale);
        if (!next) replacements.set(stale, (next = current = create()));
        return next;
      },
    };
  }

  it('answers every operation in /openapi.json without a 5xx, every error as problem+json', async () => {
    const started = Date.now();
    const user = account('user');
    const admin = account('admin');
    const failures: string[] = [];
    const reached = new Map<string, boolean>();
    const unsigned: string[] = [];
    const logsBefore = logged.length;
    const tasks: (() => Promise<void>)[] = [];
    let operations = 0;

    for (const [template, item] of Object.entries<JsonSchema>(doc.paths)) {
      for (const [method, op] of Object.entries<JsonSchema>(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        operations++;
        const name = `${method.toUpperCase()} ${template}`;
        reached.set(name, false);
        const auth = !op.security ? undefined : op.tags?.includes('admin') ? admin : user;
        const params: JsonSchema[] = (op.parameters ?? []).map((p: JsonSchema) => deref(p));
        const content = op.requestBody?.content ?? {};
        const contentType = Object.keys(content)[0];
        const bodySchema = contentType ? deref(content[contentType].schema) : undefined;
        const rawBody = bodySchema && bodySchema.format === 'binary';

        const baseline = (): Parts => {
          const parts: Parts = { path: {}, query: {}, header: {}, body: bodySchema && !rawBody ? sample(bodySchema) : undefined };
          for (const p of params) {
            const slot = parts[p.in as 'path' | 'query' | 'header'];
            if (p.in === 'header' && /idempotency-key/i.test(p.name)) slot[p.name] = crypto.randomUUID();
            else if (p.in === 'path' || p.required) slot[p.name] = sample(p.schema, 0, p.name);
          }
          return parts;
        };

        const send = (label: string, build: (b: Parts) => Partial<Parts>) =>
          tasks.push(async () => {
            const b = baseline();
            const v: Parts = { ...b, ...build(b) };
            const url = node.url + template.replace(/\{(\w+)\}/g, (_, k: string) => encodeLoosely(scalar(v.path[k]))) + queryString(v.query);
            const attempt = async (token: string | undefined) => {
              const headers: Record<string, string> = {};
              for (const [k, x] of Object.entries(v.header)) headers[k] = scalar(x);
              const authorization = v.authorization === undefined ? (token ? `Bearer ${token}` : undefined) : v.authorization;
              if (authorization) headers.authorization = authorization;
              let body: string | undefined;
              if (v.raw) {
                Object.assign(headers, v.raw.headers, { 'content-type': v.raw.contentType });
                body = v.raw.text;
              } else if (v.body !== undefined) {
                headers['content-type'] = contentType ?? 'application/json';
                body = JSON.stringify(v.body);
              } else if (rawBody) {
                headers['content-type'] = contentType!;
                body = '{}';
              }
              return fetch(url, { method: method.toUpperCase(), headers, body, redirect: 'manual' });
            };
            let token = v.authorization === undefined && auth ? await auth.token() : undefined;
            let res = await attempt(token);
            if (res.status === 401 && token) {
              await res.body?.cancel();
              token = await auth!.renew(token);
              res = await attempt(token);
            }
            const text = await res.text();
            const where = `${name} ${label}`;
            if (process.env.FUZZ_VERBOSE) console.log(res.status, where.slice(0, 120), text.slice(0, 160));
            if (res.status >= 500) failures.push(`${where}: ${res.status} ${text.slice(0, 300)}`);
            else if (res.status >= 400) {
              let problem: { code?: unknown } | undefined;
              try {
                problem = JSON.parse(text);
              } catch {
                /* checked below */
              }
              if (!res.headers.get('content-type')?.includes('application/problem+json') || typeof problem?.code !== 'string') {
                failures.push(`${where}: ${res.status} is not problem+json with a code: ${res.headers.get('content-type')} ${text.slice(0, 200)}`);
              }
              // The handler ran when the request got past authentication and validation.
              if (!(res.status === 400 && problem?.code === 'validation_failed') && !(auth && (res.status === 401 || res.status === 403))) reached.set(name, true);
            } else reached.set(name, true);
          });

        send('with valid values', () => ({}));
        if (auth) {
          send('without a token', () => ({ authorization: null }));
          for (const h of HOSTILE_AUTH) send(`with Authorization "${h.slice(0, 40)}"`, () => ({ authorization: h }));
        }
        for (const p of params) {
          const values = p.in === 'header' ? HOSTILE.filter((h) => typeof h.value !== 'string' || /^[\x20-\x7e]*$/.test(h.value)) : HOSTILE;
          for (const h of values) {
            const where = p.in as 'path' | 'query' | 'header';
            send(`${p.in} ${p.name} = ${h.label}`, (b) => ({ [where]: { ...b[where], [p.name]: h.value } }));
          }
        }
        if (bodySchema && rawBody) {
          const signer = signers[template];
          if (!signer) unsigned.push(name);
          const event = signer?.template ?? {};
          for (const path of [[], ...leafPaths(event)] as Path[]) {
            for (const h of HOSTILE) {
              const text = JSON.stringify(setAt(event, path, h.value));
              send(`raw body ${path.join('.') || '(whole)'} = ${h.label}${signer?.sign ? ', signed' : ''}`, () => ({ raw: { text, contentType, headers: signer?.sign?.(text) } }));
            }
          }
        } else if (bodySchema) {
          for (const path of [[], ...fieldPaths(bodySchema)] as Path[]) {
            for (const h of HOSTILE) send(`body ${path.join('.') || '(whole)'} = ${h.label}`, (b) => ({ body: setAt(b.body, path, h.value) }));
          }
        }
        if (bodySchema) for (const m of MALFORMED_BODIES) send(m.label, () => ({ raw: { text: m.raw, contentType: m.contentType } }));
      }
    }

    await runLimited(tasks, PARALLEL_REQUESTS);
    const unreached = [...reached].filter(([, ok]) => !ok).map(([n]) => n);
    const errors = logged.slice(logsBefore).filter((l) => l.level >= 50);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`      fuzz: ${operations} operations, ${tasks.length} requests (${HOSTILE.length} hostile values per slot) in ${seconds} s`);
    // Said, not skipped: without the provider's key the body is refused before it is parsed.
    if (unsigned.length) console.log(`      fuzz: bodies reached only the signature check (no key to sign with here): ${unsigned.join(', ')}`);
    expect(failures, failures.slice(0, 40).join('\n')).to.deep.equal([]);
    expect(errors.map((e) => `${e.msg}: ${JSON.stringify(e.err ?? e).slice(0, 300)}`), 'logged at error level').to.deep.equal([]);
    // An operation whose valid values never pass validation is not fuzzed past its schema: give its
    // schema an `example` (that is where the valid values come from).
    expect(unreached, 'operations no request got past authentication and validation').to.deep.equal([]);
  });

  it('answers every client socket event without internal_error', async () => {
    const started = Date.now();
    const events = (doc['x-socket-io'] as { namespace: string; event: string; direction: string; payload: JsonSchema }[]).filter((e) => e.direction === 'client-to-server');
    expect(events.length).to.be.greaterThan(0);
    const user = account('user');
    const token = await user.token();
    const failures: string[] = [];
    const logsBefore = logged.length;
    let emitted = 0;
    const sockets = new Map<string, Socket>();
    try {
      for (const e of events) {
        let socket = sockets.get(e.namespace);
        if (!socket) {
          socket = ioClient(`${node.url}/${e.namespace}`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
          sockets.set(e.namespace, socket);
          await new Promise<void>((resolve, reject) => {
            socket!.once('connect', resolve);
            socket!.once('connect_error', reject);
          });
        }
        const payloads: { label: string; payload: unknown }[] = [
          { label: 'valid values', payload: sample(e.payload) },
          { label: 'no payload', payload: undefined },
          { label: 'binary payload', payload: Buffer.from([0, 1, 2]) },
        ];
        for (const path of [[], ...fieldPaths(e.payload)] as Path[]) {
          for (const h of HOSTILE) payloads.push({ label: `${path.join('.') || '(whole)'} = ${h.label}`, payload: setAt(sample(e.payload), path, h.value) });
        }
        const s = socket;
        await runLimited(payloads.map(({ label, payload }) => async () => {
          emitted++;
          const where = `/${e.namespace} ${e.event} ${label}`;
          try {
            const ack = payload === undefined ? await s.timeout(10_000).emitWithAck(e.event) : await s.timeout(10_000).emitWithAck(e.event, payload);
            if (process.env.FUZZ_VERBOSE) console.log('ack', where.slice(0, 120), JSON.stringify(ack).slice(0, 160));
            if (ack?.ok !== true && (typeof ack?.error?.code !== 'string' || ack.error.code === 'internal_error')) failures.push(`${where}: ${JSON.stringify(ack).slice(0, 300)}`);
          } catch (err) {
            failures.push(`${where}: no ack (${(err as Error).message})`);
          }
        }), PARALLEL_REQUESTS);
        if (!s.connected) failures.push(`/${e.namespace} ${e.event}: the socket was disconnected`);
      }
    } finally {
      for (const s of sockets.values()) s.close();
    }
    // Without a usable token: every namespace refuses the handshake with a code, never internal_error.
    let handshakes = 0;
    for (const namespace of new Set(events.map((e) => e.namespace))) {
      for (const auth of [undefined, {}, ...HOSTILE_AUTH.map((h) => ({ token: h.replace(/^Bearer ?/, '') })), ...HOSTILE.map((h) => ({ token: h.value }))]) {
        handshakes++;
        const socket = ioClient(`${node.url}/${namespace}`, { auth: auth as Record<string, unknown> | undefined, transports: ['websocket'], reconnection: false, forceNew: true });
        const outcome = await new Promise<{ code?: unknown } | 'connected'>((resolve) => {
          socket.once('connect', () => resolve('connected'));
          socket.once('connect_error', (err: Error & { data?: { code?: unknown } }) => resolve({ code: err.data?.code }));
        });
        socket.close();
        if (outcome === 'connected' || typeof outcome.code !== 'string' || outcome.code === 'internal_error') {
          failures.push(`/${namespace} handshake with auth ${JSON.stringify(auth)?.slice(0, 80)}: ${JSON.stringify(outcome)}`);
        }
      }
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`      fuzz: ${events.length} socket events, ${emitted} emits, ${handshakes} handshakes in ${seconds} s`);
    expect(failures, failures.slice(0, 40).join('\n')).to.deep.equal([]);
    const errors = logged.slice(logsBefore).filter((l) => l.level >= 50);
    expect(errors.map((e) => `${e.msg}: ${JSON.stringify(e.err ?? e).slice(0, 300)}`), 'logged at error level').to.deep.equal([]);
  });

  function deref(s: JsonSchema | undefined): JsonSchema {
    let out = s ?? {};
    for (let i = 0; i < 10 && typeof out.$ref === 'string'; i++) {
      const [, , ...segments] = (out.$ref as string).split('/');
      out = segments.reduce((o: JsonSchema, k) => o?.[k], doc.components ?? {}) ?? {};
    }
    return out;
  }

  // A value the schema accepts, or the closest this can guess: required properties only.
  function sample(raw: JsonSchema | undefined, depth = 0, name = ''): unknown {
    const s = deref(raw);
    if (depth > 8) return undefined;
    if (s.example !== undefined) return s.example;
    if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
    if (s.const !== undefined) return s.const;
    if (Array.isArray(s.enum)) return s.enum[0];
    if (s.default !== undefined) return s.default;
    const alternatives = s.anyOf ?? s.oneOf;
    if (Array.isArray(alternatives)) return sample(alternatives.find((a: JsonSchema) => deref(a).type !== 'null') ?? alternatives[0], depth + 1, name);
    if (Array.isArray(s.allOf)) return sample(s.allOf[0], depth + 1, name);
    const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
    switch (type) {
      case 'string':
        return sampleString(s, name);
      case 'integer':
      case 'number':
        return typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : 1;
      case 'boolean':
        return true;
      case 'array':
        return Array.from({ length: Math.max(1, s.minItems ?? 0) }, () => sample(s.items, depth + 1));
      case 'object':
      case undefined: {
        if (!s.properties) return type === 'object' ? {} : undefined;
        const out: Record<string, unknown> = {};
        for (const k of s.required ?? []) out[k] = sample(s.properties[k], depth + 1, k);
        return out;
      }
      default:
        return undefined;
    }
  }

  // A schema's input side may not say what its refinements and pipes check (an email, a strong
  // password): the field's name is the hint then.
  function sampleString(s: JsonSchema, name: string): string {
    if (s.format === 'uuid') return crypto.randomUUID();
    if (/password/i.test(name)) return 'fuzz password 42';
    if (s.format === 'email' || /email/i.test(name)) return `fuzz_${crypto.randomBytes(4).toString('hex')}@example.com`;
    if (s.format === 'uri' || s.format === 'url') return 'https://example.com/a';
    if (s.format === 'date-time') return new Date().toISOString();
    if (s.format === 'date') return new Date().toISOString().slice(0, 10);
    const fits = (c: string) => (!s.pattern || new RegExp(s.pattern, 'u').test(c)) && c.length >= (s.minLength ?? 0) && c.length <= (s.maxLength ?? Infinity);
    return STRING_CANDIDATES.find(fits) ?? 'a'.repeat(Math.max(s.minLength ?? 0, 3));
  }

  // Every property path the schema names (array items at index 0), three levels deep.
  function fieldPaths(raw: JsonSchema | undefined, prefix: Path = [], depth = 0): Path[] {
    const s = deref(raw);
    if (depth >= 3) return [];
    const alternatives = s.anyOf ?? s.oneOf ?? s.allOf;
    if (Array.isArray(alternatives)) return alternatives.flatMap((a: JsonSchema) => fieldPaths(a, prefix, depth));
    if (s.type === 'array' || s.items) return [[...prefix, 0], ...fieldPaths(s.items, [...prefix, 0], depth + 1)].filter((p, i, all) => i === all.findIndex((q) => q.join('.') === p.join('.')));
    const out: Path[] = [];
    for (const [k, v] of Object.entries<JsonSchema>(s.properties ?? {})) out.push([...prefix, k], ...fieldPaths(v, [...prefix, k], depth + 1));
    return out;
  }
});

// Raw-body routes check a signature before they parse the body. Where the test holds the key,
// hostile bodies are signed so that they reach the parser, starting from a template of the
// provider's event; other raw-body routes are fuzzed unsigned, and the test says so. (Toss signs
// only some events, so its unsigned deliveries are parsed anyway.)
function webhookSigners(node: ApiNode): Record<string, { template: Record<string, unknown>; sign?: (body: string) => Record<string, string> }> {
  const config = node.ctx.config;
  const standardWebhook = (secret: string) => (body: string) => {
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signStandardWebhook(secret, id, timestamp, body) };
  };
  return {
    '/webhooks/sandbox': {
      template: { type: 'payment.approved', data: { orderId: 'ord_fuzz', paymentKey: 'sbx_fuzz' } },
      sign: standardWebhook(sandboxWebhookSecret(config.URL_SIGNING_SECRET)),
    },
    '/webhooks/portone': {
      template: { type: 'Transaction.Paid', timestamp: '2026-01-01T00:00:00Z', data: { paymentId: 'ord_fuzz', transactionId: 'tx_fuzz' } },
      sign: standardWebhook(PORTONE_WEBHOOK_SECRET),
    },
    '/webhooks/toss': {
      template: { eventType: 'PAYMENT_STATUS_CHANGED', createdAt: '2026-01-01T00:00:00', data: { paymentKey: 'tpk_fuzz', orderId: 'ord_fuzz', status: 'DONE' } },
    },
    '/webhooks/revenuecat': {
      template: { event: { id: 'evt_fuzz', type: 'INITIAL_PURCHASE', app_user_id: someUuid, product_id: 'coach.basic', entitlement_ids: ['basic'], expiration_at_ms: 1_900_000_000_000, event_timestamp_ms: 1_800_000_000_000 } },
      sign: (body) => ({
        ...(config.REVENUECAT_WEBHOOK_AUTH ? { authorization: config.REVENUECAT_WEBHOOK_AUTH } : {}),
        'x-revenuecat-signature': crypto.createHmac('sha256', revenueCatWebhookSecret(config) ?? '').update(body).digest('hex'),
      }),
    },
  };
}

function leafPaths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return prefix.length ? [prefix] : [];
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...prefix, Array.isArray(value) ? Number(k) : k]));
}

function setAt(base: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const container: any = base !== null && typeof base === 'object' ? structuredClone(base) : typeof head === 'number' ? [] : {};
  container[head] = setAt(container[head], rest, value);
  return container;
}

// How a value travels as a query or path parameter: text as it is, arrays as repeated parameters.
function scalar(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '';
}

function queryString(query: Record<string, unknown>): string {
  const pairs: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) pairs.push(`${encodeLoosely(k)}=${encodeLoosely(scalar(x))}`);
  }
  return pairs.length ? `?${pairs.join('&')}` : '';
}

// encodeURIComponent, except that a lone surrogate is sent as the bytes it would have in UTF-8
// (%ED%A0%80): percent-encoding that decodes to no valid text, as a hostile client may send.
function encodeLoosely(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    else out += encodeURIComponent(ch);
  }
  return out;
}

async function runLimited(tasks: (() => Promise<void>)[], parallel: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}
