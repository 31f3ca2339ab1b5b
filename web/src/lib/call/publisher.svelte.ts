// What this participant sends: the local microphone and camera (captured, toggled, paused
// on the server when off, switched to another device without rejoining), a shared screen
// (and its tab audio), their producers on the call's send transport, and what the server
// says back about them: which camera layers anyone watches (dynacast, sent-layers.ts) and
// how well they arrive (the uplink's honesty notice, uplink.svelte.ts).
//
// The camera publishes simulcast: three VP8 encodings (r0/r1/r2 at 1/4, 1/2 and full size,
// each with three temporal layers), falling back to one encoding where the browser refuses.
// The screen publishes one full-size encoding with temporal layers: a viewer that cannot
// carry it gets fewer frames per second rather than fewer pixels (text stays legible).
import type { types as ms } from 'mediasoup-client';
import type { MediaSource } from '@meet/protocol';
import { Devices } from './devices.svelte.js';
import { SentLayers } from './sent-layers.js';
import type { Signaling } from './signaling.js';
import type { MediaTransports } from './transports.js';
import { UplinkMonitor, type OutboundSample } from './uplink.svelte.js';

export type { OutboundSample } from './uplink.svelte.js';

/** Where the publisher sends: set while the call has media, cleared when it has none. */
interface Link {
  signaling: Signaling;
  transports: MediaTransports;
}

export interface PublisherOptions {
  micOn: boolean;
  camOn: boolean;
  /** The person's devices (the pre-join check's, to keep their choices); made if absent. */
  devices?: Devices;
  /** Tracks the pre-join check already opened: used instead of asking for new ones. */
  tracks?: { audio?: MediaStreamTrack | undefined; video?: MediaStreamTrack | undefined };
}

/** The camera's simulcast layers: 180p/360p/720p from a 720p capture. */
const cameraLayers: RTCRtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
const screenBitrate = 2_500_000;

