// One participant's session in a room: the signaling connection (join, reconnect), the
// room's chat and host controls, and, in call mode, the call's media: MediaTransports
// (transports.ts), what we send (Publisher) and what we receive (Receiver). Reactive
// ($state) for the room page, which composes these parts.
import { Device } from 'mediasoup-client';
import type { types as ms } from 'mediasoup-client';
import type { MutableSource, NotificationData } from '@meet/protocol';
import { Attention } from '../chat/attention.svelte.js';
import { RoomChat } from '../chat/chat.svelte.js';
import { RoomInfo } from '../rooms/room-info.svelte.js';
import { ConnectionHealth } from './connection-health.svelte.js';
import { HostControls } from './hosts.svelte.js';
import { Publisher, type PublisherOptions } from './publisher.svelte.js';
import { Receiver, type MediaStatsSample, type RemotePeer } from './receiver.svelte.js';
import { retryable } from './retry.js';
import { Signaling } from './signaling.js';
import { MediaTransports } from './transports.js';

export type { MediaStatsSample, Quality, RemoteMedia, RemotePeer, VideoSource } from './receiver.svelte.js';

/** 'waiting': in a locked room's lobby; 'ended': removed, refused or the meeting ended. */
export type CallStatus = 'connecting' | 'waiting' | 'joined' | 'reconnecting' | 'left' | 'ended' | 'failed';
/** In the call (camera/microphone, sees and hears others) or in the chat only. */
export type CallMode = 'call' | 'text';

/**
 * The signaling socket's URL; `resume`: who we were before the connection dropped; `node`:
 * the node the server moved us to (several nodes: the load balancer routes by it).
 */
function signalingUrl(roomId: string, resume: string | undefined, node: string | undefined): string {
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('roomId', roomId);
  if (resume) url.searchParams.set('resume', resume);
  if (node) url.searchParams.set('node', node);
  return url.toString();
}

export class CallSession {
  readonly roomId: string;
  /** The name we appear under: as typed, or a room token's (the server's answer to join). */
  displayName = $state('');
  status = $state<CallStatus>('connecting');
  /** Whether this page was in the call once: one that never got in is "connecting" while it retries. */
  joinedOnce = $state(false);
  error = $state<string | undefined>(undefined);
  selfId = $state<string | undefined>(undefined);
  #notice = $state<string | undefined>(undefined);
  mode = $state<CallMode>('call');
  away = $state(false);
  /** Set busy by this person (kept by the server across visits). */
  busy = $state(false);
  identityId = $state<string | undefined>(undefined);
  readonly chat: RoomChat;
  /** Whether media connects (ICE, DTLS), and what to tell the person when it does not. */
  readonly health = new ConnectionHealth();
  /** What we send: microphone and camera. */
  readonly publisher: Publisher;
  /** Who else is in the room, and what we receive of them. */
  readonly receiver = new Receiver(() => this.selfId);
  /** The room's name and topic. */
  readonly info: RoomInfo;
  /** The tab's title and sounds while it is in the background. */
  readonly attention = new Attention({ me: () => this.identityId, busy: () => this.busy });
  /** Roles, lock, lobby, hands and the hosts' actions. */
  readonly hosts = new HostControls({
    selfId: () => this.selfId,
    peer: (peerId) => this.receiver.find(peerId),
  });

  #signaling: Signaling | undefined;
  #device: Device | undefined;
  #transports: MediaTransports | undefined;
  #left = false;
  #reconnectDelay = 500;
  /** The node the server asked us to connect to (moveTo), until that connection opens. */
  #moveTo: string | undefined;

  constructor(roomId: string, displayName: string, options: PublisherOptions & { mode?: CallMode }) {
    this.roomId = roomId;
    this.displayName = displayName;
    this.publisher = new Publisher(options);
    this.mode = options.mode ?? 'call';
    this.chat = new RoomChat(roomId);
    this.info = new RoomInfo(roomId);
  }

