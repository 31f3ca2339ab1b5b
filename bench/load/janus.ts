// The reference SFU: Janus (Debian package `janus`) with its VideoRoom plugin, driven by the
// same werift media sources and receive statistics as this platform's participants.
// startJanus() writes a minimal configuration (videoroom plugin and websockets transport
// only, string room ids, loopback media) into a temporary directory and starts `janus`;
// JanusParticipant speaks the Janus WebSocket API: a "publisher" handle joins the room (and
// publishes when it sends), one multistream "subscriber" handle receives every other feed
// on one PeerConnection (renegotiated when feeds appear), as in janus.js's videoroom demo.
//
// Simulcast (option `simulcast`, as on this platform): the publisher's offer announces the
// encodings with werift's own `a=rid:r0 send` … `a=simulcast:send r0;r1;r2` lines (the
// transceiver's `simulcast` option) and the mid and rid header extensions; the JSEP says
// `rid_order: "lmh"` (Janus assumes the first rid is the highest otherwise). The RTP of each
// encoding goes on its own SSRC with its rid (addSimulcastSenders, bench/load/simulcast.ts):
// Janus learns the SSRCs from the rid extension. Janus tells publishers nothing about what
// is viewed (no dynacast): they send every encoding all the time. A viewer's setView maps
// each tile to the substream that fits it, by the server's rule (substreamForTile), and
// pauses the videos of its subscription that are on no tile (configure `send: false`).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import {
  MediaStreamTrack,
  PictureLossIndication,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  type RTCRtpSender,
  type RTCRtpTransceiver,
  type RtcpPacket,
} from 'werift';
import {
  AudioSource,
  StreamStats,
  VideoSource,
  type AudioSourceOptions,
  type VideoSourceOptions,
  timeToKeyframe,
} from './media.js';
import {
  reportOf,
  weriftCapabilities,
  type LayerSwitchRequest,
  type ParticipantReport,
  type PeerTile,
  type ReceivedStream,
  type SimulatedParticipant,
} from './participant.js';
import {
  addSimulcastSenders,
  defaultSimulcastLayers,
  SimulcastSource,
  type SimulcastLayer,
} from './simulcast.js';
import { createTarget } from './meet-target.js';
import type { Target } from './runner.js';
import type { MediaSpec } from './threads.js';
import { applyWeriftFixes } from './werift-fixes.js';

applyWeriftFixes();

const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';
export const janusBinary = process.env.JANUS_BIN ?? '/usr/bin/janus';

// ---------------------------------------------------------------------------------------
// The Janus WebSocket API (one session per participant).

interface JanusMessage {
  janus: string;
  transaction?: string;
  session_id?: number;
  sender?: number;
  data?: { id?: number };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: { type: 'offer' | 'answer'; sdp: string };
  error?: { code: number; reason: string };
}

class JanusSession {
  readonly #ws: WebSocket;
  readonly #transactions = new Map<
    string,
    { resolve: (m: JanusMessage) => void; reject: (e: Error) => void }
  >();
  /**
   * Asynchronous plugin requests waiting for their event, by transaction (Janus echoes the
   * request's transaction in the events that answer it): true when the event was theirs.
   */
  readonly #waiters = new Map<string, (message: JanusMessage) => boolean>();
  readonly #handlers = new Map<number, (message: JanusMessage) => void>();
  #keepalive: NodeJS.Timeout | undefined;
  id = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as JanusMessage;
      if (message.janus === 'ack' && message.transaction && !this.#acks.has(message.transaction)) return;
      if (message.janus === 'event' && message.transaction) {
        if (this.#waiters.get(message.transaction)?.(message)) return;
      }
      const pending = message.transaction ? this.#transactions.get(message.transaction) : undefined;
      if (pending && message.janus !== 'event') {
        this.#transactions.delete(message.transaction as string);
        this.#acks.delete(message.transaction as string);
        if (message.janus === 'error')
          pending.reject(new Error(`janus: ${message.error?.reason ?? 'error'}`));
        else pending.resolve(message);
        return;
      }
      if (message.sender !== undefined) this.#handlers.get(message.sender)?.(message);
    });
    ws.on('close', () => {
      clearInterval(this.#keepalive);
      for (const pending of this.#transactions.values()) pending.reject(new Error('janus socket closed'));
      this.#transactions.clear();
    });
  }

  /** Transactions whose "ack" is the answer (asynchronous plugin requests). */
  readonly #acks = new Set<string>();

  static async open(wsUrl: string): Promise<JanusSession> {
    const ws = new WebSocket(wsUrl, 'janus-protocol');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const session = new JanusSession(ws);
    const created = await session.send({ janus: 'create' });
    session.id = created.data?.id as number;
    session.#keepalive = setInterval(
      () => void session.send({ janus: 'keepalive' }, { ack: true }).catch(() => undefined),
      20_000,
    );
    return session;
  }

