// A room, the durable part: its participants and their signaling, membership, presence
// and chat ordering. Its media (RoomMedia: the router) is a replaceable part, made when the
// first participant needs media and rebuilt after its worker died; chat-only participants
// and every socket stay through that. A room closes when its last participant leaves.
import { EventEmitter } from 'node:events';
import protoo from 'protoo-server';
import type { Room as ProtooRoom, ProtooTransport } from 'protoo-server';
import type { types } from 'mediasoup';
import type { FastifyBaseLogger } from 'fastify';
import type { MediaWorkerPool } from '@meet/media-worker';
import type {
  ChatMessage,
  NotificationData,
  NotificationMethod,
  PeerInfo,
  ResponseData,
  Role,
} from '@meet/protocol';
import type { IdentityInfo } from '../auth/identity.js';
import type { Cluster } from '../cluster/cluster.js';
import type { RoomLink } from '../cluster/room-link.js';
import type { Db } from '../db/database.js';
import type { ServerMetrics } from '../metrics/registry.js';
import { canSee } from '../chat/messages.js';
import { RoomChat } from '../chat/room-chat.js';
import { SerialQueue, type ParticipantLimits } from '../participant/limits.js';
import { Participant } from '../participant/participant.js';
import { RoomHosts } from './hosts.js';
import { RoomMedia, type RoomMediaOptions } from './room-media.js';

export interface RoomOptions {
  db: Db;
  metrics: ServerMetrics;
  pool: MediaWorkerPool;
  maxParticipants: number;
  /** How a room spreads over workers. */
  media: RoomMediaOptions;
  limits: ParticipantLimits;
  /** ICE servers (with fresh TURN credentials) and transport policy for one participant. */
  iceConfig: (participantId: string) => ResponseData<'getIceServers'>;
  /** With several nodes: the other nodes' participants of a room reach it through this. */
  cluster?: Cluster | undefined;
  /** Messages this node stored for a room (after they were told): web push, for one. */
  onMessagesStored?: ((roomId: string, messages: readonly ChatMessage[]) => void) | undefined;
  /** Someone's status changed (busy gets no push): what caches it reads again. */
  onStatusChanged?: (() => void) | undefined;
}

/** Told by each node to its own participants: every node works them out from its own media. */
const perNode = new Set<NotificationMethod>(['activeSpeaker', 'audioLevels']);

/** A websocket close reason has at most 123 bytes (UTF-8): longer ones are cut. */
function closeReason(reason: string): string {
  let cut = reason;
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1);
  return cut;
}

export class Room extends EventEmitter<{ close: [] }> {
  readonly id: string;
  readonly log: FastifyBaseLogger;
  readonly participants = new Map<string, Participant>();
  /** The lobby and the raised hands (roles and the lock are stored with the membership). */
  readonly hosts = new RoomHosts(this);
  readonly #protoo: ProtooRoom = new protoo.Room();
  readonly #options: RoomOptions;
  #closed = false;
  /** Users of the room besides its participants (an API call posting to it): it stays open for them. */
  #holds = 0;
  /** Chat sends: stored in batches, in order, and announced per batch. */
  readonly chat: RoomChat;
  /** Host changes (roles, membership, lock), in order (see serializeHostChange). */
  readonly #hostOrder = new SerialQueue(Number.POSITIVE_INFINITY);
  /** The media being made or made (a promise, so that concurrent first callers share it). */
  #media: Promise<RoomMedia> | undefined;
  /** The same, once made: closed with the room at once. */
  #madeMedia: RoomMedia | undefined;
  /** Its tie to the other nodes with participants in it (several nodes only). */
  readonly link: RoomLink | undefined;

  constructor(id: string, log: FastifyBaseLogger, options: RoomOptions) {
    super();
    this.id = id;
    this.log = log.child({ roomId: id });
    this.#options = options;
    this.chat = new RoomChat(this);
    const link = options.cluster?.link(this);
    this.link = link;
    if (link) this.chat.spanNodes((batch) => link.publish({ t: 'chat', batch }));
  }