  get peers(): RemotePeer[] {
    return this.receiver.peers;
  }
  get micOn(): boolean {
    return this.publisher.micOn;
  }
  get camOn(): boolean {
    return this.publisher.camOn;
  }
  get localVideo(): MediaStreamTrack | undefined {
    return this.publisher.localVideo;
  }
  /** What to tell the person (the session's news first, then their devices'). */
  get notice(): string | undefined {
    return this.#notice ?? this.publisher.notice;
  }

  toggleMic(): Promise<void> {
    return this.publisher.toggleMic();
  }
  toggleCam(): Promise<void> {
    return this.publisher.toggleCam();
  }

  /** Captures the local microphone and camera (in call mode, as enabled) and connects. */
  async start(): Promise<void> {
    if (this.mode === 'call') await this.publisher.capture();
    this.#connect();
  }

  #connect(): void {
    // On a reconnection the server drops our previous participant if it still holds it.
    const node = this.#moveTo;
    this.#moveTo = undefined;
    this.#signaling = new Signaling(signalingUrl(this.roomId, this.selfId, node), {
      onOpen: () => {
        const signaling = this.#signaling;
        this.#join().then(
          // Backoff starts over once a join went through (not on every open socket: a server
          // that fails every join is not asked twice a second).
          () => (this.#reconnectDelay = 500),
          (error: Error) => {
            // Moved (the socket closes next): the join of this connection fails, the next one joins.
            if (this.#moveTo) return;
            // The join's answer lost (a server busy for over 20 s) or a server failure, on the
            // first connection or back after a drop: this socket goes and the next one joins
            // again, with backoff (a participant the server made for it goes with the socket).
            // Failing would leave the person out of the meeting until they reload.
            if (retryable(error)) {
              console.warn(`joining failed (${error.message}); connecting again`);
              this.status = 'reconnecting';
              signaling?.close();
              return;
            }
            this.#fail(`Could not join: ${error.message}`);
          },
        );
      },
      onDisconnected: () => {
        this.status = 'reconnecting';
        this.#dropMedia();
      },
      onClose: () => {
        if (this.#left) return;
        this.#dropMedia();
        if (this.#moveTo) {
          // The room is served by another node: connect again at once, naming it.
          this.#connect();
          return;
        }
        if (this.status === 'joined' || this.status === 'reconnecting') {
          // The connection dropped or the server closed us: connect again.
          this.status = 'reconnecting';
          setTimeout(() => this.#left || this.#connect(), this.#reconnectDelay);
          this.#reconnectDelay = Math.min(this.#reconnectDelay * 2, 8000);
        } else {
          this.#fail('Cannot reach the meeting server.');
        }
      },
      onNotification: {
        peerJoined: (info) => {
          this.receiver.addPeer({ ...info, producers: [] });
          this.chat.addSystemLine(`${info.displayName} joined`);
        },
        peerLeft: ({ peerId }) => {
          const peer = this.receiver.find(peerId);
          if (peer) this.chat.addSystemLine(`${peer.displayName} left`);
          this.chat.typing.forget(peerId);
          this.receiver.removePeer(peerId);
        },
        peerStatus: ({ peerId, status, inCall }) => this.receiver.setStatus(peerId, status, inCall),
        newProducer: ({ peerId, ...producer }) => this.receiver.producerAdded(peerId, producer),
        producerClosed: ({ peerId, producerId }) => this.receiver.producerClosed(peerId, producerId),
        consumerClosed: ({ producerId }) => this.receiver.consumerClosed(producerId),
        producerPaused: ({ peerId, producerId }) => this.receiver.setPaused(peerId, producerId, true),
        producerResumed: ({ peerId, producerId }) => this.receiver.setPaused(peerId, producerId, false),
        chatMessage: ({ message }) => {
          this.chat.onMessage(message);
          this.attention.onMessages([message]);
        },
        chatMessages: ({ messages }) => {
          this.chat.onMessages(messages);
          this.attention.onMessages(messages);
        },
        chatMessageUpdated: ({ message }) => this.chat.onUpdated(message),
        peerTyping: (data) => this.chat.typing.onTyping(data),
        mediaReset: ({ producers }) => void this.#restartCall(producers),
        // What the server reports of what we send (dynacast layers, uplink score).
        ...this.publisher.handlers(),
        // What the server reports of what we receive (receiver.svelte.ts).
        consumerScore: ({ consumerId, score, producerScore }) =>
          this.receiver.consumerScore(consumerId, score, producerScore),
        consumerLayers: ({ consumerId, spatialLayer }) =>
          this.receiver.consumerLayers(consumerId, spatialLayer),
        activeSpeaker: ({ peerId }) => this.receiver.setActiveSpeaker(peerId),
        audioLevels: ({ levels }) => this.receiver.audioLevels(levels),
        ...this.hosts.handlers(() => this.#sentAway()),
        roomUpdated: (data) => this.info.onUpdated(data),
        admitted: () =>
          void this.#join().catch((error: Error) => this.#fail(`Could not join: ${error.message}`)),
        mutedByHost: ({ source, by }) => void this.#mutedByHost(source, by),
        moveTo: ({ node }) => {
          this.#moveTo = node;
        },
      },
    });
  }

  #fail(message: string): void {
    this.error = message;
    this.status = 'failed';
    this.#dropMedia();
    this.#signaling?.close();
  }

