// One participant's call: signaling, the mediasoup-client device and transports, local
// microphone/camera, and the remote participants. Reactive ($state) for the room page.
import { Device } from 'mediasoup-client';
import type { types as ms } from 'mediasoup-client';
import type { MediaSource, MutableSource, PeerInfo, PeerStatus, ProducerInfo, Role } from '@meet/protocol';
import { RoomChat } from '../chat/chat.svelte.js';
import { ConnectionHealth } from './connection-health.svelte.js';
import { HostControls } from './hosts.svelte.js';
import { Signaling } from './signaling.js';
import { selectedPair, type SelectedPair } from './transport-stats.js';

/** 'waiting': in a locked room's lobby; 'ended': removed, refused or the meeting ended. */
export type CallStatus = 'connecting' | 'waiting' | 'joined' | 'reconnecting' | 'left' | 'ended' | 'failed';
/** In the call (camera/microphone, sees and hears others) or in the chat only. */
export type CallMode = 'call' | 'text';

export interface RemoteMedia {
  producerId: string;
  consumer: ms.Consumer | undefined;
  track: MediaStreamTrack | undefined;
  /** The sender paused it (muted microphone, camera off). */
  paused: boolean;
}

export interface RemotePeer {
  id: string;
  identityId: string;
  displayName: string;
  status: PeerStatus;
  inCall: boolean;
  role: Role;
  audio: RemoteMedia | undefined;
  video: RemoteMedia | undefined;
}

export interface MediaStatsSample {
  peerId: string;
  displayName: string;
  video: { framesDecoded: number; frameWidth: number; packetsReceived: number } | null;
  audio: { packetsReceived: number; bytesReceived: number } | null;
}

const cameraConstraints: MediaTrackConstraints = {
  width: { ideal: 640 },
  height: { ideal: 360 },
  frameRate: { ideal: 24, max: 30 },
};

/** The signaling socket's URL; `resume`: who we were before the connection dropped. */
function signalingUrl(roomId: string, resume: string | undefined): string {
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('roomId', roomId);
  if (resume) url.searchParams.set('resume', resume);
  return url.toString();
}

export class CallSession {
  readonly roomId: string;
  readonly displayName: string;
  status = $state<CallStatus>('connecting');
  error = $state<string | undefined>(undefined);
  selfId = $state<string | undefined>(undefined);
  peers = $state<RemotePeer[]>([]);
  micOn = $state(true);
  camOn = $state(true);
  localVideo = $state<MediaStreamTrack | undefined>(undefined);
  notice = $state<string | undefined>(undefined);
  mode = $state<CallMode>('call');
  away = $state(false);
  identityId = $state<string | undefined>(undefined);
  readonly chat: RoomChat;
  /** Whether media connects (ICE, DTLS), and what to tell the person when it does not. */
  readonly health = new ConnectionHealth();
  /** Roles, lock, lobby, hands and the hosts' actions. */
  readonly hosts = new HostControls({
    selfId: () => this.selfId,
    peer: (peerId) => this.peers.find((p) => p.id === peerId),
  });
  /** Every producer in the room by peer, known in both modes (consumed in call mode). */
  #roomProducers = new Map<string, ProducerInfo[]>();

  #signaling: Signaling | undefined;
  #device: Device | undefined;
  #send: ms.Transport | undefined;
  #recv: ms.Transport | undefined;
  #producers = new Map<MediaSource, ms.Producer>();
  #localAudio: MediaStreamTrack | undefined;
  #iceRefresh: ReturnType<typeof setTimeout> | undefined;
  #left = false;
  #reconnectDelay = 500;

  constructor(
    roomId: string,
    displayName: string,
    options: { micOn: boolean; camOn: boolean; mode?: CallMode },
  ) {
    this.roomId = roomId;
    this.displayName = displayName;
    this.micOn = options.micOn;
    this.camOn = options.camOn;
    this.mode = options.mode ?? 'call';
    this.chat = new RoomChat(roomId);
  }

  /** Captures the local microphone and camera (in call mode, as enabled) and connects. */
  async start(): Promise<void> {
    if (this.mode === 'call') await this.#captureLocal();
    this.#connect();
  }

