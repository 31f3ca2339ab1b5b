// The replaceable part of a room: its mediasoup router on one worker (with that worker's
// WebRtcServer), the index of the producers in it, what viewers want of each video producer
// (Dynacast) and who speaks (Speakers). It is made when the first participant needs media,
// and lost when its worker dies: then the Room drops it, tells the call's participants, and
// makes a new one (with new observers) for whoever needs media next.
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { MediaWorkerPool } from '@meet/media-worker';
import type { MediaSource } from '@meet/protocol';
import { Dynacast, type TellLayers } from './dynacast.js';
import { Speakers, type AudioLevel } from './speakers.js';

export type RoomProducer = types.Producer<{ source: MediaSource }>;

export class RoomMedia extends EventEmitter<{
  lost: [reason: string];
  /** The dominant speaker changed (null: nobody, e.g. their microphone closed). */
  activeSpeaker: [peerId: string | null];
  /** Who is audible and how loud; empty once when everyone went silent. */
  audioLevels: [levels: AudioLevel[]];
}> {
  readonly router: types.Router;
  readonly webRtcServer: types.WebRtcServer;
  readonly workerIndex: number;
  readonly #producers = new Map<string, { ownerId: string; producer: RoomProducer }>();
  readonly #dynacast = new Dynacast();
  readonly #speakers: Speakers;
  #closed = false;

  private constructor(
    media: { router: types.Router; webRtcServer: types.WebRtcServer; workerIndex: number },
    speakers: Speakers,
  ) {
    super();
    this.router = media.router;
    this.webRtcServer = media.webRtcServer;
    this.workerIndex = media.workerIndex;
    this.#speakers = speakers;
    speakers.on('activeSpeaker', (peerId) => this.emit('activeSpeaker', peerId));
    speakers.on('audioLevels', (levels) => this.emit('audioLevels', levels));
    this.router.on('workerclose', () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#dynacast.close();
      this.emit('lost', 'the media worker of this room stopped');
    });
  }

  static async create(pool: MediaWorkerPool, roomId: string): Promise<RoomMedia> {
    const media = await pool.createRouter({ roomId });
    try {
      return new RoomMedia(media, await Speakers.create(media.router));
    } catch (error) {
      media.router.close();
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed || this.router.closed;
  }

  /** The dominant speaker's peer id, or null. */
  get activeSpeaker(): string | null {
    return this.#speakers.activeSpeaker;
  }

  /**
   * Indexes a producer so that other participants can consume it by id. A video producer's
   * owner is told, through `tellLayers`, which of its spatial layers are wanted (first -1);
   * a microphone is watched for the active speaker and audio levels.
   */
  addProducer(ownerId: string, producer: RoomProducer, tellLayers: TellLayers): void {
    this.#producers.set(producer.id, { ownerId, producer });
    producer.observer.once('close', () => {
      this.#producers.delete(producer.id);
      this.#dynacast.removeProducer(producer.id);
    });
    if (producer.kind === 'video') this.#dynacast.addProducer(producer.id, tellLayers);
    if (producer.appData.source === 'mic') void this.#speakers.addMicrophone(ownerId, producer);
  }

  findProducer(producerId: string): { ownerId: string; producer: RoomProducer } | undefined {
    const found = this.#producers.get(producerId);
    return found && !found.producer.closed ? found : undefined;
  }

  /** The spatial layer one consumer of a video producer wants now (-1: none; paused or closed). */
  wantLayer(producerId: string, consumerId: string, spatialLayer: number): void {
    this.#dynacast.want(producerId, consumerId, spatialLayer);
  }

  /** The highest layer wanted of a video producer right now (undefined: not one). */
  wantedLayer(producerId: string): number | undefined {
    return this.#dynacast.wanted(producerId);
  }

  get producerCount(): number {
    return this.#producers.size;
  }

  close(): void {
    this.#closed = true;
    this.#producers.clear();
    this.#dynacast.close();
    if (!this.router.closed) this.router.close();
  }
}