  /** A person here set their status: passed on to onStatusChanged. */
  statusChanged(): void {
    this.#options.onStatusChanged?.();
  }

  /** Messages this node just stored (and told): passed on to onMessagesStored. */
  messagesStored(messages: readonly ChatMessage[]): void {
    this.#options.onMessagesStored?.(this.id, messages);
  }

  /** Resolves once the room knows who is on other nodes (at once on a single node). */
  async ready(): Promise<void> {
    await this.link?.ready;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get db(): Db {
    return this.#options.db;
  }

  get metrics(): ServerMetrics {
    return this.#options.metrics;
  }

  get maxParticipants(): number {
    return this.#options.maxParticipants;
  }

  /** What every router of this server can do (the same codecs): no router needed to answer. */
  get rtpCapabilities(): types.RtpCapabilities {
    return this.#options.pool.rtpCapabilities;
  }

  iceConfig(participantId: string): ResponseData<'getIceServers'> {
    return this.#options.iceConfig(participantId);
  }

  /** The room's current media, made now if there is none (the room's first caller). */
  ensureMedia(): Promise<RoomMedia> {
    if (this.#closed) return Promise.reject(new Error(`room ${this.id} is closed`));
    if (!this.#media) {
      const creating = RoomMedia.create(
        this.#options.pool,
        this.id,
        this.#options.media,
        this.link?.remoteProducers,
      );
      this.#media = creating;
      creating.then(
        (media) => {
          this.log.info({ worker: media.home?.workerIndex }, 'room media created');
          if (this.#closed || this.#media !== creating) {
            media.close();
            return;
          }
          this.#madeMedia = media;
          media.once('lost', (reason) => this.#onMediaLost(creating, reason));
          media.on('routerLost', (router, reason) => {
            this.log.warn(
              { worker: router.workerIndex, reason },
              'a router of the room was lost; its callers set their media up again',
            );
            for (const participant of this.participants.values()) participant.resetMedia(reason, router);
          });
          this.#listenToSpeakers(media);
        },
        () => {
          if (this.#media === creating) this.#media = undefined;
        },
      );
    }
    return this.#media;
  }

  /** The dominant speaker of the call (null: nobody, or no media). */
  get activeSpeaker(): string | null {
    return this.#madeMedia?.activeSpeaker ?? null;
  }

  /** Tells the room who speaks; cameras of the active speaker go first for every viewer. */
  #listenToSpeakers(media: RoomMedia): void {
    let previous: string | null = null;
    media.on('activeSpeaker', (peerId) => {
      for (const participant of this.participants.values())
        participant.media?.speakerChanged(previous, peerId);
      previous = peerId;
      this.deliver('activeSpeaker', { peerId });
    });
    media.on('audioLevels', (levels) => this.deliver('audioLevels', { levels }));
  }

  /** The media, if it exists and is alive (for metrics and tests). */
  async currentMedia(): Promise<RoomMedia | undefined> {
    const media = await this.#media?.catch(() => undefined);
    return media && !media.closed ? media : undefined;
  }

  /**
   * Attaches a new websocket connection as a participant of this room. `resumeId` is the
   * participant this browser was before its connection dropped: if that one is still here
   * (a half-open connection not yet noticed) and is the same identity, it goes now.
   */
  connect(
    participantId: string,
    transport: ProtooTransport,
    identity: IdentityInfo,
    resumeId?: string,
  ): void {
    if (this.#closed) {
      transport.close();
      return;
    }
    const ghost = resumeId === undefined ? undefined : this.participants.get(resumeId);
    const peer = this.#protoo.createPeer(participantId, transport);
    const participant = new Participant(
      this,
      peer,
      identity,
      this.log.child({ peerId: participantId, identityId: identity.id }),
      this.#options.limits,
      {
        close: (reason) => transport.close(4000, closeReason(reason)),
        sendText: (text) => transport.sendText(text),
      },
    );
    this.participants.set(participantId, participant);
    participant.log.debug('participant connected');
    peer.on('close', () => this.#remove(participant));
    // The ghost goes once its replacement is in: were it alone, the room would close first.
    if (ghost && ghost.identity.id === identity.id) {
      ghost.log.info('replaced by its reconnection');
      ghost.disconnect();
    }
  }

  /** Joined participants connected to this node. */
  joinedParticipants(): Participant[] {
    return [...this.participants.values()].filter((participant) => participant.joined);
  }

  /** Everyone joined, on this node and on others, but `participant`. */
  peersOf(participant: Participant): PeerInfo[] {
    return [
      ...this.joinedParticipants()
        .filter((other) => other !== participant)
        .map((other) => other.info()),
      ...(this.link?.remotePeers() ?? []),
    ];
  }

  /** How many are joined, on every node. */
  joinedCount(): number {
    return this.joinedParticipants().length + (this.link?.remotePeers().length ?? 0);
  }

  /** Every connection of an identity here (joined, waiting in the lobby, or not yet joined). */
  participantsOf(identityId: string): Participant[] {
    return [...this.participants.values()].filter((participant) => participant.identity.id === identityId);
  }

  /**
   * A host ended the meeting: everyone connected (the lobby too) is told, then every socket
   * closes (after the host's request is answered); the room closes with the last one.
   */
  endMeeting(reason: string, { told = false }: { told?: boolean } = {}): void {
    if (!told) this.link?.publish({ t: 'endMeeting', reason });
    const everyone = [...this.participants.values()];
    for (const participant of everyone) participant.notify('meetingEnded', { reason });
    this.log.info({ participants: everyone.length }, 'meeting ended by a host');
    setImmediate(() => {
      for (const participant of everyone) participant.disconnect(reason);
    });
  }

  /** Notifies every joined participant but `exceptId`, on every node. */
  broadcast<M extends NotificationMethod>(method: M, data: NotificationData<M>, exceptId?: string): void {
    this.deliver(method, data, exceptId);
    if (!perNode.has(method)) this.link?.publish({ t: 'notify', method, data, exceptId });
  }

  /** Notifies every joined participant of this node but `exceptId`. */
  deliver<M extends NotificationMethod>(method: M, data: NotificationData<M>, exceptId?: string): void {
    for (const participant of this.participants.values()) {
      if (participant.joined && participant.id !== exceptId) participant.notify(method, data);
    }
  }

  /**
   * Runs the hosts' changes to roles, memberships and the lock one after another, each
   * checking who is host inside: two hosts demoting or removing each other at the same
   * moment cannot both succeed and leave the room without a host.
   */
  serializeHostChange<T>(change: () => Promise<T>): Promise<T> {
    return this.#hostOrder.run(change);
  }

  /** Sends a chat message's update to every joined participant allowed to see it, on every node. */
  broadcastChat(message: ChatMessage, exceptId?: string): void {
    this.deliverChat(message, exceptId);
    this.link?.publish({ t: 'chatUpdated', message, exceptId });
  }

  /** The same, to this node's participants. */
  deliverChat(message: ChatMessage, exceptId?: string): void {
    for (const participant of this.participants.values()) {
      if (participant.joined && participant.id !== exceptId && canSee(message, participant.identity.id))
        participant.notify('chatMessageUpdated', { message });
    }
  }

  /**
   * Someone is typing: to everyone, or privately to `recipientId`'s connections only; on
   * every node. Not stored: a typing indicator that misses someone is simply not shown.
   */
  announceTyping(from: Participant, recipientId: string | undefined): void {
    const data = { peerId: from.id, identityId: from.identity.id, private: recipientId !== undefined };
    this.deliverTyping(data, recipientId);
    this.link?.publish({ t: 'typing', data, recipientId });
  }

  /** The same, to this node's participants. */
  deliverTyping(data: NotificationData<'peerTyping'>, recipientId: string | undefined): void {
    for (const participant of this.participants.values()) {
      if (!participant.joined || participant.id === data.peerId) continue;
      if (recipientId === undefined || participant.identity.id === recipientId)
        participant.notify('peerTyping', data);
    }
  }

  /**
   * A host gave an identity a role (stored): its connections here take it, and everyone is
   * told. With `everywhere`, the other nodes do the same for theirs.
   */
  applyRole(identityId: string, role: Role, { everywhere = false }: { everywhere?: boolean } = {}): void {
    if (everywhere) this.link?.publish({ t: 'setRole', identityId, role });
    for (const connection of this.participantsOf(identityId)) {
      if (!connection.joined || connection.role === role) continue;
      connection.role = role;
      // To everyone, the person included.
      this.broadcast('roleChanged', { peerId: connection.id, role });
      if (role === 'host') this.hosts.tellLobby(connection);
    }
  }

  /**
   * Closes every connection of an identity to this room, on every node (it is no longer a
   * member), each told why.
   */
  disconnectIdentity(identityId: string, reason: string): void {
    this.link?.publish({ t: 'removeIdentity', identityId, reason });
    for (const connection of this.participantsOf(identityId)) {
      connection.notify('removed', { reason });
      connection.disconnect(reason);
    }
  }

  /**
   * Closes every connection made with one browser session (it was revoked or signed out),
   * on every node, each told why.
   */
  disconnectSession(sessionId: string, reason: string): void {
    this.link?.publish({ t: 'endSession', sessionId, reason });
    this.deliverEndSession(sessionId, reason);
  }

  /** The same, for this node's connections. */
  deliverEndSession(sessionId: string, reason: string): void {
    for (const connection of this.participants.values()) {
      if (connection.identity.sessionId !== sessionId) continue;
      connection.notify('removed', { reason });
      connection.disconnect(reason);
    }
  }

  /** Tells the room when a participant's presence (call / text / away) changed. */
  refreshPresence(participant: Participant): void {
    if (!participant.joined || !participant.presenceChanged()) return;
    this.broadcast('peerStatus', { peerId: participant.id, ...participant.presence() }, participant.id);
  }

  #remove(participant: Participant): void {
    if (this.participants.get(participant.id) !== participant) return;
    this.participants.delete(participant.id);
    const wasJoined = participant.joined;
    participant.joined = false;
    participant.closeMedia();
    this.hosts.forget(participant);
    if (wasJoined) {
      this.broadcast('peerLeft', { peerId: participant.id });
      participant.log.info('participant left');
    }
    this.#closeIfIdle();
  }

  /**
   * Keeps the room open (though nobody is connected) until the returned function is called:
   * for an HTTP API call that posts to it, so that its chat and its ties to other nodes serve
   * the message as they would a participant's.
   */
  hold(): () => void {
    this.#holds += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds -= 1;
      this.#closeIfIdle();
    };
  }

  #closeIfIdle(): void {
    if (this.participants.size === 0 && this.#holds === 0) this.close();
  }

  /** The worker died: the media part is dropped; callers are told to set theirs up again. */
  #onMediaLost(lost: Promise<RoomMedia>, reason: string): void {
    if (this.#media !== lost) return;
    const hadSpeaker = this.activeSpeaker !== null;
    this.#media = undefined;
    this.#madeMedia = undefined;
    if (hadSpeaker) this.broadcast('activeSpeaker', { peerId: null });
    this.log.warn({ reason }, 'room media lost; callers set their media up again');
    for (const participant of this.participants.values()) participant.resetMedia(reason);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.chat.close();
    for (const participant of this.participants.values()) participant.closeMedia();
    this.participants.clear();
    this.#protoo.close();
    // Media still being made is closed when it is (see ensureMedia).
    this.#madeMedia?.close();
    this.#madeMedia = undefined;
    this.#media = undefined;
    this.log.info('room closed');
    this.emit('close');
  }
}
