// /openapi.json generated from the routes' zod schemas (plus the socket events' schemas as an
// extension, `x-socket-io`), /asyncapi.json (AsyncAPI 3) of the same socket events, and the pages
// that show them: Swagger UI at /docs, served from the swagger-ui-dist package (no CDN needed), and
// the socket events at /docs/socket, rendered on the server from the AsyncAPI document.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { z, type ZodType } from 'zod';
import { createDocument, type ZodOpenApiPathsObject } from 'zod-openapi';
import type { SocketEventDoc } from '../../realtime/events.ts';
import { problemSchema } from './problem.ts';
import type { Api } from './route.ts';

const require = createRequire(import.meta.url);
const SWAGGER_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css',
  'swagger-ui-bundle.js': 'application/javascript',
  'swagger-ui-standalone-preset.js': 'application/javascript',
  'favicon-32x32.png': 'image/png',
};

const NAV = `<nav style="font:14px system-ui,sans-serif;padding:.6rem 1.2rem;background:#1b1b1b;color:#ddd">
<a href="/docs" style="color:#fff">HTTP API</a> · <a href="/docs/socket" style="color:#fff">Socket.IO events</a> ·
<a href="/openapi.json" style="color:#aaa">openapi.json</a> · <a href="/asyncapi.json" style="color:#aaa">asyncapi.json</a></nav>`;

