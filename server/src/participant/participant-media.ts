// What one participant holds in the call: its WebRTC transports, producers and consumers,
// on one router (RoomRouter) of its room's current media (RoomMedia). It enforces the participant's limits, and what
// an `await` created after the set was closed (the participant left the call or the room,
// or the room's worker died meanwhile) is closed at once and never announced.
import type { types } from 'mediasoup';
import {
  MAX_SPATIAL_LAYER,
  type MediaSource,
  type NotificationData,
  type NotificationMethod,
  type RequestData,
  type ResponseData,
  type ViewTile,
} from '@meet/protocol';
import { badRequest, conflict, forbidden, notFound, tooMany } from '../signaling/errors.js';
import {
  connectTransport,
  createTransport,
  type Direction,
  type TransportAppData,
} from '../media/transport.js';
import { produceOn, type ProducerAppData } from '../media/producer.js';
import { consumeOn, type ConsumerAppData } from '../media/consumer.js';
import { refusedByMediasoup } from '../media/errors.js';
import {
  consumerPriority,
  parseScalabilityMode,
  preferredLayers,
  type PreferredLayers,
} from '../media/layers.js';
import { UpswitchBackoff, isFall, publisherSendsAbove } from '../media/upswitch-backoff.js';
import type { RoomMedia } from '../room/room-media.js';
import type { RoomRouter } from '../room/room-router.js';
import type { ParticipantLimits } from './limits.js';
import { ConsumerView } from './view.js';

export type Transport = types.WebRtcTransport<TransportAppData>;
export type Producer = types.Producer<ProducerAppData>;
export type Consumer = types.Consumer<ConsumerAppData>;

/** How the media set tells the world about itself (the Participant wires these to the room). */
export interface MediaHooks {
  /** To everyone else in the room. */
  announce<M extends NotificationMethod>(method: M, data: NotificationData<M>): void;
  /** To the participant itself. */
  tell<M extends NotificationMethod>(method: M, data: NotificationData<M>): void;
  /** A new transport: metrics watch it. */
  transportCreated(transport: Transport): void;
}

/** Video consumers by what the view makes of them (for metrics). */
export interface ViewCounts {
  /** Resumed on the server: forwarded. */
  forwarding: number;
  /** Ready in the browser but not in the latest view: paused by the view. */
  offView: number;
  /** Not (or no longer) resumed by the browser. */
  notReady: number;
  /** Of those forwarded: held below the layer the view asks after the viewer's downlink dropped them. */
  held: number;
}

