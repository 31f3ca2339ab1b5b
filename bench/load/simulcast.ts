// Simulcast for simulated publishers: one camera sent as several VP8 encodings (rids r0, r1,
// r2: 320x180, 640x360, 1280x720 by default), each its own RTP stream (SSRC) carrying the
// rid and mid header extensions, as a browser sends them. Each encoding has real keyframe
// headers with its own width and height, so that the SFU's layer switches (which happen on
// keyframes) can be seen by the receivers.
//
// werift 0.18 sends one SSRC per transceiver (its sender has "sender simulcast unsupported
// now" where the rid extension would be written), and msc-node's werift handler passes
// several encodings through to the server as they are (rids r0…rN) without doing anything
// with them. So the tool does what werift leaves out, from the outside and without patching
// werift: for every encoding beyond the first it creates another RTCRtpSender (a fresh
// random SSRC) on the same DTLS transport, gives it the transceiver's negotiated codec, mid
// and header extensions and its rid (rtpStreamId, which werift's sendRtp then writes into the
// sdes:rtp-stream-id extension), and registers it with the peer connection's RTP router, so
// that RTCP for its SSRC (PLI, NACK, receiver reports) reaches it. The transceiver's own
// sender carries the first encoding. SDP never mentions the extra SSRCs: mediasoup learns them
// from the rid extension, as it does for Chrome's.
import { randomInt } from 'node:crypto';
import { MediaStreamTrack, RTCRtpSender, type RTCDtlsTransport } from 'werift';
import { Pacer, Vp8Encoder, defaultVideo, type SourceStats, type VideoSourceOptions } from './media.js';

export interface SimulcastLayer {
  /** RTP stream id; msc-node names the encodings r0, r1, … in order. */
  rid: string;
  width: number;
  height: number;
  /** RTP payload bitrate of this encoding, bit/s. */
  bitrate: number;
}

/** The ladder of the issue: 320x180 / 640x360 / 1280x720 at 150 / 500 / 1500 kbit/s. */
export const defaultSimulcastLayers: SimulcastLayer[] = [
  { rid: 'r0', width: 320, height: 180, bitrate: 150_000 },
  { rid: 'r1', width: 640, height: 360, bitrate: 500_000 },
  { rid: 'r2', width: 1280, height: 720, bitrate: 1_500_000 },
];

/** Layers from bitrates in kbit/s ("150,500,1500"), on the default ladder's sizes. */
export function simulcastLayersFromKbps(kbps: number[]): SimulcastLayer[] {
  if (kbps.length < 1 || kbps.length > defaultSimulcastLayers.length)
    throw new Error(`simulcast: 1 to ${defaultSimulcastLayers.length} bitrates`);
  return kbps.map((k, i) => ({ ...(defaultSimulcastLayers[i] as SimulcastLayer), bitrate: k * 1000 }));
}

/** The `encodings` of mediasoup-client's produce() for these layers (lowest first). */
export function simulcastEncodings(layers: SimulcastLayer[]) {
  const top = layers[layers.length - 1] as SimulcastLayer;
  return layers.map((layer) => ({
    rid: layer.rid,
    maxBitrate: layer.bitrate,
    scaleResolutionDownBy: top.height / layer.height,
  }));
}

/** werift internals the extra senders need (private in its typings). */
interface SenderInternals {
  ssrc: number;
  mid?: string;
  cname?: string;
  rtpStreamId?: string;
  headerExtensions: unknown[];
  codec?: unknown;
  dtlsTransport: RTCDtlsTransport & { router: { registerRtpSender(sender: RTCRtpSender): void } };
}

/**
 * Gives the transceiver's sender (`main`, already negotiated: produce() resolved) the first
 * rid and creates one more sender per further rid. Returns the tracks to write each
 * encoding's RTP into (the first is `mainTrack`) and the senders (for their PLIs).
 */
export function addSimulcastSenders(
  main: RTCRtpSender,
  mainTrack: MediaStreamTrack,
  rids: string[],
): Array<{ rid: string; track: MediaStreamTrack; sender: RTCRtpSender }> {
  const m = main as unknown as SenderInternals;
  m.rtpStreamId = rids[0];
  return rids.map((rid, i) => {
    if (i === 0) return { rid, track: mainTrack, sender: main };
    const track = new MediaStreamTrack({ kind: 'video' });
    const sender = new RTCRtpSender(track);
    const s = sender as unknown as SenderInternals;
    s.mid = m.mid;
    s.cname = m.cname;
    s.headerExtensions = m.headerExtensions;
    s.codec = m.codec;
    (track as unknown as { codec: unknown }).codec = m.codec;
    s.rtpStreamId = rid;
    sender.setDtlsTransport(m.dtlsTransport);
    m.dtlsTransport.router.registerRtpSender(sender);
    return { rid, track, sender };
  });
}

