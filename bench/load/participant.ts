// A simulated participant of the platform: joins a room through the real signaling, with
// the steps and order of the web app (web/src/lib/call/session.svelte.ts):
// getRouterRtpCapabilities → Device.load → join → createWebRtcTransport recv → consume
// every producer (then resumeConsumer) → createWebRtcTransport send → produce mic, webcam.
// The WebRTC stack is werift (ICE, DTLS 1.2, SRTP, RTCP SR/RR, NACK, PLI, transport-cc)
// driven by msc-node, mediasoup-client's port to Node (same ORTC ↔ SDP mapping).
import { Device, type types as msc } from 'msc-node';
import {
  MediaStreamTrack,
  RTCRtpCodecParameters,
  useAbsSendTime,
  useNACK,
  usePLI,
  useSdesMid,
  useSdesRTPStreamId,
  useTransportWideCC,
  useTWCC,
} from 'werift';
import type { ProducerInfo } from '@meet/protocol';
import {
  AudioSource,
  StreamStats,
  VideoSource,
  type AudioSourceOptions,
  type StreamSnapshot,
  type VideoSourceOptions,
  timeToKeyframe,
} from './media.js';
import {
  addSimulcastSenders,
  defaultSimulcastLayers,
  SimulcastSource,
  simulcastEncodings,
  type SentLayerReport,
  type SimulcastLayer,
} from './simulcast.js';
import { createIdentity } from '../../tests/helpers/identity.js';
import { signalingUrl, SignalingClient } from './signaling.js';
import { applyWeriftFixes } from './werift-fixes.js';

applyWeriftFixes();

export interface ParticipantOptions {
  baseUrl: string;
  roomId: string;
  name: string;
  /** Sends a microphone and a camera. */
  publish: boolean;
  /** Receives every other participant's media. */
  subscribe: boolean;
  video?: Partial<VideoSourceOptions>;
  audio?: Partial<AudioSourceOptions>;
  /**
   * Publish the camera as simulcast: these encodings (lowest first; `true`: the default
   * ladder 320x180 / 640x360 / 1280x720 at 150 / 500 / 1500 kbit/s). Absent: one encoding
   * of `video` (640x360 by default).
   */
  simulcast?: SimulcastLayer[] | boolean;
  /**
   * Negotiate transport-wide congestion control (default true). werift sends transport-cc
   * feedback per received stream instead of per transport, which is wrong as soon as one
   * transport receives several streams: mediasoup's bandwidth estimate for such a receiver
   * then stays near its initial value and caps the layers it forwards. false: no transport-cc,
   * so mediasoup forwards every consumer its preferred layers (no bandwidth estimation).
   */
  transportCc?: boolean;
}

/** A tile of a view, by the publisher whose camera it shows (the load tool finds the consumer). */
export interface PeerTile {
  peerId: string;
  /** Rendered size in device pixels. */
  width: number;
  height: number;
}

export interface ReceivedStream {
  /** The publishing participant (its peer id on this platform, its feed id on Janus). */
  from: string;
  kind: 'audio' | 'video';
  stats: StreamStats;
  consumerId: string;
  producerId: string;
  /** The spatial layer the server last reported forwarding (consumerLayers); undefined before. */
  spatialLayer?: number | null;
}

/** One received stream in a report: cumulative counters at the moment of the report. */
export interface StreamReport {
  from: string;
  kind: 'audio' | 'video';
  consumerId: string;
  /** The spatial layer the server last reported forwarding (consumerLayers), if it did. */
  spatialLayer?: number | null;
  snapshot: StreamSnapshot;
}

/** A participant's state as the runner sees it (plain data: it crosses worker threads). */
export interface ParticipantReport {
  id: string;
  name: string;
  /** Signaling connect → first media packet of any stream, ms (undefined: none yet). */
  joinMs: number | undefined;
  /** RTP payload bytes its sources sent so far. */
  sentBytes: number;
  /** When the report was taken: epoch ms, comparable across threads of the process. */
  at: number;
  /** RTP packets its sources sent so far, per kind. */
  sentPackets: { audio: number; video: number };
  streams: StreamReport[];
  /** A simulcast publisher's encodings: what each sent so far, and whether it is sending now. */
  sentVideoLayers?: SentLayerReport[];
  errors: string[];
}

/** What a viewer does to measure a layer switch (see MeetParticipant.measureLayerSwitch). */
export interface LayerSwitchRequest {
  /** The whole view to set (the grown tile included). */
  tiles: PeerTile[];
  /** The publisher whose tile grew. */
  peerId: string;
  /** The switch is done when a keyframe at least this wide arrives from that publisher… */
  minWidth: number;
  /** …and at most this wide (a tile that shrank: 320 for the lowest layer). */
  maxWidth?: number;
  timeoutMs: number;
}