export class ParticipantMedia {
  readonly transports = new Map<string, Transport>();
  readonly producers = new Map<string, Producer>();
  readonly consumers = new Map<string, Consumer>();
  readonly roomMedia: RoomMedia;
  /** The router of the room this participant's transports are on. */
  readonly place: RoomRouter;
  readonly #ownerId: string;
  readonly #limits: ParticipantLimits;
  readonly #hooks: MediaHooks;
  /** Which consumers the browser is ready for and which video it shows, at what size. */
  readonly #view: ConsumerView;
  /** Layers held down after the viewer's downlink dropped them (applied like the view). */
  readonly #backoff = new UpswitchBackoff((consumerId) => {
    const consumer = this.consumers.get(consumerId);
    if (consumer && !consumer.closed) this.#apply(consumer, 'upswitchBackoff').catch(() => undefined);
  });
  #closed = false;

  /** `viewed`: the participant set a view before (on media since lost): video waits for the next. */
  constructor(
    roomMedia: RoomMedia,
    place: RoomRouter,
    ownerId: string,
    limits: ParticipantLimits,
    hooks: MediaHooks,
    viewed = false,
  ) {
    this.roomMedia = roomMedia;
    this.place = place;
    this.#ownerId = ownerId;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#view = new ConsumerView(viewed);
  }

  /** Closed by the participant, or lost with its router (or the room's whole media). */
  get closed(): boolean {
    return this.#closed || this.place.closed || this.roomMedia.closed;
  }

  /** Keeps what an await created only if this set is still open; otherwise closes it. */
  #adopt<T extends { close(): void }>(created: T, what: string): T {
    if (this.closed) {
      created.close();
      throw conflict(`the call ended while the ${what} was being created`);
    }
    return created;
  }

  ownTransport(transportId: string, direction?: Direction): Transport {
    const transport = this.transports.get(transportId);
    if (!transport) throw notFound(`transport ${transportId} is not one of this participant's transports`);
    if (direction && transport.appData.direction !== direction)
      throw badRequest(`transport ${transportId} is a ${transport.appData.direction} transport`);
    return transport;
  }

  ownProducer(producerId: string): Producer {
    const producer = this.producers.get(producerId);
    if (!producer) throw notFound(`producer ${producerId} is not one of this participant's producers`);
    return producer;
  }

  ownConsumer(consumerId: string): Consumer {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) throw notFound(`consumer ${consumerId} is not one of this participant's consumers`);
    return consumer;
  }

  async createTransport({ direction, forceTcp }: RequestData<'createWebRtcTransport'>): Promise<Transport> {
    if (this.transports.size >= this.#limits.transports)
      throw tooMany(`a participant may hold at most ${this.#limits.transports} transports`);
    const transport = this.#adopt(
      await createTransport(this.place, { direction, forceTcp: forceTcp ?? false }),
      'transport',
    );
    this.transports.set(transport.id, transport);
    transport.observer.once('close', () => this.transports.delete(transport.id));
    this.#hooks.transportCreated(transport);
    return transport;
  }

  async connectTransport({
    transportId,
    dtlsParameters,
  }: RequestData<'connectWebRtcTransport'>): Promise<void> {
    await connectTransport(this.ownTransport(transportId), dtlsParameters);
  }

  async restartIce({ transportId }: RequestData<'restartIce'>): Promise<ResponseData<'restartIce'>> {
    const transport = this.ownTransport(transportId);
    try {
      return { iceParameters: await transport.restartIce() };
    } catch (error) {
      throw refusedByMediasoup(error, 'restartIce');
    }
  }

  async produce({
    transportId,
    kind,
    rtpParameters,
    source,
    paused,
  }: RequestData<'produce'>): Promise<Producer> {
    const transport = this.ownTransport(transportId, 'send');
    if (this.producers.size >= this.#limits.producers)
      throw tooMany(`a participant may hold at most ${this.#limits.producers} producers`);
    const expectedKind = source === 'mic' || source === 'screenAudio' ? 'audio' : 'video';
    if (kind !== expectedKind) throw badRequest(`a ${source} producer must be ${expectedKind}, not ${kind}`);
    for (const existing of this.producers.values()) {
      if (existing.appData.source === source) throw conflict(`this participant already sends its ${source}`);
    }
    if (kind === 'video' && (rtpParameters.encodings?.length ?? 1) > MAX_SPATIAL_LAYER + 1)
      throw badRequest(`a video producer has at most ${MAX_SPATIAL_LAYER + 1} simulcast encodings`);
    const producer = this.#adopt(
      await produceOn(transport, { kind, rtpParameters, source, paused: paused ?? false }),
      'producer',
    );
    this.producers.set(producer.id, producer);
    this.roomMedia.addProducer(this.#ownerId, producer, this.place, (maxSpatialLayer) =>
      this.#hooks.tell('producerLayers', { producerId: producer.id, maxSpatialLayer }),
    );
    this.#reportProducerScore(producer);
    producer.observer.once('close', () => {
      this.producers.delete(producer.id);
      this.#hooks.announce('producerClosed', { peerId: this.#ownerId, producerId: producer.id });
    });
    this.#hooks.announce('newProducer', {
      peerId: this.#ownerId,
      id: producer.id,
      kind: producer.kind,
      source,
      paused: producer.paused,
    });
    return producer;
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const producer = this.ownProducer(producerId);
    if (producer.paused === paused) return;
    try {
      if (paused) await producer.pause();
      else await producer.resume();
    } catch (error) {
      throw refusedByMediasoup(error, paused ? 'pauseProducer' : 'resumeProducer');
    }
    if (producer.closed) return;
    this.#hooks.announce(paused ? 'producerPaused' : 'producerResumed', {
      peerId: this.#ownerId,
      producerId,
    });
  }

  closeProducer(producerId: string): void {
    this.ownProducer(producerId).close();
  }

  async consume(
    { transportId, producerId }: RequestData<'consume'>,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<ResponseData<'consume'>> {
    const transport = this.ownTransport(transportId, 'recv');
    const ownerId = this.roomMedia.producerOwner(producerId);
    if (!ownerId) throw notFound(`producer ${producerId} is not in this room`);
    if (ownerId === this.#ownerId) throw forbidden('a participant cannot consume its own producer');
    const existing = [...this.consumers.values()].find((c) => c.producerId === producerId);
    if (existing) {
      // Asked again on the same transport: the browser lost the answer (its request timed
      // out while the server was busy, and it retries). The same consumer, not a second one.
      if (existing.appData.transportId === transportId) return this.#describe(existing);
      throw conflict(`already consuming producer ${producerId} on transport ${existing.appData.transportId}`);
    }
    if (this.consumers.size >= this.#limits.consumers)
      throw tooMany(`a participant may hold at most ${this.#limits.consumers} consumers`);
    // On this participant's router: piped there first when it was sent to another one (of
    // this node, or of another node).
    let producer;
    try {
      producer = await this.roomMedia.producerOn(producerId, this.place);
    } catch (error) {
      throw refusedByMediasoup(error, 'consume');
    }
    if (!producer) throw notFound(`producer ${producerId} closed meanwhile`);
    if (this.closed) throw conflict('the call ended while the consumer was being created');
    if (!this.place.router.canConsume({ producerId, rtpCapabilities }))
      throw badRequest(`this browser cannot receive the codec of producer ${producerId}`);
    const consumer = this.#adopt(
      await consumeOn(transport, { producer, rtpCapabilities, peerId: ownerId }),
      'consumer',
    );
    if (consumer.closed) throw notFound(`producer ${producerId} closed meanwhile`);
    this.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      this.consumers.delete(consumer.id);
      this.#view.forget(consumer.id);
      this.#backoff.forget(consumer.id);
      if (consumer.kind === 'video') this.roomMedia.wantLayer(producerId, consumer.id, -1);
    });
    consumer.on('producerclose', () =>
      this.#hooks.tell('consumerClosed', { consumerId: consumer.id, producerId }),
    );
    this.#reportConsumer(consumer);
    if (consumer.kind === 'video') this.#prioritize(consumer, this.roomMedia.activeSpeaker);
    return this.#describe(consumer);
  }

  /** The answer to `consume`: what the browser needs to receive the consumer. */
  #describe(consumer: Consumer): ResponseData<'consume'> {
    return {
      id: consumer.id,
      producerId: consumer.producerId,
      peerId: consumer.appData.peerId,
      kind: consumer.kind,
      source: consumer.appData.source,
      rtpParameters: consumer.rtpParameters as ResponseData<'consume'>['rtpParameters'],
      producerPaused: consumer.producerPaused,
    };
  }

  /**
   * The browser is ready to receive the consumer (resumeConsumer) or no longer (pause): it is
   * forwarded when ready and, for video once a view was set, in the view.
   */
  async setConsumerPaused(consumerId: string, paused: boolean): Promise<void> {
    const consumer = this.ownConsumer(consumerId);
    this.#view.setReady(consumerId, !paused);
    await this.#apply(consumer, paused ? 'pauseConsumer' : 'resumeConsumer');
  }

  /**
   * What the participant shows now: its listed video consumers are forwarded (when ready)
   * at the layer their tile needs, the others are paused. Ids that are not its consumers
   * (closed meanwhile) are ignored, and so are consumers closing during the request.
   */
  async setView(tiles: readonly ViewTile[]): Promise<void> {
    this.#view.setTiles(tiles);
    const video = [...this.consumers.values()].filter((consumer) => consumer.kind === 'video');
    const results = await Promise.allSettled(video.map((consumer) => this.#apply(consumer, 'setView')));
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected' && !video[i]?.closed) throw result.reason as Error;
    }
  }

  /** Brings a consumer's server state (paused, preferred layers) in line with the view. */
  async #apply(consumer: Consumer, method: string): Promise<void> {
    const forward = this.#view.forwards(consumer.id, consumer.kind);
    const layers = consumer.kind === 'video' ? this.#layersOf(consumer) : undefined;
    // Its producer belongs to another participant, who may close it at any moment: then the
    // worker no longer has the consumer when the request reaches it (409).
    try {
      if (forward && layers && consumer.type !== 'simple' && !sameLayers(consumer.preferredLayers, layers))
        await consumer.setPreferredLayers(layers);
      if (forward && consumer.paused) {
        await consumer.resume();
        // A new viewer starts from a keyframe instead of waiting for the next one.
        if (consumer.kind === 'video' && !consumer.closed)
          await consumer.requestKeyFrame().catch(() => undefined);
      } else if (!forward && !consumer.paused) {
        await consumer.pause();
      }
    } catch (error) {
      throw refusedByMediasoup(error, method);
    }
    if (layers && !consumer.closed)
      this.roomMedia.wantLayer(consumer.producerId, consumer.id, forward ? layers.spatialLayer : -1);
  }

  /** The spatial layer a video consumer is held at after its viewer's downlink dropped it (undefined: none). */
  heldLayer(consumerId: string): number | undefined {
    return this.#backoff.cap(consumerId);
  }

  /** What the view asks for the consumer, held down while its downlink recovers. */
  #layersOf(consumer: Consumer): PreferredLayers {
    const layers = preferredLayers(
      consumer.appData.source,
      scalabilityOf(consumer),
      this.#view.tile(consumer.id),
    );
    const cap = this.#backoff.cap(consumer.id);
    return cap !== undefined && cap < layers.spatialLayer ? { ...layers, spatialLayer: cap } : layers;
  }

  /** The room's active speaker changed: their camera goes before other cameras. */
  speakerChanged(previous: string | null, current: string | null): void {
    for (const consumer of this.consumers.values()) {
      const { peerId, source } = consumer.appData;
      if (source === 'webcam' && (peerId === previous || peerId === current))
        this.#prioritize(consumer, current);
    }
  }

  #prioritize(consumer: Consumer, activeSpeaker: string | null): void {
    const priority = consumerPriority(consumer.appData.source, consumer.appData.peerId === activeSpeaker);
    if (priority === consumer.priority) return;
    // A consumer closing meanwhile keeps no priority: nothing to report.
    consumer.setPriority(priority).catch(() => undefined);
  }

  /**
   * Tells the owner how well its producer arrives (the best of its encodings), on change.
   * Not while nobody wants a video producer: its browser then sends nothing (dynacast), and
   * the score falling to 0 says nothing of its uplink.
   */
  #reportProducerScore(producer: Producer): void {
    let told: number | undefined;
    producer.on('score', (scores) => {
      if (producer.kind === 'video' && this.roomMedia.wantedLayer(producer.id) === -1) return;
      const score = scores.reduce((best, { score }) => Math.max(best, score), 0);
      if (score === told) return;
      told = score;
      this.#hooks.tell('producerScore', { producerId: producer.id, score });
    });
  }

  /**
   * Tells the viewer its consumer's scores and, for video, the layers it forwards; a fall for
   * lack of the viewer's bandwidth holds the layer down for a while (UpswitchBackoff).
   */
  #reportConsumer(consumer: Consumer): void {
    consumer.on('score', ({ score, producerScore }) =>
      this.#hooks.tell('consumerScore', { consumerId: consumer.id, score, producerScore }),
    );
    let previous: number | undefined;
    consumer.on('layerschange', (layers) => {
      this.#hooks.tell('consumerLayers', {
        consumerId: consumer.id,
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      });
      const current = layers?.spatialLayer;
      const preferred = consumer.preferredLayers?.spatialLayer;
      const fall = isFall({ previous, current, preferred });
      previous = current;
      if (!fall || current === undefined || preferred === undefined || consumer.closed) return;
      this.#backoff.suspect(
        consumer.id,
        current,
        scalabilityOf(consumer).spatialLayers - 1,
        () =>
          !consumer.closed &&
          consumer.currentLayers?.spatialLayer === current &&
          publisherSendsAbove(consumer.score?.producerScores ?? [], current, preferred),
      );
    });
  }

  /** Video consumers forwarded (and of those, held down), paused by the view, or not resumed by the browser. */
  viewCounts(): ViewCounts {
    const counts: ViewCounts = { forwarding: 0, offView: 0, notReady: 0, held: 0 };
    for (const consumer of this.consumers.values()) {
      if (consumer.kind !== 'video') continue;
      if (!consumer.paused) {
        counts.forwarding++;
        if (this.#backoff.cap(consumer.id) !== undefined) counts.held++;
      } else if (this.#view.isReady(consumer.id)) counts.offView++;
      else counts.notReady++;
    }
    return counts;
  }

  /** Sources this participant is sending, as the room lists them. */
  producerInfos(): Array<{ id: string; kind: 'audio' | 'video'; source: MediaSource; paused: boolean }> {
    return [...this.producers.values()].map((producer) => ({
      id: producer.id,
      kind: producer.kind,
      source: producer.appData.source,
      paused: producer.paused,
    }));
  }

  /** Closes every transport (and so every producer and consumer); later creations are refused. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backoff.close();
    for (const transport of this.transports.values()) transport.close();
    this.roomMedia.leave(this.#ownerId, this.place);
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}

function scalabilityOf(consumer: Consumer) {
  return parseScalabilityMode(consumer.rtpParameters.encodings?.[0]?.scalabilityMode);
}

function sameLayers(
  a: { spatialLayer: number; temporalLayer?: number } | undefined,
  b: PreferredLayers,
): boolean {
  return a?.spatialLayer === b.spatialLayer && a.temporalLayer === b.temporalLayer;
}
