// A seeded, bounded fuzz run against the real server (real mediasoup workers, real
// websockets, both databases): a few sockets send some thousands of frames — valid requests
// that build up real state (media, chat and host controls, next to a steady participant per
// room that sends media and makes everyone host), the same requests mutated (wrong types,
// huge, negative and non-finite numbers, NUL and control characters, unknown keys nested deep
// in rtpParameters, duplicate MIDs and SSRCs, other peers' ids), junk method names, frames
// that are not JSON or not protoo, binary and invalid UTF-8 frames, oversized frames, and
// races (pause right before close, produce right before leaving the call, resuming a
// consumer while its producer closes...). Afterwards: no response was a 500, every request
// on a live socket was answered, nothing was logged at error level, every media worker is
// alive and was never restarted, nothing leaked, and a normal call works.
// docs/security.md has the figures of a long run.
//
//   node --import tsx --test server/test/fuzz.integration.test.ts
//   FUZZ_FRAMES=50000 FUZZ_SEED=7 FUZZ_DB=embedded|postgres node --import tsx --test server/test/fuzz.integration.test.ts
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import WebSocket from 'ws';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { Prng, captureErrorLogs, vp8RtpParameters } from './support/hardening.js';
import { RawPeer, clientDtlsParameters, opusRtpParameters, waitUntil } from './support/raw-peer.js';

const FRAMES = Number(process.env.FUZZ_FRAMES ?? 5000);
/** The database of the server with generous limits (the other one is on PostgreSQL). */
const DATABASE = process.env.FUZZ_DB === 'postgres' ? 'postgres' : 'embedded';
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
/** Requests a socket may have unanswered before the fuzzer waits for answers. */
const IN_FLIGHT = 24;
const MiB = 1024 * 1024;

// A full garbage collection before each memory reading, so that what stays is what is held.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** This process's memory (the servers' and the fuzzer's) after a full collection, MiB. */
function memory(): { rss: number; heap: number } {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss: rss / MiB, heap: heapUsed / MiB };
}

// ---------------------------------------------------------------------------------------
// Servers: one with rate limits out of the way (so that frames reach the handlers), on the
// embedded database (or FUZZ_DB=postgres); one with every default limit, on PostgreSQL.

let generous: TestServer;
let strict: TestServer;
/** Lines the servers logged at error level or above. */
const errorLogs: string[] = [];

before(async () => {
  generous = await startServer(
    {
      SIGNALING_RATE: '10000',
      SIGNALING_BURST: '100000',
      CHAT_RATE: '1000',
      CHAT_BURST: '10000',
      IDENTITY_RATE_LIMIT: '100000',
      MAX_CONNECTIONS_PER_IDENTITY: '100',
    },
    { database: DATABASE },
  );
  strict = await startServer({ MEDIA_WORKERS: '1' }, { database: 'postgres' });
  captureErrorLogs(generous, errorLogs);
  captureErrorLogs(strict, errorLogs);
});

after(async () => {
  await generous?.close();
  await strict?.close();
});

// ---------------------------------------------------------------------------------------
// What the fuzzer has learnt: ids the server handed out (to anyone), to be used and misused.

interface Known {
  peers: Array<{ id: string; roomId: string }>;
  identities: string[];
  transports: string[];
  producers: Array<{ id: string; ownerPeer: string; roomId: string }>;
  consumers: string[];
  /** Participants seen waiting in a lobby. */
  lobby: string[];
  messages: string[];
  seqs: string[];
  clientIds: string[];
}

const known: Known = {
  peers: [],
  identities: [],
  transports: [],
  producers: [],
  consumers: [],
  lobby: [],
  messages: [],
  seqs: [],
  clientIds: [],
};

function remember<T>(list: T[], item: T, bound = 200): void {
  list.push(item);
  if (list.length > bound) list.splice(0, list.length - bound);
}

// ---------------------------------------------------------------------------------------
// Figures.

const stats = {
  frames: 0,
  requests: 0,
  rawFrames: 0,
  binaryFrames: 0,
  reconnects: 0,
  closedWithUnanswered: 0,
  byCode: new Map<string, number>(),
  okByMethod: new Map<string, number>(),
  /** With FUZZ_VERBOSE: refusals by method, code and the start of the reason. */
  refusals: new Map<string, number>(),
  closeCodes: new Map<number, number>(),
};
const failures: string[] = [];

function count<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

// ---------------------------------------------------------------------------------------
// A fuzzing client: a raw websocket, what it holds, and its unanswered requests.

interface Sent {
  method: string;
  data: unknown;
  frame: string;
}

class Client {
  readonly name: string;
  readonly server: TestServer;
  readonly roomId: string;
  readonly identity: TestIdentity;
  ws: WebSocket | undefined;
  peerId: string | undefined;
  joined = false;
  /** A join was sent on this socket (answered or not). */
  joinSent = false;
  transports: Array<{ id: string; direction: 'send' | 'recv' }> = [];
  producers: string[] = [];
  consumers: string[] = [];
  ssrcs: number[] = [];
  /** Unanswered requests of the current socket, by id. */
  pending = new Map<number, Sent>();
  /** The last frames sent without a trackable id (to show with a 500 answered on id null). */
  readonly untracked: string[] = [];
  #nextId = 1;
  #wake: (() => void) | undefined;

