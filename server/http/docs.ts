// /openapi.json generated from the routes' zod schemas (plus the socket events' schemas as an
// extension), and Swagger UI at /docs served from the swagger-ui-dist package (no CDN needed).
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { createDocument, type ZodOpenApiPathsObject } from 'zod-openapi';
import type { SocketEventDoc } from '../../realtime/events.ts';
import type { Api } from './route.ts';

const require = createRequire(import.meta.url);
const SWAGGER_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css',
  'swagger-ui-bundle.js': 'application/javascript',
  'swagger-ui-standalone-preset.js': 'application/javascript',
  'favicon-32x32.png': 'image/png',
};

const INDEX_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API docs</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`;

const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

// Swagger UI sets inline styles; everything else comes from this origin.
const DOCS_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'";

export function buildOpenApiDocument(opts: { paths: ZodOpenApiPathsObject; socketEvents: SocketEventDoc[]; version: string }) {
  const document = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Realtime platform API',
      version: opts.version,
      description:
        'REST for CRUD, uploads and webhooks; everything a client waits for arrives over Socket.IO. ' +
        'Errors are RFC 9457 problem+json with a stable `code`. Socket.IO namespaces and their events ' +
        'are listed under `x-socket-io`; every client event is acknowledged as `{ ok: true, ... }` or ' +
        '`{ ok: false, error: { code, message, errors?, ...extra } }`: the problem+json body of the same error, less its HTTP status.',
    },
    paths: opts.paths,
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  });
  return {
    ...document,
    'x-socket-io': opts.socketEvents.map((e) => ({
      namespace: e.namespace,
      event: e.event,
      direction: e.direction,
      summary: e.summary,
      payload: z.toJSONSchema(e.schema, { unrepresentable: 'any' }),
    })),
  };
}

export function docsRoutes(api: Pick<Api, 'raw'>, getDocument: () => unknown): void {
  let cached: string | undefined;
  api.raw('get', '/openapi.json', (ctx) => {
    cached ??= JSON.stringify(getDocument());
    ctx.type = 'application/json';
    ctx.body = cached;
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
  api.raw('get', '/docs/:file', async (ctx) => {
    const type = SWAGGER_FILES[ctx.params.file];
    if (!type) return;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.type = type;
    ctx.body = await fs.readFile(path.join(SWAGGER_DIR, ctx.params.file));
  });
}