  send(
    body: Record<string, unknown>,
    options: { ack?: boolean; transaction?: string } = {},
  ): Promise<JanusMessage> {
    const transaction = options.transaction ?? randomUUID();
    if (options.ack) this.#acks.add(transaction);
    return new Promise((resolve, reject) => {
      this.#transactions.set(transaction, { resolve, reject });
      this.#ws.send(JSON.stringify({ ...body, transaction, ...(this.id ? { session_id: this.id } : {}) }));
    });
  }

  /** Attaches a VideoRoom handle; `onEvent` gets its events that answer no pending request. */
  async attach(onEvent: (message: JanusMessage) => void): Promise<number> {
    const attached = await this.send({ janus: 'attach', plugin: 'janus.plugin.videoroom' });
    const handle = attached.data?.id as number;
    this.#handlers.set(handle, onEvent);
    return handle;
  }

  /** A synchronous plugin request (create, …): the answer is the plugin data. */
  async request(handle: number, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const answer = await this.send({ janus: 'message', handle_id: handle, body });
    const data = answer.plugindata?.data ?? {};
    if (data.error) throw new Error(`janus videoroom: ${String(data.error)}`);
    return data;
  }

  /**
   * An asynchronous plugin request: resolves with the first event of its transaction that
   * `waitFor` accepts (its other events go to the handle's handler), rejects on an error event.
   */
  async message(
    handle: number,
    body: Record<string, unknown>,
    jsep?: { type: string; sdp: string; rid_order?: 'hml' | 'lmh' },
    waitFor: (message: JanusMessage) => boolean = () => true,
  ): Promise<JanusMessage> {
    const transaction = randomUUID();
    let settle: (error: Error | undefined, message?: JanusMessage) => void = () => undefined;
    const event = new Promise<JanusMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`janus: no answer to ${String(body.request)}`)),
        30_000,
      );
      settle = (error, message) => {
        clearTimeout(timer);
        this.#waiters.delete(transaction);
        if (error) reject(error);
        else resolve(message as JanusMessage);
      };
      this.#waiters.set(transaction, (message) => {
        const data = message.plugindata?.data;
        if (data?.error) settle(new Error(`janus videoroom: ${String(data.error)}`));
        else if (waitFor(message)) settle(undefined, message);
        else return false;
        return true;
      });
    });
    try {
      await this.send(
        { janus: 'message', handle_id: handle, body, ...(jsep ? { jsep } : {}) },
        { ack: true, transaction },
      );
    } catch (error) {
      settle(error as Error);
    }
    return event;
  }

  trickleCompleted(handle: number): Promise<JanusMessage> {
    return this.send({ janus: 'trickle', handle_id: handle, candidate: { completed: true } }, { ack: true });
  }

  async close(): Promise<void> {
    clearInterval(this.#keepalive);
    await Promise.race([this.send({ janus: 'destroy' }).catch(() => undefined), sleep(2000)]);
    this.#ws.close();
  }
}

// ---------------------------------------------------------------------------------------
// A simulated participant on Janus.

