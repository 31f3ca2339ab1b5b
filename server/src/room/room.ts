// A room: one mediasoup router on one worker, a protoo room for signaling, and its peers.
// When the router's worker dies the room tells every peer (roomReset), disconnects them
// and closes; their browsers reconnect and the room is rebuilt on a live worker.
import { EventEmitter } from 'node:events';
import protoo from 'protoo-server';
import type { Room as ProtooRoom, ProtooTransport } from 'protoo-server';
import type { types } from 'mediasoup';
import type { FastifyBaseLogger } from 'fastify';
import type { MediaWorkerPool } from '@meet/media-worker';
import type { ChatMessage, NotificationData, NotificationMethod, ResponseData } from '@meet/protocol';
import type { IdentityInfo } from '../auth/identity.js';
import type { Db } from '../db/database.js';
import type { ServerMetrics } from '../metrics/registry.js';
import { canSee } from '../chat/messages.js';
import { createPeer, closePeerMedia, notify, presence, presenceKey, type Peer } from '../peer/peer.js';
import { handleRequest } from './requests.js';

export interface RoomOptions {
  db: Db;
  metrics: ServerMetrics;
  maxPeers: number;
  /** ICE servers (with fresh TURN credentials) and transport policy for one peer. */
  iceConfig: (peerId: string) => ResponseData<'getIceServers'>;
}

export class Room extends EventEmitter<{ close: [] }> {
  readonly id: string;
  readonly router: types.Router;
  readonly webRtcServer: types.WebRtcServer;
  readonly workerIndex: number;
  readonly log: FastifyBaseLogger;
  readonly peers = new Map<string, Peer>();
  readonly #protoo: ProtooRoom = new protoo.Room();
  readonly #options: RoomOptions;
  #closed = false;
  #chatQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    id: string,
    media: { router: types.Router; webRtcServer: types.WebRtcServer; workerIndex: number },
    log: FastifyBaseLogger,
    options: RoomOptions,
  ) {
    super();
    this.id = id;
    this.router = media.router;
    this.webRtcServer = media.webRtcServer;
    this.workerIndex = media.workerIndex;
    this.log = log;
    this.#options = options;
    this.router.on('workerclose', () => this.#onMediaLost('the media worker of this room stopped'));
  }

  static async create(
    id: string,
    pool: MediaWorkerPool,
    log: FastifyBaseLogger,
    options: RoomOptions,
  ): Promise<Room> {
    const media = await pool.createRouter({ roomId: id });
    const room = new Room(id, media, log.child({ roomId: id, worker: media.workerIndex }), options);
    room.log.info('room created');
    return room;
  }

  /** Closed, or about to close because its worker died (it takes no new peers then). */
  get closed(): boolean {
    return this.#closed || this.router.closed;
  }

  get db(): Db {
    return this.#options.db;
  }

  get metrics(): ServerMetrics {
    return this.#options.metrics;
  }

  get maxPeers(): number {
    return this.#options.maxPeers;
  }

  iceConfig(peer: Peer): ResponseData<'getIceServers'> {
    return this.#options.iceConfig(peer.id);
  }

  /** Attaches a new websocket connection as a peer of this room. */
  connect(peerId: string, transport: ProtooTransport, identity: IdentityInfo): void {
    if (this.closed) {
      transport.close();
      return;
    }
    const protooPeer = this.#protoo.createPeer(peerId, transport);
    const peer = createPeer(
      peerId,
      protooPeer,
      this.log.child({ peerId, identityId: identity.id }),
      identity,
    );
    this.peers.set(peerId, peer);
    peer.log.debug('peer connected');
    protooPeer.on('request', (request, accept, reject) => {
      handleRequest(this, peer, request.method, request.data).then(
        (response) => {
          this.metrics.signalingRequest(request.method, 200);
          accept(response);
        },
        (error: { code?: number; message?: string }) => {
          this.metrics.signalingRequest(request.method, error.code ?? 500);
          reject(error.code ?? 500, error.message ?? String(error));
        },
      );
    });
    protooPeer.on('close', () => this.#removePeer(peer));
  }

  joinedPeers(): Peer[] {
    return [...this.peers.values()].filter((peer) => peer.joined);
  }

  /** Notifies every joined peer but `exceptPeerId`. */
  broadcast<M extends NotificationMethod>(method: M, data: NotificationData<M>, exceptPeerId?: string): void {
    for (const peer of this.peers.values()) {
      if (peer.joined && peer.id !== exceptPeerId) notify(peer, method, data);
    }
  }

  /**
   * Runs chat writes of this room one after another, so that messages are stored (get
   * their seq) and announced in the same order: with a connection pool, concurrent sends
   * would otherwise commit and broadcast in any order.
   */
  serializeChat<T>(write: () => Promise<T>): Promise<T> {
    const run = this.#chatQueue.then(write, write);
    this.#chatQueue = run.catch(() => undefined);
    return run;
  }

  /** Sends a chat message (or its update) to every joined peer allowed to see it. */
  broadcastChat(
    method: 'chatMessage' | 'chatMessageUpdated',
    message: ChatMessage,
    exceptPeerId?: string,
  ): void {
    for (const peer of this.peers.values()) {
      if (peer.joined && peer.id !== exceptPeerId && canSee(message, peer.identity.id))
        notify(peer, method, { message });
    }
  }

  /** Tells the room when a peer's status (call / text / away) changed. */
  refreshStatus(peer: Peer): void {
    const key = presenceKey(peer);
    if (!peer.joined || key === peer.announcedStatus) return;
    peer.announcedStatus = key;
    this.broadcast('peerStatus', { peerId: peer.id, ...presence(peer) }, peer.id);
  }

  findProducer(producerId: string) {
    for (const owner of this.peers.values()) {
      const producer = owner.producers.get(producerId);
      if (producer) return { owner, producer };
    }
    return undefined;
  }

  /** The peer leaves: its media closes, the others are told, its socket closes. */
  leave(peer: Peer): void {
    peer.protoo.close();
  }

  #removePeer(peer: Peer): void {
    if (this.peers.get(peer.id) !== peer) return;
    this.peers.delete(peer.id);
    const wasJoined = peer.joined;
    peer.joined = false;
    closePeerMedia(peer);
    if (wasJoined) {
      this.broadcast('peerLeft', { peerId: peer.id });
      peer.log.info('peer left');
    }
    if (this.peers.size === 0) this.close();
  }

  #onMediaLost(reason: string): void {
    if (this.#closed) return;
    this.log.error({ reason }, 'room media lost; asking peers to reconnect');
    for (const peer of this.peers.values()) notify(peer, 'roomReset', { reason });
    // Let the notifications flush before the sockets close.
    setTimeout(() => this.close(), 100);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.peers.values()) closePeerMedia(peer);
    this.peers.clear();
    this.#protoo.close();
    if (!this.router.closed) this.router.close();
    this.log.info('room closed');
    this.emit('close');
  }
}
