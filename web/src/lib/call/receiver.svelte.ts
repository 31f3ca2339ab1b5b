// What this participant receives: the room's other participants (in both modes), every
// producer they announce, and, in call mode, a consumer of each on the receive transport,
// kept per source (webcam, screen, mic, screenAudio). Also what the viewer shows: the
// rendered size of every on-screen video tile, sent to the server as the view (setView),
// which forwards only those videos, at the layer that fits; and what the server reports
// back: consumer scores and layers, the active speaker and audio levels.
import type { types as ms } from 'mediasoup-client';
import type { MediaSource, PeerInfo, PeerStatus, ProducerInfo, Role, ViewTile } from '@meet/protocol';
import { retryable } from './retry.js';
import type { Signaling } from './signaling.js';
import type { MediaTransports } from './transports.js';

export type VideoSource = 'webcam' | 'screen';
export type AudioSource = 'mic' | 'screenAudio';

/** Connection quality of a remote video or voice, from the server's scores. */
export type Quality = 'good' | 'fair' | 'poor' | 'unknown';

export interface RemoteMedia {
  producerId: string;
  source: MediaSource;
  consumer: ms.Consumer | undefined;
  track: MediaStreamTrack | undefined;
  /** The sender paused it (muted microphone, camera off). */
  paused: boolean;
  /** mediasoup's scores (0-10) of our consumer and of its producer; undefined: none yet. */
  score: { score: number; producerScore: number } | undefined;
  /** The simulcast layer the server forwards now (null: none, or not known yet). */
  spatialLayer: number | null;
}

export interface RemotePeer {
  id: string;
  identityId: string;
  displayName: string;
  status: PeerStatus;
  inCall: boolean;
  role: Role;
  webcam: RemoteMedia | undefined;
  screen: RemoteMedia | undefined;
  mic: RemoteMedia | undefined;
  screenAudio: RemoteMedia | undefined;
}

export const mediaSources: readonly MediaSource[] = ['webcam', 'screen', 'mic', 'screenAudio'];

export interface VideoStats {
  consumerId: string;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  packetsReceived: number;
  bytesReceived: number;
  /**
   * The browser's sums over the frames it showed of the delay since the previous frame, and
   * of its square (seconds, seconds²): with framesDecoded they bound the longest gap between
   * two frames, however rarely the statistics are read.
   */
  totalInterFrameDelay: number;
  totalSquaredInterFrameDelay: number;
  /** From the server's consumerLayers notification (null: not known). */
  spatialLayer: number | null;
}

export interface MediaStatsSample {
  peerId: string;
  displayName: string;
  /** The webcam. */
  video: VideoStats | null;
  screen: VideoStats | null;
  /** The microphone. */
  audio: { packetsReceived: number; bytesReceived: number } | null;
}

/** A rendered size in device pixels. */
export interface TileSize {
  width: number;
  height: number;
}

interface Link {
  signaling: Signaling;
  transports: MediaTransports;
}

/** Audio levels above this (dBov) count as speaking. */
const SPEAKING_DBOV = -55;
/** Someone stays "speaking" this long after their last loud report (no flicker between words). */
const SPEAKING_HOLD_MS = 1500;
/** Tile size changes are sent together, this long after the last one. */
const VIEW_DEBOUNCE_MS = 150;
/** Tries of a `consume` whose answer was lost (see #requestConsume). */
const CONSUME_ATTEMPTS = 4;

/** Quality from mediasoup's scores: the worse of how we receive and how the source sends. */
export function qualityOf(media: RemoteMedia | undefined): Quality {
  if (!media?.score) return 'unknown';
  const score = Math.min(media.score.score, media.score.producerScore);
  return score >= 7 ? 'good' : score >= 4 ? 'fair' : 'poor';
}