export interface JanusParticipantOptions {
  wsUrl: string;
  roomId: string;
  name: string;
  publish: boolean;
  subscribe: boolean;
  video?: Partial<VideoSourceOptions>;
  audio?: Partial<AudioSourceOptions>;
  /** Publish the camera as simulcast, as on this platform (see ParticipantOptions.simulcast). */
  simulcast?: SimulcastLayer[] | boolean;
  /** Negotiate transport-cc (default true; see ParticipantOptions.transportCc). */
  transportCc?: boolean;
}

interface FeedStream {
  mid: string;
  feed_id: string;
  type: 'audio' | 'video' | 'data';
  /** Present when the publisher's stream is simulcast (its substream state for this subscriber). */
  simulcast?: { substream: number; 'substream-target': number };
}

/** What this subscriber asked Janus for one video of its subscription (by mid). */
interface VideoState {
  /** Janus relays it (configure `send`). */
  send: boolean;
  /** The substream asked for (Janus's default: 2, the highest). */
  substream: number;
  simulcast: boolean;
}

const SDES_MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';

function peerConfig(simulcast: boolean, transportCc: boolean) {
  const capabilities = weriftCapabilities(simulcast, transportCc);
  // werift numbers the audio and then the video header extensions one after the other, so
  // the mid extension gets one id on the audio m-line and another on the video one, although
  // both are bundled. Janus reads one mid id per PeerConnection (the first in the offer) and,
  // with the wrong one, cannot tell which m-line the simulcast SSRCs (announced by no SDP)
  // belong to: it drops them. One object for both makes werift give it one id.
  const { audio, video } = capabilities.headerExtensions;
  const mid = video.find((extension) => extension.uri === SDES_MID);
  if (mid) capabilities.headerExtensions.audio = audio.map((e) => (e.uri === SDES_MID ? mid : e));
  return {
    ...capabilities,
    // werift's default is a public STUN server: none here (and none needed on loopback).
    iceServers: [],
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
  };
}

/** Share of a tile's height a layer must have to fit it (FIT_RATIO of server/src/media/layers.ts). */
const FIT_RATIO = 0.75;

/**
 * The substream that fits a tile, by the rule this platform's server applies to its
 * consumers (spatialLayerForTile in server/src/media/layers.ts): the lowest layer whose
 * height is at least 75 % of the tile's effective height (its height, or that of a 16:9
 * picture as wide as the tile, if larger); the top one when none is.
 */
export function substreamForTile(tile: { width: number; height: number }, layers: SimulcastLayer[]): number {
  const effectiveHeight = Math.max(tile.height, (tile.width * 9) / 16);
  const fits = layers.findIndex((layer) => layer.height >= FIT_RATIO * effectiveHeight);
  return fits < 0 ? Math.max(0, layers.length - 1) : fits;
}

/** werift's RTP router (private in its typings). */
interface RouterInternals {
  ssrcTable: Record<number, { handleRtcpPacket(packet: RtcpPacket): void } | undefined>;
  routeRtcp(packet: RtcpPacket): void;
}

/**
 * werift hands a received PLI to the sender whose SSRC is the PLI's *sender* SSRC, not its
 * media source SSRC. mediasoup writes the stream's SSRC in both fields, so this goes unseen
 * there; Janus writes its own SSRC as the sender, so none of its keyframe requests would
 * reach a publisher (a layer switch would wait for the next periodic keyframe). On this
 * PeerConnection PLIs go by their media source SSRC, as RFC 4585 has it.
 */
function routePliByMediaSsrc(pc: RTCPeerConnection): void {
  const router = (pc as unknown as { router: RouterInternals }).router;
  const route = router.routeRtcp.bind(router);
  router.routeRtcp = (packet) => {
    if (packet.type === RtcpPayloadSpecificFeedback.type) {
      const { feedback } = packet as RtcpPayloadSpecificFeedback;
      if (feedback.count === PictureLossIndication.count) {
        router.ssrcTable[(feedback as PictureLossIndication).mediaSsrc]?.handleRtcpPacket(packet);
        return;
      }
    }
    route(packet);
  };
}

