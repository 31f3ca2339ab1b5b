# Meet: web app, signaling server and mediasoup SFU in one image. See docs/deploy.md.
#   docker compose build        (or: docker build -t meet .)
# Images from Docker Hub: node:24-bookworm (build stages) and debian:bookworm-slim (runtime).
# No `# syntax=` line: the builder's built-in Dockerfile frontend handles everything here
# (RUN --mount=type=cache included), so no frontend image is fetched.

# Shared libraries of a mediasoup 3.27 worker built from source against Debian (found with
# `ldd` on the worker, mapped to packages with `dpkg -S`): libuv, libsrtp2 (which pulls in
# libnss3) and abseil. OpenSSL is linked statically; flatbuffers is header-only in the
# worker. (When the build got mediasoup's prebuilt worker instead, they are unused.)
ARG WORKER_LIBS="libuv1 libsrtp2-1 libabsl20220623"

# --- build: the same setup script as `npm start`, `npm test` and CI ------------------------
FROM node:24-bookworm AS build
ARG WORKER_LIBS
# The worker's libraries come first, in their own layer: obtain-worker.sh verifies a cached
# worker by running it, which needs them (installed any later, the cached worker fails its
# check and is compiled again).
RUN apt-get update \
 && apt-get install -y --no-install-recommends $WORKER_LIBS
WORKDIR /app
COPY . .
# scripts/setup.sh runs `npm ci`, obtains the mediasoup worker (the cached one; else
# mediasoup's prebuilt download where the build can reach it; else a build from source whose
# Debian packages the script apt-installs: this stage runs as root) and builds server and web
# app. The worker cache survives between builds (cache mount), so a rebuild after a source
# change reuses the worker. The binary is copied out of the cache to a fixed path in the same
# step (the cache mount is not part of the image), without its debugging symbols.
# --build-arg MEET_WORKER_PREBUILT=0 skips the attempt to download mediasoup's prebuilt worker.
ARG MEET_WORKER_PREBUILT
RUN --mount=type=cache,target=/root/.cache/meet,id=meet-worker-cache \
    --mount=type=cache,target=/root/.npm,id=meet-npm-cache \
    bash scripts/setup.sh \
 && install -D -s -m 0755 "$(cat media-worker/worker-bin.path)" /opt/meet/mediasoup-worker

# --- production dependencies (only the lock file and package manifests: reused as long as
#     they do not change) -----------------------------------------------------------------
FROM node:24-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY protocol/package.json protocol/
COPY media-worker/package.json media-worker/
COPY server/package.json server/
COPY web/package.json web/
COPY prisma/schema.prisma prisma/
# --omit=optional as well: the Prisma CLI is a dev dependency but also an optional peer of
# @prisma/client, and npm keeps such packages unless both dev and optional are omitted.
# (The only other optional package, pg-cloudflare, is for Cloudflare Workers.)
# MEDIASOUP_WORKER_BIN set: mediasoup's postinstall (a worker download or build) is skipped.
# Then what the server never loads: the worker's C++ sources (MEDIASOUP_WORKER_BIN points
# mediasoup at the worker), Prisma's query compilers for the databases other than the
# schema's, source maps, TypeScript sources and declarations, and READMEs.
RUN --mount=type=cache,target=/root/.npm,id=meet-npm-cache \
    MEDIASOUP_WORKER_BIN=skip npm ci --omit=dev --omit=optional --no-audit --no-fund --loglevel=error \
 && test ! -e node_modules/prisma \
 && rm -rf node_modules/mediasoup/worker \
 && provider="$(sed -n '/^datasource/,/^}/s/^ *provider *= *"\([a-z]*\)".*/\1/p' prisma/schema.prisma)" \
 && test -n "$provider" \
 && find node_modules/@prisma/client/runtime -name 'query_compiler_*' ! -name "query_compiler_*.$provider.*" -delete \
 && find node_modules -type f \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' \
      -o -iname 'README.md' -o -iname 'CHANGELOG.md' \) -delete

# --- runtime ------------------------------------------------------------------------------
# Debian slim plus the node binary only (from the build stage's official Node.js image):
# node:24-bookworm-slim would add npm, yarn, corepack and Node's C headers (about 90 MB) that
# nothing here uses at run time.
FROM debian:bookworm-slim AS runtime
ARG WORKER_LIBS
RUN apt-get update \
 && apt-get install -y --no-install-recommends $WORKER_LIBS \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY --from=build /usr/local/bin/node /usr/local/bin/node

WORKDIR /app
# DATA_DIR: the app's files (chat attachments; the embedded database when DATABASE_URL is
# unset). docker-compose.yml mounts a named volume there.
# MALLOC_MMAP_THRESHOLD_: glibc hands freed blocks of 128 KiB and more back to the system at
# once (less resident memory with the embedded database; see docs/footprint.md).
ENV NODE_ENV=production \
    MEDIASOUP_WORKER_BIN=/opt/meet/mediasoup-worker \
    DATA_DIR=/data \
    MALLOC_MMAP_THRESHOLD_=131072
RUN mkdir -p /data && chown node:node /data

COPY --from=build /opt/meet/mediasoup-worker /opt/meet/mediasoup-worker
COPY --from=build /app/package.json ./
# node_modules keeps npm's workspace links (@meet/* -> ../../<package>).
COPY --from=deps /app/node_modules ./node_modules
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

# Fail the build here, not at start-up: the worker must link and answer a request (router +
# WebRTC transport) in this image, and every Prisma runtime file the generated client
# imports must have survived the pruning above.
RUN if ldd /opt/meet/mediasoup-worker | grep 'not found'; then exit 1; fi \
 && node media-worker/scripts/verify-worker.mjs /opt/meet/mediasoup-worker \
 && for f in $(grep -rhoE '@prisma/client/runtime/[A-Za-z0-9_.-]+\.m?js' server/dist | sort -u); do \
      test -f "node_modules/$f" || { echo "missing $f" >&2; exit 1; }; \
    done

# Non-root: "node" (uid 1000), as in the official Node.js images.
USER node

# HTTP (web app, /api, signaling websocket /ws). Media: worker i listens on RTC_PORT + i
# (default 40000), UDP and TCP; publish exactly the ports of MEDIA_WORKERS workers (the
# range below covers the largest MEDIA_WORKERS, 64).
EXPOSE 3000/tcp 40000-40063/udp 40000-40063/tcp

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "server/dist/main.js"]
