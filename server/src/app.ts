// Builds the Fastify application: signaling websocket, HTTP API and the web app.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import { MediaWorkerPool } from '@meet/media-worker';
import { registerAttachmentRoutes } from './attachments/routes.js';
import { LocalDiskStorage } from './attachments/storage.js';
import { registerIdentityRoutes } from './auth/routes.js';
import { iceServersFor } from './auth/turn-credentials.js';
import { openDatabase, type Database } from './db/database.js';
import type { Config } from './config.js';
import { RoomRegistry } from './room/registry.js';
import { registerSignalingRoute } from './signaling/route.js';

export interface App {
  fastify: FastifyInstance;
  pool: MediaWorkerPool;
  rooms: RoomRegistry;
  database: Database;
  close(): Promise<void>;
}

export async function createApp(config: Config): Promise<App> {
  const fastify = Fastify({ logger: { level: config.logLevel } });
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
  const rooms = new RoomRegistry(pool, fastify.log, {
    db,
    maxPeers: config.maxPeersPerRoom,
    iceConfig: (peerId) => ({
      iceServers: iceServersFor(config.turn, peerId),
      iceTransportPolicy: config.iceTransportPolicy,
      iceServersTtl: config.turn.secret && config.turn.urls.length ? config.turn.ttlSeconds : null,
    }),
  });

  await fastify.register(fastifyCookie);
  await fastify.register(fastifyWebsocket, { options: { maxPayload: 256 * 1024 } });
  registerIdentityRoutes(fastify, db, config.secureCookie);
  registerSignalingRoute(fastify, rooms, db);
  await fastify.register(fastifyMultipart, { limits: { fileSize: config.attachments.maxBytes, files: 1 } });
  registerAttachmentRoutes(fastify, {
    db,
    storage: new LocalDiskStorage(config.attachments.dir),
    maxBytes: config.attachments.maxBytes,
  });

  fastify.get('/api/health', async (_request, reply) => {
    const workers = await pool.health();
    const openRooms = await rooms.list();
    const ok = workers.every((w) => w.alive);
    return reply.code(ok ? 200 : 503).send({
      ok,
      workers,
      rooms: openRooms.length,
      peers: openRooms.reduce((n, room) => n + room.peers.size, 0),
    });
  });

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
    async close() {
      await rooms.closeAll();
      await fastify.close();
      pool.close();
      await database.close();
    },
  };
}