export interface SimulcastSourceOptions extends Pick<
  VideoSourceOptions,
  'fps' | 'keyframeInterval' | 'maxPayload'
> {
  layers: SimulcastLayer[];
}

/** Counters of one encoding the publisher sends (plain data: crosses worker threads). */
export interface SentLayerReport extends SourceStats {
  rid: string;
  width: number;
  /** Whether it is being sent now (not paused by producerLayers). */
  active: boolean;
}

/**
 * A simulcast VP8 "camera": one frame clock (every 1/fps s), one RTP timestamp shared by all
 * encodings (as an encoder sends the same captured frame at every size), an encoder per
 * layer. Encodings above `maxSpatialLayer` are paused (nothing sent), as a browser does when
 * told that nobody views them; a resumed encoding starts with a keyframe.
 */
export class SimulcastSource {
  readonly layers: SimulcastLayer[];
  readonly #encoders: Vp8Encoder[];
  readonly #pacer: Pacer;
  readonly #fps: number;
  #timestamp = randomInt(0, 0xffffffff);
  #maxSpatialLayer: number;

  constructor(tracks: MediaStreamTrack[], options: Partial<SimulcastSourceOptions> = {}) {
    const { fps, keyframeInterval, maxPayload } = { ...defaultVideo, ...options };
    this.layers = options.layers ?? defaultSimulcastLayers;
    if (tracks.length !== this.layers.length) throw new Error('simulcast: one track per layer');
    this.#fps = fps;
    this.#encoders = this.layers.map(
      (layer, i) =>
        new Vp8Encoder(tracks[i] as MediaStreamTrack, {
          bitrate: layer.bitrate,
          width: layer.width,
          height: layer.height,
          fps,
          keyframeInterval,
          maxPayload,
        }),
    );
    this.#maxSpatialLayer = this.layers.length - 1;
    this.#pacer = new Pacer(1000 / fps, () => this.#frame());
  }

  #frame(): void {
    for (let i = 0; i <= this.#maxSpatialLayer && i < this.#encoders.length; i++)
      this.#encoders[i]?.frame(this.#timestamp);
    this.#timestamp = (this.#timestamp + Math.round(90000 / this.#fps)) >>> 0;
  }

  get maxSpatialLayer(): number {
    return this.#maxSpatialLayer;
  }

  /** Sends encodings 0…max only (-1: none); encodings that resume start with a keyframe. */
  setMaxSpatialLayer(max: number): void {
    const clamped = Math.max(-1, Math.min(this.layers.length - 1, max));
    for (let i = this.#maxSpatialLayer + 1; i <= clamped; i++) this.#encoders[i]?.forceKeyframe();
    this.#maxSpatialLayer = clamped;
  }

  /** The SFU asked for a keyframe of one encoding (PLI on its SSRC). */
  requestKeyframe(layer: number): void {
    this.#encoders[layer]?.requestKeyframe();
  }

  /** All encodings together (what the camera costs the uplink). */
  get stats(): SourceStats {
    const total: SourceStats = { packets: 0, bytes: 0, frames: 0, keyframes: 0, forcedKeyframes: 0 };
    for (const encoder of this.#encoders) {
      total.packets += encoder.stats.packets;
      total.bytes += encoder.stats.bytes;
      total.frames += encoder.stats.frames;
      total.keyframes += encoder.stats.keyframes;
      total.forcedKeyframes += encoder.stats.forcedKeyframes;
    }
    return total;
  }

  layerReports(): SentLayerReport[] {
    return this.#encoders.map((encoder, i) => ({
      rid: (this.layers[i] as SimulcastLayer).rid,
      width: (this.layers[i] as SimulcastLayer).width,
      active: i <= this.#maxSpatialLayer,
      ...encoder.stats,
    }));
  }

  start(): void {
    this.#pacer.start();
  }

  stop(): void {
    this.#pacer.stop();
  }
}
