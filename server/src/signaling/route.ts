// The signaling endpoint: GET /ws?roomId=<id>[&resume=<participant id>] upgraded by
// @fastify/websocket; each socket becomes a participant of its room through
// WsProtooTransport. Origin, identity and connection counts are checked before the upgrade.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeIssues, roomIdSchema } from '@meet/protocol';
import { identityFromRequest, type IdentityInfo } from '../auth/identity.js';
import type { Db } from '../db/database.js';
import { invalidFrameMethod, type ServerMetrics } from '../metrics/registry.js';
import type { RoomRegistry } from '../room/registry.js';
import { WsProtooTransport, type WsTransportOptions } from './ws-transport.js';

const querySchema = z.object({
  roomId: roomIdSchema,
  /** The participant id this browser had before it lost its connection: its ghost goes. */
  resume: z.uuid().optional(),
  /** Several nodes: the node this connection was moved to (it is never moved again). */
  node: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .optional(),
});

declare module 'fastify' {
  interface FastifyRequest {
    identity?: IdentityInfo;
    /** Several nodes: the node this connection should move to (see Cluster.placementFor). */
    moveTo?: string;
  }
}

export interface SignalingOptions extends WsTransportOptions {
  /** Origins whose pages may open the socket besides this server's own. */
  allowedOrigins: string[] | undefined;
  maxConnectionsPerIp: number;
  maxConnectionsPerIdentity: number;
  /** Guests (identities without an account) may join (GUEST_ACCESS); else only accounts and room-token holders. */
  guestAccess: boolean;
  /** Several nodes: where a connection for a room should be served (undefined: here). */
  placement?: ((roomId: string) => Promise<string | undefined>) | undefined;
}

/** Open signaling sockets by client address and by identity, within bounds. */
class ConnectionCounts {
  readonly #counts = new Map<string, number>();

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  add(key: string): () => void {
    this.#counts.set(key, this.count(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.count(key) - 1;
      if (left > 0) this.#counts.set(key, left);
      else this.#counts.delete(key);
    };
  }
}

/** Why a connection may not be opened now, or undefined when it may. */
function overLimit(
  counts: ConnectionCounts,
  ip: string,
  identityId: string,
  options: SignalingOptions,
): string | undefined {
  if (counts.count(`ip:${ip}`) >= options.maxConnectionsPerIp)
    return `too many connections from this address (at most ${options.maxConnectionsPerIp})`;
  if (counts.count(`id:${identityId}`) >= options.maxConnectionsPerIdentity)
    return `too many connections for this identity (at most ${options.maxConnectionsPerIdentity})`;
  return undefined;
}

/** Whether the identity was let into the room by a room token (its operator's say-so). */
async function tokenMember(db: Db, roomId: string, identityId: string): Promise<boolean> {
  const membership = await db.membership.findUnique({
    where: { roomId_identityId: { roomId, identityId } },
    select: { nameLocked: true },
  });
  return membership?.nameLocked === true;
}

export function registerSignalingRoute(
  app: FastifyInstance,
  rooms: RoomRegistry,
  db: Db,
  metrics: ServerMetrics,
  options: SignalingOptions,
): void {
  const counts = new ConnectionCounts();
  app.get(
    '/ws',
    {
      websocket: true,
      // Runs before the upgrade, each refusal a plain HTTP answer with its reason: a page of
      // another origin 403 (a browser always sends Origin; other clients need the cookie
      // anyway), a bad room id 400, no identity (cookie from POST /api/identity) 401, too
      // many connections 429.
      preValidation: async (request, reply) => {
        const origin = request.headers.origin;
        const own = `${request.protocol}://${request.host}`;
        if (origin !== undefined && origin !== own && !options.allowedOrigins?.includes(origin)) {
          request.log.info({ origin }, 'signaling socket from a foreign origin refused');
          return reply.code(403).send({
            error: 'Forbidden',
            message: `pages of ${origin.slice(0, 200)} may not open this socket`,
          });
        }
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
        if (
          !options.guestAccess &&
          !identity.account &&
          !(await tokenMember(db, parsed.data.roomId, identity.id))
        )
          return reply
            .code(403)
            .send({ error: 'Forbidden', message: 'this server does not let guests in: sign in first' });
        const refusal = overLimit(counts, request.ip, identity.id, options);
        if (refusal) return reply.code(429).send({ error: 'Too Many Requests', message: refusal });
        request.identity = identity;
        if (options.placement && parsed.data.node === undefined)
          request.moveTo = await options.placement(parsed.data.roomId);
      },
    },
    (socket, request) => {
      const { roomId, resume } = querySchema.parse(request.query);
      const identity = request.identity as IdentityInfo;
      const peerId = randomUUID();
      const log = request.log.child({ roomId, peerId });
      // Counted from the upgrade on; checked again in case others arrived meanwhile.
      const refusal = overLimit(counts, request.ip, identity.id, options);
      if (refusal) {
        socket.close(4029, refusal);
        return;
      }
      if (request.moveTo) {
        // Another node serves this room (or is less loaded for a new one): the browser is
        // told where, then connects again naming it (the load balancer routes it there).
        log.debug({ node: request.moveTo }, 'connection moved to another node');
        socket.send(JSON.stringify({ notification: true, method: 'moveTo', data: { node: request.moveTo } }));
        socket.close(4000, `this room is served by node ${request.moveTo}`);
        return;
      }
      const releases = [counts.add(`ip:${request.ip}`), counts.add(`id:${identity.id}`)];
      socket.once('close', () => releases.forEach((release) => release()));
      const transport = new WsProtooTransport(socket, log, options, (code) =>
        metrics.signalingRequest(invalidFrameMethod, code),
      );
      try {
        rooms.getOrCreate(roomId).connect(peerId, transport, identity, resume);
      } catch (err) {
        log.error({ err }, 'cannot open room');
        socket.close(1011, 'cannot open room');
      }
    },
  );
}
