# syntax=docker/dockerfile:1
# Meet: web app, signaling server and mediasoup SFU in one image. See docs/deploy.md.
#   docker compose build        (or: docker build -t meet .)

# --- build: the same setup script as `npm start`, `npm test` and CI ------------------------
FROM node:20-bookworm AS build
WORKDIR /app
COPY . .
# scripts/setup.sh runs `npm ci`, obtains the mediasoup worker (mediasoup's prebuilt download
# where the build can reach it, otherwise a build from source whose Debian packages the
# script apt-installs: this stage runs as root) and builds server and web app.
# The worker cache survives between builds (cache mount), so a rebuild after `git pull`
# reuses a worker built from source. The binary is copied out of the cache to a fixed path
# in the same step: the cache mount is not part of the image.
RUN --mount=type=cache,target=/root/.cache/meet,id=meet-worker-cache \
    --mount=type=cache,target=/root/.npm,id=meet-npm-cache \
    bash scripts/setup.sh \
 && install -D -m 0755 "$(cat media-worker/worker-bin.path)" /opt/meet/mediasoup-worker
# Only production dependencies. MEDIASOUP_WORKER_BIN set: mediasoup's postinstall (a second
# worker download or build) is skipped.
RUN --mount=type=cache,target=/root/.npm,id=meet-npm-cache \
    MEDIASOUP_WORKER_BIN=/opt/meet/mediasoup-worker npm prune --omit=dev --no-audit --no-fund

# --- runtime ------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
# Shared libraries of a worker built from source against Debian (found with `ldd` on the
# worker, mapped to packages with `dpkg -S`): libuv, libsrtp2 (which pulls in libnss3),
# usrsctp and abseil. OpenSSL is linked statically; flatbuffers is header-only in the
# worker. (When the build got mediasoup's prebuilt worker instead, these are unused.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libsrtp2-1 libusrsctp2 libabsl20220623 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# DATA_DIR: the app's files (chat attachments; the embedded database when DATABASE_URL is
# unset). docker-compose.yml mounts a named volume there.
ENV NODE_ENV=production \
    MEDIASOUP_WORKER_BIN=/opt/meet/mediasoup-worker \
    DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data

COPY --from=build /opt/meet/mediasoup-worker /opt/meet/mediasoup-worker
COPY --from=build /app/package.json ./
# node_modules keeps npm's workspace links (@meet/* -> ../../<package>).
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/protocol/package.json ./protocol/
COPY --from=build /app/protocol/dist ./protocol/dist
COPY --from=build /app/media-worker/package.json ./media-worker/
COPY --from=build /app/media-worker/dist ./media-worker/dist
COPY --from=build /app/media-worker/scripts/verify-worker.mjs ./media-worker/scripts/
COPY --from=build /app/server/package.json ./server/
COPY --from=build /app/server/dist ./server/dist
COPY --from=build /app/web/package.json ./web/
COPY --from=build /app/web/build ./web/build
# SQL migrations, applied by the server at start-up (server/src/db/migrate.ts).
COPY --from=build /app/prisma ./prisma

# Fail the build here, not at start-up, if a library is missing: the worker must link and
# answer a request (router + WebRTC transport) in this image.
RUN if ldd /opt/meet/mediasoup-worker | grep 'not found'; then exit 1; fi \
 && node media-worker/scripts/verify-worker.mjs /opt/meet/mediasoup-worker

# Non-root: the "node" user (uid 1000) of the official Node.js image.
USER node

# HTTP (web app, /api, signaling websocket /ws). Media: worker i listens on RTC_PORT + i
# (default 40000), UDP and TCP; publish exactly the ports of MEDIA_WORKERS workers (the
# range below covers the largest MEDIA_WORKERS, 64).
EXPOSE 3000/tcp 40000-40063/udp 40000-40063/tcp

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "server/dist/main.js"]
