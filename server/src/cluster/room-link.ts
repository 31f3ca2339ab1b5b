// One room's tie to the other nodes of the cluster, on a node with participants in it.
// - Every node keeps its own Room for its own connections; what one node's room tells its
//   participants (joins, leaves, presence, producers, host changes) it also publishes on the
//   room's channel, numbered, and the others deliver it to theirs.
// - From those events each node keeps a mirror of the participants connected elsewhere
//   (RemotePeer), which the join answer lists, and an index of their producers, which
//   RoomMedia pipes in from their node (NodePipes) when someone here consumes one.
// - On start, a node asks every node in the room's directory (`meet:room:<id>:nodes`) for
//   its participants; events from a node that arrive before its answer wait, and those the
//   answer already covers (by number) are dropped.
// - When a node is gone, its participants leave the mirror (peerLeft here), and every pipe
//   to it closes.
import type { Redis } from 'ioredis';
import type {
  ChatMessage,
  LobbyEntry,
  NotificationData,
  NotificationMethod,
  PeerInfo,
  RaisedHand,
  Role,
} from '@meet/protocol';
import type { OrderedBatch } from '../chat/chat-order.js';
import type { Room } from '../room/room.js';
import type { RemoteProducers } from '../room/room-media.js';
import { notFound } from '../signaling/errors.js';
import type { ClusterBus } from './bus.js';
import { NodePipes, type PipeEnd, type PipeListen } from './node-pipes.js';

/** What a node tells the others about a room, in its order. */
export type RoomEvent =
  | { t: 'notify'; method: NotificationMethod; data: unknown; exceptId?: string | undefined }
  | { t: 'chat'; batch: OrderedBatch }
  | { t: 'chatUpdated'; message: ChatMessage; exceptId?: string | undefined }
  | { t: 'typing'; data: NotificationData<'peerTyping'>; recipientId?: string | undefined }
  | { t: 'endMeeting'; reason: string }
  | { t: 'removeIdentity'; identityId: string; reason: string }
  | { t: 'endSession'; sessionId: string; reason: string }
  | { t: 'setRole'; identityId: string; role: Role }
  | { t: 'lobby'; entries: LobbyEntry[] }
  | { t: 'hands'; hands: RaisedHand[] }
  /** The sender reconnected to Redis: ask it again who is there. */
  | { t: 'hello' };

/** A room event as published: numbered in its node's run (`epoch`: when that run started). */
interface Envelope {
  n: number;
  epoch: string;
  event: RoomEvent;
}

export interface RoomSnapshot {
  epoch: string;
  peers: PeerInfo[];
  lobby: LobbyEntry[];
  hands: RaisedHand[];
  /** The number of the last event this node published for the room. */
  n: number;
}

interface RemotePeer {
  nodeId: string;
  info: PeerInfo;
}

/** What the link needs of the node. */
export interface LinkContext {
  bus: ClusterBus;
  redis: Redis;
  nodeId: string;
  /** This node's start time: events and snapshots carry it, so a restart is told apart. */
  epoch: string;
  isAlive(nodeId: string): Promise<boolean>;
  pipeListen: PipeListen;
  /** Whether this node has a (newer) link for the room again. */
  linked(roomId: string): boolean;
}

export const roomNodesKey = (roomId: string) => `meet:room:${roomId}:nodes`;

export class RoomLink {
  readonly #context: LinkContext;
  readonly #room: Room;
  readonly pipes: NodePipes;
  readonly ready: Promise<void>;
  readonly #peers = new Map<string, RemotePeer>();
  /** Other nodes' producers: id → owner and node. */
  readonly #producers = new Map<string, { peerId: string; nodeId: string }>();
  /** Events published for this room by this node. */
  #published = 0;
  /** Per node: the run (epoch) heard from, and the number of its last event applied here. */
  readonly #applied = new Map<string, { epoch: string; n: number }>();
  /** Per node whose snapshot is awaited: its events meanwhile. */
  readonly #waiting = new Map<string, Envelope[]>();
  #closed = false;

  constructor(context: LinkContext, room: Room) {
    this.#context = context;
    this.#room = room;
    this.pipes = new NodePipes(context.bus, room.id, context.pipeListen);
    this.ready = this.#start();
    // The room waits for it before its first join answer; a failure is logged there.
    this.ready.catch(() => undefined);
  }

  async #start(): Promise<void> {
    const { bus } = this.#context;
    await bus.joinRoom(this.#room.id, (envelope, from) => this.#onEvent(from, envelope as Envelope));
    await this.#syncWithAll();
  }

