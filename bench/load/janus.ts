// The reference SFU: Janus (Debian package `janus`) with its VideoRoom plugin, driven by the
// same werift media sources and receive statistics as this platform's participants.
// startJanus() writes a minimal configuration (videoroom plugin and websockets transport
// only, string room ids, loopback media) into a temporary directory and starts `janus`;
// JanusParticipant speaks the Janus WebSocket API: a "publisher" handle joins the room (and
// publishes when it sends), one multistream "subscriber" handle receives every other feed
// on one PeerConnection (renegotiated when feeds appear), as in janus.js's videoroom demo.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { MediaStreamTrack, RTCPeerConnection, type RTCRtpTransceiver } from 'werift';
import {
  AudioSource,
  StreamStats,
  VideoSource,
  type AudioSourceOptions,
  type VideoSourceOptions,
} from './media.js';
import {
  reportOf,
  weriftCapabilities,
  type ParticipantReport,
  type ReceivedStream,
  type SimulatedParticipant,
} from './participant.js';
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
  readonly #handlers = new Map<number, (message: JanusMessage) => void>();
  #keepalive: NodeJS.Timeout | undefined;
  id = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as JanusMessage;
      if (message.janus === 'ack' && message.transaction && !this.#acks.has(message.transaction)) return;
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

  send(body: Record<string, unknown>, options: { ack?: boolean } = {}): Promise<JanusMessage> {
    const transaction = randomUUID();
    if (options.ack) this.#acks.add(transaction);
    return new Promise((resolve, reject) => {
      this.#transactions.set(transaction, { resolve, reject });
      this.#ws.send(JSON.stringify({ ...body, transaction, ...(this.id ? { session_id: this.id } : {}) }));
    });
  }

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

  /** An asynchronous plugin request: resolves with the event that answers it. */
  async message(
    handle: number,
    body: Record<string, unknown>,
    jsep?: { type: string; sdp: string },
    waitFor: (message: JanusMessage) => boolean = () => true,
  ): Promise<JanusMessage> {
    const previous = this.#handlers.get(handle);
    const event = new Promise<JanusMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`janus: no answer to ${String(body.request)}`)),
        30_000,
      );
      this.#handlers.set(handle, (message) => {
        const data = message.plugindata?.data;
        if (message.janus === 'event' && data?.error) {
          clearTimeout(timer);
          this.#handlers.set(handle, previous ?? (() => undefined));
          reject(new Error(`janus videoroom: ${String(data.error)}`));
          return;
        }
        if (message.janus === 'event' && waitFor(message)) {
          clearTimeout(timer);
          this.#handlers.set(handle, previous ?? (() => undefined));
          resolve(message);
          return;
        }
        previous?.(message);
      });
    });
    await this.send({ janus: 'message', handle_id: handle, body, ...(jsep ? { jsep } : {}) }, { ack: true });
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
}

interface FeedStream {
  mid: string;
  feed_id: string;
  type: 'audio' | 'video' | 'data';
}

const peerConfig = () => ({
  ...weriftCapabilities(),
  // werift's default is a public STUN server: none here (and none needed on loopback).
  iceServers: [],
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
});

export class JanusParticipant implements SimulatedParticipant {
  readonly name: string;
  id = '';
  readonly streams: ReceivedStream[] = [];
  video: VideoSource | undefined;
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

    if (this.#options.publish) {
      const pc = new RTCPeerConnection(peerConfig());
      this.#pubPc = pc;
      const audioTrack = new MediaStreamTrack({ kind: 'audio' });
      const videoTrack = new MediaStreamTrack({ kind: 'video' });
      pc.addTransceiver(audioTrack, { direction: 'sendonly' });
      const videoTransceiver = pc.addTransceiver(videoTrack, { direction: 'sendonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const offer = pc.localDescription as { type: 'offer'; sdp: string };
      const configured = await session.message(
        this.#pubHandle,
        { request: 'publish', display: name },
        { type: 'offer', sdp: offer.sdp },
        (m) => m.jsep !== undefined,
      );
      await session.trickleCompleted(this.#pubHandle);
      await pc.setRemoteDescription(configured.jsep as { type: 'answer'; sdp: string });
      this.audio = new AudioSource(audioTrack, this.#options.audio);
      const video = new VideoSource(videoTrack, this.#options.video);
      this.video = video;
      videoTransceiver.sender.onPictureLossIndication.subscribe(() => video.requestKeyframe());
      this.audio.start();
      video.start();
    }
    await this.#negotiating;
  }

  #onPublisherEvent(message: JanusMessage): void {
    const data = message.plugindata?.data;
    if (!data) return;
    const publishers = data.publishers as Array<{ id: string }> | undefined;
    if (publishers) this.#addFeeds(publishers);
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
        this.#subHandle = await session.attach(() => undefined);
        this.#subPc = new RTCPeerConnection(peerConfig());
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.video?.stop();
    this.audio?.stop();
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