  async #join(): Promise<void> {
    const signaling = this.#signaling as Signaling;
    const routerRtpCapabilities = await signaling.request('getRouterRtpCapabilities', {});
    // A new Device per connection (every router of the server has the same capabilities, so a
    // media reset keeps the Device and the socket).
    const device = new Device();
    await device.load({ routerRtpCapabilities: routerRtpCapabilities as ms.RtpCapabilities });
    this.#device = device;
    const joined = await signaling.request('join', {
      displayName: this.displayName,
      rtpCapabilities: device.recvRtpCapabilities as never,
    });
    this.selfId = joined.peerId;
    // A locked room: wait in its lobby until a host admits us (`admitted`: join again).
    if (joined.status === 'waiting') {
      this.status = 'waiting';
      return;
    }
    const { identityId, peers, activeSpeaker, displayName, selfStatus } = joined;
    this.identityId = identityId;
    this.busy = selfStatus === 'busy';
    this.displayName = displayName;
    this.hosts.attach((method, data) => signaling.request(method, data), joined);
    this.receiver.reset(peers, activeSpeaker);
    this.status = 'joined';
    this.joinedOnce = true;
    this.#notice = undefined;
    void this.info.load();
    if (this.away) void signaling.request('setPresence', { away: true }).catch(() => undefined);
    await Promise.all([
      this.chat.attach((method, data) => signaling.request(method, data), identityId),
      // A call that cannot be set up (media server restarting) leaves the room and its chat
      // working: say so instead of failing the whole session.
      this.mode === 'call'
        ? this.#enterCall().catch((error: Error) => {
            this.#notice = `Could not start the call (${error.message}); the chat works. Reload to try again.`;
          })
        : Promise.resolve(),
    ]);
  }

  /** Creates the transports, consumes everyone's media and sends ours. */
  async #enterCall(): Promise<void> {
    const signaling = this.#signaling as Signaling;
    const transports = new MediaTransports(signaling, this.#device as Device, this.health);
    this.#transports = transports;
    const link = { signaling, transports };
    await this.receiver.subscribe(link);
    if (this.#transports !== transports) return;
    await this.publisher.publish(link);
  }

  /**
   * The media worker our call was on died: our transports, producers and consumers are gone.
   * The chat and the socket stay; the call is set up again, with the others' producers that
   * live on (`producers`, e.g. on another worker) and those sent again later.
   */
  async #restartCall(producers: NotificationData<'mediaReset'>['producers']): Promise<void> {
    this.#dropMedia({ keepPeers: true });
    this.receiver.forgetProducers(producers);
    if (this.mode !== 'call' || this.status !== 'joined') return;
    this.#notice = 'The media server restarted; reconnecting the call…';
    try {
      await this.#enterCall();
      this.#notice = undefined;
    } catch (error) {
      this.#notice = `Could not reconnect the call (${(error as Error).message}); reload the page.`;
    }
  }

  /** Text-only → call: camera and microphone (as toggled), then media both ways. */
  async joinCall(): Promise<void> {
    if (this.mode === 'call' || this.status !== 'joined') return;
    this.mode = 'call';
    this.publisher.micOn = true;
    this.publisher.camOn = true;
    await this.publisher.capture();
    // Back to the chat only (or disconnected) while the browser asked for the devices.
    if (this.mode !== 'call' || this.status !== 'joined') return;
    await this.#enterCall();
  }

  /** Call → text only: media stops both ways; the chat stays. */
  async leaveCall(): Promise<void> {
    if (this.mode === 'text') return;
    this.mode = 'text';
    this.#dropMedia({ keepPeers: true });
    this.publisher.release();
    await this.#signaling?.request('leaveCall', {}).catch(() => undefined);
  }

  /** Busy (do not disturb), as this person set it: others see it, and no sound or push. */
  setBusy(busy: boolean): void {
    const before = this.busy;
    this.busy = busy;
    void this.#signaling
      ?.request('setStatus', { status: busy ? 'busy' : 'available' })
      .catch((error: Error) => {
        this.busy = before;
        this.error = `Could not set your status: ${error.message}`;
      });
  }

  /** Tab hidden or idle: the others see "away". */
  setAway(away: boolean): void {
    if (this.away === away) return;
    this.away = away;
    if (this.status === 'joined')
      void this.#signaling?.request('setPresence', { away }).catch(() => undefined);
    if (!away) {
      this.chat.onVisible();
      this.attention.onVisible();
    }
  }

  /** Closes the call's media; `keepPeers`: still connected (only the media went). */
  #dropMedia({ keepPeers = false }: { keepPeers?: boolean } = {}): void {
    this.publisher.unpublish();
    this.#transports?.close();
    this.#transports = undefined;
    if (keepPeers) {
      this.receiver.unsubscribe();
    } else {
      this.receiver.clear();
      this.chat.detach();
      this.hosts.detach();
    }
  }

  /** A host turned our microphone or camera off on the server: follow, and say so. */
  async #mutedByHost(source: MutableSource, by: string): Promise<void> {
    this.#notice = `${by} turned off your ${source === 'mic' ? 'microphone' : 'camera'}. You can turn it back on.`;
    if (source === 'mic' && this.micOn) await this.toggleMic();
    if (source === 'webcam' && this.camOn) await this.toggleCam();
  }

  /** Removed, refused or the meeting ended (hosts.ended says why): no reconnection. */
  #sentAway(): void {
    this.#left = true;
    this.#dropMedia();
    this.#signaling?.close();
    this.publisher.release();
    this.#notice = undefined;
    this.status = 'ended';
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    try {
      if (this.#signaling?.connected) await this.#signaling.request('leave', {});
    } catch {
      // Leaving anyway.
    }
    this.#dropMedia();
    this.#signaling?.close();
    this.publisher.release();
    this.status = 'left';
  }

  /** The selected ICE candidate pair of each transport (see transport-stats.ts). */
  transportStats(): ReturnType<MediaTransports['stats']> {
    return this.#transports?.stats() ?? Promise.resolve([]);
  }

  /** Receive-side statistics per remote participant (shown in the UI, read by tests). */
  stats(): Promise<MediaStatsSample[]> {
    return this.receiver.stats();
  }
}