  /** Enters the room's directory and asks every other node in it who is there. */
  async #syncWithAll(): Promise<void> {
    const { redis, nodeId } = this.#context;
    await redis.sadd(roomNodesKey(this.#room.id), nodeId);
    const others = (await redis.smembers(roomNodesKey(this.#room.id))).filter((id) => id !== nodeId);
    // Nodes this one still mirrors but that left the directory (dropped while Redis was away).
    const mirrored = new Set([...this.#peers.values()].map((peer) => peer.nodeId));
    for (const node of mirrored)
      if (!others.includes(node) && !(await this.#context.isAlive(node))) this.nodeGone(node);
    await Promise.all(others.map((other) => this.#syncWith(other)));
  }

  /**
   * Asks one node who is on it and makes the mirror match, telling this node's participants
   * what changed; its events meanwhile wait, and those the answer covers are dropped.
   */
  async #syncWith(other: string): Promise<void> {
    const { bus, redis } = this.#context;
    if (!(await this.#context.isAlive(other))) {
      await redis.srem(roomNodesKey(this.#room.id), other);
      this.nodeGone(other);
      return;
    }
    if (this.#waiting.has(other)) return;
    this.#waiting.set(other, []);
    try {
      const snapshot = await bus.request<RoomSnapshot>(other, 'roomPeers', { roomId: this.#room.id }, 3000);
      this.#newRun(other, snapshot.epoch);
      this.#replacePeersOf(other, snapshot.peers);
      this.#room.hosts.fromNode(other, { lobby: snapshot.lobby, hands: snapshot.hands });
      this.#applied.set(other, { epoch: snapshot.epoch, n: snapshot.n });
    } catch (err) {
      this.#room.log.warn({ err, node: other }, 'a node of the room did not say who is on it');
    } finally {
      const waited = this.#waiting.get(other) ?? [];
      this.#waiting.delete(other);
      for (const envelope of waited) this.#onEvent(other, envelope);
    }
  }

  /**
   * Redis came back after a disconnection: room events may have been lost both ways. This
   * node asks the others again, and tells them to ask it (`hello`).
   */
  resync(): void {
    if (this.#closed) return;
    this.publish({ t: 'hello' });
    this.#syncWithAll().catch((err: unknown) =>
      this.#room.log.warn({ err }, 'the room could not resync with the other nodes'),
    );
  }

  /** Tells the other nodes (numbered, in this node's order). */
  publish(event: RoomEvent): void {
    if (this.#closed) return;
    this.#published += 1;
    const envelope: Envelope = { n: this.#published, epoch: this.#context.epoch, event };
    this.#context.bus.publish(this.#room.id, envelope);
  }

  /** This node's participants, for a node that starts hearing the room. */
  snapshot(): RoomSnapshot {
    return {
      peers: this.#room.joinedParticipants().map((p) => p.info()),
      lobby: this.#room.hosts.localLobby(),
      hands: this.#room.hosts.localHands(),
      epoch: this.#context.epoch,
      n: this.#published,
    };
  }

  /** Participants connected to other nodes. */
  remotePeers(): PeerInfo[] {
    return [...this.#peers.values()].map((peer) => peer.info);
  }

  remotePeer(peerId: string): { nodeId: string; info: PeerInfo } | undefined {
    return this.#peers.get(peerId);
  }

  /** How RoomMedia reaches other nodes' producers. */
  readonly remoteProducers: RemoteProducers = {
    ownerOf: (producerId) => this.#producers.get(producerId)?.peerId,
    pipeIn: (producerId, home) => {
      const owner = this.#producers.get(producerId);
      if (!owner) return Promise.reject(notFound(`producer ${producerId} is not in this room`));
      return this.pipes.pipeIn(owner.nodeId, producerId, home);
    },
    want: (producerId, spatialLayer) => {
      const owner = this.#producers.get(producerId);
      if (!owner) return;
      this.#context.bus
        .request(owner.nodeId, 'wantLayer', { roomId: this.#room.id, producerId, spatialLayer })
        .catch((err: unknown) => this.#room.log.debug({ err, producerId }, 'wanted layer not told'));
    },
  };

  /** Asks the node a participant is connected to to act for a host here (its answer, or its refusal). */
  ask(
    nodeId: string,
    ...[method, data]:
      | ['mute', { roomId: string; peerId: string; source: 'mic' | 'webcam'; by: string }]
      | ['lobbyDecision', { roomId: string; peerId: string; admit: boolean; reason: string }]
      | ['lowerHand', { roomId: string; peerId: string }]
  ): Promise<unknown> {
    return this.#context.bus.request(nodeId, method, data);
  }

  /** Another node opens a media pipe with this one. */
  async pipeOpen(from: string, end: PipeEnd) {
    const media = await this.#room.currentMedia();
    const home = media?.home;
    if (!home) throw notFound(`room ${this.#room.id} has no media on node ${this.#context.nodeId}`);
    return this.pipes.open(from, end, home);
  }

  /** Another node asks for one of this node's producers. */
  async pipeProducer(from: string, request: { producerId: string; transportId: string }) {
    const media = await this.#room.currentMedia();
    if (!media) throw notFound(`room ${this.#room.id} has no media on node ${this.#context.nodeId}`);
    return this.pipes.export(from, request, media);
  }

  /** Another node closed its end of a pipe: what it wanted of the producers on it goes. */
  async pipeClose(from: string, transportId: string): Promise<void> {
    const producers = this.pipes.closeExported(from, transportId);
    const media = await this.#room.currentMedia();
    for (const producerId of producers) media?.wantLayer(producerId, `node:${from}`, -1);
  }

  /** What another node's viewers want of one of this node's video producers. */
  async wantLayer(from: string, producerId: string, spatialLayer: number): Promise<void> {
    const media = await this.#room.currentMedia();
    if (media?.findOwnProducer(producerId)) media.wantLayer(producerId, `node:${from}`, spatialLayer);
  }

  #onEvent(from: string, envelope: Envelope): void {
    if (this.#closed) return;
    const waiting = this.#waiting.get(from);
    if (waiting) {
      waiting.push(envelope);
      return;
    }
    const { n, epoch, event } = envelope;
    this.#newRun(from, epoch);
    const applied = this.#applied.get(from);
    if (applied && n <= applied.n) return;
    this.#applied.set(from, { epoch, n });
    this.#apply(from, event);
  }

  /**
   * A node heard from in a new run (it restarted under the same id, perhaps before the
   * registry noticed): what its previous run had here is gone.
   */
  #newRun(nodeId: string, epoch: string): void {
    const applied = this.#applied.get(nodeId);
    if (applied && applied.epoch !== epoch) this.#forget(nodeId);
  }

  #apply(from: string, event: RoomEvent): void {
    const room = this.#room;
    switch (event.t) {
      case 'notify':
        this.#mirror(from, event.method, event.data);
        room.deliver(event.method, event.data as never, event.exceptId);
        return;
      case 'chat':
        room.chat.receive(event.batch);
        return;
      case 'chatUpdated':
        room.deliverChat(event.message, event.exceptId);
        return;
      case 'typing':
        room.deliverTyping(event.data, event.recipientId);
        return;
      case 'endMeeting':
        room.endMeeting(event.reason, { told: true });
        return;
      case 'removeIdentity':
        for (const connection of room.participantsOf(event.identityId)) {
          connection.notify('removed', { reason: event.reason });
          connection.disconnect(event.reason);
        }
        return;
      case 'endSession':
        room.deliverEndSession(event.sessionId, event.reason);
        return;
      case 'setRole':
        room.applyRole(event.identityId, event.role);
        return;
      case 'lobby':
        room.hosts.fromNode(from, { lobby: event.entries });
        return;
      case 'hands':
        room.hosts.fromNode(from, { hands: event.hands });
        return;
      case 'hello':
        void this.#syncWith(from);
        return;
    }
  }

  /** Keeps the mirror of other nodes' participants and producers up to date. */
  #mirror(from: string, method: NotificationMethod, data: unknown): void {
    switch (method) {
      case 'peerJoined': {
        const info = data as NotificationData<'peerJoined'>;
        this.#addPeer(from, { ...info, producers: this.#peers.get(info.id)?.info.producers ?? [] });
        return;
      }
      case 'peerLeft':
        this.#removePeer((data as NotificationData<'peerLeft'>).peerId);
        return;
      case 'peerStatus': {
        const { peerId, status, inCall } = data as NotificationData<'peerStatus'>;
        const peer = this.#peers.get(peerId);
        if (peer) peer.info = { ...peer.info, status, inCall };
        return;
      }
      case 'roleChanged': {
        const { peerId, role } = data as NotificationData<'roleChanged'>;
        const peer = this.#peers.get(peerId);
        if (peer) peer.info = { ...peer.info, role };
        return;
      }
      case 'newProducer': {
        const { peerId, ...producer } = data as NotificationData<'newProducer'>;
        const peer = this.#peers.get(peerId);
        if (!peer) return;
        peer.info.producers = [...peer.info.producers.filter((p) => p.id !== producer.id), producer];
        this.#producers.set(producer.id, { peerId, nodeId: peer.nodeId });
        return;
      }
      case 'producerClosed': {
        const { peerId, producerId } = data as NotificationData<'producerClosed'>;
        const peer = this.#peers.get(peerId);
        if (peer) peer.info.producers = peer.info.producers.filter((p) => p.id !== producerId);
        this.#producers.delete(producerId);
        void this.#room.currentMedia().then((m) => m?.closeImported(producerId));
        return;
      }
      case 'producerPaused':
      case 'producerResumed': {
        const { peerId, producerId } = data as NotificationData<'producerPaused'>;
        const paused = method === 'producerPaused';
        const peer = this.#peers.get(peerId);
        if (peer)
          peer.info.producers = peer.info.producers.map((p) => (p.id === producerId ? { ...p, paused } : p));
        void this.#room.currentMedia().then((m) => m?.setImportedPaused(producerId, paused));
        return;
      }
      case 'roomLocked': {
        const { locked } = data as NotificationData<'roomLocked'>;
        this.#room.hosts.locked = locked;
        if (!locked) this.#room.hosts.admitEveryone();
        return;
      }
      default:
        return;
    }
  }

  /**
   * Makes the mirror of one node's participants `peers`, and tells this node's participants
   * the difference as the events they missed would have (left, joined, producers, status).
   */
  #replacePeersOf(nodeId: string, peers: PeerInfo[]): void {
    const room = this.#room;
    const now = new Map(peers.map((info) => [info.id, info]));
    for (const [peerId, peer] of [...this.#peers])
      if (peer.nodeId === nodeId && !now.has(peerId) && this.#removePeer(peerId))
        room.deliver('peerLeft', { peerId });
    for (const info of peers) {
      const before = this.#peers.get(info.id)?.info;
      const { producers, ...peer } = info;
      if (!before) room.deliver('peerJoined', peer);
      else {
        if (before.status !== info.status || before.inCall !== info.inCall)
          room.deliver('peerStatus', { peerId: info.id, status: info.status, inCall: info.inCall });
        if (before.role !== info.role) room.deliver('roleChanged', { peerId: info.id, role: info.role });
        for (const gone of before.producers.filter((p) => !producers.some((q) => q.id === p.id))) {
          this.#producers.delete(gone.id);
          void room.currentMedia().then((m) => m?.closeImported(gone.id));
          room.deliver('producerClosed', { peerId: info.id, producerId: gone.id });
        }
      }
      for (const producer of producers) {
        const old = before?.producers.find((p) => p.id === producer.id);
        if (!old) room.deliver('newProducer', { peerId: info.id, ...producer });
        else if (old.paused !== producer.paused) {
          void room.currentMedia().then((m) => m?.setImportedPaused(producer.id, producer.paused));
          room.deliver(producer.paused ? 'producerPaused' : 'producerResumed', {
            peerId: info.id,
            producerId: producer.id,
          });
        }
      }
      this.#addPeer(nodeId, info);
    }
  }

  #addPeer(nodeId: string, info: PeerInfo): void {
    this.#peers.set(info.id, { nodeId, info });
    for (const producer of info.producers) this.#producers.set(producer.id, { peerId: info.id, nodeId });
  }

  #removePeer(peerId: string): boolean {
    const peer = this.#peers.get(peerId);
    if (!peer) return false;
    this.#peers.delete(peerId);
    for (const producer of peer.info.producers) {
      this.#producers.delete(producer.id);
      void this.#room.currentMedia().then((m) => m?.closeImported(producer.id));
    }
    return true;
  }

  /**
   * A node of the cluster is gone (or, `restarted`, its run of `epoch` is): its participants
   * left, and every pipe with it closes. A restarted node keeps its directory entry, and a
   * run already replaced here by the new one is not forgotten twice.
   */
  nodeGone(nodeId: string, { epoch, restarted = false }: { epoch?: string; restarted?: boolean } = {}): void {
    if (this.#closed) return;
    const applied = this.#applied.get(nodeId);
    if (epoch !== undefined && applied && applied.epoch !== epoch) return;
    if (!restarted) this.#waiting.delete(nodeId);
    this.#forget(nodeId);
    if (!restarted) this.#context.redis.srem(roomNodesKey(this.#room.id), nodeId).catch(() => undefined);
  }

  /** Drops what a node's run had here (participants, lobby, hands, pipes, wanted layers). */
  #forget(nodeId: string): void {
    this.#applied.delete(nodeId);
    for (const [peerId, peer] of [...this.#peers]) {
      if (peer.nodeId !== nodeId) continue;
      this.#removePeer(peerId);
      this.#room.deliver('peerLeft', { peerId });
    }
    this.#room.hosts.fromNode(nodeId, { lobby: [], hands: [] });
    const exported = this.pipes.exportedTo(nodeId);
    this.pipes.nodeGone(nodeId);
    void this.#room.currentMedia().then((media) => {
      for (const producerId of exported) media?.wantLayer(producerId, `node:${nodeId}`, -1);
    });
  }

  /** The room closed on this node. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.pipes.close();
    const { bus, redis, nodeId } = this.#context;
    void this.ready
      .catch(() => undefined)
      .then(() => {
        // The room may have opened here again meanwhile: it keeps the channel and its entry.
        if (this.#context.linked(this.#room.id)) return;
        return Promise.all([bus.leaveRoom(this.#room.id), redis.srem(roomNodesKey(this.#room.id), nodeId)]);
      })
      .catch(() => undefined);
  }
}
