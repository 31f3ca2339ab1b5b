// Minimal typings for protoo-server 4 (the package ships none).
declare module 'protoo-server' {
  import type { EventEmitter } from 'node:events';

  /** What protoo needs from a transport: we provide one over @fastify/websocket. */
  export interface ProtooTransport extends EventEmitter {
    readonly closed: boolean;
    /** Our transport takes a websocket close code and reason; protoo calls it without. */
    close(code?: number, reason?: string): void;
    send(message: unknown): Promise<void>;
    /**
     * Sends a message already serialized (what `send` would make of it): a frame built once
     * and sent to many (chat-announce.ts). Not part of protoo's own contract.
     */
    sendText(text: string): Promise<void>;
  }

  export interface ProtooRequest {
    request: true;
    id: number;
    method: string;
    data: unknown;
  }

  export type Accept = (data?: unknown) => void;
  export type Reject = (errorCode: number | Error, errorReason?: string | Error) => void;

  export class Peer extends EventEmitter {
    readonly id: string;
    readonly closed: boolean;
    readonly data: Record<string, unknown>;
    close(): void;
    request(method: string, data?: unknown): Promise<unknown>;
    notify(method: string, data?: unknown): Promise<void>;
    on(event: 'request', listener: (request: ProtooRequest, accept: Accept, reject: Reject) => void): this;
    on(event: 'close', listener: () => void): this;
  }

  export class Room extends EventEmitter {
    readonly closed: boolean;
    readonly peers: Peer[];
    createPeer(peerId: string, transport: ProtooTransport): Peer;
    hasPeer(peerId: string): boolean;
    getPeer(peerId: string): Peer | undefined;
    close(): void;
  }

  const protoo: { Room: typeof Room; version: string };
  export default protoo;
}