/** What the load runner needs of a participant, on this platform or on Janus, local or in a thread. */
export interface ParticipantHandle {
  readonly name: string;
  /** Own id as others see it (peer id / Janus feed id); set once joined. */
  readonly id: string;
  report(): ParticipantReport | Promise<ParticipantReport>;
  /** Sends setView with these tiles (on Janus: a configure of the subscribed videos). */
  setView?(tiles: PeerTile[]): Promise<void>;
  /** setView, then ms until the first keyframe of at least minWidth (undefined: timed out). */
  measureLayerSwitch?(request: LayerSwitchRequest): Promise<number | undefined>;
  close(): Promise<void>;
}

/** A participant living in this thread. */
export interface SimulatedParticipant extends ParticipantHandle {
  readonly streams: ReceivedStream[];
  readonly video: VideoSource | SimulcastSource | undefined;
  readonly audio: AudioSource | undefined;
  /** performance.now() when the signaling connection was opened. */
  readonly connectStartedAt: number;
  /** Errors seen after joining (failed consume, invalid notifications). */
  readonly errors: string[];
}

export function reportOf(p: SimulatedParticipant): ParticipantReport {
  let first: number | undefined;
  for (const stream of p.streams) {
    const at = stream.stats.firstPacketAt;
    if (at !== undefined && (first === undefined || at < first)) first = at;
  }
  return {
    id: p.id,
    name: p.name,
    joinMs: first === undefined ? undefined : first - p.connectStartedAt,
    sentBytes: (p.video?.stats.bytes ?? 0) + (p.audio?.stats.bytes ?? 0),
    at: performance.timeOrigin + performance.now(),
    sentPackets: { audio: p.audio?.stats.packets ?? 0, video: p.video?.stats.packets ?? 0 },
    streams: p.streams.map((s) => ({
      from: s.from,
      kind: s.kind,
      consumerId: s.consumerId,
      ...(s.spatialLayer !== undefined ? { spatialLayer: s.spatialLayer } : {}),
      snapshot: s.stats.snapshot(),
    })),
    ...(p.video instanceof SimulcastSource ? { sentVideoLayers: p.video.layerReports() } : {}),
    errors: [...p.errors],
  };
}

/**
 * The codecs and header extensions the werift side offers (what Chrome offers, minus RTX/RED).
 * With `simulcast`, video also offers the rid extension (sdes:rtp-stream-id) its encodings
 * carry; without `transportCc`, no transport-wide congestion control (see ParticipantOptions).
 */
export function weriftCapabilities(simulcast = false, transportCc = true) {
  return {
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/VP8',
          clockRate: 90000,
          rtcpFeedback: [useNACK(), usePLI(), ...(transportCc ? [useTWCC()] : [])],
        }),
      ],
    },
    headerExtensions: {
      audio: [useSdesMid()],
      video: [
        useSdesMid(),
        useAbsSendTime(),
        ...(transportCc ? [useTransportWideCC()] : []),
        ...(simulcast ? [useSdesRTPStreamId()] : []),
      ],
    },
  };
}

/** werift ICE settings: loopback candidates are gathered only when the server announces one. */
export function iceSettings(candidates: Array<{ address?: string; ip?: string }>) {
  const loopback = candidates.some((c) => /^127\./.test(c.address ?? c.ip ?? ''));
  return { iceUseIpv6: false, ...(loopback ? { iceAdditionalHostAddresses: ['127.0.0.1'] } : {}) };
}

export class MeetParticipant implements SimulatedParticipant {
  readonly name: string;
  id = '';
  readonly streams: ReceivedStream[] = [];
  video: VideoSource | SimulcastSource | undefined;
  audio: AudioSource | undefined;
  connectStartedAt = 0;
  readonly errors: string[] = [];
  readonly #options: ParticipantOptions;
  #signaling: SignalingClient | undefined;
  #device: Device | undefined;
  #recv: msc.Transport | undefined;
  #send: msc.Transport | undefined;
  #consumed = new Set<string>();
  #unsubscribe: Array<() => void> = [];
  #extraSenders: Array<{ stop(): void }> = [];
  /** Latest producerLayers per producer id (it may arrive before produce() resolved). */
  #producerLayers = new Map<string, number>();
  #webcamId: string | undefined;
  #closed = false;

  private constructor(options: ParticipantOptions) {
    this.#options = options;
    this.name = options.name;
  }

  /** Creates an identity, then joins; resolves when publishing and consuming are set up. */
  static async join(options: ParticipantOptions): Promise<MeetParticipant> {
    const participant = new MeetParticipant(options);
    try {
      await participant.#join();
    } catch (error) {
      await participant.close();
      throw new Error(`${options.name}: ${(error as Error).message}`, { cause: error });
    }
    return participant;
  }