  constructor(name: string, server: TestServer, roomId: string, identity: TestIdentity) {
    this.name = name;
    this.server = server;
    this.roomId = roomId;
    this.identity = identity;
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens a socket (again), naming the previous participant as its ghost half of the time. */
  async connect(rng: Prng): Promise<void> {
    const resume = this.peerId && rng.chance(0.5) ? `&resume=${this.peerId}` : '';
    this.peerId = undefined;
    this.joined = false;
    this.joinSent = false;
    this.transports = [];
    this.producers = [];
    this.consumers = [];
    for (let attempt = 0; ; attempt++) {
      try {
        const ws = new WebSocket(`${this.server.wsUrl(this.roomId)}${resume}`, 'protoo', {
          headers: { cookie: this.identity.cookie },
        });
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        // Each socket has its own unanswered requests: a late answer on a closing socket is
        // matched with what that socket sent.
        const pending = new Map<number, Sent>();
        ws.on('error', () => undefined);
        ws.on('message', (raw, isBinary) => this.#onMessage(pending, raw as Buffer, isBinary));
        ws.on('close', (code) => {
          count(stats.closeCodes, code);
          stats.closedWithUnanswered += pending.size;
          pending.clear();
          this.#wake?.();
        });
        this.ws = ws;
        this.pending = pending;
        return;
      } catch (error) {
        // A socket just closed may not be released yet (connections per identity).
        if (attempt >= 20) throw error;
        await sleep(100);
      }
    }
  }

  #onMessage(pending: Map<number, Sent>, raw: Buffer, isBinary: boolean): void {
    const current = pending === this.pending;
    if (isBinary) {
      failures.push(`${this.name}: the server sent a binary frame`);
      return;
    }
    let message: {
      response?: boolean;
      notification?: boolean;
      id?: number | null;
      ok?: boolean;
      method?: string;
      data?: Record<string, unknown>;
      errorCode?: number;
      errorReason?: string;
    };
    try {
      message = JSON.parse(raw.toString('utf8')) as typeof message;
    } catch {
      failures.push(
        `${this.name}: the server sent a frame that is not JSON: ${raw.toString('utf8').slice(0, 200)}`,
      );
      return;
    }
    if (message.notification) {
      if (current) this.#learnFromNotification(message.method ?? '', message.data ?? {});
      return;
    }
    if (!message.response) {
      failures.push(
        `${this.name}: the server sent neither a response nor a notification: ${raw.toString('utf8').slice(0, 200)}`,
      );
      return;
    }
    const code = message.ok ? 200 : (message.errorCode ?? 0);
    count(stats.byCode, String(code));
    const sent = typeof message.id === 'number' ? pending.get(message.id) : undefined;
    if (sent && typeof message.id === 'number') pending.delete(message.id);
    if (code >= 500 || (code !== 200 && (code < 400 || !message.errorReason))) {
      failures.push(
        `${this.name}: ${code} ${String(message.errorReason)} to ${
          sent
            ? sent.frame.slice(0, 1500)
            : `an untracked frame; last ones: ${JSON.stringify(this.untracked)}`
        }`,
      );
    }
    if (sent && message.ok) count(stats.okByMethod, sent.method);
    if (sent?.method === 'join' && !message.ok && current && !this.joined) this.joinSent = false;
    if (sent && !message.ok && process.env.FUZZ_VERBOSE)
      count(
        stats.refusals,
        `${sent.method} ${code} ${String(message.errorReason)
          .replace(/[0-9a-f-]{36}/g, '<id>')
          .slice(0, 80)}`,
      );
    if (sent && message.ok && current) this.#learnFromResponse(sent, message.data ?? {});
    this.#wake?.();
  }

  #learnFromResponse(sent: Sent, data: Record<string, unknown>): void {
    switch (sent.method) {
      case 'join':
        // In, or waiting in the lobby of a locked room (then `admitted` says to join again).
        this.joined = data.status === 'joined';
        this.peerId = data.peerId as string;
        remember(known.peers, { id: this.peerId, roomId: this.roomId });
        remember(known.identities, data.identityId as string);
        // Those already here, and what they send.
        for (const peer of (data.peers ?? []) as Array<{ id: string; producers: Array<{ id: string }> }>) {
          remember(known.peers, { id: peer.id, roomId: this.roomId });
          for (const producer of peer.producers)
            remember(known.producers, { id: producer.id, ownerPeer: peer.id, roomId: this.roomId });
        }
        for (const entry of (data.lobby ?? []) as Array<{ peerId: string }>)
          remember(known.lobby, entry.peerId);
        break;
      case 'createWebRtcTransport': {
        const direction =
          (sent.data as { direction?: unknown } | null)?.direction === 'recv' ? 'recv' : 'send';
        this.transports.push({ id: data.id as string, direction });
        remember(known.transports, data.id as string);
        break;
      }
      case 'produce':
        this.producers.push(data.id as string);
        break;
      case 'consume':
        this.consumers.push(data.id as string);
        remember(known.consumers, data.id as string);
        break;
      case 'leaveCall':
        this.transports = [];
        this.producers = [];
        this.consumers = [];
        break;
      case 'chatSend':
      case 'chatEdit':
      case 'chatDelete': {
        const message = data.message as { id: string; seq: string };
        remember(known.messages, message.id);
        remember(known.seqs, message.seq);
        break;
      }
    }
  }

