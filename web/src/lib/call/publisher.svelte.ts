// What this participant sends: the local microphone and camera (captured, toggled, paused
// on the server when off) and their producers on the call's send transport.
import type { types as ms } from 'mediasoup-client';
import type { MediaSource } from '@meet/protocol';
import type { Signaling } from './signaling.js';
import type { MediaTransports } from './transports.js';

const cameraConstraints: MediaTrackConstraints = {
  width: { ideal: 640 },
  height: { ideal: 360 },
  frameRate: { ideal: 24, max: 30 },
};

/** Where the publisher sends: set while the call has media, cleared when it has none. */
interface Link {
  signaling: Signaling;
  transports: MediaTransports;
}

export class Publisher {
  micOn = $state(true);
  camOn = $state(true);
  localVideo = $state<MediaStreamTrack | undefined>(undefined);
  /** What to tell the person about their devices (undefined: nothing). */
  notice = $state<string | undefined>(undefined);
  #localAudio: MediaStreamTrack | undefined;
  #producers = new Map<MediaSource, ms.Producer>();
  #link: Link | undefined;

  constructor(options: { micOn: boolean; camOn: boolean }) {
    this.micOn = options.micOn;
    this.camOn = options.camOn;
  }

  /** Captures the microphone and camera as enabled (failing that, goes on without them). */
  async capture(): Promise<void> {
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

  /** Sends the captured tracks on the call's transports (a new call, or after a media reset). */
  async publish(link: Link): Promise<void> {
    this.#link = link;
    if (this.#localAudio && this.#localAudio.readyState === 'live')
      await this.#produce('mic', this.#localAudio, !this.micOn);
    if (this.localVideo && this.camOn) await this.#produce('webcam', this.localVideo, false);
  }

  /** The transports are gone (closed with the call): forget the producers, keep the tracks. */
  unpublish(): void {
    for (const producer of this.#producers.values()) producer.close();
    this.#producers.clear();
    this.#link = undefined;
  }

  /** Stops the local devices (leaving the call or the room). */
  release(): void {
    this.unpublish();
    this.#localAudio?.stop();
    this.#localAudio = undefined;
    this.localVideo?.stop();
    this.localVideo = undefined;
  }

  async #produce(source: MediaSource, track: MediaStreamTrack, paused: boolean): Promise<void> {
    const link = this.#link;
    if (!link) return;
    const transport = await link.transports.send();
    const producer = await transport.produce({
      track,
      stopTracks: false,
      appData: { source, paused },
      ...(source === 'mic' ? { codecOptions: { opusStereo: false, opusDtx: true, opusFec: true } } : {}),
      ...(source === 'webcam' ? { encodings: [{ maxBitrate: 800_000 }] } : {}),
    });
    if (this.#link !== link) {
      producer.close();
      return;
    }
    if (paused) producer.pause();
    this.#producers.set(source, producer);
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
    const link = this.#link;
    if (!link) return;
    const producer = this.#producers.get(source);
    if (!producer) {
      if (on && track) await this.#produce(source, track, false);
      return;
    }
    if (on) {
      if (track && producer.track !== track) await producer.replaceTrack({ track });
      producer.resume();
      await link.signaling.request('resumeProducer', { producerId: producer.id });
    } else {
      producer.pause();
      await link.signaling.request('pauseProducer', { producerId: producer.id });
    }
  }
}
