// The signaling endpoint: GET /ws?roomId=<id> upgraded by @fastify/websocket; each socket
// becomes a protoo peer of its room through WsProtooTransport.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeIssues, roomIdSchema } from '@meet/protocol';
import { identityFromRequest, type IdentityInfo } from '../auth/identity.js';
import type { Db } from '../db/database.js';
import { invalidFrameMethod, type ServerMetrics } from '../metrics/registry.js';
import type { RoomRegistry } from '../room/registry.js';
import { WsProtooTransport } from './ws-transport.js';

const querySchema = z.object({ roomId: roomIdSchema });

declare module 'fastify' {
  interface FastifyRequest {
    identity?: IdentityInfo;
  }
}

export function registerSignalingRoute(
  app: FastifyInstance,
  rooms: RoomRegistry,
  db: Db,
  metrics: ServerMetrics,
): void {
  app.get(
    '/ws',
    {
      websocket: true,
      // Runs before the upgrade: a bad room id gets a plain HTTP 400 with the reason, and a
      // browser without an identity (cookie from POST /api/identity) a 401.
      preValidation: async (request, reply) => {
        const parsed = querySchema.safeParse(request.query);
        if (!parsed.success) {
          return reply.code(400).send({ error: 'Bad Request', message: describeIssues(parsed.error) });
        }
        const identity = await identityFromRequest(db, request);
        if (!identity) {
          return reply
            .code(401)
            .send({ error: 'Unauthorized', message: 'no identity: POST /api/identity first' });
        }
        request.identity = identity;
      },
    },
    async (socket, request) => {
      const { roomId } = querySchema.parse(request.query);
      const peerId = randomUUID();
      const log = request.log.child({ roomId, peerId });
      const transport = new WsProtooTransport(socket, log, (code) =>
        metrics.signalingRequest(invalidFrameMethod, code),
      );
      try {
        const room = await rooms.getOrCreate(roomId);
        room.connect(peerId, transport, request.identity as IdentityInfo);
      } catch (err) {
        log.error({ err }, 'cannot open room');
        socket.close(1011, 'cannot open room');
      }
    },
  );
}