  #learnFromNotification(method: string, data: Record<string, unknown>): void {
    switch (method) {
      case 'newProducer':
        remember(known.producers, {
          id: data.id as string,
          ownerPeer: data.peerId as string,
          roomId: this.roomId,
        });
        break;
      case 'producerClosed':
      case 'peerLeft': {
        // Forgotten as a target of valid requests (closed ids still come up as junk).
        const gone = (p: Known['producers'][number]) =>
          method === 'peerLeft' ? p.ownerPeer === data.peerId : p.id === data.producerId;
        known.producers = known.producers.filter((p) => !gone(p));
        if (method === 'peerLeft') known.peers = known.peers.filter((p) => p.id !== data.peerId);
        break;
      }
      case 'peerJoined':
        remember(known.peers, { id: data.id as string, roomId: this.roomId });
        remember(known.identities, data.identityId as string);
        break;
      case 'chatMessage':
      case 'chatMessages': {
        const messages = (data.messages ?? [data.message]) as Array<{ id: string; seq: string }>;
        for (const message of messages) {
          remember(known.messages, message.id);
          remember(known.seqs, message.seq);
        }
        break;
      }
      case 'mediaReset':
        failures.push(`${this.name}: mediaReset (${JSON.stringify(data)}): a media worker died`);
        break;
      case 'lobbyUpdated':
        for (const entry of data.lobby as Array<{ peerId: string }>) remember(known.lobby, entry.peerId);
        break;
      case 'admitted':
        this.joinSent = false;
        break;
    }
  }

  /** Sends a request (its id tracked) as the given JSON text, or built from method and data. */
  request(method: string, data: unknown, text?: (id: number) => string): void {
    const id = this.#nextId++;
    const frame = text ? text(id) : JSON.stringify({ request: true, id, method, data });
    this.pending.set(id, { method, data, frame });
    if (method === 'join') this.joinSent = true;
    this.#send(frame);
    stats.requests++;
  }

  raw(frame: string | Buffer, options: { binary: boolean } = { binary: false }): void {
    remember(this.untracked, typeof frame === 'string' ? frame.slice(0, 300) : `<${frame.length} bytes>`, 5);
    this.#send(frame, options);
    if (options.binary) stats.binaryFrames++;
    else stats.rawFrames++;
  }

  #send(frame: string | Buffer, options: { binary: boolean } = { binary: false }): void {
    stats.frames++;
    this.ws?.send(frame, options);
  }

  /** Waits until fewer than `limit` requests are unanswered (or the socket closed). */
  async drain(limit: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.open && this.pending.size >= limit) {
      if (Date.now() > deadline) {
        failures.push(
          `${this.name}: ${this.pending.size} requests unanswered for ${timeoutMs} ms: ${[
            ...this.pending.values(),
          ]
            .slice(0, 5)
            .map((s) => s.frame.slice(0, 300))
            .join(' | ')}`,
        );
        this.pending.clear();
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  close(): void {
    this.ws?.terminate();
  }
}

// ---------------------------------------------------------------------------------------
// Generators.

/** Placeholders JSON.stringify cannot express, put into the text after stringifying. */
const RAW_TOKENS: Record<string, string> = {
  '"@@inf@@"': '1e999',
  '"@@-inf@@"': '-1e999',
  '"@@tiny@@"': '1e-400',
  '"@@2^63@@"': '9223372036854775808',
  '"@@2^64@@"': '18446744073709551616',
  '"@@-0@@"': '-0',
  '"@@@proto@@@"': '"__proto__"',
};

function withRawTokens(json: string): string {
  let text = json;
  for (const [placeholder, token] of Object.entries(RAW_TOKENS)) text = text.split(placeholder).join(token);
  return text;
}

function junkString(rng: Prng): string {
  return rng.pick([
    '',
    ' ',
    '\u0000',
    `a\u0000b`,
    '\u0007\u001b[31m',
    '\u202e\u200b',
    '\ud800',
    '\udfff\ud800',
    '💥'.repeat(rng.int(50) + 1),
    'x'.repeat(rng.int(10) === 0 ? 70_000 : 300),
    '../../etc/passwd',
    "'; DROP TABLE messages; --",
    '<script>alert(1)</script>',
    '%s%s%n',
    '__proto__',
    'constructor',
    '00000000-0000-0000-0000-000000000000',
    randomUUID(),
    '-1',
    '1e999',
    'NaN',
  ]);
}

function junkValue(rng: Prng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 10 : 13)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([
        0,
        -1,
        1.5,
        -(2 ** 31),
        2 ** 32,
        2 ** 53 + 2,
        Number.MAX_VALUE,
        -Number.MAX_VALUE,
        1e-300,
      ]);
    case 3:
      return rng.pick(Object.keys(RAW_TOKENS)).slice(1, -1);
    case 4:
    case 5:
      return junkString(rng);
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return rng.pick([...known.peers.map((p) => p.id), ...known.transports, ...known.consumers, 'nope']);
    case 9:
      return rng.pick(known.producers.map((p) => p.id).concat(['nope']));
    case 10:
      return Array.from({ length: rng.int(4) + 1 }, () => junkValue(rng, depth + 1));
    case 11:
      return deepObject(rng, rng.int(40) + 1);
    default:
      return { [rng.pick(['x', '@@@proto@@@', 'constructor', 'a'.repeat(200)])]: junkValue(rng, depth + 1) };
  }
}

function deepObject(rng: Prng, depth: number): unknown {
  let value: unknown = rng.chance(0.5) ? 1 : 'deep';
  for (let i = 0; i < depth; i++) value = { [rng.pick(['k', 'nested', 'ssrc', 'codecs'])]: value };
  return value;
}

const mids = ['0', '1', '2', '3', 'a', 'video', 'x'.repeat(32)];

