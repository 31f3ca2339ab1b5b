// Carries protoo messages over a websocket accepted by @fastify/websocket (the `ws`
// library), so protoo-server needs no HTTP upgrade handler of its own. Every frame is
// checked against the protocol's envelope schema; a frame that is not valid JSON or not a
// protoo message is answered with an error response (id null when unknown) and dropped.
// Frames that arrive before protoo attaches its listener (the room is still being created)
// are kept, up to a bound, and delivered in order once it does.
import { EventEmitter } from 'node:events';
import type { ProtooTransport } from 'protoo-server';
import type { WebSocket } from 'ws';
import { parseEnvelope } from '@meet/protocol';

const maxEarlyMessages = 32;

export interface TransportLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class WsProtooTransport extends EventEmitter implements ProtooTransport {
  readonly #socket: WebSocket;
  readonly #log: TransportLogger;
  readonly #onRefused: ((errorCode: number) => void) | undefined;
  #closed = false;
  #early: unknown[] | undefined = [];

  /** `onRefused` is told of every frame refused here (it never reaches protoo). */
  constructor(socket: WebSocket, log: TransportLogger, onRefused?: (errorCode: number) => void) {
    super();
    this.#socket = socket;
    this.#log = log;
    this.#onRefused = onRefused;
    this.on('newListener', (event) => {
      if (event !== 'message' || !this.#early) return;
      const early = this.#early;
      this.#early = undefined;
      // After the listener is attached (newListener fires just before).
      queueMicrotask(() => early.forEach((message) => this.emit('message', message)));
    });
    socket.on('message', (raw, isBinary) => this.#onFrame(raw, isBinary));
    socket.on('close', (code) => {
      this.#log.debug({ code }, 'websocket closed');
      this.#markClosed();
    });
    socket.on('error', (err) => {
      this.#log.warn({ err }, 'websocket error');
      this.#markClosed();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#markClosed();
    try {
      this.#socket.close(4000, 'closed by server');
    } catch (err) {
      this.#log.warn({ err }, 'error closing websocket');
    }
  }

  send(message: unknown): Promise<void> {
    if (this.#closed || this.#socket.readyState !== this.#socket.OPEN) {
      return Promise.reject(new Error('transport closed'));
    }
    return new Promise((resolve, reject) => {
      this.#socket.send(JSON.stringify(message), (err) => (err ? reject(err) : resolve()));
    });
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
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
    if (this.#early) {
      if (this.#early.length >= maxEarlyMessages) {
        this.#reject(
          'id' in envelope ? envelope.id : undefined,
          429,
          'too many messages before the room opened',
        );
        return;
      }
      this.#early.push(message);
      return;
    }
    this.emit('message', message);
  }

  #reject(id: number | undefined, errorCode: number, errorReason: string): void {
    this.#onRefused?.(errorCode);
    this.send({ response: true, id: id ?? null, ok: false, errorCode, errorReason }).catch(() => {});
  }
}