const INDEX_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API docs</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body style="margin:0">${NAV}<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`;

const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

// Swagger UI sets inline styles; everything else comes from this origin.
const DOCS_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'";

// Every client event is acknowledged with one of these (realtime/events.ts).
const ackOk = z
  .object({ ok: z.literal(true) })
  .catchall(z.unknown())
  .meta({ id: 'SocketAckOk', description: 'The event was handled; the fields beside `ok` are what its handler returns' });
const ackError = z
  .object({
    ok: z.literal(false),
    error: z.object({ code: z.string(), message: z.string(), errors: problemSchema.shape.errors }).catchall(z.unknown())
      .meta({ description: 'The problem+json body of the error, less its HTTP status: a stable `code`, the fields at fault, and extras such as `retryAfter`' }),
  })
  .meta({ id: 'SocketAckError' });
const ack = z.union([ackOk, ackError]);

type JsonSchema = Record<string, unknown>;
export type SocketIoEntry = {
  namespace: string;
  event: string;
  direction: SocketEventDoc['direction'];
  summary: string;
  payload: JsonSchema;
  // Client events only: what the ack callback receives.
  ack?: JsonSchema;
};

const COMPONENTS = '#/components/schemas/';

// The socket events' zod schemas as JSON Schema, converted once for both documents: draft-07 (what
// AsyncAPI's schemas extend, and OpenAPI 3.1 reads), with every schema that has a meta id moved
// into `components` and referenced as #/components/schemas/<id>, so a $ref resolves from the root
// of either document (a payload's own `definitions` would not). A client's payload is described
// as it may be sent (io: input: unknown keys are dropped, not refused), a server's as it is sent.
function eventJsonSchema(schema: ZodType, io: 'input' | 'output', components: Record<string, unknown>): JsonSchema {
  const { $schema: _, definitions = {}, ...root } = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as JsonSchema & { definitions?: Record<string, JsonSchema> };
  // A name already taken by a different schema (an input variant of a response, say) gets a suffix.
  const names = new Map<string, string>();
  for (const [id, def] of Object.entries(definitions)) {
    const same = rewriteRefs(def, new Map());
    let name = id;
    for (let n = 1; components[name] !== undefined && !isDeepStrictEqual(components[name], same); n++) name = `${id}${io === 'input' ? 'Input' : 'Output'}${n > 1 ? n : ''}`;
    names.set(id, name);
  }
  for (const [id, def] of Object.entries(definitions)) components[names.get(id)!] ??= rewriteRefs(def, names);
  return rewriteRefs(root, names) as JsonSchema;
}

function rewriteRefs(value: unknown, names: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, names));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/definitions/')) {
      const id = v.slice('#/definitions/'.length);
      return [k, `${COMPONENTS}${names.get(id) ?? id}`];
    }
    return [k, rewriteRefs(v, names)];
  }));
}

export function buildOpenApiDocument(opts: { paths: ZodOpenApiPathsObject; socketEvents: SocketEventDoc[]; version: string }) {
  const document = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Realtime platform API',
      version: opts.version,
      description:
        'REST for CRUD, uploads and webhooks; everything a client waits for arrives over Socket.IO. ' +
        'Errors are RFC 9457 problem+json with a stable `code`. Mutations a client may retry take an `Idempotency-Key` header. ' +
        '**Socket.IO events**: [/docs/socket](/docs/socket), and as AsyncAPI 3 at [/asyncapi.json](/asyncapi.json) ' +
        '(also listed here under `x-socket-io`); every client event is acknowledged as `{ ok: true, ... }` or ' +
        '`{ ok: false, error: { code, message, errors?, ...extra } }`: the problem+json body of the same error, less its HTTP status.',
    },
    paths: opts.paths,
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  });
  const components = ((document.components ??= {}).schemas ??= {}) as Record<string, unknown>;
  const ackSchema = opts.socketEvents.some((e) => e.direction === 'client-to-server') ? eventJsonSchema(ack, 'output', components) : undefined;
  const socketIo: SocketIoEntry[] = opts.socketEvents.map((e) => ({
    namespace: e.namespace,
    event: e.event,
    direction: e.direction,
    summary: e.summary,
    payload: eventJsonSchema(e.schema, e.direction === 'client-to-server' ? 'input' : 'output', components),
    ...(e.direction === 'client-to-server' ? { ack: ackSchema } : {}),
  }));
  return { ...document, 'x-socket-io': socketIo };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

// JSON Pointer escaping for a key inside a $ref.
const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

// The socket events of the OpenAPI document's `x-socket-io` as an AsyncAPI 3.0 document: one channel
// per namespace, each event a message on it, and one operation per event written from the client's
// side (it sends client events, with the ack as the reply, and receives server events).
export function buildAsyncApiDocument(openapi: OpenApiDocument) {
  const channels: Record<string, { address: string; title: string; description: string; messages: Record<string, JsonSchema> }> = {};
  const operations: Record<string, JsonSchema> = {};
  for (const e of openapi['x-socket-io']) {
    const channel = (channels[e.namespace] ??= {
      address: `/${e.namespace}`,
      title: `/${e.namespace}`,
      description: `The Socket.IO namespace /${e.namespace}: \`io('<server>/${e.namespace}', { auth: { token: accessToken } })\`.`,
      messages: {},
    });
    const channelRef = { $ref: `#/channels/${pointer(e.namespace)}` };
    const messageRef = (key: string) => ({ $ref: `#/channels/${pointer(e.namespace)}/messages/${pointer(key)}` });
    channel.messages[e.event] = { name: e.event, title: e.event, summary: e.summary, contentType: 'application/json', payload: e.payload };
    const operation: JsonSchema = {
      action: e.direction === 'client-to-server' ? 'send' : 'receive',
      channel: channelRef,
      title: e.event,
      summary: e.summary,
      security: [{ $ref: '#/components/securitySchemes/accessToken' }],
      messages: [messageRef(e.event)],
    };
    if (e.ack) {
      const ackKey = `${e.event}.ack`;
      channel.messages[ackKey] = { name: ackKey, title: `${e.event} (ack)`, summary: `What the ack callback of ${e.event} receives`, contentType: 'application/json', payload: e.ack };
      operation.reply = { channel: channelRef, messages: [messageRef(ackKey)] };
    }
    operations[`${e.namespace}.${e.event}`] = operation;
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: `${openapi.info.title}: Socket.IO events`,
      version: openapi.info.version,
      description:
        'Socket.IO 4 on the same host and port as the HTTP API (path /socket.io/). Each channel is a namespace; connect with the ' +
        'access token in the handshake, `auth: { token }`. Operations are written from the client\'s side: it sends client events ' +
        '(each acknowledged, the ack being the reply) and receives server events. HTTP: /openapi.json.',
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: {
      schemas: referencedComponents(openapi, Object.values(channels)),
      securitySchemes: {
        accessToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token from /auth/*, sent in the Socket.IO handshake as `auth: { token }` (not as a header)' },
      },
    },
  };
}

// The OpenAPI components the socket payloads reference, and what those reference in turn.
function referencedComponents(openapi: OpenApiDocument, from: unknown): Record<string, unknown> {
  const all = (openapi.components?.schemas ?? {}) as Record<string, unknown>;
  const found: Record<string, unknown> = {};
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(COMPONENTS)) {
        const name = v.slice(COMPONENTS.length);
        if (!(name in found) && name in all) {
          found[name] = all[name];
          visit(all[name]);
        }
      } else visit(v);
    }
  };
  visit(from);
  return found;
}

export type AsyncApiDocument = ReturnType<typeof buildAsyncApiDocument>;

export function docsRoutes(api: Pick<Api, 'raw'>, getDocument: () => OpenApiDocument): void {
  let openapi: OpenApiDocument | undefined;
  const documents = () => (openapi ??= getDocument());
  let asyncApi: AsyncApiDocument | undefined;
  const asyncApiDocument = () => (asyncApi ??= buildAsyncApiDocument(documents()));
  const rendered: Record<string, string> = {};
  api.raw('get', '/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = rendered.openapi ??= JSON.stringify(documents());
  });
  api.raw('get', '/asyncapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = rendered.asyncapi ??= JSON.stringify(asyncApiDocument());
  });
  api.raw('get', '/docs', (ctx) => {
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.type = 'text/html';
    ctx.body = INDEX_HTML;
  });
  api.raw('get', '/docs/init.js', (ctx) => {
    ctx.type = 'application/javascript';
    ctx.body = INIT_JS;
  });
  // Before /docs/:file, which would otherwise take it.
  api.raw('get', '/docs/socket', (ctx) => {
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.type = 'text/html';
    ctx.body = rendered.socketPage ??= socketEventsPage(asyncApiDocument());
  });
  api.raw('get', '/docs/:file', async (ctx) => {
    const type = SWAGGER_FILES[ctx.params.file];
    if (!type) return;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.type = type;
    ctx.body = await fs.readFile(path.join(SWAGGER_DIR, ctx.params.file));
  });
}

// --- /docs/socket: the AsyncAPI document as a page, one table per namespace ---

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
// Summaries are written with markdown code spans, as Swagger UI renders them.
const textHtml = (s: string) => escapeHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>');

const PAGE_STYLE = `body{margin:0;font:14px/1.45 system-ui,sans-serif;color:#222}main{max-width:72rem;margin:0 auto;padding:1rem 1.5rem 3rem}
h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}table{border-collapse:collapse;width:100%}
td,th{border-top:1px solid #eee;padding:.5rem;text-align:left;vertical-align:top}th{background:#fafafa}
code{background:#f3f3f3;padding:0 .25rem;border-radius:3px}.send{color:#0a6b2d}.receive{color:#1d4ed8}
ul.fields{margin:.2rem 0;padding-left:1.1rem}pre{background:#f7f7f7;padding:.5rem;max-height:24rem;overflow:auto;font-size:12px}
summary{cursor:pointer;color:#666}`;

function socketEventsPage(doc: AsyncApiDocument): string {
  const components = doc.components.schemas;
  const sections = Object.entries(doc.channels).map(([key, channel]) => {
    const rows = Object.entries(doc.operations)
      .filter(([, op]) => (op.channel as { $ref: string }).$ref === `#/channels/${pointer(key)}`)
      .map(([, op]) => {
        const message = channel.messages[op.title as string];
        const reply = op.reply ? channel.messages[`${op.title as string}.ack`] : undefined;
        const sends = op.action === 'send';
        return `<tr id="${escapeHtml(`${key}.${op.title as string}`)}">
<td class="${sends ? 'send' : 'receive'}">${sends ? 'emit →' : '← listen'}</td>
<td><code>${escapeHtml(op.title as string)}</code></td>
<td>${textHtml(op.summary as string)}</td>
<td>${fieldsHtml(message.payload as JsonSchema, components)}${reply ? `<div style="margin-top:.4rem">ack: <a href="#acks">${escapeHtml(typeLabel(reply.payload as JsonSchema))}</a></div>` : ''}
<details><summary>JSON Schema</summary><pre>${escapeHtml(JSON.stringify(message.payload, null, 2))}</pre></details></td></tr>`;
      });
    return `<h2 id="${escapeHtml(key)}">${escapeHtml(channel.address)}</h2><p>${textHtml(channel.description)}</p>
<table><tr><th>direction</th><th>event</th><th>what it is</th><th>payload</th></tr>${rows.join('\n')}</table>`;
  });
  const acks = ['SocketAckOk', 'SocketAckError'].filter((name) => components[name])
    .map((name) => `<li><code>${name}</code>: ${fieldsHtml({ $ref: `${COMPONENTS}${name}` }, components)}</li>`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Socket.IO events</title>
<link rel="icon" href="/docs/favicon-32x32.png"><style>${PAGE_STYLE}</style></head>
<body>${NAV}<main><h1>Socket.IO events</h1><p>${textHtml(doc.info.description)}</p>
<p>Generated from the same zod schemas that validate the events; machine-readable as <a href="/asyncapi.json">AsyncAPI ${escapeHtml(doc.asyncapi)}</a>.</p>
${acks.length ? `<h3 id="acks">Acks</h3><p>Every event a client emits is acknowledged with one of:</p><ul>${acks.join('')}</ul>` : ''}
${sections.join('\n')}</main></body></html>`;
}

// An object schema's fields as a list (name, type, required); other schemas as their type.
function fieldsHtml(schema: JsonSchema, components: Record<string, unknown>): string {
  const s = resolve(schema, components);
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (alternatives) return alternatives.map((a) => fieldsHtml(a, components)).join('<div>or</div>');
  const properties = s.properties as Record<string, JsonSchema> | undefined;
  if (!properties) return `<code>${escapeHtml(typeLabel(schema))}</code>`;
  if (!Object.keys(properties).length && s.additionalProperties === false) return '<code>{}</code> (no fields)';
  const required = new Set((s.required as string[] | undefined) ?? []);
  const items = Object.entries(properties).map(([name, p]) => {
    const description = (p.description ?? resolve(p, components).description) as string | undefined;
    return `<li><code>${escapeHtml(name)}${required.has(name) ? '' : '?'}</code>: ${escapeHtml(typeLabel(p))}${description ? ` — ${textHtml(description)}` : ''}</li>`;
  });
  if (s.additionalProperties !== false && s.additionalProperties !== undefined) items.push('<li>…more fields</li>');
  return `<ul class="fields">${items.join('')}</ul>`;
}

function resolve(schema: JsonSchema, components: Record<string, unknown>): JsonSchema {
  const ref = schema.$ref as string | undefined;
  return ref?.startsWith(COMPONENTS) ? ((components[ref.slice(COMPONENTS.length)] as JsonSchema | undefined) ?? schema) : schema;
}

function typeLabel(s: JsonSchema): string {
  if (typeof s.$ref === 'string') return s.$ref.split('/').pop()!;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (alternatives) return alternatives.map(typeLabel).join(' | ');
  if (s.type === 'array') return `${s.items ? typeLabel(s.items as JsonSchema) : 'any'}[]`;
  const type = Array.isArray(s.type) ? s.type.join(' | ') : ((s.type as string | undefined) ?? 'any');
  return s.format ? `${type} (${s.format as string})` : type;
}