export class JanusParticipant implements SimulatedParticipant {
  readonly name: string;
  id = '';
  readonly streams: ReceivedStream[] = [];
  video: VideoSource | SimulcastSource | undefined;
  audio: AudioSource | undefined;
  connectStartedAt = 0;
  readonly errors: string[] = [];
  readonly #options: JanusParticipantOptions;
  #session: JanusSession | undefined;
  #pubHandle = 0;
  #subHandle = 0;
  #pubPc: RTCPeerConnection | undefined;
  #subPc: RTCPeerConnection | undefined;
  #privateId: number | undefined;
  readonly #known = new Set<string>();
  readonly #pending: string[] = [];
  #negotiating: Promise<void> | undefined;
  readonly #attachedMids = new Set<string>();
  /** The subscription's videos, by mid. */
  readonly #videos = new Map<string, VideoState>();
  readonly #extraSenders: RTCRtpSender[] = [];
  readonly #unsubscribe: Array<() => void> = [];
  #closed = false;

  private constructor(options: JanusParticipantOptions) {
    this.#options = options;
    this.name = options.name;
  }

  static async join(options: JanusParticipantOptions): Promise<JanusParticipant> {
    const participant = new JanusParticipant(options);
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

  #simulcastLayers(): SimulcastLayer[] | undefined {
    const { simulcast } = this.#options;
    if (!simulcast) return undefined;
    return simulcast === true ? defaultSimulcastLayers : simulcast;
  }

  async #join(): Promise<void> {
    const { wsUrl, roomId, name } = this.#options;
    this.connectStartedAt = performance.now();
    const session = await JanusSession.open(wsUrl);
    this.#session = session;
    this.#pubHandle = await session.attach((message) => this.#onPublisherEvent(message));
    const joined = await session.message(
      this.#pubHandle,
      { request: 'join', ptype: 'publisher', room: roomId, display: name },
      undefined,
      (m) => m.plugindata?.data.videoroom === 'joined',
    );
    const data = joined.plugindata?.data ?? {};
    this.id = String(data.id);
    this.#privateId = data.private_id as number | undefined;
    this.#addFeeds((data.publishers as Array<{ id: string }> | undefined) ?? []);
    if (this.#options.publish) await this.#publish();
    await this.#negotiating;
  }