function rtpParameters(
  rng: Prng,
  client: Client,
  source: 'mic' | 'webcam' | 'screen',
): Record<string, unknown> {
  // Reusing an SSRC or a MID of this client's earlier producers: mediasoup refuses duplicates.
  const reuse = client.ssrcs.length > 0 && rng.chance(0.2);
  const ssrc = reuse ? rng.pick(client.ssrcs) : 10_000_000 + rng.int(4_000_000_000);
  if (!reuse) remember(client.ssrcs, ssrc, 20);
  const mid = rng.pick(mids);
  if (source === 'mic') return { ...opusRtpParameters(ssrc), mid };
  const parameters = vp8RtpParameters(ssrc, mid) as Record<string, unknown>;
  switch (rng.int(6)) {
    case 0:
      // H264 with a profile-level-id mediasoup must make sense of.
      parameters.codecs = [
        {
          mimeType: 'video/H264',
          payloadType: 102,
          clockRate: 90000,
          parameters: {
            'packetization-mode': rng.pick([0, 1, 2]),
            'profile-level-id': rng.pick(['42e01f', '640032', 'zzzzzz', '', '4d0000']),
            'level-asymmetry-allowed': 1,
          },
        },
      ];
      break;
    case 1:
      parameters.codecs = [
        {
          mimeType: 'video/VP9',
          payloadType: 103,
          clockRate: 90000,
          parameters: { 'profile-id': rng.pick([0, 2, 9]) },
        },
      ];
      break;
    case 2:
      // Simulcast, with RIDs and RTX, sometimes with clashing SSRCs.
      parameters.encodings = [0, 1, 2].map((i) => ({
        rid: `r${i}`,
        ssrc: rng.chance(0.3) ? ssrc : ssrc + i * 2,
        rtx: { ssrc: ssrc + i * 2 + 1 },
        scalabilityMode: rng.pick(['L1T3', 'S3T3', 'L9T9', 'nonsense']),
        maxBitrate: rng.pick([100_000, 500_000, 1]),
      }));
      parameters.codecs = [
        ...(parameters.codecs as unknown[]),
        {
          mimeType: 'video/rtx',
          payloadType: 104,
          clockRate: 90000,
          parameters: { apt: rng.pick([101, 127, 0]) },
        },
      ];
      break;
    case 3:
      parameters.headerExtensions = [
        { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: rng.pick([1, 1, 14, 255]) },
        { uri: 'urn:3gpp:video-orientation', id: rng.pick([1, 4]) },
        { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: rng.pick([2, 4]) },
      ];
      break;
    default:
  }
  return parameters;
}

function randomClientId(rng: Prng): string {
  if (known.clientIds.length > 0 && rng.chance(0.15)) return rng.pick(known.clientIds);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
  const id = Array.from({ length: 8 + rng.int(20) }, () => alphabet[rng.int(alphabet.length)]).join('');
  remember(known.clientIds, id);
  return id;
}

function text(rng: Prng): string {
  return rng.pick([
    'hello',
    'multi\nline\ttext',
    '  padded  ',
    'ünïcödé ✓ 日本語',
    'x'.repeat(rng.int(4000) + 1),
    `**bold** ${randomUUID()}`,
  ]);
}

const methods = [
  'getRouterRtpCapabilities',
  'join',
  'createWebRtcTransport',
  'getIceServers',
  'connectWebRtcTransport',
  'restartIce',
  'produce',
  'pauseProducer',
  'resumeProducer',
  'closeProducer',
  'consume',
  'resumeConsumer',
  'pauseConsumer',
  'leaveCall',
  'leave',
  'chatSend',
  'chatHistory',
  'chatEdit',
  'chatDelete',
  'chatMarkRead',
  'setPresence',
  'setRoomLocked',
  'admit',
  'refuse',
  'removeParticipant',
  'muteParticipant',
  'setRole',
  'endMeeting',
  'raiseHand',
  'lowerHand',
] as const;
type Method = (typeof methods)[number];

/** How often each method is picked (media first: that is where state and races are). */
const methodWeights: ReadonlyArray<readonly [number, Method]> = [
  [0.5, 'join'],
  [1, 'getRouterRtpCapabilities'],
  [4, 'createWebRtcTransport'],
  [1, 'getIceServers'],
  [3, 'connectWebRtcTransport'],
  [1, 'restartIce'],
  [6, 'produce'],
  [2, 'pauseProducer'],
  [2, 'resumeProducer'],
  [1, 'closeProducer'],
  [8, 'consume'],
  [3, 'resumeConsumer'],
  [2, 'pauseConsumer'],
  [0.4, 'leaveCall'],
  [4, 'chatSend'],
  [2, 'chatHistory'],
  [1.5, 'chatEdit'],
  [1, 'chatDelete'],
  [1, 'chatMarkRead'],
  [1, 'setPresence'],
  // Host controls (the publisher makes every fuzzing client a host; see publisher()).
  [0.4, 'setRoomLocked'],
  [0.6, 'admit'],
  [0.3, 'refuse'],
  [0.15, 'removeParticipant'],
  [1, 'muteParticipant'],
  [0.6, 'setRole'],
  [0.03, 'endMeeting'],
  [0.5, 'raiseHand'],
  [0.5, 'lowerHand'],
];

const pickOwn = <T>(rng: Prng, own: T[], others: T[], fallback: T): T =>
  own.length > 0 && rng.chance(0.85) ? rng.pick(own) : others.length > 0 ? rng.pick(others) : fallback;

