// Carries protoo messages over a websocket accepted by @fastify/websocket (the `ws`
// library), so protoo-server needs no HTTP upgrade handler of its own. Every frame is
// checked against the protocol's envelope schema; a frame that is not valid JSON or not a
// protoo message is answered with an error response (id null when unknown) and dropped.
// The room attaches the participant (protoo's listener) as soon as the socket is upgraded,
// before any frame can be read.
import { EventEmitter } from 'node:events';
import type { ProtooTransport } from 'protoo-server';
import type { WebSocket } from 'ws';
import { parseEnvelope } from '@meet/protocol';
import { TokenBucket } from '../participant/limits.js';

export interface TransportLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Frames refused before they reach the participant (not JSON, not protoo, binary). */
const invalidFramesPerSecond = 10;
const invalidFramesBurst = 50;

export interface WsTransportOptions {
  /** Websocket ping interval, ms. */
  heartbeatMs: number;
  /** Unsent bytes beyond which the socket is closed. */
  maxBufferedBytes: number;
}

/**
 * Whether a websocket error is the client's doing: a frame too large, not UTF-8 or otherwise
 * malformed (ws closes the socket with 1009, 1007 or 1002), or its connection reset. Those are
 * not failures of the server and are logged below error level.
 */
export function isClientSocketError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    (code.startsWith('WS_ERR_') || ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED'].includes(code))
  );
}

export class WsProtooTransport extends EventEmitter implements ProtooTransport {
  readonly #socket: WebSocket;
  readonly #log: TransportLogger;
  readonly #onRefused: ((errorCode: number) => void) | undefined;
  readonly #maxBufferedBytes: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;
  #pongPending = false;
  readonly #refusals = new TokenBucket(invalidFramesPerSecond, invalidFramesBurst);

  /** `onRefused` is told of every frame refused here (it never reaches protoo). */
  constructor(
    socket: WebSocket,
    log: TransportLogger,
    { heartbeatMs, maxBufferedBytes }: WsTransportOptions,
    onRefused?: (errorCode: number) => void,
  ) {
    super();
    this.#socket = socket;
    this.#log = log;
    this.#onRefused = onRefused;
    this.#maxBufferedBytes = maxBufferedBytes;
    // A ping each interval; a socket that has not answered the previous one (a half-open
    // connection: the browser's machine slept or its network went) is dropped.
    socket.on('pong', () => (this.#pongPending = false));
    this.#heartbeat = setInterval(() => {
      if (this.#pongPending) {
        this.#log.debug({}, 'websocket missed its pong: dropped');
        this.#markClosed();
        socket.terminate();
        return;
      }
      this.#pongPending = true;
      socket.ping();
    }, heartbeatMs);
    this.#heartbeat.unref();
    socket.on('message', (raw, isBinary) => this.#onFrame(raw, isBinary));
    socket.on('close', (code) => {
      this.#log.debug({ code }, 'websocket closed');
      this.#markClosed();
    });
    socket.on('error', (err) => {
      if (isClientSocketError(err))
        this.#log.debug({ reason: err.message }, 'websocket closed on a client error');
      else this.#log.warn({ err }, 'websocket error');
      this.#markClosed();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket with a websocket close code and a reason the client can show. */
  close(code = 4000, reason = 'closed by server'): void {
    if (this.#closed) return;
    this.#markClosed();
    try {
      this.#socket.close(code, reason);
    } catch (err) {
      this.#log.warn({ err }, 'error closing websocket');
    }
  }

  send(message: unknown): Promise<void> {
    return this.sendText(JSON.stringify(message));
  }

  sendText(text: string): Promise<void> {
    if (this.#closed || this.#socket.readyState !== this.#socket.OPEN) {
      return Promise.reject(new Error('transport closed'));
    }
    // A client that stops reading makes everything sent to it pile up in this process:
    // past the bound, the socket is closed instead.
    if (this.#socket.bufferedAmount > this.#maxBufferedBytes) {
      this.#log.debug({ buffered: this.#socket.bufferedAmount }, 'websocket not read: closed');
      this.#markClosed();
      this.#socket.terminate();
      return Promise.reject(new Error('transport closed: the client is not reading'));
    }
    return new Promise((resolve, reject) => {
      this.#socket.send(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.emit('close');
  }

  #onFrame(raw: unknown, isBinary: boolean): void {
    if (isBinary) {
      this.#reject(undefined, 400, 'binary frames are not supported');
      return;
    }
    const text = Array.isArray(raw) ? Buffer.concat(raw as Buffer[]).toString('utf8') : String(raw);
    const parsed = parseEnvelope(text);
    if (!parsed.ok) {
      this.#log.debug({ reason: parsed.reason }, 'invalid signaling frame');
      this.#reject(parsed.id, parsed.code, parsed.reason);
      return;
    }
    const envelope = parsed.data;
    // protoo-server expects `data` to be present on requests and success responses.
    const message =
      'request' in envelope || ('response' in envelope && envelope.ok)
        ? { ...envelope, data: envelope.data ?? {} }
        : envelope;
    this.emit('message', message);
  }

  #reject(id: number | undefined, errorCode: number, errorReason: string): void {
    // Refused frames never reach the participant's rate limit: they have their own, and a
    // socket that keeps sending them is closed.
    if (this.#refusals.take() > 0) {
      this.#log.debug({}, 'too many invalid frames: closed');
      this.close(4008, 'too many invalid frames');
      return;
    }
    this.#onRefused?.(errorCode);
    this.send({ response: true, id: id ?? null, ok: false, errorCode, errorReason }).catch(() => {});
  }
}