  report(): ParticipantReport {
    return reportOf(this);
  }

  async #join(): Promise<void> {
    const { baseUrl, roomId, name } = this.#options;
    const { cookie } = await createIdentity(baseUrl, name);
    this.connectStartedAt = performance.now();
    const signaling = await SignalingClient.connect(signalingUrl(baseUrl, roomId), cookie);
    this.#signaling = signaling;
    signaling.onProtocolError = (message) => this.errors.push(message);
    const pending: Array<{ peerId: string; producer: ProducerInfo }> = [];
    signaling.on('newProducer', ({ peerId, ...producer }) => {
      if (this.#recv) void this.#consume(peerId, producer);
      else pending.push({ peerId, producer });
    });
    signaling.on('mediaReset', ({ reason }) => this.errors.push(`mediaReset: ${reason}`));
    signaling.on('producerLayers', ({ producerId, maxSpatialLayer }) => {
      this.#producerLayers.set(producerId, maxSpatialLayer);
      if (producerId === this.#webcamId && this.video instanceof SimulcastSource)
        this.video.setMaxSpatialLayer(maxSpatialLayer);
    });
    signaling.on('consumerLayers', ({ consumerId, spatialLayer }) => {
      const stream = this.streams.find((s) => s.consumerId === consumerId);
      if (stream) stream.spatialLayer = spatialLayer;
    });

    const layers = this.#simulcastLayers();
    const routerRtpCapabilities = await signaling.request('getRouterRtpCapabilities', {});
    const device = new Device(weriftCapabilities(layers !== undefined, this.#options.transportCc ?? true), {
      handlerName: 'werift',
    });
    await device.load({ routerRtpCapabilities: routerRtpCapabilities as msc.RtpCapabilities });
    this.#device = device;
    const joined = await signaling.request('join', {
      displayName: name,
      rtpCapabilities: device.rtpCapabilities as never,
    });
    // Bench rooms are never locked: a 'waiting' answer means someone locked this one.
    if (joined.status !== 'joined') throw new Error(`room ${roomId} is locked: waiting in its lobby`);
    const { peerId, peers } = joined;
    this.id = peerId;
    if (this.#options.subscribe) {
      this.#recv = await this.#createTransport('recv');
      const existing = peers.flatMap((peer) =>
        peer.producers.map((producer) => ({ peerId: peer.id, producer })),
      );
      await Promise.all(
        [...existing, ...pending.splice(0)].map(({ peerId, producer }) => this.#consume(peerId, producer)),
      );
    }
    if (this.#options.publish) {
      this.#send = await this.#createTransport('send');
      const audioTrack = new MediaStreamTrack({ kind: 'audio' });
      const mic = await this.#send.produce({
        track: audioTrack as never,
        codecOptions: { opusStereo: false, opusDtx: false, opusFec: true },
        appData: { source: 'mic' },
      });
      this.audio = new AudioSource(audioTrack, this.#options.audio);
      const videoTrack = new MediaStreamTrack({ kind: 'video' });
      const webcam = await this.#send.produce({
        track: videoTrack as never,
        encodings: layers ? simulcastEncodings(layers) : [{ maxBitrate: 800_000 }],
        appData: { source: 'webcam' },
      });
      this.#webcamId = webcam.id;
      const sender = webcam.rtpSender;
      if (layers) {
        if (!sender) throw new Error('simulcast: the webcam producer has no werift sender');
        const encodings = addSimulcastSenders(
          sender,
          videoTrack,
          layers.map((layer) => layer.rid),
        );
        const { fps, keyframeInterval, maxPayload } = this.#options.video ?? {};
        const video = new SimulcastSource(
          encodings.map((e) => e.track),
          {
            layers,
            ...(fps ? { fps } : {}),
            ...(keyframeInterval ? { keyframeInterval } : {}),
            ...(maxPayload ? { maxPayload } : {}),
          },
        );
        this.video = video;
        encodings.forEach(({ sender: s }, i) => {
          if (i > 0) this.#extraSenders.push(s);
          this.#unsubscribe.push(
            s.onPictureLossIndication.subscribe(() => video.requestKeyframe(i)).unSubscribe,
          );
        });
        const known = this.#producerLayers.get(webcam.id);
        if (known !== undefined) video.setMaxSpatialLayer(known);
        video.start();
      } else {
        const video = new VideoSource(videoTrack, this.#options.video);
        this.video = video;
        if (sender) {
          this.#unsubscribe.push(
            sender.onPictureLossIndication.subscribe(() => video.requestKeyframe()).unSubscribe,
          );
        }
        video.start();
      }
      void mic;
      this.audio.start();
    }
  }

  #simulcastLayers(): SimulcastLayer[] | undefined {
    const { simulcast } = this.#options;
    if (!simulcast) return undefined;
    return simulcast === true ? defaultSimulcastLayers : simulcast;
  }

  /** The video stream received from a publisher (its camera). */
  videoFrom(peerId: string): ReceivedStream | undefined {
    return this.streams.find((s) => s.from === peerId && s.kind === 'video');
  }

  /**
   * Tells the server what this participant shows: the cameras of these publishers, at these
   * sizes (device pixels); every other video consumer is then off-screen. Publishers whose
   * camera this participant does not receive (yet) are left out.
   */
  async setView(tiles: PeerTile[]): Promise<void> {
    const signaling = this.#signaling as SignalingClient;
    const viewTiles = tiles.flatMap(({ peerId, width, height }) => {
      const stream = this.videoFrom(peerId);
      return stream ? [{ consumerId: stream.consumerId, width, height }] : [];
    });
    await signaling.request('setView', { tiles: viewTiles });
  }

  /**
   * A layer switch as a viewer sees it: sets the view (where `peerId`'s tile grew) and
   * returns the ms from sending setView to the first packet of a keyframe from that
   * publisher whose width is within [minWidth, maxWidth] (the new layer's first frame), or undefined when none
   * came within `timeoutMs`.
   */
  async measureLayerSwitch({
    tiles,
    peerId,
    minWidth,
    maxWidth = Infinity,
    timeoutMs,
  }: LayerSwitchRequest): Promise<number | undefined> {
    const stream = this.videoFrom(peerId);
    if (!stream) throw new Error(`no video received from ${peerId}`);
    return timeToKeyframe(stream.stats, () => this.setView(tiles), { minWidth, maxWidth, timeoutMs });
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<msc.Transport> {
    const signaling = this.#signaling as SignalingClient;
    const device = this.#device as Device;
    const params = await signaling.request('createWebRtcTransport', { direction });
    const options = {
      id: params.id,
      iceParameters: params.iceParameters as msc.IceParameters,
      iceCandidates: params.iceCandidates as msc.IceCandidate[],
      dtlsParameters: params.dtlsParameters as msc.DtlsParameters,
      iceServers: params.iceServers as never,
      iceTransportPolicy: params.iceTransportPolicy,
      additionalSettings: iceSettings(params.iceCandidates),
    };
    const transport =
      direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }: { dtlsParameters: unknown }, callback, errback) => {
      signaling
        .request('connectWebRtcTransport', {
          transportId: transport.id,
          dtlsParameters: dtlsParameters as never,
        })
        .then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on(
        'produce',
        (
          {
            kind,
            rtpParameters,
            appData,
          }: { kind: 'audio' | 'video'; rtpParameters: unknown; appData: { source: 'mic' | 'webcam' } },
          callback: (data: { id: string }) => void,
          errback: (error: Error) => void,
        ) => {
          signaling
            .request('produce', {
              transportId: transport.id,
              kind,
              rtpParameters: rtpParameters as never,
              source: appData.source,
            })
            .then(({ id }) => callback({ id }), errback);
        },
      );
    }
    return transport;
  }

  async #consume(peerId: string, producer: ProducerInfo): Promise<void> {
    if (this.#closed || this.#consumed.has(producer.id)) return;
    this.#consumed.add(producer.id);
    const signaling = this.#signaling as SignalingClient;
    const recv = this.#recv as msc.Transport;
    try {
      const params = await signaling.request('consume', { transportId: recv.id, producerId: producer.id });
      const consumer = await recv.consume({
        id: params.id,
        producerId: params.producerId,
        kind: params.kind,
        rtpParameters: params.rtpParameters as msc.RtpParameters,
      });
      const codec = params.rtpParameters.codecs[0];
      const stats = new StreamStats(
        params.kind,
        codec?.clockRate ?? (params.kind === 'audio' ? 48000 : 90000),
      );
      this.#unsubscribe.push(stats.attach(consumer.track as unknown as MediaStreamTrack));
      this.streams.push({
        from: params.peerId,
        kind: params.kind,
        stats,
        consumerId: params.id,
        producerId: params.producerId,
      });
      await signaling.request('resumeConsumer', { consumerId: consumer.id });
    } catch (error) {
      if (!this.#closed)
        this.errors.push(`consume ${producer.kind} of ${peerId}: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.video?.stop();
    this.audio?.stop();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    for (const sender of this.#extraSenders.splice(0)) sender.stop();
    if (this.#signaling) {
      await this.#signaling.request('leave', {}).catch(() => undefined);
      await this.#signaling.close();
    }
    for (const transport of [this.#send, this.#recv]) {
      try {
        transport?.close();
      } catch {
        // already closed
      }
    }
  }
}