export class Receiver {
  peers = $state<RemotePeer[]>([]);
  /** The dominant speaker the server reports (may be ourselves); null: nobody. */
  activeSpeaker = $state<string | null>(null);
  /** The last dominant speaker other than ourselves (the main tile of speaker view). */
  lastRemoteSpeaker = $state<string | null>(null);
  /** Who is audible now (audio levels above a threshold, held briefly), ourselves included. */
  speaking = $state<string[]>([]);
  /** Every producer in the room by peer, known in both modes (consumed in call mode). */
  #roomProducers = new Map<string, ProducerInfo[]>();
  #selfId: () => string | undefined;
  /** Set while the call has media and its receive transport exists. */
  #link: Link | undefined;
  #subscribing: Link | undefined;
  /** On-screen video tiles: `${peerId}/${source}` → rendered size in device pixels. */
  #tileSizes = new Map<string, TileSize>();
  /** The view last sent on the current link (JSON), undefined: none sent yet. */
  #sentView: string | undefined;
  #viewTimer: ReturnType<typeof setTimeout> | undefined;
  #loudUntil = new Map<string, number>();
  #speakingTimer: ReturnType<typeof setTimeout> | undefined;
  /** Producers being consumed whose pause or resume was told meanwhile (newer than the consume answer). */
  #pauseTold = new Set<string>();

  constructor(selfId: () => string | undefined) {
    this.#selfId = selfId;
  }

  find(peerId: string): RemotePeer | undefined {
    return this.peers.find((p) => p.id === peerId);
  }

  /** The room as the join answer lists it (replaces what was known). */
  reset(peers: PeerInfo[], activeSpeaker: string | null = null): void {
    this.clear();
    this.#roomProducers = new Map(peers.map((peer) => [peer.id, [...peer.producers]]));
    for (const peer of peers) this.addPeer(peer);
    this.setActiveSpeaker(activeSpeaker);
  }

