// One connected person in a room: their signaling peer, who they are, their presence, and
// (in the call) their media. A participant's requests run one at a time, in the order they
// arrived, after a rate limit and with a bounded backlog; so every check a request makes
// (a cap, "still here", "still in the call") holds for the whole request, and pipelining
// cannot get around it.
import type { types } from 'mediasoup';
import type { Peer as ProtooPeer } from 'protoo-server';
import type { FastifyBaseLogger } from 'fastify';
import {
  ErrorCode,
  typingIntervalMs,
  validateRequest,
  type NotificationData,
  type NotificationMethod,
  type PeerInfo,
  type PeerStatus,
  type RequestData,
  type Role,
} from '@meet/protocol';
import type { IdentityInfo } from '../auth/identity.js';
import { SignalingError, conflict, tooMany } from '../signaling/errors.js';
import type { Room } from '../room/room.js';
import { SerialQueue, TokenBucket, type ParticipantLimits } from './limits.js';
import type { RoomRouter } from '../room/room-router.js';
import { ParticipantMedia, type Consumer, type Producer, type Transport } from './participant-media.js';
import { handlers, allowedBeforeJoin } from './requests.js';

const noMedia = new Map<string, never>();
/** Requests that spend the chat rate (ParticipantLimits.chatPerSecond). */
const chatRated = new Set<string>(['chatSend', 'chatReact', 'chatSearch']);

/** What a participant does with its websocket besides protoo's requests and notifications. */
export interface ParticipantSocket {
  /** Closes it with a reason the browser sees. */
  close(reason: string): void;
  /** Sends a protoo message already serialized. */
  sendText(text: string): Promise<void>;
}