/** A valid request for `method` given what this client and the fuzzer know. */
function validData(rng: Prng, client: Client, method: Method, caps: Record<string, unknown>): unknown {
  const own = (direction?: 'send' | 'recv') =>
    pickOwn(
      rng,
      client.transports.filter((t) => !direction || t.direction === direction).map((t) => t.id),
      known.transports,
      randomUUID(),
    );
  // Mostly participants of this client's room.
  const allPeers = known.peers.map((p) => p.id);
  const peersHere = known.peers
    .filter((p) => p.roomId === client.roomId && p.id !== client.peerId)
    .map((p) => p.id);
  const peer = () => pickOwn(rng, peersHere, allPeers, randomUUID());
  // Mostly producers of this client's room, the last few announced (likely still open).
  const here = known.producers.filter((p) => p.roomId === client.roomId).slice(-5);
  const producerIds = (here.length > 0 && rng.chance(0.85) ? here : known.producers).map((p) => p.id);
  switch (method) {
    case 'join':
      return {
        displayName: rng.pick(['Ann', ' Bob ', 'Zoë', 'x'.repeat(40), '名前']),
        rtpCapabilities: caps,
      };
    case 'createWebRtcTransport':
      return rng.chance(0.3)
        ? { direction: rng.pick(['send', 'recv']), forceTcp: rng.chance(0.5) }
        : { direction: rng.pick(['send', 'recv']) };
    case 'connectWebRtcTransport':
      return {
        transportId: own(),
        dtlsParameters: rng.chance(0.5)
          ? clientDtlsParameters(rng.int(256))
          : {
              role: rng.pick(['auto', 'client', 'server']),
              fingerprints: clientDtlsParameters(rng.int(256)).fingerprints,
            },
      };
    case 'restartIce':
      return { transportId: own() };
    case 'produce': {
      const source = rng.pick(['mic', 'webcam', 'screen'] as const);
      return {
        transportId: own('send'),
        kind: source === 'mic' ? 'audio' : 'video',
        rtpParameters: rtpParameters(rng, client, source),
        source,
        ...(rng.chance(0.3) ? { paused: rng.chance(0.5) } : {}),
      };
    }
    case 'pauseProducer':
    case 'resumeProducer':
    case 'closeProducer':
      return { producerId: pickOwn(rng, client.producers, producerIds, randomUUID()) };
    case 'consume':
      return {
        transportId: own('recv'),
        producerId: pickOwn(rng, producerIds, client.producers, randomUUID()),
      };
    case 'resumeConsumer':
    case 'pauseConsumer':
      return { consumerId: pickOwn(rng, client.consumers, known.consumers, randomUUID()) };
    case 'chatSend':
      return {
        clientId: randomClientId(rng),
        text: text(rng),
        ...(rng.chance(0.15) ? { recipientId: pickOwn(rng, known.identities, [], randomUUID()) } : {}),
        ...(rng.chance(0.05) ? { attachmentId: randomUUID() } : {}),
      };
    case 'chatHistory':
      return {
        ...(rng.chance(0.5) ? { beforeSeq: pickOwn(rng, known.seqs, [], '1') } : {}),
        ...(rng.chance(0.5) ? { limit: rng.int(100) + 1 } : {}),
      };
    case 'chatEdit':
      return { messageId: pickOwn(rng, known.messages, [], randomUUID()), text: text(rng) };
    case 'chatDelete':
      return { messageId: pickOwn(rng, known.messages, [], randomUUID()) };
    case 'chatMarkRead':
      return { seq: pickOwn(rng, known.seqs, [], rng.pick(['0', '9223372036854775807'])) };
    case 'setPresence':
      return { away: rng.chance(0.5) };
    case 'setRoomLocked':
      return { locked: rng.chance(0.5) };
    case 'admit':
    case 'refuse':
      return { peerId: pickOwn(rng, known.lobby, allPeers, randomUUID()) };
    case 'removeParticipant':
    case 'lowerHand':
      return method === 'lowerHand' && rng.chance(0.5) ? {} : { peerId: peer() };
    case 'muteParticipant':
      return { peerId: peer(), source: rng.pick(['mic', 'webcam']) };
    case 'setRole':
      return {
        peerId: peer(),
        role: rng.weighted([
          [3, 'host'],
          [1, 'member'],
        ] as const),
      };
    default:
      return {};
  }
}

/** Paths of every value in `value` (objects and arrays), the root included. */
function paths(value: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(prefix);
  if (value && typeof value === 'object' && out.length < 500) {
    for (const [key, child] of Object.entries(value))
      paths(child, [...prefix, Array.isArray(value) ? Number(key) : key], out);
  }
  return out;
}

function mutate(rng: Prng, data: unknown): unknown {
  const copy = structuredClone(data ?? {}) as Record<string, unknown>;
  let root: unknown = copy;
  for (let n = rng.int(3) + 1; n > 0; n--) {
    const all = paths(root);
    const path = rng.pick(all);
    if (path.length === 0) {
      if (rng.chance(0.3)) {
        root = junkValue(rng);
        continue;
      }
    }
    const parentPath = path.slice(0, -1);
    let parent = root as Record<string | number, unknown>;
    for (const key of parentPath) parent = parent[key] as Record<string | number, unknown>;
    const key = path[path.length - 1];
    const target = path.length === 0 ? (root as Record<string, unknown>) : undefined;
    switch (rng.int(6)) {
      case 0:
        if (key !== undefined && parent && typeof parent === 'object') parent[key] = junkValue(rng);
        break;
      case 1:
        if (key !== undefined && parent && typeof parent === 'object') {
          if (Array.isArray(parent)) parent.splice(Number(key), 1);
          else delete parent[key];
        }
        break;
      case 2: {
        // An unknown key, deep inside or at the top.
        const into = (target ?? (key !== undefined ? parent?.[key] : root)) as
          Record<string, unknown> | undefined;
        if (into && typeof into === 'object' && !Array.isArray(into))
          into[rng.pick(['extra', '@@@proto@@@', 'constructor', 'appData', 'ssrc'])] = deepObject(
            rng,
            rng.int(60),
          );
        break;
      }
      case 3: {
        // An array made long, or one of its items duplicated.
        const value = key !== undefined ? parent?.[key] : root;
        if (Array.isArray(value) && value.length > 0) {
          if (rng.chance(0.5)) value.push(structuredClone(value[0]));
          else value.push(...Array.from({ length: rng.int(300) }, () => structuredClone(value[0])));
        }
        break;
      }
      case 4:
        // A number pushed out of range, or a string made a number and back.
        if (key !== undefined && parent && typeof parent === 'object') {
          const value = parent[key];
          if (typeof value === 'number')
            parent[key] = rng.pick([
              value + 1,
              -value,
              value * 2 ** 32,
              0.5,
              '@@inf@@',
              '@@2^63@@',
              '@@-0@@',
            ]);
          else if (typeof value === 'string')
            parent[key] = rng.chance(0.5) ? Number(value) || 0 : `${value}\u0000`;
          else parent[key] = String(value);
        }
        break;
      default:
        // Someone else's id where an id goes.
        if (key !== undefined && parent && typeof parent === 'object' && typeof parent[key] === 'string')
          parent[key] = junkValue(rng, 4);
    }
  }
  return root;
}

