// This node's part in a cluster (REDIS_URL set): its registration (NodeRegistry), the bus
// (ClusterBus) and one RoomLink per room with participants here. Absent on a single node.
// Requests from other nodes are validated like a client's and answered by the room's link.
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { mutableSourceSchema, roomIdSchema, type PeerInfo } from '@meet/protocol';
import type { ClusterConfig } from '../config.js';
import type { Room } from '../room/room.js';
import { badRequest, notFound } from '../signaling/errors.js';
import { ClusterBus } from './bus.js';
import { NodeRegistry, type NodeInfo } from './node-registry.js';
import { placeConnection } from './placement.js';
import { RoomLink, roomNodesKey, type RoomSnapshot } from './room-link.js';

const id = z.string().min(1).max(100);
const roomRequest = z.object({ roomId: roomIdSchema });
const schemas = {
  roomPeers: roomRequest,
  pipeOpen: roomRequest.extend({
    ip: z.string().min(1).max(100),
    port: z.number().int().min(1).max(65535),
    srtpParameters: z.object({ cryptoSuite: z.string().max(64), keyBase64: z.string().max(200) }),
  }),
  pipeProducer: roomRequest.extend({ producerId: id, transportId: id }),
  pipeClose: roomRequest.extend({ transportId: id }),
  wantLayer: roomRequest.extend({ producerId: id, spatialLayer: z.number().int().min(-1).max(8) }),
  mute: roomRequest.extend({ peerId: id, source: mutableSourceSchema, by: z.string().max(200) }),
  lobbyDecision: roomRequest.extend({ peerId: id, admit: z.boolean(), reason: z.string().max(300) }),
  lowerHand: roomRequest.extend({ peerId: id }),
};
type Method = keyof typeof schemas;

/** What a node does for a host on another node (the host's rights were checked there). */
export interface RemoteHostActions {
  mute(room: Room, request: z.infer<(typeof schemas)['mute']>): Promise<void>;
}

export interface ClusterOptions {
  config: ClusterConfig;
  /** RTC_LISTEN_IP: where pipe transports listen. */
  listenIp: string;
  log: FastifyBaseLogger;
  /** This node's load and rooms, for the registry. */
  info: () => Omit<NodeInfo, 'id' | 'startedAt'>;
  hostActions: RemoteHostActions;
}

export class Cluster {
  readonly nodeId: string;
  readonly registry: NodeRegistry;
  readonly #bus: ClusterBus;
  readonly #redis: { publisher: Redis; subscriber: Redis };
  readonly #options: ClusterOptions;
  readonly #links = new Map<string, { room: Room; link: RoomLink }>();

