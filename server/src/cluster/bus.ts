// The bus between the nodes of a cluster, over Redis pub/sub (ioredis):
// - one channel per room, `meet:room:<id>`: what happened in the room on one node, for every
//   node with participants there. Redis delivers one publisher's messages in the order they
//   were published, so a node's events reach the others in the order it made them;
// - one channel per node, `meet:node:<id>`: requests to that node and answers from it
//   (request/response with a timeout; a refusal carries its code and reason).
// Messages are JSON. A node hears its own room messages too and skips them.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { ErrorCode } from '@meet/protocol';
import { SignalingError } from '../signaling/errors.js';

/** What the bus needs of Redis: two connections (one subscribes only). */
export interface BusConnections {
  publisher: Redis;
  subscriber: Redis;
}

type NodeMessage =
  | { type: 'request'; id: string; from: string; method: string; data: unknown }
  | { type: 'answer'; id: string; ok: true; data: unknown }
  | { type: 'answer'; id: string; ok: false; code: number; reason: string };

interface RoomEnvelope {
  from: string;
  event: unknown;
}

/** Answers one request from another node (throws a SignalingError to refuse it). */
export type RequestHandler = (from: string, method: string, data: unknown) => Promise<unknown>;

/** A room event from another node. */
export type RoomListener = (event: unknown, from: string) => void;

const roomChannel = (roomId: string) => `meet:room:${roomId}`;
const nodeChannel = (nodeId: string) => `meet:node:${nodeId}`;

export class ClusterBus {
  readonly nodeId: string;
  readonly #redis: BusConnections;
  readonly #log: FastifyBaseLogger;
  readonly #rooms = new Map<string, RoomListener>();
  readonly #pending = new Map<
    string,
    {
      to: string;
      resolve: (data: unknown) => void;
      reject: (error: Error) => void;
      timer: ReturnType<typeof setTimeout>;
    }
  >();
  #handler: RequestHandler | undefined;
  #closed = false;

  private constructor(nodeId: string, redis: BusConnections, log: FastifyBaseLogger) {
    this.nodeId = nodeId;
    this.#redis = redis;
    this.#log = log;
  }

  /** Subscribes to this node's own channel; rooms are subscribed as they open here. */
  static async start(nodeId: string, redis: BusConnections, log: FastifyBaseLogger): Promise<ClusterBus> {
    const bus = new ClusterBus(nodeId, redis, log);
    redis.subscriber.on('message', (channel: string, text: string) => bus.#onMessage(channel, text));
    await redis.subscriber.subscribe(nodeChannel(nodeId));
    return bus;
  }

  /** Handles the requests other nodes send to this one. */
  onRequest(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Hears a room's events from other nodes (subscribed once this resolves). */
  async joinRoom(roomId: string, listener: RoomListener): Promise<void> {
    this.#rooms.set(roomId, listener);
    await this.#redis.subscriber.subscribe(roomChannel(roomId));
  }

  async leaveRoom(roomId: string): Promise<void> {
    this.#rooms.delete(roomId);
    if (!this.#closed) await this.#redis.subscriber.unsubscribe(roomChannel(roomId));
  }

  /** Tells every other node with participants in the room (in this node's order). */
  publish(roomId: string, event: unknown): void {
    if (this.#closed) return;
    const envelope: RoomEnvelope = { from: this.nodeId, event };
    this.#redis.publisher
      .publish(roomChannel(roomId), JSON.stringify(envelope))
      .catch((err: unknown) => this.#log.warn({ err, roomId }, 'room event not published'));
  }

  /** Asks another node; rejects with its refusal, or after `timeoutMs` without an answer. */
  request<T = unknown>(to: string, method: string, data: unknown, timeoutMs = 5000): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the cluster bus is closed'));
    const id = randomUUID();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new SignalingError(ErrorCode.Unavailable, `node ${to} did not answer ${method} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#pending.set(id, { to, resolve: resolve as (data: unknown) => void, reject, timer });
      const message: NodeMessage = { type: 'request', id, from: this.nodeId, method, data };
      this.#redis.publisher.publish(nodeChannel(to), JSON.stringify(message)).catch((err: unknown) => {
        this.#settle(id)?.reject(err as Error);
      });
    });
  }

  /** Requests waiting on a node that is gone fail now instead of at their timeout. */
  nodeGone(nodeId: string): void {
    for (const [id, pending] of this.#pending) {
      if (pending.to !== nodeId) continue;
      this.#settle(id)?.reject(new SignalingError(ErrorCode.Unavailable, `node ${nodeId} is gone`));
    }
  }

  #settle(id: string) {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #onMessage(channel: string, text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.#log.warn({ channel }, 'unreadable message on the cluster bus');
      return;
    }
    if (channel === nodeChannel(this.nodeId)) {
      this.#onNodeMessage(parsed as NodeMessage);
      return;
    }
    const { from, event } = parsed as RoomEnvelope;
    if (from === this.nodeId) return;
    const listener = this.#rooms.get(channel.slice('meet:room:'.length));
    if (!listener) return;
    try {
      listener(event, from);
    } catch (err) {
      this.#log.error({ err, channel, from }, 'a room event from another node failed');
    }
  }

  #onNodeMessage(message: NodeMessage): void {
    if (message.type === 'answer') {
      const pending = this.#settle(message.id);
      if (!pending) return;
      if (message.ok) pending.resolve(message.data);
      else pending.reject(new SignalingError(message.code, message.reason));
      return;
    }
    const { id, from, method, data } = message;
    const answer = (reply: NodeMessage) => {
      if (this.#closed) return;
      this.#redis.publisher
        .publish(nodeChannel(from), JSON.stringify(reply))
        .catch((err: unknown) => this.#log.warn({ err, to: from, method }, 'answer not sent'));
    };
    const handler = this.#handler;
    if (!handler) {
      answer({ type: 'answer', id, ok: false, code: ErrorCode.Unavailable, reason: 'node not ready' });
      return;
    }
    handler(from, method, data).then(
      (result) => answer({ type: 'answer', id, ok: true, data: result ?? {} }),
      (error: unknown) => {
        const code = error instanceof SignalingError ? error.code : ErrorCode.Internal;
        if (code === ErrorCode.Internal) this.#log.error({ err: error, from, method }, 'node request failed');
        const reason =
          error instanceof SignalingError ? error.message : `${method} failed on node ${this.nodeId}`;
        answer({ type: 'answer', id, ok: false, code, reason });
      },
    );
  }

  close(): void {
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(new Error('the cluster bus closed'));
    this.#rooms.clear();
  }
}
