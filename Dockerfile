# API node and cron process image. Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# Image work runs 2 at a time in the worker pool; 2 more libuv threads keep fs, DNS, crypto and
# argon2 from queueing behind it (bench/image-pool.ts).
ENV UV_THREADPOOL_SIZE=4
# Walk share cards draw their text with the system's fonts (librsvg through fontconfig): without a
# font it would not show. DejaVu covers their digits and Latin.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Dev dependencies (mocha, tsc, autocannon, type packages) stay out of the image. The pinned `node`
# package is a runtime dependency, so that `npm ci --omit=dev && npm start` on an older machine
# still runs Node 24; in this image the base's own Node 24 runs instead (CMD calls `node` directly).
RUN npm ci --omit=dev && npm cache clean --force
COPY entities ./entities
COPY integrations ./integrations
COPY realtime ./realtime
COPY routes ./routes
COPY server ./server
COPY services ./services
COPY workers ./workers
COPY cron ./cron
COPY modules ./modules
# Coach prompt templates and the knowledge seeded at first start.
COPY templates ./templates
COPY data ./data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:3000/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "server/main.ts"]
