// A raw protoo peer for tests: speaks protoo JSON over the `ws` package, so tests can send
// anything (including malformed frames) and see exactly what the server answers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import WebSocket from 'ws';
import { createIdentity, type TestIdentity } from '../../../tests/helpers/identity.js';
import type { TestServer } from '../../../tests/helpers/server.js';

export type { TestIdentity };

export interface ProtooResponse {
  response: true;
  id: number | null;
  /** true on success; protoo-server leaves it out of its error responses. */
  ok?: boolean;
  data?: Record<string, unknown>;
  errorCode?: number;
  errorReason?: string;
}

export interface ProtooNotification {
  notification: true;
  method: string;
  data: Record<string, unknown>;
}

type Message = Record<string, unknown>;

interface Waiter {
  match: (message: Message) => boolean;
  resolve: (message: Message) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Resolves when `probe` returns a truthy value; fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export class RawPeer {
  readonly ws: WebSocket;
  /** Every message received, in order. */
  readonly received: Message[] = [];
  /** Resolves with the close code and reason when the socket closes. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The identity whose cookie opened the socket, if any. */
  readonly identity: TestIdentity | undefined;
  readonly #inbox: Message[] = [];
  readonly #waiters: Waiter[] = [];
  #nextId = 1;

  private constructor(ws: WebSocket, identity: TestIdentity | undefined) {
    this.ws = ws;
    this.identity = identity;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as Message;
      this.received.push(message);
      const index = this.#waiters.findIndex((waiter) => waiter.match(message));
      if (index >= 0) {
        const [waiter] = this.#waiters.splice(index, 1);
        waiter?.resolve(message);
      } else {
        this.#inbox.push(message);
      }
    });
  }

  /**
   * Opens a websocket with the protoo subprotocol, with the identity's cookie (as a browser
   * that did POST /api/identity); resolves once it is open.
   */
  static open(url: string, identity?: TestIdentity, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawPeer> {
    const ws = new WebSocket(url, 'protoo', identity ? { headers: { cookie: identity.cookie } } : {});
    const peer = new RawPeer(ws, identity);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`websocket ${url} did not open`)), timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(peer);
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /**
   * Opens a peer of `roomId` on the test server (with a new identity named `displayName`, or
   * the given one) and waits until the server has attached it to its room, so that the test
   * can look at the room's state right away.
   */
  static async connect(server: TestServer, roomId: string, who: string | TestIdentity): Promise<RawPeer> {
    const identity = typeof who === 'string' ? await createIdentity(server.url, who) : who;
    const peersOf = async () =>
      (await server.app.rooms.list()).find((room) => room.id === roomId)?.participants.size ?? 0;
    const before = await peersOf();
    const peer = await RawPeer.open(server.wsUrl(roomId), identity);
    await waitUntil(`the server to attach a peer to room ${roomId}`, async () => (await peersOf()) > before);
    return peer;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a text (or binary) frame as is. */
  sendRaw(frame: string | Buffer): void {
    this.ws.send(frame);
  }

  /** Sends a protoo request and resolves with its response (success or error). */
  async request(method: string, data?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ProtooResponse> {
    const id = this.#nextId++;
    this.ws.send(JSON.stringify({ request: true, id, method, data }));
    return this.nextResponse(id, timeoutMs);
  }

  /** Sends a request and asserts that it succeeds; resolves with the response data. */
  async ok<T = Record<string, unknown>>(method: string, data?: unknown): Promise<T> {
    const response = await this.request(method, data);
    assert.equal(
      response.ok,
      true,
      `${method} failed: ${String(response.errorCode)} ${String(response.errorReason)}`,
    );
    return response.data as T;
  }

  /** Sends a request and asserts an error response with `code` and a reason matching `reason`. */
  async fails(method: string, data: unknown, code: number, reason: RegExp): Promise<ProtooResponse> {
    const response = await this.request(method, data);
    assertErrorResponse(response, code, reason);
    return response;
  }

  /** The next response with this id (null: a response to a frame the server could not read). */
  nextResponse(id: number | null, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ProtooResponse> {
    return this.waitFor<ProtooResponse>(
      `response ${String(id)}`,
      (m) => m.response === true && m.id === id,
      timeoutMs,
    );
  }

  /** The next notification of this method. */
  nextNotification(method: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ProtooNotification> {
    return this.waitFor<ProtooNotification>(
      `notification ${method}`,
      (m) => m.notification === true && m.method === method,
      timeoutMs,
    );
  }

  /** Notifications received so far (consumed by a waiter or not). */
  notifications(method?: string): ProtooNotification[] {
    return this.received.filter(
      (m) => m.notification === true && (method === undefined || m.method === method),
    ) as unknown as ProtooNotification[];
  }

  /** Resolves with the first unconsumed message matching `match`, waiting for it if needed. */
  waitFor<T = Message>(
    what: string,
    match: (message: Message) => boolean,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    const index = this.#inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#inbox.splice(index, 1)[0] as T);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as T);
        },
      };
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(
          new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.received).slice(-2000)}`),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Resolves when the socket is closed (or fails after `timeoutMs`). */
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out waiting for the socket to close')), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the socket (if open) and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (this.ws.readyState !== WebSocket.CLOSING) this.ws.close();
    await this.waitClosed().catch(() => this.ws.terminate());
  }
}

export function assertErrorResponse(response: ProtooResponse, code: number, reason: RegExp): void {
  assert.equal(response.response, true);
  assert.notEqual(response.ok, true, `expected an error response, got ${JSON.stringify(response)}`);
  assert.equal(response.errorCode, code, `error code of ${JSON.stringify(response)}`);
  assert.equal(typeof response.errorReason, 'string');
  assert.match(response.errorReason as string, reason);
}

/**
 * Attempts a websocket upgrade and resolves with the HTTP status and body of a refused one.
 * Fails if the upgrade is accepted.
 */
export function refusedUpgrade(
  url: string,
  cookie?: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'protoo', cookie ? { headers: { cookie } } : {});
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade of ${url}`));
    }, timeoutMs);
    ws.on('open', () => {
      clearTimeout(timer);
      ws.close();
      reject(new Error(`the upgrade of ${url} was accepted`));
    });
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.on('error', (error) => {
      // After 'unexpected-response' ws may report the aborted handshake; the answer is in.
      if (!/Unexpected server response|aborted/i.test(error.message)) {
        clearTimeout(timer);
        reject(error);
      }
    });
  });
}