  async #publish(): Promise<void> {
    const session = this.#session as JanusSession;
    const layers = this.#simulcastLayers();
    const pc = new RTCPeerConnection(peerConfig(layers !== undefined, this.#options.transportCc ?? true));
    routePliByMediaSsrc(pc);
    this.#pubPc = pc;
    const audioTrack = new MediaStreamTrack({ kind: 'audio' });
    const videoTrack = new MediaStreamTrack({ kind: 'video' });
    pc.addTransceiver(audioTrack, { direction: 'sendonly' });
    // With simulcast, werift writes `a=rid:<rid> send` per layer and `a=simulcast:send r0;r1;r2`.
    const videoTransceiver = pc.addTransceiver(videoTrack, {
      direction: 'sendonly',
      ...(layers ? { simulcast: layers.map(({ rid }) => ({ rid, direction: 'send' as const })) } : {}),
    });
    await pc.setLocalDescription(await pc.createOffer());
    const offer = pc.localDescription as { type: 'offer'; sdp: string };
    if (layers && !/^a=simulcast:send /m.test(offer.sdp))
      throw new Error('simulcast: werift wrote no a=simulcast line in the offer');
    const configured = await session.message(
      this.#pubHandle,
      { request: 'publish', display: this.#options.name },
      // The rids are listed lowest first (r0 r1 r2): without rid_order Janus takes the first
      // for the highest substream.
      { type: 'offer', sdp: offer.sdp, ...(layers ? { rid_order: 'lmh' as const } : {}) },
      (m) => m.jsep !== undefined,
    );
    await session.trickleCompleted(this.#pubHandle);
    await pc.setRemoteDescription(configured.jsep as { type: 'answer'; sdp: string });
    this.audio = new AudioSource(audioTrack, this.#options.audio);
    if (layers) {
      const encodings = addSimulcastSenders(
        videoTransceiver.sender,
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
      // Janus sends a PLI to every SSRC of the stream when a subscriber needs a keyframe.
      encodings.forEach(({ sender }, i) => {
        if (i > 0) this.#extraSenders.push(sender);
        this.#unsubscribe.push(
          sender.onPictureLossIndication.subscribe(() => video.requestKeyframe(i)).unSubscribe,
        );
      });
      video.start();
    } else {
      const video = new VideoSource(videoTrack, this.#options.video);
      this.video = video;
      this.#unsubscribe.push(
        videoTransceiver.sender.onPictureLossIndication.subscribe(() => video.requestKeyframe()).unSubscribe,
      );
      video.start();
    }
    this.audio.start();
  }

  #onPublisherEvent(message: JanusMessage): void {
    const data = message.plugindata?.data;
    if (!data) return;
    const publishers = data.publishers as Array<{ id: string }> | undefined;
    if (publishers) this.#addFeeds(publishers);
  }

  /** Events of the subscription that answer no request: the substream Janus now relays. */
  #onSubscriberEvent(message: JanusMessage): void {
    const data = message.plugindata?.data;
    if (typeof data?.mid !== 'string' || typeof data.substream !== 'number') return;
    const stream = this.streams.find((s) => s.consumerId === data.mid);
    if (stream) stream.spatialLayer = data.substream;
  }

  #addFeeds(publishers: Array<{ id: string }>): void {
    if (!this.#options.subscribe) return;
    for (const publisher of publishers) {
      const feed = String(publisher.id);
      if (feed === this.id || this.#known.has(feed)) continue;
      this.#known.add(feed);
      this.#pending.push(feed);
    }
    this.#negotiating ??= this.#negotiate().finally(() => {
      this.#negotiating = undefined;
      if (this.#pending.length && !this.#closed) this.#addFeeds([]);
    });
  }

  /** Subscribes to the pending feeds: one offer from Janus, one answer, one at a time. */
  async #negotiate(): Promise<void> {
    const feeds = this.#pending.splice(0);
    if (feeds.length === 0 || this.#closed) return;
    const session = this.#session as JanusSession;
    try {
      let offer: JanusMessage;
      if (!this.#subHandle) {
        this.#subHandle = await session.attach((message) => this.#onSubscriberEvent(message));
        this.#subPc = new RTCPeerConnection(peerConfig(false, this.#options.transportCc ?? true));
        offer = await session.message(
          this.#subHandle,
          {
            request: 'join',
            ptype: 'subscriber',
            room: this.#options.roomId,
            streams: feeds.map((feed) => ({ feed })),
            ...(this.#privateId !== undefined ? { private_id: this.#privateId } : {}),
          },
          undefined,
          (m) => m.jsep !== undefined,
        );
      } else {
        offer = await session.message(
          this.#subHandle,
          { request: 'subscribe', streams: feeds.map((feed) => ({ feed })) },
          undefined,
          (m) => m.jsep !== undefined,
        );
      }
      const pc = this.#subPc as RTCPeerConnection;
      await pc.setRemoteDescription(offer.jsep as { type: 'offer'; sdp: string });
      this.#attachStreams(pc, (offer.plugindata?.data.streams as FeedStream[] | undefined) ?? []);
      await pc.setLocalDescription(await pc.createAnswer());
      const answer = pc.localDescription as { sdp: string };
      await session.message(
        this.#subHandle,
        { request: 'start' },
        { type: 'answer', sdp: answer.sdp },
        (m) => m.plugindata?.data.started !== undefined || m.plugindata?.data.videoroom === 'event',
      );
      await session.trickleCompleted(this.#subHandle);
    } catch (error) {
      if (!this.#closed) this.errors.push(`subscribe to ${feeds.join(', ')}: ${(error as Error).message}`);
    }
  }

  #attachStreams(pc: RTCPeerConnection, streams: FeedStream[]): void {
    for (const transceiver of pc.getTransceivers() as RTCRtpTransceiver[]) {
      const mid = transceiver.mid;
      if (mid === undefined || this.#attachedMids.has(mid)) continue;
      const stream = streams.find((s) => s.mid === mid);
      if (!stream || (stream.type !== 'audio' && stream.type !== 'video')) continue;
      this.#attachedMids.add(mid);
      const stats = new StreamStats(stream.type, stream.type === 'audio' ? 48000 : 90000);
      this.streams.push({
        from: String(stream.feed_id),
        kind: stream.type,
        stats,
        // Janus has no consumers: the subscription's mid stands for one.
        consumerId: mid,
        producerId: String(stream.feed_id),
      });
      if (stream.type === 'video') {
        this.#videos.set(mid, {
          send: true,
          substream: stream.simulcast?.['substream-target'] ?? 2,
          simulcast: stream.simulcast !== undefined,
        });
      }
      const attached = new Set<MediaStreamTrack>();
      const attach = (track: MediaStreamTrack) => {
        if (attached.has(track)) return;
        attached.add(track);
        stats.attach(track);
      };
      for (const track of transceiver.receiver.tracks) attach(track);
      transceiver.onTrack.subscribe((track) => attach(track));
    }
  }

  /**
   * What this participant shows, as setView on this platform: the videos of these
   * publishers at the substream that fits their tile (every temporal layer), the other
   * videos of its subscription paused. Only what changes is sent to Janus (a `send: true`
   * makes it ask the publisher for a keyframe, even for a video it already relays).
   */
  async setView(tiles: PeerTile[]): Promise<void> {
    await this.#negotiating;
    const layers = this.#simulcastLayers() ?? defaultSimulcastLayers;
    const changes: Array<Record<string, unknown>> = [];
    for (const stream of this.streams) {
      if (stream.kind !== 'video') continue;
      const state = this.#videos.get(stream.consumerId);
      if (!state) continue;
      const tile = tiles.find((t) => t.peerId === stream.from);
      const change: Record<string, unknown> = {};
      if (!tile) {
        if (state.send) change.send = false;
      } else {
        if (!state.send) change.send = true;
        const substream = substreamForTile(tile, layers);
        if (state.simulcast && substream !== state.substream) {
          change.substream = substream;
          change.temporal = 2;
        }
      }
      if (Object.keys(change).length === 0) continue;
      changes.push({ mid: stream.consumerId, ...change });
      if (typeof change.send === 'boolean') state.send = change.send;
      if (typeof change.substream === 'number') state.substream = change.substream;
    }
    if (changes.length === 0) return;
    await (this.#session as JanusSession).message(
      this.#subHandle,
      { request: 'configure', streams: changes },
      undefined,
      (m) => m.plugindata?.data.configured === 'ok',
    );
  }

  /**
   * A layer switch as a viewer sees it (as MeetParticipant.measureLayerSwitch): sets the
   * view and returns the ms from sending configure to the first packet of a keyframe from
   * that publisher whose width is within [minWidth, maxWidth], or undefined after timeoutMs.
   */
  async measureLayerSwitch({
    tiles,
    peerId,
    minWidth,
    maxWidth = Infinity,
    timeoutMs,
  }: LayerSwitchRequest): Promise<number | undefined> {
    const stream = this.streams.find((s) => s.from === peerId && s.kind === 'video');
    if (!stream) throw new Error(`no video received from ${peerId}`);
    return timeToKeyframe(stream.stats, () => this.setView(tiles), { minWidth, maxWidth, timeoutMs });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.video?.stop();
    this.audio?.stop();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    for (const sender of this.#extraSenders.splice(0)) sender.stop();
    await this.#session?.close().catch(() => undefined);
    for (const pc of [this.#pubPc, this.#subPc]) await pc?.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------
// The Janus server process.

export interface JanusServer {
  pid: number;
  version: string;
  wsUrl: string;
  /** The directory with janus.jcfg and the log (removed by close). */
  dir: string;
  createRoom(roomId: string): Promise<void>;
  target(media?: MediaSpec, threads?: number): Target;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export function janusVersion(): string {
  // `janus --version` prints the version, then exits 1 ("Unknown option").
  let out: string;
  try {
    out = execFileSync(janusBinary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    out = String((error as { stdout?: string }).stdout ?? '');
  }
  return /\(([\d.]+)\)/.exec(out)?.[1] ?? out.split('\n')[0] ?? 'unknown';
}

/** Writes the configuration of a loopback-only Janus with the VideoRoom plugin. */
export function writeJanusConfig(dir: string, wsPort: number): void {
  for (const sub of ['plugins', 'transports', 'events', 'loggers'])
    mkdirSync(join(dir, sub), { recursive: true });
  // Load only what is used: the plugin and transport folders hold just these two.
  symlinkSync(join(JANUS_LIB, 'plugins/libjanus_videoroom.so'), join(dir, 'plugins/libjanus_videoroom.so'));
  symlinkSync(
    join(JANUS_LIB, 'transports/libjanus_websockets.so'),
    join(dir, 'transports/libjanus_websockets.so'),
  );
  writeFileSync(
    join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${dir}/plugins"
  transports_folder = "${dir}/transports"
  events_folder = "${dir}/events"
  loggers_folder = "${dir}/loggers"
  debug_level = 3
  log_to_stdout = true
  session_timeout = 120
}
certificates: {
}
media: {
  ipv6 = false
  rtp_port_range = "20000-40000"
}
nat: {
  nice_debug = false
  ice_enforce_list = "lo"
  ice_tcp = false
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
}
`,
  );
  writeFileSync(
    join(dir, 'janus.transport.websockets.jcfg'),
    `general: {
  json = "plain"
  ws = true
  ws_port = ${wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
`,
  );
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), 'general: {\n  string_ids = true\n}\n');
}

/** Starts Janus on loopback with a configuration of its own; resolves once its API answers. */
export async function startJanus(): Promise<JanusServer> {
  if (!existsSync(janusBinary)) {
    throw new Error(`${janusBinary} not found: install Debian's janus package (apt-get install janus)`);
  }
  const version = janusVersion();
  const dir = mkdtempSync(join(tmpdir(), 'meet-bench-janus-'));
  const wsPort = await freePort();
  writeJanusConfig(dir, wsPort);
  const log = openSync(join(dir, 'janus.log'), 'a');
  const child: ChildProcess = spawn(janusBinary, ['-C', join(dir, 'janus.jcfg'), '-F', dir], {
    stdio: ['ignore', log, log],
  });
  // Never leave a janus behind, even when this process ends abruptly.
  const killJanus = () => child.kill('SIGKILL');
  process.once('exit', killJanus);
  const wsUrl = `ws://127.0.0.1:${wsPort}`;
  let control: JanusSession | undefined;
  for (let attempt = 0; attempt < 100 && !control; attempt++) {
    if (child.exitCode !== null) throw new Error(`janus exited (${child.exitCode}); see ${dir}/janus.log`);
    control = await JanusSession.open(wsUrl).catch(() => undefined);
    if (!control) await sleep(100);
  }
  if (!control) {
    child.kill('SIGKILL');
    throw new Error(`janus did not answer on ${wsUrl} within 10 s; see ${dir}/janus.log`);
  }
  const controlSession = control;
  const controlHandle = await controlSession.attach(() => undefined);
  const server: JanusServer = {
    pid: child.pid as number,
    version,
    wsUrl,
    dir,
    async createRoom(roomId) {
      await controlSession.request(controlHandle, {
        request: 'create',
        room: roomId,
        permanent: false,
        publishers: 1000,
        bitrate: 0,
        fir_freq: 0,
        audiocodec: 'opus',
        videocodec: 'vp8',
        notify_joining: false,
      });
    },
    target(media = {}, threads = 0) {
      return createTarget('janus', { kind: 'janus', wsUrl, media }, threads, {
        sfuPids: async () => [server.pid],
        prepareRoom: (roomId) => server.createRoom(roomId),
      });
    },
    async close() {
      process.off('exit', killJanus);
      await controlSession.close().catch(() => undefined);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!process.env.MEET_BENCH_KEEP_JANUS) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