const junkMethods = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'JOIN',
  'join ',
  'produce\u0000',
  'x'.repeat(128),
  'x'.repeat(129),
  'mediaReset',
  'peerLeft',
  'chatSend;DROP',
  'getRouterRtpCapabilities'.repeat(5),
];

function rawJunk(rng: Prng): string {
  const id = rng.pick(['1', '-1', '0', '1.5', '1e999', '9223372036854775808', '"7"', 'null', '[]']);
  return rng.pick([
    'not json',
    '{',
    '{"request":true,"id":1,',
    '[]',
    'null',
    '"a string"',
    '1e999',
    '',
    ' ',
    '\ufeff{"request":true,"id":1,"method":"getRouterRtpCapabilities","data":{}}',
    `{"request":true,"id":${id},"method":"getRouterRtpCapabilities","data":{}}`,
    `{"request":true,"id":${id},"method":"join"}`,
    `{"request":true,"id":${id},"method":"join","data":null}`,
    `{"request":"true","id":2,"method":"join","data":{}}`,
    `{"response":true,"id":${id},"ok":true,"data":{}}`,
    `{"response":true,"id":${id},"ok":false,"errorCode":500,"errorReason":"x"}`,
    `{"notification":true,"method":"peerLeft","data":{"peerId":"x"}}`,
    `{"notification":true,"method":"join","data":{}}`,
    `{"request":true,"response":true,"notification":true,"id":3,"method":"leave","ok":true}`,
    `{"request":true,"id":4,"method":"chatSend","data":{"clientId":"abcdefgh","text":"a\\u0000b"}}`,
    `{"request":true,"id":5,"method":"chatSend","data":{"clientId":"abcdefgh","text":"\\ud800"}}`,
    `{"request":true,"id":6,"method":"chatHistory","data":{"limit":1e999}}`,
    `{"request":true,"id":7,"method":"chatHistory","data":{"limit":-0}}`,
    `{"request":true,"id":8,"method":"chatMarkRead","data":{"seq":"99999999999999999999"}}`,
    `{"__proto__":{"request":true},"id":9,"method":"leave"}`,
    '['.repeat(20_000) + ']'.repeat(20_000),
    '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
    `{"request":true,"id":10,"method":"setPresence","data":${'{"away":'.repeat(3000)}true${'}'.repeat(3000)}}`,
    JSON.stringify({
      request: true,
      id: 11,
      method: 'chatSend',
      data: { clientId: 'big-frame', text: 'y'.repeat(200_000) },
    }),
  ]);
}

// ---------------------------------------------------------------------------------------
// The run.

