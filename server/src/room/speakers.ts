// Who speaks in a room: mediasoup's ActiveSpeakerObserver (the dominant speaker) and
// AudioLevelObserver (who is audible, how loud) on the room's router, fed with every
// microphone (not shared screen audio). Reports peer ids, not producer ids. Owned by
// RoomMedia: made with its router, gone with it.
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';

export const ACTIVE_SPEAKER_INTERVAL_MS = 300;
export const AUDIO_LEVEL_INTERVAL_MS = 800;
/** dBov below which a microphone counts as silent. */
export const AUDIO_LEVEL_THRESHOLD = -70;
/** At most this many entries in one audioLevels report (the loudest). */
export const AUDIO_LEVEL_MAX_ENTRIES = 10;

export interface AudioLevel {
  peerId: string;
  volume: number;
}

export class Speakers extends EventEmitter<{
  activeSpeaker: [peerId: string | null];
  audioLevels: [levels: AudioLevel[]];
}> {
  readonly #activeSpeaker: types.ActiveSpeakerObserver;
  readonly #audioLevel: types.AudioLevelObserver;
  /** Microphone producer id → its owner's peer id. */
  readonly #owners = new Map<string, string>();
  /** The dominant speaker's microphone producer, if any. */
  #dominantProducerId: string | undefined;
  #lastLevelsEmpty = true;

  private constructor(activeSpeaker: types.ActiveSpeakerObserver, audioLevel: types.AudioLevelObserver) {
    super();
    this.#activeSpeaker = activeSpeaker;
    this.#audioLevel = audioLevel;
    activeSpeaker.on('dominantspeaker', ({ producer }) => this.#dominant(producer.id));
    audioLevel.on('volumes', (volumes) => this.#levels(volumes));
    audioLevel.on('silence', () => this.#levels([]));
  }

  static async create(router: types.Router): Promise<Speakers> {
    const activeSpeaker = await router.createActiveSpeakerObserver({ interval: ACTIVE_SPEAKER_INTERVAL_MS });
    const audioLevel = await router.createAudioLevelObserver({
      interval: AUDIO_LEVEL_INTERVAL_MS,
      threshold: AUDIO_LEVEL_THRESHOLD,
      maxEntries: AUDIO_LEVEL_MAX_ENTRIES,
    });
    return new Speakers(activeSpeaker, audioLevel);
  }

  /** The dominant speaker's peer id (null: nobody, or they stopped sending). */
  get activeSpeaker(): string | null {
    return this.#dominantProducerId === undefined
      ? null
      : (this.#owners.get(this.#dominantProducerId) ?? null);
  }

  /** Watches a microphone; when it closes (its owner left or stopped it), it is forgotten. */
  async addMicrophone(ownerId: string, producer: types.Producer): Promise<void> {
    this.#owners.set(producer.id, ownerId);
    producer.observer.once('close', () => this.#forget(producer.id));
    const add = { producerId: producer.id };
    // The producer may close meanwhile: the observers then simply never see it.
    await Promise.all([this.#activeSpeaker.addProducer(add), this.#audioLevel.addProducer(add)]).catch(
      () => undefined,
    );
  }

  #forget(producerId: string): void {
    this.#owners.delete(producerId);
    if (this.#dominantProducerId !== producerId) return;
    this.#dominantProducerId = undefined;
    this.emit('activeSpeaker', null);
  }

  #dominant(producerId: string): void {
    if (producerId === this.#dominantProducerId || !this.#owners.has(producerId)) return;
    const before = this.activeSpeaker;
    this.#dominantProducerId = producerId;
    const now = this.activeSpeaker;
    if (now !== before) this.emit('activeSpeaker', now);
  }

  #levels(volumes: types.AudioLevelObserverVolume[]): void {
    const levels: AudioLevel[] = [];
    for (const { producer, volume } of volumes) {
      const peerId = this.#owners.get(producer.id);
      if (peerId !== undefined) levels.push({ peerId, volume: Math.max(-127, Math.min(0, volume)) });
    }
    // Silence is told once, not at every interval.
    if (levels.length === 0 && this.#lastLevelsEmpty) return;
    this.#lastLevelsEmpty = levels.length === 0;
    this.emit('audioLevels', levels);
  }
}