/** A plausible DTLS client description: sha-256 fingerprint of 32 hex bytes. */
export function clientDtlsParameters(seed = 0xab) {
  const bytes = Array.from({ length: 32 }, (_, i) =>
    ((seed + i * 7) % 256).toString(16).toUpperCase().padStart(2, '0'),
  );
  return { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: bytes.join(':') }] };
}

/** RTP parameters of an Opus microphone track the room's routers accept. */
export function opusRtpParameters(ssrc = 11_111_111) {
  return {
    mid: '0',
    codecs: [
      {
        mimeType: 'audio/opus',
        payloadType: 100,
        clockRate: 48000,
        channels: 2,
        parameters: { useinbandfec: 1 },
        rtcpFeedback: [],
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc }],
    rtcp: { cname: `cname-${ssrc}` },
  };
}

/**
 * Opens a websocket by hand over TCP and sends `frames` (text) in the same write as the
 * upgrade request, i.e. before the server could possibly have answered anything; collects
 * the text frames the server sends during `listenMs`.
 */
export async function framesAfterEagerUpgrade(
  server: TestServer,
  roomId: string,
  identity: TestIdentity,
  frames: string[],
  listenMs = 2000,
): Promise<{ status: number; messages: Message[] }> {
  const { hostname, port } = new URL(server.url);
  const key = randomBytes(16).toString('base64');
  const head = [
    `GET /ws?roomId=${encodeURIComponent(roomId)} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Protocol: protoo',
    `Cookie: ${identity.cookie}`,
    '',
    '',
  ].join('\r\n');
  const socket = net.connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.write(Buffer.concat([Buffer.from(head), ...frames.map(maskedTextFrame)]));
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => setTimeout(resolve, listenMs));
  socket.destroy();
  const data = Buffer.concat(chunks);
  const end = data.indexOf('\r\n\r\n');
  assert.ok(end > 0, 'the server answered the upgrade');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data.subarray(0, end).toString())?.[1]);
  const messages: Message[] = [];
  let at = end + 4;
  while (at + 2 <= data.length) {
    const opcode = (data[at] as number) & 0x0f;
    let length = (data[at + 1] as number) & 0x7f;
    at += 2;
    if (length === 126) {
      length = data.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(at));
      at += 8;
    }
    if (opcode === 1) messages.push(JSON.parse(data.subarray(at, at + length).toString('utf8')) as Message);
    at += length;
  }
  return { status, messages };
}

/** A client-to-server (masked) websocket text frame. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  const header =
    payload.length < 126
      ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([header, mask, masked]);
}

/** Creates and connects a send transport for `peer` and produces an Opus microphone on it. */
export async function sendsMicrophone(peer: RawPeer, ssrc: number): Promise<string> {
  const send = await peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' });
  await peer.ok('connectWebRtcTransport', { transportId: send.id, dtlsParameters: clientDtlsParameters() });
  const { id } = await peer.ok<{ id: string }>('produce', {
    transportId: send.id,
    kind: 'audio',
    rtpParameters: opusRtpParameters(ssrc),
    source: 'mic',
  });
  return id;
}