  private constructor(
    options: ClusterOptions,
    redis: { publisher: Redis; subscriber: Redis },
    bus: ClusterBus,
    registry: NodeRegistry,
  ) {
    this.nodeId = options.config.nodeId;
    this.#options = options;
    this.#redis = redis;
    this.#bus = bus;
    this.registry = registry;
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const { config, log } = options;
    const connect = (role: string) =>
      new Redis(config.redisUrl, {
        // Commands wait while Redis reconnects (bounded), rather than failing at once.
        maxRetriesPerRequest: 3,
        lazyConnect: true,
        connectionName: `meet-${config.nodeId}-${role}`,
      });
    const redis = { publisher: connect('pub'), subscriber: connect('sub') };
    for (const [role, client] of Object.entries(redis))
      client.on('error', (err: Error) => log.warn({ err, role }, 'Redis connection error'));
    try {
      await Promise.all([redis.publisher.connect(), redis.subscriber.connect()]);
      const bus = await ClusterBus.start(config.nodeId, redis, log);
      const registry = new NodeRegistry(redis.publisher, config.nodeId, config.nodeTtlMs, options.info, log);
      await registry.start();
      const cluster = new Cluster(options, redis, bus, registry);
      bus.onRequest((from, method, data) => cluster.#answer(from, method, data));
      // ioredis reconnects and subscribes again by itself; what was published meanwhile is
      // lost, so every room asks the other nodes again (and tells them to ask this one).
      redis.subscriber.on('ready', () => {
        log.warn('reconnected to Redis: the rooms resync with the other nodes');
        for (const { link } of cluster.#links.values()) link.resync();
      });
      registry.on('nodeGone', (nodeId, { startedAt, restarted }) => {
        if (!restarted) bus.nodeGone(nodeId);
        for (const { link } of cluster.#links.values())
          link.nodeGone(nodeId, { epoch: startedAt, restarted });
      });
      log.info({ node: config.nodeId }, 'joined the cluster');
      return cluster;
    } catch (error) {
      redis.publisher.disconnect();
      redis.subscriber.disconnect();
      throw new Error(
        `cannot join the cluster through Redis at ${redactUrl(config.redisUrl)}: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * The node a new signaling connection for `roomId` should move to (undefined: stay here):
   * the room's node, or for a new room a less loaded one (placement.ts). With placement off,
   * or when Redis does not answer, every connection stays where it landed.
   */
  async placementFor(roomId: string, maxLoad: number): Promise<string | undefined> {
    if (!this.#options.config.placement) return undefined;
    try {
      const [nodes, roomNodes] = await Promise.all([
        this.registry.liveNodes(),
        this.#redis.publisher.smembers(roomNodesKey(roomId)),
      ]);
      return placeConnection(this.nodeId, nodes, roomNodes, maxLoad);
    } catch (err) {
      this.#options.log.warn({ err, roomId }, 'no placement (Redis did not answer): staying here');
      return undefined;
    }
  }

  /**
   * Who is connected to each of these rooms on the other live nodes (each node in a room's
   * directory is asked; one that does not answer in time counts as nobody). For "my rooms".
   */
  async peersElsewhere(roomIds: string[]): Promise<Map<string, PeerInfo[]>> {
    const found = new Map<string, PeerInfo[]>();
    if (roomIds.length === 0) return found;
    const live = new Set((await this.registry.liveNodes()).map((node) => node.id));
    const pipeline = this.#redis.publisher.pipeline();
    for (const roomId of roomIds) pipeline.smembers(roomNodesKey(roomId));
    const directories = (await pipeline.exec()) ?? [];
    await Promise.all(
      roomIds.map(async (roomId, i) => {
        const [error, nodes] = directories[i] ?? [null, []];
        if (error) return;
        const others = (nodes as string[]).filter((node) => node !== this.nodeId && live.has(node));
        const answers = await Promise.all(
          others.map((node) =>
            this.#bus
              .request<RoomSnapshot>(node, 'roomPeers', { roomId }, 1500)
              .then((snapshot) => snapshot.peers)
              .catch(() => []),
          ),
        );
        if (answers.flat().length > 0) found.set(roomId, answers.flat());
      }),
    );
    return found;
  }

  /** Ties a room of this node to the other nodes (until it closes). */
  link(room: Room): RoomLink {
    const link = new RoomLink(
      {
        bus: this.#bus,
        redis: this.#redis.publisher,
        nodeId: this.nodeId,
        epoch: this.registry.startedAt,
        isAlive: (nodeId) => this.registry.isAlive(nodeId),
        pipeListen: { ip: this.#options.listenIp, announcedAddress: this.#options.config.pipeAddress },
        linked: (roomId) => this.#links.has(roomId),
      },
      room,
    );
    this.#links.set(room.id, { room, link });
    room.once('close', () => {
      if (this.#links.get(room.id)?.link === link) this.#links.delete(room.id);
      link.close();
    });
    return link;
  }

  async #answer(from: string, method: string, data: unknown): Promise<unknown> {
    if (!(method in schemas)) throw badRequest(`unknown node request ${method.slice(0, 50)}`);
    const parsed = schemas[method as Method].safeParse(data);
    if (!parsed.success) throw badRequest(`malformed ${method} from node ${from}`);
    const request = parsed.data;
    const linked = this.#links.get(request.roomId);
    if (!linked) {
      if (method === 'roomPeers') return { peers: [], n: 0 };
      throw notFound(`room ${request.roomId} has nobody on node ${this.nodeId}`);
    }
    const { room, link } = linked;
    switch (method as Method) {
      case 'roomPeers':
        return link.snapshot();
      case 'pipeOpen': {
        const { ip, port, srtpParameters } = request as z.infer<(typeof schemas)['pipeOpen']>;
        return link.pipeOpen(from, {
          ip,
          port,
          srtpParameters: srtpParameters as Parameters<RoomLink['pipeOpen']>[1]['srtpParameters'],
        });
      }
      case 'pipeProducer':
        return link.pipeProducer(from, request as z.infer<(typeof schemas)['pipeProducer']>);
      case 'pipeClose':
        await link.pipeClose(from, (request as z.infer<(typeof schemas)['pipeClose']>).transportId);
        return {};
      case 'wantLayer': {
        const { producerId, spatialLayer } = request as z.infer<(typeof schemas)['wantLayer']>;
        await link.wantLayer(from, producerId, spatialLayer);
        return {};
      }
      case 'mute':
        await this.#options.hostActions.mute(room, request as z.infer<(typeof schemas)['mute']>);
        return {};
      case 'lobbyDecision': {
        const { peerId, admit, reason } = request as z.infer<(typeof schemas)['lobbyDecision']>;
        const waiting = room.hosts.waiting(peerId);
        if (!waiting || waiting.closed) throw notFound(`participant ${peerId} is not waiting in the lobby`);
        if (admit) room.hosts.admit(waiting);
        else room.hosts.refuse(waiting, reason);
        return {};
      }
      case 'lowerHand':
        room.hosts.lowerHand((request as z.infer<(typeof schemas)['lowerHand']>).peerId);
        return {};
    }
  }

  async close(): Promise<void> {
    for (const { room } of [...this.#links.values()]) room.close();
    await this.registry.stop();
    this.#bus.close();
    this.#redis.publisher.disconnect();
    this.#redis.subscriber.disconnect();
  }
}

/** A Redis URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'REDIS_URL';
  }
}