  async #captureLocal(): Promise<void> {
    if (!this.micOn && !this.camOn) return;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: this.micOn ? { echoCancellation: true, noiseSuppression: true } : false,
        video: this.camOn ? cameraConstraints : false,
      });
      this.#localAudio = stream.getAudioTracks()[0];
      this.localVideo = stream.getVideoTracks()[0];
    } catch (error) {
      this.notice = `Camera/microphone unavailable (${(error as Error).message}); you joined without them.`;
      this.micOn = false;
      this.camOn = false;
    }
  }

  #connect(): void {
    // On a reconnection the server drops our previous participant if it still holds it.
    this.#signaling = new Signaling(signalingUrl(this.roomId, this.selfId), {
      onOpen: () => {
        this.#reconnectDelay = 500;
        this.#join().catch((error: Error) => this.#fail(`Could not join: ${error.message}`));
      },
      onDisconnected: () => {
        this.status = 'reconnecting';
        this.#dropMedia();
      },
      onClose: () => {
        if (this.#left) return;
        this.#dropMedia();
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
          this.#addPeer({ ...info, producers: [] });
          this.chat.addSystemLine(`${info.displayName} joined`);
        },
        peerLeft: ({ peerId }) => {
          const peer = this.peers.find((p) => p.id === peerId);
          if (peer) this.chat.addSystemLine(`${peer.displayName} left`);
          this.#removePeer(peerId);
        },
        peerStatus: ({ peerId, status, inCall }) => {
          const peer = this.peers.find((p) => p.id === peerId);
          if (peer) {
            peer.status = status;
            peer.inCall = inCall;
          }
        },
        newProducer: ({ peerId, ...producer }) => {
          this.#roomProducers.set(peerId, [...(this.#roomProducers.get(peerId) ?? []), producer]);
          const peer = this.peers.find((p) => p.id === peerId);
          if (peer) peer.inCall = true;
          void this.#consume(peerId, producer);
        },
        producerClosed: ({ peerId, producerId }) => {
          this.#roomProducers.set(
            peerId,
            (this.#roomProducers.get(peerId) ?? []).filter((p) => p.id !== producerId),
          );
          this.#dropRemote(peerId, producerId);
        },
        chatMessage: ({ message }) => this.chat.onMessage(message),
        chatMessageUpdated: ({ message }) => this.chat.onUpdated(message),
        consumerClosed: ({ producerId }) => {
          const peer = this.peers.find(
            (p) => p.audio?.producerId === producerId || p.video?.producerId === producerId,
          );
          if (peer) this.#dropRemote(peer.id, producerId);
        },
        producerPaused: ({ peerId, producerId }) => this.#setRemotePaused(peerId, producerId, true),
        producerResumed: ({ peerId, producerId }) => this.#setRemotePaused(peerId, producerId, false),
        mediaReset: () => void this.#restartCall(),
        ...this.hosts.handlers(() => this.#sentAway()),
        admitted: () =>
          void this.#join().catch((error: Error) => this.#fail(`Could not join: ${error.message}`)),
        mutedByHost: ({ source, by }) => void this.#mutedByHost(source, by),
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
    const { identityId, peers } = joined;
    this.identityId = identityId;
    this.hosts.attach((method, data) => signaling.request(method, data), joined);
    this.peers = [];
    this.#roomProducers = new Map(peers.map((peer) => [peer.id, [...peer.producers]]));
    for (const peer of peers) this.#addPeer(peer);
    this.status = 'joined';
    this.notice = undefined;
    if (this.away) void signaling.request('setPresence', { away: true }).catch(() => undefined);
    await Promise.all([
      this.chat.attach((method, data) => signaling.request(method, data), identityId),
      // A call that cannot be set up (media server restarting) leaves the room and its chat
      // working: say so instead of failing the whole session.
      this.mode === 'call'
        ? this.#enterCall().catch((error: Error) => {
            this.notice = `Could not start the call (${error.message}); the chat works. Reload to try again.`;
          })
        : Promise.resolve(),
    ]);
  }

  /** Creates the transports, consumes everyone's media and sends ours. */
  async #enterCall(): Promise<void> {
    // Producers announced while the receive transport is being created are in
    // #roomProducers already: all are consumed once it exists (#consume waits for it).
    this.#recv = await this.#createTransport('recv');
    await Promise.all(
      [...this.#roomProducers].flatMap(([peerId, producers]) =>
        producers.map((producer) => this.#consume(peerId, producer)),
      ),
    );
    if (this.#localAudio && this.#localAudio.readyState === 'live')
      await this.#produce('mic', this.#localAudio, !this.micOn);
    if (this.localVideo && this.camOn) await this.#produce('webcam', this.localVideo, false);
  }

  /**
   * The room's media server restarted (its worker died): every transport, producer and
   * consumer is gone, on every side. The chat and the socket stay; the call is set up again
   * and the others' media arrives as they send it again.
   */
  async #restartCall(): Promise<void> {
    this.#dropMedia({ keepPeers: true });
    for (const peerId of this.#roomProducers.keys()) this.#roomProducers.set(peerId, []);
    if (this.mode !== 'call' || this.status !== 'joined') return;
    this.notice = 'The media server restarted; reconnecting the call…';
    try {
      await this.#enterCall();
      this.notice = undefined;
    } catch (error) {
      this.notice = `Could not reconnect the call (${(error as Error).message}); reload the page.`;
    }
  }

  /** Text-only → call: camera and microphone (as toggled), then media both ways. */
  async joinCall(): Promise<void> {
    if (this.mode === 'call' || this.status !== 'joined') return;
    this.mode = 'call';
    this.micOn = true;
    this.camOn = true;
    await this.#captureLocal();
    await this.#enterCall();
  }

  /** Call → text only: media stops both ways; the chat stays. */
  async leaveCall(): Promise<void> {
    if (this.mode === 'text') return;
    this.mode = 'text';
    this.#dropMedia({ keepPeers: true });
    this.#localAudio?.stop();
    this.#localAudio = undefined;
    this.localVideo?.stop();
    this.localVideo = undefined;
    await this.#signaling?.request('leaveCall', {}).catch(() => undefined);
  }

  /** Tab hidden or idle: the others see "away". */
  setAway(away: boolean): void {
    if (this.away === away) return;
    this.away = away;
    if (this.status === 'joined')
      void this.#signaling?.request('setPresence', { away }).catch(() => undefined);
    if (!away) this.chat.onVisible();
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<ms.Transport> {
    const signaling = this.#signaling as Signaling;
    const device = this.#device as Device;
    const params = await signaling.request('createWebRtcTransport', { direction });
    const options = {
      id: params.id,
      iceParameters: params.iceParameters as ms.IceParameters,
      iceCandidates: params.iceCandidates as ms.IceCandidate[],
      dtlsParameters: params.dtlsParameters as ms.DtlsParameters,
      iceServers: params.iceServers,
      iceTransportPolicy: params.iceTransportPolicy,
    };
    this.#scheduleIceRefresh(params.iceServersTtl);
    const transport =
      direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signaling
        .request('connectWebRtcTransport', {
          transportId: transport.id,
          dtlsParameters: dtlsParameters as never,
        })
        .then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        signaling
          .request('produce', {
            transportId: transport.id,
            kind,
            rtpParameters: rtpParameters as never,
            source: appData.source as MediaSource,
            paused: Boolean(appData.paused),
          })
          .then(({ id }) => callback({ id }), errback);
      });
    }
    this.health.watch(transport, {
      candidates: options.iceCandidates,
      iceServers: options.iceServers,
      restartIce: async () => {
        const { iceParameters } = await signaling.request('restartIce', { transportId: transport.id });
        await transport.restartIce({ iceParameters: iceParameters as ms.IceParameters });
      },
    });
    return transport;
  }

  /** Fetches fresh TURN credentials before the current ones expire (long meetings). */
  #scheduleIceRefresh(ttlSeconds: number | null): void {
    if (ttlSeconds === null || this.#iceRefresh) return;
    const refresh = async () => {
      this.#iceRefresh = undefined;
      if (this.status !== 'joined' || !this.#signaling) return;
      try {
        const { iceServers, iceServersTtl } = await this.#signaling.request('getIceServers', {});
        for (const transport of [this.#send, this.#recv])
          if (transport && !transport.closed) await transport.updateIceServers({ iceServers });
        this.#scheduleIceRefresh(iceServersTtl);
      } catch (error) {
        console.warn('could not refresh TURN credentials', error);
        this.#iceRefresh = setTimeout(() => void refresh(), 30_000);
      }
    };
    this.#iceRefresh = setTimeout(() => void refresh(), Math.max(30, ttlSeconds / 2) * 1000);
  }

  async #produce(source: MediaSource, track: MediaStreamTrack, paused: boolean): Promise<void> {
    this.#send ??= await this.#createTransport('send');
    const producer = await this.#send.produce({
      track,
      stopTracks: false,
      appData: { source, paused },
      ...(source === 'mic' ? { codecOptions: { opusStereo: false, opusDtx: true, opusFec: true } } : {}),
      ...(source === 'webcam' ? { encodings: [{ maxBitrate: 800_000 }] } : {}),
    });
    if (paused) producer.pause();
    this.#producers.set(source, producer);
  }

  #addPeer(info: PeerInfo): void {
    if (info.id === this.selfId || this.peers.some((p) => p.id === info.id)) return;
    this.peers.push({
      id: info.id,
      identityId: info.identityId,
      displayName: info.displayName,
      status: info.status,
      inCall: info.inCall,
      role: info.role,
      audio: undefined,
      video: undefined,
    });
  }

  #removePeer(peerId: string): void {
    this.#roomProducers.delete(peerId);
    const peer = this.peers.find((p) => p.id === peerId);
    if (!peer) return;
    peer.audio?.consumer?.close();
    peer.video?.consumer?.close();
    this.peers = this.peers.filter((p) => p.id !== peerId);
  }

  async #consume(peerId: string, producer: ProducerInfo): Promise<void> {
    const signaling = this.#signaling as Signaling;
    const recv = this.#recv;
    if (this.mode !== 'call' || !recv) return;
    const slot: 'audio' | 'video' = producer.kind;
    const target = () => this.peers.find((p) => p.id === peerId);
    const peer = target();
    if (!peer) return;
    peer[slot] = { producerId: producer.id, consumer: undefined, track: undefined, paused: producer.paused };
    try {
      const params = await signaling.request('consume', { transportId: recv.id, producerId: producer.id });
      const consumer = await recv.consume({
        id: params.id,
        producerId: params.producerId,
        kind: params.kind,
        rtpParameters: params.rtpParameters as ms.RtpParameters,
      });
      const current = target();
      if (!current || current[slot]?.producerId !== producer.id) {
        consumer.close();
        return;
      }
      current[slot] = {
        producerId: producer.id,
        consumer,
        track: consumer.track,
        paused: params.producerPaused,
      };
      await signaling.request('resumeConsumer', { consumerId: consumer.id });
    } catch (error) {
      console.warn('consume failed', producer.id, error);
    }
  }

  #dropRemote(peerId: string, producerId: string): void {
    const peer = this.peers.find((p) => p.id === peerId);
    if (!peer) return;
    for (const slot of ['audio', 'video'] as const) {
      if (peer[slot]?.producerId === producerId) {
        peer[slot]?.consumer?.close();
        peer[slot] = undefined;
      }
    }
  }

  #setRemotePaused(peerId: string, producerId: string, paused: boolean): void {
    const peer = this.peers.find((p) => p.id === peerId);
    for (const slot of ['audio', 'video'] as const) {
      const media = peer?.[slot];
      if (media?.producerId === producerId) media.paused = paused;
    }
  }

  async toggleMic(): Promise<void> {
    const on = !this.micOn;
    if (on && (!this.#localAudio || this.#localAudio.readyState !== 'live')) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        this.#localAudio = stream.getAudioTracks()[0];
      } catch (error) {
        this.notice = `Microphone unavailable: ${(error as Error).message}`;
        return;
      }
    }
    this.micOn = on;
    await this.#setSourceEnabled('mic', this.#localAudio, on);
  }

  async toggleCam(): Promise<void> {
    const on = !this.camOn;
    if (on) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ video: cameraConstraints });
        this.localVideo = stream.getVideoTracks()[0];
      } catch (error) {
        this.notice = `Camera unavailable: ${(error as Error).message}`;
        return;
      }
    } else {
      // Turning the camera off releases it (the camera light goes out).
      this.localVideo?.stop();
      this.localVideo = undefined;
    }
    this.camOn = on;
    await this.#setSourceEnabled('webcam', this.localVideo, on);
  }

  async #setSourceEnabled(
    source: MediaSource,
    track: MediaStreamTrack | undefined,
    on: boolean,
  ): Promise<void> {
    if (this.status !== 'joined') return;
    const signaling = this.#signaling as Signaling;
    const producer = this.#producers.get(source);
    if (!producer) {
      if (on && track) await this.#produce(source, track, false);
      return;
    }
    if (on) {
      if (track && producer.track !== track) await producer.replaceTrack({ track });
      producer.resume();
      await signaling.request('resumeProducer', { producerId: producer.id });
    } else {
      producer.pause();
      await signaling.request('pauseProducer', { producerId: producer.id });
    }
  }

  #dropMedia({ keepPeers = false }: { keepPeers?: boolean } = {}): void {
    clearTimeout(this.#iceRefresh);
    this.#iceRefresh = undefined;
    for (const producer of this.#producers.values()) producer.close();
    this.#producers.clear();
    this.#send?.close();
    this.#recv?.close();
    this.#send = undefined;
    this.#recv = undefined;
    if (keepPeers) {
      for (const peer of this.peers) {
        peer.audio?.consumer?.close();
        peer.video?.consumer?.close();
        peer.audio = undefined;
        peer.video = undefined;
      }
    } else {
      this.peers = [];
      this.chat.detach();
      this.hosts.detach();
    }
  }

  /** A host turned our microphone or camera off on the server: follow, and say so. */
  async #mutedByHost(source: MutableSource, by: string): Promise<void> {
    this.notice = `${by} turned off your ${source === 'mic' ? 'microphone' : 'camera'}. You can turn it back on.`;
    if (source === 'mic' && this.micOn) await this.toggleMic();
    if (source === 'webcam' && this.camOn) await this.toggleCam();
  }

  /** Removed, refused or the meeting ended (hosts.ended says why): no reconnection. */
  #sentAway(): void {
    this.#left = true;
    this.#dropMedia();
    this.#signaling?.close();
    this.#localAudio?.stop();
    this.localVideo?.stop();
    this.localVideo = undefined;
    this.notice = undefined;
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
    this.#localAudio?.stop();
    this.localVideo?.stop();
    this.localVideo = undefined;
    this.status = 'left';
  }

  /** The selected ICE candidate pair of each transport (see transport-stats.ts). */
  async transportStats(): Promise<Array<SelectedPair & { direction: 'send' | 'recv' }>> {
    const result = [];
    for (const [direction, transport] of [
      ['send', this.#send],
      ['recv', this.#recv],
    ] as const) {
      if (!transport || transport.closed) continue;
      const entries = [...(await transport.getStats()).values()] as Array<Record<string, unknown>>;
      result.push({ direction, ...selectedPair(entries) });
    }
    return result;
  }

  /** Receive-side statistics per remote participant (shown in the UI, read by tests). */
  async stats(): Promise<MediaStatsSample[]> {
    const inbound = async (consumer: ms.Consumer | undefined) => {
      if (!consumer || consumer.closed) return undefined;
      const report = await consumer.getStats();
      for (const entry of report.values())
        if (entry.type === 'inbound-rtp') return entry as Record<string, number>;
      return undefined;
    };
    return Promise.all(
      this.peers.map(async (peer) => {
        const video = await inbound(peer.video?.consumer);
        const audio = await inbound(peer.audio?.consumer);
        return {
          peerId: peer.id,
          displayName: peer.displayName,
          video: video
            ? {
                framesDecoded: video.framesDecoded ?? 0,
                frameWidth: video.frameWidth ?? 0,
                packetsReceived: video.packetsReceived ?? 0,
              }
            : null,
          audio: audio
            ? { packetsReceived: audio.packetsReceived ?? 0, bytesReceived: audio.bytesReceived ?? 0 }
            : null,
        };
      }),
    );
  }
}