export class Publisher {
  micOn = $state(true);
  camOn = $state(true);
  localVideo = $state<MediaStreamTrack | undefined>(undefined);
  localAudio = $state<MediaStreamTrack | undefined>(undefined);
  /** Our shared screen while we share one (the layout shows it as our own preview tile). */
  localScreen = $state<MediaStreamTrack | undefined>(undefined);
  /** The shared tab's audio, when the browser offered it. */
  localScreenAudio = $state<MediaStreamTrack | undefined>(undefined);
  /** What to tell the person about their devices (undefined: nothing). */
  #ownNotice = $state<string | undefined>(undefined);
  readonly devices: Devices;
  #producers = new Map<MediaSource, ms.Producer>();
  #link: Link | undefined;
  #pendingTracks: PublisherOptions['tracks'];
  #startingScreen = false;
  /** Counts release() calls: a capture that resolves after one is stopped, not used. */
  #releases = 0;
  /** Which of our camera's layers anyone watches (dynacast). */
  readonly #layers = new SentLayers();
  /** Whether our uplink carries what we send. */
  readonly #uplink = new UplinkMonitor({
    producers: () => this.#producers,
    unwatched: (producerId) => this.#layers.wanted(producerId) === -1,
  });

  constructor(options: PublisherOptions) {
    this.micOn = options.micOn;
    this.camOn = options.camOn;
    this.devices = options.devices ?? new Devices();
    this.#pendingTracks = options.tracks;
  }

  get notice(): string | undefined {
    return this.#ownNotice ?? this.devices.notice;
  }
  set notice(value: string | undefined) {
    this.#ownNotice = value;
    if (value === undefined) this.devices.notice = undefined;
  }

  /** Our uplink cannot carry what we send (low producer score or bandwidth-limited). */
  get uplinkPoor(): boolean {
    return this.#uplink.poor;
  }

  get sharing(): boolean {
    return this.localScreen !== undefined;
  }

  /** Captures the microphone and camera as enabled (failing that, goes on without them). */
  async capture(): Promise<void> {
    this.devices.onLost = (kind) => {
      if (kind === 'videoinput' || kind === 'audioinput') void this.switchDevice(kind);
    };
    this.devices.listen();
    // The pre-join check's tracks, when it opened them (no second prompt, no second open).
    const handed = this.#pendingTracks;
    this.#pendingTracks = undefined;
    const live = (t: MediaStreamTrack | undefined) => (t?.readyState === 'live' ? t : undefined);
    let audio = live(handed?.audio);
    let video = this.camOn ? live(handed?.video) : undefined;
    if (!this.camOn) handed?.video?.stop();
    const needAudio = this.micOn && !audio;
    const needVideo = this.camOn && !video;
    const releases = this.#releases;
    if (needAudio || needVideo) {
      try {
        const stream = await this.#getUserMedia({ audio: needAudio, video: needVideo });
        audio ??= stream.getAudioTracks()[0];
        video ??= stream.getVideoTracks()[0];
      } catch (error) {
        this.notice = `Camera/microphone unavailable (${(error as Error).message}); you joined without them.`;
        if (!audio) this.micOn = false;
        if (!video) this.camOn = false;
      }
    }
    // Left (the call or the room) while the browser was asked: release what it gave.
    if (releases !== this.#releases) {
      audio?.stop();
      video?.stop();
      return;
    }
    this.#setAudio(audio);
    this.#setVideo(video);
  }

  /** getUserMedia with the chosen devices; a chosen device that is gone: the default. */
  async #getUserMedia(want: { audio: boolean; video: boolean }): Promise<MediaStream> {
    const ask = () =>
      navigator.mediaDevices.getUserMedia({
        audio: want.audio ? this.devices.audioConstraints() : false,
        video: want.video ? this.devices.videoConstraints() : false,
      });
    try {
      return await ask();
    } catch (error) {
      const name = (error as Error).name;
      const chosen =
        (want.audio && this.devices.selected.audioinput) || (want.video && this.devices.selected.videoinput);
      if (!chosen || (name !== 'OverconstrainedError' && name !== 'NotFoundError')) throw error;
      if (want.audio) this.devices.select('audioinput', '');
      if (want.video) this.devices.select('videoinput', '');
      return ask();
    }
  }

  #setAudio(track: MediaStreamTrack | undefined): void {
    this.localAudio = track;
    track?.addEventListener('ended', () => {
      if (this.localAudio === track) this.devices.trackEnded('audioinput', track);
    });
  }

  #setVideo(track: MediaStreamTrack | undefined): void {
    this.localVideo = track;
    track?.addEventListener('ended', () => {
      if (this.localVideo === track) this.devices.trackEnded('videoinput', track);
    });
  }

  /** Sends the captured tracks on the call's transports (a new call, or after a media reset). */
  async publish(link: Link): Promise<void> {
    this.#link = link;
    this.#uplink.start();
    if (this.localAudio && this.localAudio.readyState === 'live')
      await this.#produce('mic', this.localAudio, !this.micOn);
    if (this.localVideo && this.camOn) await this.#produce('webcam', this.localVideo, false);
    if (this.localScreen?.readyState === 'live') await this.#produce('screen', this.localScreen, false);
    if (this.localScreenAudio?.readyState === 'live')
      await this.#produce('screenAudio', this.localScreenAudio, false);
  }

  /** The transports are gone (closed with the call): forget the producers, keep the tracks. */
  unpublish(): void {
    for (const producer of this.#producers.values()) producer.close();
    this.#producers.clear();
    this.#layers.clear();
    this.#uplink.stop();
    this.#link = undefined;
  }

  /** Stops the local devices (leaving the call or the room). */
  release(): void {
    this.#releases++;
    this.unpublish();
    this.devices.onLost = undefined;
    this.devices.stop();
    this.localAudio?.stop();
    this.localAudio = undefined;
    this.localVideo?.stop();
    this.localVideo = undefined;
    this.#stopScreenTracks();
  }

  /** The notification handlers of what the server says about our producers. */
  handlers() {
    return {
      producerLayers: ({ producerId, maxSpatialLayer }: { producerId: string; maxSpatialLayer: number }) =>
        this.#layers.want(
          producerId,
          maxSpatialLayer,
          [...this.#producers.values()].find((p) => p.id === producerId),
        ),
      producerScore: ({ producerId, score }: { producerId: string; score: number }) =>
        this.#uplink.score(producerId, score),
    };
  }

  async #produce(source: MediaSource, track: MediaStreamTrack, paused: boolean): Promise<void> {
    const link = this.#link;
    if (!link) return;
    const transport = await link.transports.send();
    const producer = await this.#createProducer(link, transport, source, track, paused);
    const stillWanted =
      source === 'screen'
        ? this.localScreen === track
        : source === 'screenAudio'
          ? this.localScreenAudio === track
          : true;
    if (this.#link !== link || !stillWanted || this.#producers.has(source)) {
      producer.close();
      if (this.#link === link)
        await link.signaling.request('closeProducer', { producerId: producer.id }).catch(() => undefined);
      return;
    }
    if (paused) producer.pause();
    this.#producers.set(source, producer);
    if (source === 'screen') await this.#preferResolution(producer);
    // The server may have said which layers it wants before produce() resolved here.
    this.#layers.apply(producer);
  }

  async #createProducer(
    link: Link,
    transport: ms.Transport,
    source: MediaSource,
    track: MediaStreamTrack,
    paused: boolean,
  ): Promise<ms.Producer> {
    const base = { track, stopTracks: false, appData: { source, paused } };
    if (source === 'mic' || source === 'screenAudio')
      return transport.produce({
        ...base,
        codecOptions: { opusStereo: source === 'screenAudio', opusDtx: source === 'mic', opusFec: true },
      });
    const device = link.transports.device;
    const codec = device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
    // Firefox takes the encodings as given (mediasoup-client sets their temporal layers in
    // the parameters it sends); Chromium takes scalabilityMode.
    const temporal = device.handlerName.startsWith('Firefox') ? {} : { scalabilityMode: 'L1T3' };
    const attempts: RTCRtpEncodingParameters[][] =
      source === 'webcam'
        ? [
            cameraLayers.map((layer) => ({ ...layer, ...temporal })),
            [{ maxBitrate: 1_200_000 }], // no simulcast here: one encoding
          ]
        : [[{ maxBitrate: screenBitrate, ...temporal }], [{ maxBitrate: screenBitrate }]];
    let lastError: unknown;
    for (const encodings of attempts) {
      try {
        return await transport.produce({ ...base, encodings, ...(codec ? { codec } : {}) });
      } catch (error) {
        lastError = error;
        console.warn(`producing ${source} with ${encodings.length} encoding(s) failed`, error);
        if (transport.closed) break;
      }
    }
    throw lastError;
  }

  /** A shared screen keeps its resolution and loses frame rate when the uplink is short. */
  async #preferResolution(producer: ms.Producer): Promise<void> {
    const sender = producer.rtpSender;
    if (!sender) return;
    try {
      const parameters = sender.getParameters();
      parameters.degradationPreference = 'maintain-resolution';
      await sender.setParameters(parameters);
    } catch {
      // Not settable in this browser: contentHint 'detail' asks for the same.
    }
  }

  /** Send statistics per encoding of our camera and screen (read by the tests). */
  outboundStats(): Promise<OutboundSample[]> {
    return this.#uplink.outboundStats();
  }

  // ---- Microphone and camera ----

  async toggleMic(): Promise<void> {
    const on = !this.micOn;
    if (on && (!this.localAudio || this.localAudio.readyState !== 'live')) {
      try {
        const stream = await this.#getUserMedia({ audio: true, video: false });
        this.#setAudio(stream.getAudioTracks()[0]);
      } catch (error) {
        this.notice = `Microphone unavailable: ${(error as Error).message}`;
        return;
      }
    }
    this.micOn = on;
    await this.#setSourceEnabled('mic', this.localAudio, on);
  }

  async toggleCam(): Promise<void> {
    const on = !this.camOn;
    if (on) {
      try {
        const stream = await this.#getUserMedia({ audio: false, video: true });
        this.#setVideo(stream.getVideoTracks()[0]);
      } catch (error) {
        this.notice = `Camera unavailable: ${(error as Error).message}`;
        return;
      }
    } else {
      // Turning the camera off releases it (the camera light goes out).
      const track = this.localVideo;
      this.localVideo = undefined;
      track?.stop();
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
      if (track && producer.track !== track) {
        await producer.replaceTrack({ track });
        this.#layers.apply(producer);
      }
      producer.resume();
      await link.signaling.request('resumeProducer', { producerId: producer.id });
    } else {
      producer.pause();
      await link.signaling.request('pauseProducer', { producerId: producer.id });
    }
  }

  /**
   * Uses the chosen camera or microphone (Devices.selected) from now on: a new track, put
   * in place of the old one on the same producer (the others keep decoding; nothing is
   * negotiated again). Off devices are only remembered, for when they are turned on.
   */
  async switchDevice(kind: 'videoinput' | 'audioinput'): Promise<void> {
    const video = kind === 'videoinput';
    const current = video ? this.localVideo : this.localAudio;
    if (video ? !this.camOn : !current) return;
    const releases = this.#releases;
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await this.#getUserMedia({ audio: !video, video });
      track = video ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
    } catch (error) {
      this.notice = `Could not switch the ${video ? 'camera' : 'microphone'}: ${(error as Error).message}`;
      return;
    }
    if (!track) return;
    // Meanwhile: another switch put its track in place, the camera went off, or the call
    // was left: this track is not wanted (and must not stay open).
    const now = video ? this.localVideo : this.localAudio;
    if (now !== current || releases !== this.#releases || (video && !this.camOn)) {
      track.stop();
      return;
    }
    if (video) this.#setVideo(track);
    else {
      track.enabled = this.micOn;
      this.#setAudio(track);
    }
    const producer = this.#producers.get(video ? 'webcam' : 'mic');
    try {
      if (producer && !producer.closed) {
        await producer.replaceTrack({ track });
        this.#layers.apply(producer);
      } else if (this.#link && (video || this.micOn)) {
        await this.#produce(video ? 'webcam' : 'mic', track, !video && !this.micOn);
      }
    } finally {
      current?.stop();
    }
  }

  // ---- Screen share ----

  async toggleScreen(): Promise<void> {
    if (this.localScreen) await this.stopScreen();
    else await this.startScreen();
  }

  /** Asks the browser for a screen, window or tab (with its audio where offered) and sends it. */
  async startScreen(): Promise<void> {
    if (this.localScreen || this.#startingScreen) return;
    if (!navigator.mediaDevices?.getDisplayMedia) {
      this.notice = 'This browser cannot share a screen.';
      return;
    }
    this.#startingScreen = true;
    const releases = this.#releases;
    let stream: MediaStream;
    try {
      const options = {
        video: { frameRate: { ideal: 15, max: 15 } },
        audio: true,
        // Chromium: leave this tab out of the choices, offer switching and tab audio.
        selfBrowserSurface: 'exclude',
        surfaceSwitching: 'include',
      } as DisplayMediaStreamOptions;
      try {
        stream = await navigator.mediaDevices.getDisplayMedia(options);
      } catch (error) {
        // Browsers that refuse the audio request (or the hints): the picture alone.
        if ((error as Error).name !== 'TypeError') throw error;
        stream = await navigator.mediaDevices.getDisplayMedia({ video: options.video });
      }
    } catch (error) {
      // NotAllowedError: the person cancelled the picker; nothing to say.
      if ((error as Error).name !== 'NotAllowedError')
        this.notice = `Could not share the screen: ${(error as Error).message}`;
      return;
    } finally {
      this.#startingScreen = false;
    }
    const video = stream.getVideoTracks()[0];
    // Nothing to share, or the call was left while the browser asked: stop the capture.
    if (!video || releases !== this.#releases) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    video.contentHint = 'detail';
    const audio = stream.getAudioTracks()[0];
    this.localScreen = video;
    this.localScreenAudio = audio;
    // The browser's own "Stop sharing" ends the track.
    video.addEventListener('ended', () => {
      if (this.localScreen === video) void this.stopScreen();
    });
    try {
      await this.#produce('screen', video, false);
      if (audio && this.localScreen === video) await this.#produce('screenAudio', audio, false);
    } catch (error) {
      this.notice = `Could not share the screen: ${(error as Error).message}`;
      await this.stopScreen();
    }
  }

  /** Stops sharing: the tracks end and the others' screen tile goes. */
  async stopScreen(): Promise<void> {
    this.#stopScreenTracks();
    const link = this.#link;
    for (const source of ['screen', 'screenAudio'] as const) {
      const producer = this.#producers.get(source);
      if (!producer) continue;
      this.#producers.delete(source);
      this.#layers.forget(producer.id);
      this.#uplink.forget(producer.id);
      producer.close();
      if (link)
        await link.signaling.request('closeProducer', { producerId: producer.id }).catch(() => undefined);
    }
  }

  #stopScreenTracks(): void {
    this.localScreen?.stop();
    this.localScreenAudio?.stop();
    this.localScreen = undefined;
    this.localScreenAudio = undefined;
  }
}