export class Participant {
  readonly id: string;
  readonly identity: IdentityInfo;
  readonly log: FastifyBaseLogger;
  readonly room: Room;
  readonly limits: ParticipantLimits;
  displayName: string | undefined;
  /** Tab hidden or idle, as the browser reports. */
  away = false;
  /** Set busy by the person (do not disturb): shown to others, no push. */
  busy = false;
  joined = false;
  /** Host or member of the room (its membership's role, as of the join and later changes). */
  role: Role = 'member';
  /** Let in by a host while waiting in a locked room's lobby: its next join gets in. */
  admitted = false;
  rtpCapabilities: types.RtpCapabilities | undefined;
  readonly #protoo: ProtooPeer;
  readonly #socket: ParticipantSocket;
  readonly #queue: SerialQueue;
  readonly #requestRate: TokenBucket;
  readonly #chatRate: TokenBucket;
  /** When this participant's typing was last passed on, per target ('' = the room). */
  readonly #typingAt = new Map<string, number>();
  /** In the call (asked for media transports and did not leave the call). */
  #inCall = false;
  #media: ParticipantMedia | undefined;
  /** It set a view once: media made after a reset or a new call waits for its next view. */
  #viewed = false;
  /** The presence last told to the room (to notify changes only). */
  #announced: string | undefined;
  #joinTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    room: Room,
    protoo: ProtooPeer,
    identity: IdentityInfo,
    log: FastifyBaseLogger,
    limits: ParticipantLimits,
    /** Its socket, for a close with a reason and for prebuilt frames. */
    socket: ParticipantSocket,
  ) {
    this.id = protoo.id;
    this.room = room;
    this.identity = identity;
    this.log = log;
    this.limits = limits;
    this.#protoo = protoo;
    this.#socket = socket;
    this.#queue = new SerialQueue(limits.pendingRequests);
    this.#requestRate = new TokenBucket(limits.requestsPerSecond, limits.requestBurst);
    this.#chatRate = new TokenBucket(limits.chatPerSecond, limits.chatBurst);
    // A connection that never joins holds a socket and a room: it is closed after a while.
    this.startJoinTimer();
    protoo.on('close', () => clearTimeout(this.#joinTimer));
    protoo.on('request', (request, accept, reject) => {
      this.#request(request.method, request.data).then(
        (response) => {
          room.metrics.signalingRequest(request.method, 200);
          accept(response);
        },
        (error: unknown) => {
          const code = error instanceof SignalingError ? error.code : ErrorCode.Internal;
          room.metrics.signalingRequest(request.method, code);
          reject(code, (error as Error).message);
        },
      );
    });
  }

  /** Its socket closed, or it was removed from the room. */
  get closed(): boolean {
    return this.#protoo.closed;
  }

  get isHost(): boolean {
    return this.role === 'host';
  }

  get inCall(): boolean {
    return this.#inCall;
  }

  /** Its media in the call, when it has any. */
  get media(): ParticipantMedia | undefined {
    return this.#media && !this.#media.closed ? this.#media : undefined;
  }

  get transports(): ReadonlyMap<string, Transport> {
    return this.media?.transports ?? noMedia;
  }

  get producers(): ReadonlyMap<string, Producer> {
    return this.media?.producers ?? noMedia;
  }

  get consumers(): ReadonlyMap<string, Consumer> {
    return this.media?.consumers ?? noMedia;
  }

  /**
   * Whether a typing indicator for this target is due to be passed on: at most one per
   * typingIntervalMs (a client repeating it faster costs the others nothing).
   */
  typingDue(target: string, now = Date.now()): boolean {
    const last = this.#typingAt.get(target);
    if (last !== undefined && now - last < typingIntervalMs - 250) return false;
    if (this.#typingAt.size >= 64 && last === undefined) this.#typingAt.clear();
    this.#typingAt.set(target, now);
    return true;
  }

  async #request(method: string, data: unknown): Promise<unknown> {
    const wait = this.#requestRate.take();
    if (wait > 0)
      throw tooMany(
        `too many requests (at most ${this.limits.requestsPerSecond} a second); retry after ${wait} ms`,
      );
    if (this.#queue.full)
      throw tooMany(`too many requests waiting (at most ${this.limits.pendingRequests}); wait for answers`);
    const valid = validateRequest(method, data);
    if (!valid.ok) {
      this.log.debug({ method, reason: valid.reason }, 'request refused');
      throw new SignalingError(valid.code, valid.reason);
    }
    const { method: m, data: d } = valid.data;
    if (chatRated.has(m)) {
      // Sends, reactions (both told to the whole room) and searches (a query each) share one.
      const chatWait = this.#chatRate.take();
      if (chatWait > 0)
        throw tooMany(
          `too many ${m === 'chatSend' ? 'messages' : 'chat requests'} (at most ${this.limits.chatPerSecond} a second); retry after ${chatWait} ms`,
        );
    }
    return this.#queue.run(async () => {
      if (this.closed) throw conflict('disconnected');
      if (!this.joined && !allowedBeforeJoin.has(m))
        throw new SignalingError(403, `join the room before ${m}`);
      const handler = handlers[m] as (participant: Participant, data: unknown) => unknown;
      try {
        return await handler(this, d);
      } catch (error) {
        if (error instanceof SignalingError) {
          this.log.debug({ method: m, code: error.code, reason: error.message }, 'request refused');
          throw error;
        }
        this.log.error({ method: m, err: error }, 'request failed');
        throw new SignalingError(ErrorCode.Internal, `${m} failed on the server`);
      }
    });
  }

  /**
   * The participant's media set on the room's current media, made (with the room's router)
   * when it first needs one, and again after a reset. Checks "still here" after the await.
   */
  async ensureMedia(): Promise<ParticipantMedia> {
    if (this.media) return this.media;
    const unavailable = (error: unknown) => {
      // No live worker (all restarting) or the room closing: not the client's doing, and
      // it may work in a moment.
      this.log.warn({ err: error }, 'no media for this room');
      return new SignalingError(
        ErrorCode.Unavailable,
        'the media server is not available: try again shortly',
      );
    };
    let roomMedia;
    let place;
    try {
      roomMedia = await this.room.ensureMedia();
      place = await roomMedia.place(this.id);
    } catch (error) {
      throw unavailable(error);
    }
    if (this.closed || !this.joined || this.media) {
      roomMedia.leave(this.id, place);
      if (this.media) return this.media;
      throw conflict('left the room meanwhile');
    }
    this.log.debug({ worker: place.workerIndex, router: place.id }, 'media placed');
    this.#media = new ParticipantMedia(
      roomMedia,
      place,
      this.id,
      this.limits,
      {
        announce: (method, data) => this.room.broadcast(method, data, this.id),
        tell: (method, data) => this.notify(method, data),
        transportCreated: (transport) =>
          this.room.metrics.watchTransport(transport, {
            peerConnected: () => !this.closed,
            connectRequested: () => transport.appData.connected === true,
          }),
      },
      this.#viewed,
    );
    return this.#media;
  }

  /** From now on it must join within the join timeout (on connecting; when admitted). */
  startJoinTimer(): void {
    clearTimeout(this.#joinTimer);
    this.#joinTimer = setTimeout(() => {
      this.log.info({ joinTimeoutMs: this.limits.joinTimeoutMs }, 'did not join in time: disconnected');
      this.disconnect();
    }, this.limits.joinTimeoutMs);
    this.#joinTimer.unref();
  }

  /** It joined (or is waiting in the lobby): the join timeout no longer applies. */
  stopJoinTimer(): void {
    clearTimeout(this.#joinTimer);
    this.#joinTimer = undefined;
  }

  /** Marks the participant as in the call (it asked for transports); tells the room. */
  enterCall(): void {
    this.#inCall = true;
    this.room.refreshPresence(this);
  }

  /** What it shows now (setView): only with media (in the call). */
  async setView(tiles: RequestData<'setView'>['tiles']): Promise<void> {
    const media = this.media;
    if (!media) throw conflict('not in the call: set the view once a transport is created');
    this.#viewed = true;
    await media.setView(tiles);
  }

  /** Leaves the call, staying in the room's chat: every transport closes. */
  leaveCall(): void {
    this.#inCall = false;
    this.#closeMedia();
    this.room.refreshPresence(this);
  }

  /**
   * The room's media, or the router this participant's media was on, was lost (its worker
   * died): what the participant held is gone; it stays in the room and in the call, and is
   * told to set its media up again. With `router`, only if its media was on that one.
   */
  resetMedia(reason: string, router?: RoomRouter): void {
    if (!this.#media || (router && this.#media.place !== router)) return;
    this.#closeMedia();
    // Also to someone still setting the call up (no transport yet): it starts again.
    const producers = this.room
      .peersOf(this)
      .flatMap((other) => other.producers.map((info) => ({ peerId: other.id, ...info })));
    this.notify('mediaReset', { reason, producers });
  }

  presence(): { status: PeerStatus; inCall: boolean } {
    const status = this.busy ? 'busy' : this.away ? 'away' : this.#inCall ? 'call' : 'text';
    return { status, inCall: this.#inCall };
  }

  /** Whether the room must be told of a presence change (and remembers what it was told). */
  presenceChanged(): boolean {
    const { status, inCall } = this.presence();
    const key = `${status}/${inCall}`;
    if (key === this.#announced) return false;
    this.#announced = key;
    return true;
  }

  info(): PeerInfo {
    return {
      id: this.id,
      identityId: this.identity.id,
      displayName: this.displayName ?? '',
      ...this.presence(),
      role: this.role,
      producers: this.media?.producerInfos() ?? [],
    };
  }

  /** Sends a notification; a participant whose socket just closed is skipped silently. */
  notify<M extends NotificationMethod>(method: M, data: NotificationData<M>): void {
    if (this.#protoo.closed) return;
    this.#protoo
      .notify(method, data)
      .catch((err: unknown) => this.log.debug({ err, method }, 'notification not sent'));
  }

  /**
   * Sends a notification serialized beforehand (chat-announce.ts: one frame for everyone who
   * gets the same messages). `method` is for the log.
   */
  notifyFrame(method: NotificationMethod, frame: string): void {
    if (this.#protoo.closed) return;
    this.#socket
      .sendText(frame)
      .catch((err: unknown) => this.log.debug({ err, method }, 'notification not sent'));
  }

  /** Closes the socket (with a reason the browser sees); the room then removes the participant. */
  disconnect(reason?: string): void {
    if (reason !== undefined && !this.#protoo.closed) this.#socket.close(reason);
    else this.#protoo.close();
  }

  /** Called by the room once the socket closed: the media goes. */
  closeMedia(): void {
    this.#closeMedia();
  }

  #closeMedia(): void {
    this.#media?.close();
    this.#media = undefined;
  }
}