test(`fuzz: ${FRAMES} frames (seed ${SEED}): no 500, no crash, no error logged, workers alive, then a normal call works`, async () => {
  const rng = new Prng(SEED);
  const roomA = `fuzz-a-${process.pid}`;
  const roomB = `fuzz-b-${process.pid}`;
  const roomStrict = `fuzz-strict-${process.pid}`;
  const ann = await createIdentity(generous.url, 'Fuzz Ann');
  const clients = [
    new Client('a1', generous, roomA, ann),
    new Client('a2', generous, roomA, await createIdentity(generous.url, 'Fuzz Bob')),
    new Client('a3', generous, roomA, ann),
    new Client('b1', generous, roomB, await createIdentity(generous.url, 'Fuzz Cat')),
    new Client('b2', generous, roomB, await createIdentity(generous.url, 'Fuzz Dan')),
    new Client('s1', strict, roomStrict, await createIdentity(strict.url, 'Fuzz Eve')),
    new Client('s2', strict, roomStrict, await createIdentity(strict.url, 'Fuzz Fay')),
  ];
  const caps = (await (async () => {
    const probe = await RawPeer.open(generous.wsUrl(`fuzz-caps-${process.pid}`), ann);
    const value = await probe.ok('getRouterRtpCapabilities', {});
    await probe.close();
    return value;
  })()) as Record<string, unknown>;
  // A steady sender in each room (not fuzzed): producers that stay, for the fuzzed ones to
  // consume, pause and resume.
  const publishers = [
    new Publisher(generous, roomA, caps),
    new Publisher(generous, roomB, caps),
    new Publisher(strict, roomStrict, caps),
  ];
  for (const publisher of publishers) await publisher.start();
  for (const client of clients) await client.connect(rng);

  const memoryBefore = memory();
  const started = performance.now();
  while (stats.frames < FRAMES) {
    // The server with default limits gets a sixth of the frames.
    const client = rng.weighted(clients.map((c) => [c.server === strict ? 1 : 2.5, c] as const));
    if (!client.open) {
      stats.reconnects++;
      await client.connect(rng);
    }
    await client.drain(IN_FLIGHT);
    if (!client.open) continue;

    const category = rng.weighted([
      [45, 'valid'],
      [25, 'mutated'],
      [6, 'junk-method'],
      [8, 'raw'],
      [3, 'binary'],
      [0.3, 'bad-utf8'],
      [11, 'race'],
      [0.3, 'leave'],
    ] as const);
    let method: Method = !client.joinSent && rng.chance(0.6) ? 'join' : rng.weighted(methodWeights);
    // Media requests want a transport of their direction: mostly make one first.
    const needs = method === 'produce' ? 'send' : method === 'consume' ? 'recv' : undefined;
    if (needs && !client.transports.some((t) => t.direction === needs) && rng.chance(0.8))
      method = 'createWebRtcTransport';
    switch (category) {
      case 'valid':
        client.request(
          method,
          method === 'createWebRtcTransport' && needs
            ? { direction: needs }
            : validData(rng, client, method, caps),
        );
        break;
      case 'mutated': {
        const data = mutate(rng, validData(rng, client, method, caps));
        client.request(method, data, (id) =>
          withRawTokens(JSON.stringify({ request: true, id, method, data })),
        );
        break;
      }
      case 'junk-method': {
        const name = rng.chance(0.5) ? rng.pick(junkMethods) : junkString(rng).slice(0, 200);
        const data = rng.chance(0.5) ? validData(rng, client, rng.pick(methods), caps) : junkValue(rng);
        client.request(name, data, (id) =>
          withRawTokens(JSON.stringify({ request: true, id, method: name, data })),
        );
        break;
      }
      case 'raw':
        client.raw(rng.chance(0.01) ? 'z'.repeat(300 * 1024) : rawJunk(rng));
        break;
      case 'binary':
        client.raw(
          rng.chance(0.5)
            ? Buffer.from(JSON.stringify({ request: true, id: 1, method: 'join', data: {} }))
            : Buffer.from(Array.from({ length: rng.int(64) }, () => rng.int(256))),
          { binary: true },
        );
        break;
      case 'bad-utf8':
        // A text frame that is not UTF-8: the socket is closed (1007).
        client.raw(Buffer.from([0x7b, 0xff, 0xfe, 0xc3, 0x28, 0x7d]), { binary: false });
        break;
      case 'leave':
        client.request('leave', {});
        break;
      case 'race':
        race(rng, client, clients, caps);
        break;
    }
  }
  for (const client of clients) await client.drain(1);
  const fuzzMs = performance.now() - started;
  const memoryAfter = memory();

  const byCode = Object.fromEntries([...stats.byCode.entries()].sort());
  console.log(
    `fuzz summary: seed ${SEED}, ${DATABASE} database; ${stats.frames} frames (${stats.requests} requests, ${stats.rawFrames} raw text, ` +
      `${stats.binaryFrames} binary) in ${(fuzzMs / 1000).toFixed(1)} s; responses by code ${JSON.stringify(byCode)}; ` +
      `${stats.closedWithUnanswered} requests unanswered because their socket closed; ${stats.reconnects} reconnects; ` +
      `socket closes by code ${JSON.stringify(Object.fromEntries(stats.closeCodes))}; ` +
      `memory after a full GC: RSS ${memoryBefore.rss.toFixed(0)} MiB before, ${memoryAfter.rss.toFixed(0)} MiB after, ` +
      `JS heap ${memoryBefore.heap.toFixed(0)} MiB before, ${memoryAfter.heap.toFixed(0)} MiB after`,
  );
  if (process.env.FUZZ_VERBOSE)
    for (const [refusal, n] of [...stats.refusals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 60))
      console.log(`  ${n} × ${refusal}`);
  console.log(
    `fuzz successes by method: ${JSON.stringify(Object.fromEntries([...stats.okByMethod.entries()].sort()))}`,
  );

  assert.deepEqual(failures, [], 'no 500, nothing malformed, nothing left unanswered');
  assert.equal(stats.byCode.get('500') ?? 0, 0);
  assert.deepEqual(errorLogs, [], 'nothing logged at error level');
  // What stays reachable after a full collection does not grow with the frames: a bound that
  // only a leak (of participants, requests or buffers) would pass.
  const heapGrowth = memoryAfter.heap - memoryBefore.heap;
  assert.ok(heapGrowth < 100, `the JS heap grew by ${heapGrowth.toFixed(0)} MiB`);
  for (const server of [generous, strict]) {
    const workers = await server.app.pool.health();
    assert.ok(workers.length > 0);
    for (const worker of workers) {
      assert.equal(worker.alive, true, `worker ${worker.index} alive`);
      assert.equal(worker.restarts, 0, `worker ${worker.index} never died`);
    }
    const health = await fetch(`${server.url}/api/health`);
    assert.equal(health.status, 200);
    await health.arrayBuffer();
  }

  // Nothing outlives the fuzzing sockets: every room closes and frees its router.
  for (const client of clients) client.close();
  for (const publisher of publishers) await publisher.stop();
  for (const server of [generous, strict]) {
    await waitUntil('every fuzzed room to close', () => server.app.rooms.list().length === 0, 15_000);
    await waitUntil(
      'every router to be freed',
      async () => (await server.app.pool.health()).every((worker) => worker.routers === 0),
      15_000,
    );
  }

  // A normal call on each server afterwards.
  for (const server of [generous, strict]) await normalCall(server);
});

/** Which race, how often (case numbers of race()). */
const raceWeights: ReadonlyArray<readonly [number, number]> = [
  [2, 0],
  [1, 1],
  [2, 2],
  [2, 3],
  [0.7, 4],
  [1.5, 5],
  [1, 6],
  [0.8, 7],
];

