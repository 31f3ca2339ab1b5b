// What this participant receives: the room's other participants (in both modes), every
// producer they announce, and, in call mode, a consumer of each on the receive transport.
import type { types as ms } from 'mediasoup-client';
import type { PeerInfo, PeerStatus, ProducerInfo, Role } from '@meet/protocol';
import type { Signaling } from './signaling.js';
import type { MediaTransports } from './transports.js';

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

interface Link {
  signaling: Signaling;
  transports: MediaTransports;
}

export class Receiver {
  peers = $state<RemotePeer[]>([]);
  /** Every producer in the room by peer, known in both modes (consumed in call mode). */
  #roomProducers = new Map<string, ProducerInfo[]>();
  #selfId: () => string | undefined;
  /** Set while the call has media and its receive transport exists. */
  #link: Link | undefined;
  #subscribing: Link | undefined;

  constructor(selfId: () => string | undefined) {
    this.#selfId = selfId;
  }

  find(peerId: string): RemotePeer | undefined {
    return this.peers.find((p) => p.id === peerId);
  }

  /** The room as the join answer lists it (replaces what was known). */
  reset(peers: PeerInfo[]): void {
    this.clear();
    this.#roomProducers = new Map(peers.map((peer) => [peer.id, [...peer.producers]]));
    for (const peer of peers) this.addPeer(peer);
  }

  /** Forgets everyone (disconnected). */
  clear(): void {
    this.unsubscribe();
    this.peers = [];
    this.#roomProducers.clear();
  }

  addPeer(info: PeerInfo): void {
    if (info.id === this.#selfId() || this.peers.some((p) => p.id === info.id)) return;
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

  removePeer(peerId: string): void {
    this.#roomProducers.delete(peerId);
    const peer = this.find(peerId);
    if (!peer) return;
    peer.audio?.consumer?.close();
    peer.video?.consumer?.close();
    this.peers = this.peers.filter((p) => p.id !== peerId);
  }

  setStatus(peerId: string, status: PeerStatus, inCall: boolean): void {
    const peer = this.find(peerId);
    if (!peer) return;
    peer.status = status;
    peer.inCall = inCall;
  }

  /** Consumes every producer known so far, and those announced from now on. */
  async subscribe(link: Link): Promise<void> {
    this.#subscribing = link;
    // Producers announced while the receive transport is being made are in #roomProducers
    // already: all are consumed once it exists, and later ones as they are announced.
    await link.transports.recv();
    if (this.#subscribing !== link) return;
    this.#link = link;
    await Promise.all(
      [...this.#roomProducers].flatMap(([peerId, producers]) =>
        producers.map((producer) => this.#consume(peerId, producer)),
      ),
    );
  }

  /** The call's media is gone: drop every consumer, keep the participants. */
  unsubscribe(): void {
    this.#subscribing = undefined;
    this.#link = undefined;
    for (const peer of this.peers) {
      peer.audio?.consumer?.close();
      peer.video?.consumer?.close();
      peer.audio = undefined;
      peer.video = undefined;
    }
  }

  /** The media server restarted: every producer is gone and is announced again when re-sent. */
  forgetProducers(): void {
    this.unsubscribe();
    for (const peerId of this.#roomProducers.keys()) this.#roomProducers.set(peerId, []);
  }

  producerAdded(peerId: string, producer: ProducerInfo): void {
    this.#roomProducers.set(peerId, [...(this.#roomProducers.get(peerId) ?? []), producer]);
    const peer = this.find(peerId);
    if (peer) peer.inCall = true;
    void this.#consume(peerId, producer);
  }

  producerClosed(peerId: string, producerId: string): void {
    this.#roomProducers.set(
      peerId,
      (this.#roomProducers.get(peerId) ?? []).filter((p) => p.id !== producerId),
    );
    this.#dropRemote(peerId, producerId);
  }

  /** Our consumer of that producer was closed by the server. */
  consumerClosed(producerId: string): void {
    const peer = this.peers.find(
      (p) => p.audio?.producerId === producerId || p.video?.producerId === producerId,
    );
    if (peer) this.#dropRemote(peer.id, producerId);
  }

  setPaused(peerId: string, producerId: string, paused: boolean): void {
    const peer = this.find(peerId);
    for (const slot of ['audio', 'video'] as const) {
      const media = peer?.[slot];
      if (media?.producerId === producerId) media.paused = paused;
    }
  }

  async #consume(peerId: string, producer: ProducerInfo): Promise<void> {
    const link = this.#link;
    if (!link) return;
    const slot: 'audio' | 'video' = producer.kind;
    const target = () => this.find(peerId);
    const peer = target();
    if (!peer) return;
    peer[slot] = { producerId: producer.id, consumer: undefined, track: undefined, paused: producer.paused };
    try {
      const recv = await link.transports.recv();
      const params = await link.signaling.request('consume', {
        transportId: recv.id,
        producerId: producer.id,
      });
      const consumer = await recv.consume({
        id: params.id,
        producerId: params.producerId,
        kind: params.kind,
        rtpParameters: params.rtpParameters as ms.RtpParameters,
      });
      const current = target();
      if (this.#link !== link || !current || current[slot]?.producerId !== producer.id) {
        consumer.close();
        return;
      }
      current[slot] = {
        producerId: producer.id,
        consumer,
        track: consumer.track,
        paused: params.producerPaused,
      };
      await link.signaling.request('resumeConsumer', { consumerId: consumer.id });
    } catch (error) {
      console.warn('consume failed', producer.id, error);
    }
  }

  #dropRemote(peerId: string, producerId: string): void {
    const peer = this.find(peerId);
    if (!peer) return;
    for (const slot of ['audio', 'video'] as const) {
      if (peer[slot]?.producerId === producerId) {
        peer[slot]?.consumer?.close();
        peer[slot] = undefined;
      }
    }
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
