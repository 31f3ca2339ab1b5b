// Builds the Fastify application: signaling websocket, HTTP API and the web app.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import { MediaWorkerPool } from '@meet/media-worker';
import { scheduleAttachmentCleanup } from './attachments/cleanup.js';
import { registerAttachmentRoutes } from './attachments/routes.js';
import { LocalDiskStorage } from './attachments/storage.js';
import { registerOpenApi } from './api/openapi.js';
import { registerAccountRoutes } from './auth/account-routes.js';
import { apiAuthentication } from './auth/api-auth.js';
import { registerApiTokenRoutes } from './auth/api-token-routes.js';
import { OidcProviders } from './auth/oidc.js';
import { registerOidcRoutes } from './auth/oidc-routes.js';
import { registerRoomTokenRoute } from './auth/room-token-route.js';
import { registerIdentityRoutes } from './auth/routes.js';
import { iceServersFor } from './auth/turn-credentials.js';
import { openDatabase, type Database } from './db/database.js';
import type { Config } from './config.js';
import { registerMessageRoutes } from './chat/message-routes.js';
import { registerHealthRoute } from './health/health.js';
import { PushNotifier } from './notifications/push-notifier.js';
import { registerPushRoutes } from './notifications/push-routes.js';
import { loadVapidKeys } from './notifications/vapid.js';
import { MediaCollector, registerMediaMetrics } from './metrics/media-collector.js';
import { ServerMetrics } from './metrics/registry.js';
import { registerMetricsRoutes } from './metrics/routes.js';
import { Cluster } from './cluster/cluster.js';
import { muteForHost } from './participant/host-requests.js';
import { RoomRegistry } from './room/registry.js';
import { notFound } from './signaling/errors.js';
import { roomPresence } from './room/presence.js';
import { RoomDirectory } from './room/room-directory.js';
import { registerRoomRoutes } from './room/room-routes.js';
import { registerSecurityHeaders } from './security/headers.js';
import { registerSignalingRoute } from './signaling/route.js';
import { isClientSocketError } from './signaling/ws-transport.js';

/** This server's version (server/package.json), from src/ and from dist/ alike. */
const serverVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface App {
  fastify: FastifyInstance;
  pool: MediaWorkerPool;
  rooms: RoomRegistry;
  database: Database;
  metrics: ServerMetrics;
  /** This node's part in a cluster (REDIS_URL), if any. */
  cluster: Cluster | undefined;
  close(): Promise<void>;
}