/** Two or three frames sent back to back to race each other. */
function race(rng: Prng, client: Client, clients: Client[], caps: Record<string, unknown>): void {
  switch (rng.weighted(raceWeights)) {
    case 0: {
      const producerId = pickOwn(rng, client.producers, [], randomUUID());
      client.request('pauseProducer', { producerId });
      client.request('closeProducer', { producerId });
      client.request('resumeProducer', { producerId });
      break;
    }
    case 1:
      client.request('produce', validData(rng, client, 'produce', caps));
      client.request('leaveCall', {});
      break;
    case 2: {
      // A consumer resumed while its producer's owner closes it.
      const consumerId = pickOwn(rng, client.consumers, known.consumers, randomUUID());
      const owner = rng.pick(
        clients.filter((c) => c !== client && c.open && c.producers.length > 0).concat([client]),
      );
      client.request(rng.chance(0.5) ? 'resumeConsumer' : 'pauseConsumer', { consumerId });
      if (owner.producers.length > 0)
        owner.request('closeProducer', { producerId: rng.pick(owner.producers) });
      break;
    }
    case 3: {
      // A consume while the producer's owner leaves the call.
      const producer = known.producers.length > 0 ? rng.pick(known.producers) : undefined;
      client.request('consume', validData(rng, client, 'consume', caps));
      const owner = clients.find((c) => c.peerId === producer?.ownerPeer && c.open);
      owner?.request(
        rng.chance(0.5) ? 'leaveCall' : 'closeProducer',
        rng.chance(0.5) ? {} : { producerId: producer?.id },
      );
      break;
    }
    case 4:
      client.request('createWebRtcTransport', { direction: rng.pick(['send', 'recv']) });
      client.request('leaveCall', {});
      client.request('createWebRtcTransport', { direction: rng.pick(['send', 'recv']) });
      break;
    case 5: {
      const messageId = pickOwn(rng, known.messages, [], randomUUID());
      client.request('chatEdit', { messageId, text: text(rng) });
      client.request('chatDelete', { messageId });
      client.request('chatEdit', { messageId, text: text(rng) });
      break;
    }
    case 6: {
      // The same client id sent at once from two sockets of one identity.
      const twin = clients.find((c) => c !== client && c.identity === client.identity && c.open);
      const data = validData(rng, client, 'chatSend', caps);
      client.request('chatSend', data);
      twin?.request('chatSend', data);
      break;
    }
    default:
      // Requests followed at once by the socket going (sometimes).
      client.request('createWebRtcTransport', { direction: 'send' });
      client.request('produce', validData(rng, client, 'produce', caps));
      switch (rng.int(10)) {
        case 0:
        case 1:
          client.ws?.close();
          break;
        case 2:
          client.ws?.terminate();
          break;
        default:
      }
  }
}

/**
 * A steady participant of `roomId`, not fuzzed: it joins first (so it is the room's host),
 * sends a microphone and a camera for the others to consume, makes everyone who joins a
 * host (so that the fuzzed clients reach the host controls), admits whoever knocks, unlocks
 * a room someone locked, and comes back when removed or when the meeting was ended.
 */
class Publisher {
  readonly #server: TestServer;
  readonly #roomId: string;
  readonly #caps: Record<string, unknown>;
  #identity: TestIdentity | undefined;
  #peer: RawPeer | undefined;
  #stopped = false;

  constructor(server: TestServer, roomId: string, caps: Record<string, unknown>) {
    this.#server = server;
    this.#roomId = roomId;
    this.#caps = caps;
  }

  async start(): Promise<void> {
    this.#identity ??= await createIdentity(this.#server.url, 'Publisher');
    const peer = await RawPeer.open(this.#server.wsUrl(this.#roomId), this.#identity);
    this.#peer = peer;
    peer.ws.on('error', () => undefined);
    peer.ws.on('close', () => {
      if (!this.#stopped) setTimeout(() => void this.start().catch(() => undefined), 200);
    });
    const help = (request: Promise<unknown>) => void request.catch(() => undefined);
    peer.ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { method?: string; data?: Record<string, unknown> };
      if (message.method === 'peerJoined')
        help(peer.request('setRole', { peerId: message.data?.id, role: 'host' }));
      if (message.method === 'lobbyUpdated')
        for (const entry of message.data?.lobby as Array<{ peerId: string }>)
          help(peer.request('admit', { peerId: entry.peerId }));
      if (message.method === 'roomLocked' && message.data?.locked)
        help(peer.request('setRoomLocked', { locked: false }));
    });
    const joined = await peer.ok<{ status: string }>('join', {
      displayName: 'Publisher',
      rtpCapabilities: this.#caps,
    });
    if (joined.status !== 'joined') return; // removed from a locked room: a host may admit it
    const send = await peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' });
    await peer.ok('connectWebRtcTransport', {
      transportId: send.id,
      dtlsParameters: clientDtlsParameters(7),
    });
    await peer.ok('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: opusRtpParameters(90_000_001),
      source: 'mic',
    });
    await peer.ok('produce', {
      transportId: send.id,
      kind: 'video',
      rtpParameters: vp8RtpParameters(90_000_002, '1'),
      source: 'webcam',
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#peer?.close();
  }
}

/** Two fresh peers: join, send a microphone, receive it, chat. */
async function normalCall(server: TestServer): Promise<void> {
  const roomId = `after-fuzz-${process.pid}`;
  const alice = await RawPeer.open(server.wsUrl(roomId), await createIdentity(server.url, 'After Alice'));
  const bob = await RawPeer.open(server.wsUrl(roomId), await createIdentity(server.url, 'After Bob'));
  try {
    const caps = await alice.ok('getRouterRtpCapabilities', {});
    await alice.ok('join', { displayName: 'Alice', rtpCapabilities: caps });
    await bob.ok('join', { displayName: 'Bob', rtpCapabilities: caps });
    const send = await alice.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' });
    await alice.ok('connectWebRtcTransport', {
      transportId: send.id,
      dtlsParameters: clientDtlsParameters(),
    });
    const produced = await alice.ok<{ id: string }>('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: opusRtpParameters(),
      source: 'mic',
    });
    const recv = await bob.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' });
    await bob.ok('connectWebRtcTransport', { transportId: recv.id, dtlsParameters: clientDtlsParameters(9) });
    assert.equal((await bob.nextNotification('newProducer')).data.id, produced.id);
    const consumer = await bob.ok<{ id: string; producerId: string }>('consume', {
      transportId: recv.id,
      producerId: produced.id,
    });
    assert.equal(consumer.producerId, produced.id);
    await bob.ok('resumeConsumer', { consumerId: consumer.id });
    await alice.ok('chatSend', { clientId: 'after-fuzz-1', text: 'still fine' });
    assert.equal(
      ((await bob.nextNotification('chatMessage')).data.message as { text: string }).text,
      'still fine',
    );
    const history = await bob.ok<{ messages: Array<{ text: string }> }>('chatHistory', {});
    assert.equal(history.messages[0]?.text, 'still fine');
  } finally {
    await alice.close();
    await bob.close();
  }
}