  /** Forgets everyone (disconnected). */
  clear(): void {
    this.unsubscribe();
    this.peers = [];
    this.#roomProducers.clear();
    this.activeSpeaker = null;
    this.lastRemoteSpeaker = null;
    this.#loudUntil.clear();
    this.speaking = [];
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
      webcam: undefined,
      screen: undefined,
      mic: undefined,
      screenAudio: undefined,
    });
  }

  removePeer(peerId: string): void {
    this.#roomProducers.delete(peerId);
    const peer = this.find(peerId);
    if (!peer) return;
    for (const source of mediaSources) peer[source]?.consumer?.close();
    this.peers = this.peers.filter((p) => p.id !== peerId);
    if (this.lastRemoteSpeaker === peerId) this.lastRemoteSpeaker = null;
    this.#scheduleView();
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
    this.#sentView = undefined;
    // The view first (empty if no tile shows yet): a participant that never set one is
    // sent every camera at its top layer, and every publisher would be asked for it.
    await this.#sendView();
    if (this.#link !== link) return;
    await Promise.all(
      [...this.#roomProducers].flatMap(([peerId, producers]) =>
        producers.map((producer) => this.#consume(peerId, producer)),
      ),
    );
    // The view is sent again on every new link (a reconnection, a media reset).
    this.#scheduleView();
  }

  /** The call's media is gone: drop every consumer, keep the participants. */
  unsubscribe(): void {
    this.#subscribing = undefined;
    this.#link = undefined;
    this.#sentView = undefined;
    clearTimeout(this.#viewTimer);
    for (const peer of this.peers) {
      for (const source of mediaSources) {
        peer[source]?.consumer?.close();
        peer[source] = undefined;
      }
    }
  }

  /**
   * Our media server went: our consumers are gone, and of the room's producers only `live`
   * remain (the others' on a live worker); the rest are announced again when re-sent. They
   * are consumed by the next subscribe.
   */
  forgetProducers(live: ReadonlyArray<ProducerInfo & { peerId: string }>): void {
    this.unsubscribe();
    for (const peerId of this.#roomProducers.keys()) this.#roomProducers.set(peerId, []);
    for (const { peerId, ...producer } of live) {
      this.#roomProducers.set(peerId, [...(this.#roomProducers.get(peerId) ?? []), producer]);
    }
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
    const peer = this.peers.find((p) => mediaSources.some((s) => p[s]?.producerId === producerId));
    if (peer) this.#dropRemote(peer.id, producerId);
  }

  setPaused(peerId: string, producerId: string, paused: boolean): void {
    const peer = this.find(peerId);
    for (const source of mediaSources) {
      const media = peer?.[source];
      if (media?.producerId === producerId) {
        media.paused = paused;
        this.#pauseTold.add(producerId);
      }
    }
  }

  /** The remote media of one of our consumers. */
  #byConsumer(consumerId: string): RemoteMedia | undefined {
    for (const peer of this.peers)
      for (const source of mediaSources) {
        const media = peer[source];
        if (media?.consumer?.id === consumerId) return media;
      }
    return undefined;
  }

  consumerScore(consumerId: string, score: number, producerScore: number): void {
    const media = this.#byConsumer(consumerId);
    if (media) media.score = { score, producerScore };
  }

  consumerLayers(consumerId: string, spatialLayer: number | null): void {
    const media = this.#byConsumer(consumerId);
    if (media) media.spatialLayer = spatialLayer;
  }

  setActiveSpeaker(peerId: string | null): void {
    this.activeSpeaker = peerId;
    if (peerId !== null && peerId !== this.#selfId()) this.lastRemoteSpeaker = peerId;
  }

  /** Who is audible now and how loud (dBov); empty when the room is silent. */
  audioLevels(levels: Array<{ peerId: string; volume: number }>): void {
    const now = Date.now();
    for (const { peerId, volume } of levels)
      if (volume > SPEAKING_DBOV) this.#loudUntil.set(peerId, now + SPEAKING_HOLD_MS);
    this.#updateSpeaking();
  }

  #updateSpeaking(): void {
    clearTimeout(this.#speakingTimer);
    const now = Date.now();
    for (const [peerId, until] of this.#loudUntil) if (until <= now) this.#loudUntil.delete(peerId);
    const speaking = [...this.#loudUntil.keys()].sort();
    if (speaking.join() !== this.speaking.join()) this.speaking = speaking;
    if (this.#loudUntil.size > 0) {
      const next = Math.min(...this.#loudUntil.values()) - now;
      this.#speakingTimer = setTimeout(() => this.#updateSpeaking(), Math.max(50, next));
    }
  }

  /**
   * A video tile of `peerId`'s `source` is on screen at `size` (device pixels), or left the
   * screen (undefined). The server is told, debounced, when the view changed.
   */
  setTileSize(peerId: string, source: VideoSource, size: TileSize | undefined): void {
    const key = `${peerId}/${source}`;
    const previous = this.#tileSizes.get(key);
    if (size && size.width > 0 && size.height > 0) {
      if (previous?.width === size.width && previous.height === size.height) return;
      this.#tileSizes.set(key, size);
    } else {
      if (!previous) return;
      this.#tileSizes.delete(key);
    }
    this.#scheduleView();
  }

  /** The view as it stands: every on-screen video tile with a consumer, by consumer id. */
  view(): ViewTile[] {
    const tiles: ViewTile[] = [];
    for (const [key, size] of this.#tileSizes) {
      const [peerId, source] = key.split('/') as [string, VideoSource];
      const consumer = this.find(peerId)?.[source]?.consumer;
      if (consumer && !consumer.closed)
        tiles.push({ consumerId: consumer.id, width: size.width, height: size.height });
    }
    return tiles.sort((a, b) => a.consumerId.localeCompare(b.consumerId));
  }

  #scheduleView(): void {
    if (!this.#link) return;
    clearTimeout(this.#viewTimer);
    this.#viewTimer = setTimeout(() => void this.#sendView(), VIEW_DEBOUNCE_MS);
  }

  async #sendView(): Promise<void> {
    const link = this.#link;
    if (!link) return;
    const tiles = this.view();
    const json = JSON.stringify(tiles);
    if (json === this.#sentView) return;
    this.#sentView = json;
    try {
      await link.signaling.request('setView', { tiles });
    } catch (error) {
      // Sent again with the next change (or the next link).
      if (this.#link === link && this.#sentView === json) this.#sentView = undefined;
      console.warn('setView failed', error);
    }
  }

  async #consume(peerId: string, producer: ProducerInfo): Promise<void> {
    const link = this.#link;
    if (!link) return;
    const source = producer.source;
    const target = () => this.find(peerId);
    const peer = target();
    if (!peer) return;
    // Already consumed, or being consumed, on this link: a producer announced while
    // subscribe() was sending the first view is consumed by producerAdded and is in the
    // list subscribe() then consumes. A second consume gets the same consumer from the
    // server, the browser refuses to receive it twice ("Duplicate a=msid lines"), and the
    // renegotiation that fails takes the first one with it: that media never plays.
    if (peer[source]?.producerId === producer.id) return;
    const pending: RemoteMedia = {
      producerId: producer.id,
      source,
      consumer: undefined,
      track: undefined,
      paused: producer.paused,
      score: undefined,
      spatialLayer: null,
    };
    peer[source] = pending;
    this.#pauseTold.delete(producer.id);
    try {
      const recv = await link.transports.recv();
      const params = await this.#requestConsume(link, recv.id, producer.id, () => {
        return this.#link === link && target()?.[source]?.producerId === producer.id;
      });
      // The answer says whether the producer is paused, unless a pause or resume was told
      // since (it is newer). Set now: the notifications that come while the browser sets
      // the consumer up (seconds on a busy machine) change this slot, and are kept.
      const slot = target()?.[source];
      if (slot?.producerId === producer.id && !this.#pauseTold.has(producer.id))
        slot.paused = params.producerPaused;
      const consumer = await recv.consume({
        id: params.id,
        producerId: params.producerId,
        kind: params.kind,
        rtpParameters: params.rtpParameters as ms.RtpParameters,
      });
      const current = target()?.[source];
      if (this.#link !== link || current?.producerId !== producer.id) {
        consumer.close();
        return;
      }
      current.consumer = consumer;
      current.track = consumer.track;
      // A tile already on screen for this source now has a consumer to list.
      if (producer.kind === 'video') this.#scheduleView();
      await link.signaling.request('resumeConsumer', { consumerId: consumer.id });
    } catch (error) {
      console.warn('consume failed', producer.id, error);
    } finally {
      this.#pauseTold.delete(producer.id);
    }
  }

  /**
   * `consume`, asked again (up to CONSUME_ATTEMPTS, 1 s, 2 s, 4 s apart) while still wanted
   * when its answer was lost (the request timed out: a server busy for over 20 s) or the server
   * failed (5xx): a repeat gets the same consumer. A refusal (4xx) is final.
   */
  async #requestConsume(link: Link, transportId: string, producerId: string, wanted: () => boolean) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await link.signaling.request('consume', { transportId, producerId });
      } catch (error) {
        if (!retryable(error) || attempt >= CONSUME_ATTEMPTS || !wanted()) throw error;
        console.warn(`consume of ${producerId} failed (${String(error)}); asking again`);
        await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** (attempt - 1)));
        if (!wanted()) throw error;
      }
    }
  }

  #dropRemote(peerId: string, producerId: string): void {
    const peer = this.find(peerId);
    if (!peer) return;
    for (const source of mediaSources) {
      if (peer[source]?.producerId === producerId) {
        peer[source]?.consumer?.close();
        peer[source] = undefined;
        this.#scheduleView();
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
    const video = async (media: RemoteMedia | undefined): Promise<VideoStats | null> => {
      const consumer = media?.consumer;
      const entry = await inbound(consumer);
      if (!media || !consumer || !entry) return null;
      return {
        consumerId: consumer.id,
        framesDecoded: entry.framesDecoded ?? 0,
        frameWidth: entry.frameWidth ?? 0,
        frameHeight: entry.frameHeight ?? 0,
        packetsReceived: entry.packetsReceived ?? 0,
        bytesReceived: entry.bytesReceived ?? 0,
        totalInterFrameDelay: entry.totalInterFrameDelay ?? 0,
        totalSquaredInterFrameDelay: entry.totalSquaredInterFrameDelay ?? 0,
        spatialLayer: media.spatialLayer,
      };
    };
    return Promise.all(
      this.peers.map(async (peer) => {
        const audio = await inbound(peer.mic?.consumer);
        return {
          peerId: peer.id,
          displayName: peer.displayName,
          video: await video(peer.webcam),
          screen: await video(peer.screen),
          audio: audio
            ? { packetsReceived: audio.packetsReceived ?? 0, bytesReceived: audio.bytesReceived ?? 0 }
            : null,
        };
      }),
    );
  }
}