export async function createApp(config: Config): Promise<App> {
  const fastify = Fastify({ logger: { level: config.logLevel }, trustProxy: config.trustProxy });
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    embeddedDir: join(config.dataDir, 'pglite'),
    log: fastify.log.child({ component: 'db' }),
  });
  fastify.log.info({ kind: database.kind, location: database.location }, 'database ready');
  let pool: MediaWorkerPool;
  try {
    pool = await MediaWorkerPool.start(config.media, fastify.log.child({ component: 'media' }));
  } catch (error) {
    await database.close();
    throw error;
  }
  pool.on('workerDied', ({ index, pid }) => fastify.log.error({ index, pid }, 'media worker died'));
  const db = database.prisma;
  const metrics = new ServerMetrics();
  // The registry comes after the cluster (its rooms link through it): counted once it exists.
  let countRooms = () => 0;
  let cluster: Cluster | undefined;
  if (config.cluster) {
    try {
      cluster = await Cluster.start({
        config: config.cluster,
        listenIp: config.media.listenIp,
        log: fastify.log.child({ component: 'cluster' }),
        info: () => {
          const workers = pool.liveWorkers();
          const load =
            workers.reduce((sum, index) => sum + pool.loadOf(index), 0) / Math.max(1, workers.length);
          return { load, rooms: countRooms() };
        },
        hostActions: {
          mute: async (room, { peerId, source, by }) => {
            const target = room.participants.get(peerId);
            if (!target?.joined || target.closed) throw notFound(`participant ${peerId} is not in this room`);
            await muteForHost(target, source, by);
          },
        },
      });
    } catch (error) {
      pool.close();
      await database.close();
      throw error;
    }
    const nodeId = cluster.nodeId;
    fastify.addHook('onSend', async (_request, reply) => {
      reply.header('x-meet-node', nodeId);
    });
  }
  // Web push for stored messages (made below, once the rooms exist: it asks who is connected).
  const push: { notifier?: PushNotifier } = {};
  const rooms = new RoomRegistry(fastify.log, {
    cluster,
    onMessagesStored: (roomId, messages) => void push.notifier?.messagesStored(roomId, messages),
    onStatusChanged: () => push.notifier?.forget(),
    db,
    metrics,
    pool,
    maxParticipants: config.maxPeersPerRoom,
    media: config.roomMedia,
    limits: config.participantLimits,
    iceConfig: (participantId) => ({
      iceServers: iceServersFor(config.turn, participantId),
      iceTransportPolicy: config.iceTransportPolicy,
      iceServersTtl: config.turn.secret && config.turn.urls.length ? config.turn.ttlSeconds : null,
    }),
  });
  countRooms = () => rooms.list().length;
  const presence = roomPresence(rooms, cluster);
  const notifier = new PushNotifier(
    db,
    fastify.log.child({ component: 'push' }),
    {
      keys: await loadVapidKeys(db),
      subject: config.push.subject,
      // A push service with a certificate of a private authority (PUSH_CA_FILE): trusted too.
      agent: config.push.caFile
        ? new HttpsAgent({ ca: [...rootCertificates, readFileSync(config.push.caFile, 'utf8')] })
        : undefined,
    },
    presence,
  );
  push.notifier = notifier;
  registerMediaMetrics(
    metrics.registry,
    new MediaCollector({
      pool,
      rooms,
      db,
      clusterNodes: cluster && (async () => (await cluster.registry.liveNodes()).length),
    }),
  );
  try {
    await registerMetricsRoutes(fastify, metrics, config.metrics);
  } catch (error) {
    await cluster?.close();
    pool.close();
    await database.close();
    throw error;
  }

  await registerSecurityHeaders(fastify, { webDir: config.webDir, embedOrigins: config.embedOrigins });
  // Before the routes: the OpenAPI document lists those registered after it.
  await registerOpenApi(fastify, serverVersion);
  // Per-route limits (identities, uploads), by client address; 429 with Retry-After.
  await fastify.register(fastifyRateLimit, { global: false });
  await fastify.register(fastifyCookie);
  await fastify.register(fastifyWebsocket, {
    options: { maxPayload: 256 * 1024 },
    // The plugin's default logs every socket error at error level, those a client causes too.
    errorHandler: (error, socket, request) => {
      if (isClientSocketError(error))
        request.log.info({ reason: error.message }, 'websocket closed on a client error');
      else request.log.error({ err: error }, 'websocket error');
      socket.terminate();
    },
  });
  const cookie = { secure: config.secureCookie, embedding: config.embedOrigins.length > 0 };
  registerIdentityRoutes(
    fastify,
    db,
    { ...cookie, guests: config.guestAccess },
    config.rateLimits.identities,
  );
  registerRoomTokenRoute(fastify, db, config.roomTokens, cookie, config.rateLimits.identities);
  registerSignalingRoute(fastify, rooms, db, metrics, {
    allowedOrigins: config.allowedOrigins,
    guestAccess: config.guestAccess,
    ...config.signaling,
    placement: cluster && ((roomId) => cluster.placementFor(roomId, config.roomMedia.maxWorkerLoad)),
  });
  const authenticate = apiAuthentication(db, config.allowedOrigins);
  registerAccountRoutes(fastify, {
    db,
    rooms,
    cookie: { secure: config.secureCookie },
    allowedOrigins: config.allowedOrigins,
    authPerMinute: config.rateLimits.auth,
    perMinute: config.rateLimits.api,
  });
  registerOidcRoutes(fastify, {
    db,
    rooms,
    providers: new OidcProviders(config.oidcProviders),
    cookie: { secure: config.secureCookie },
    publicUrl: config.publicUrl,
    perMinute: config.rateLimits.auth,
  });
  registerApiTokenRoutes(fastify, db, authenticate, config.rateLimits.api);
  const directory = new RoomDirectory(db, presence);
  registerRoomRoutes(fastify, directory, rooms, authenticate, config.rateLimits.api);
  registerPushRoutes(fastify, {
    db,
    notifier,
    directory,
    authenticate,
    policy: { hosts: config.push.hosts },
    perMinute: config.rateLimits.api,
  });
  registerMessageRoutes(fastify, db, rooms, authenticate, config.rateLimits.api);
  await fastify.register(fastifyMultipart, { limits: { fileSize: config.attachments.maxBytes, files: 1 } });
  const storage = new LocalDiskStorage(config.attachments.dir);
  registerAttachmentRoutes(fastify, {
    db,
    storage,
    maxBytes: config.attachments.maxBytes,
    uploadsPerMinute: config.rateLimits.uploads,
    authenticate,
  });
  const cleanup = scheduleAttachmentCleanup(
    {
      db,
      storage,
      unpostedTtlMs: config.attachments.unpostedTtlMs,
      log: fastify.log.child({ component: 'attachments' }),
    },
    Math.min(60_000, Math.max(1000, config.attachments.unpostedTtlMs / 2)),
  );

  registerHealthRoute(fastify, pool, db);

  if (existsSync(join(config.webDir, 'index.html')) || existsSync(join(config.webDir, '200.html'))) {
    await fastify.register(fastifyStatic, { root: config.webDir, wildcard: false });
    // Single-page app: unknown GET paths (room links) get the app shell.
    fastify.setNotFoundHandler((request, reply) => {
      if (request.method === 'GET' && !request.url.startsWith('/api/') && request.url !== '/ws') {
        return reply.type('text/html').sendFile('200.html');
      }
      return reply
        .code(404)
        .send({ error: 'Not Found', message: `no route ${request.method} ${request.url}` });
    });
  } else {
    fastify.log.warn({ webDir: config.webDir }, 'web app not built: only the API and signaling are served');
  }

  return {
    fastify,
    pool,
    rooms,
    database,
    metrics,
    cluster,
    async close() {
      rooms.closeAll();
      await cluster?.close();
      await cleanup.stop();
      await fastify.close();
      pool.close();
      await database.close();
    },
  };
}
