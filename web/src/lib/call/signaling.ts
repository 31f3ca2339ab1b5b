// Typed signaling over protoo-client: requests are checked against the shared protocol
// before they leave, and notifications are checked when they arrive.
import protooClient, { type Peer as ProtooPeer } from 'protoo-client';
import {
  notifications,
  requests,
  type NotificationData,
  type NotificationMethod,
  type RequestData,
  type RequestMethod,
  type ResponseData,
} from '@meet/protocol';
import { NoAnswerError } from './retry.js';

export type NotificationHandler = {
  [M in NotificationMethod]: (data: NotificationData<M>) => void;
};

export interface SignalingEvents {
  onOpen(): void;
  onDisconnected(): void;
  onClose(): void;
  onNotification: Partial<NotificationHandler>;
}

export class Signaling {
  readonly #peer: ProtooPeer;

  constructor(url: string, events: SignalingEvents) {
    // protoo retries the first connection (twice); the session makes every later one itself.
    const transport = new protooClient.WebSocketTransport(url, {
      retry: { retries: 2, factor: 2, minTimeout: 500 },
    });
    this.#peer = new protooClient.Peer(transport);
    this.#peer.on('open', () => events.onOpen());
    this.#peer.on('disconnected', () => {
      events.onDisconnected();
      // protoo would open this same URL again at once: without `resume` (our participant of
      // before, which the server may still hold: a half-open connection) and with the node
      // of the first connection. Closed here, protoo does not; our 'close' then lets the
      // session connect again with both up to date.
      this.#peer.close();
    });
    this.#peer.on('failed', () => undefined);
    this.#peer.on('close', () => events.onClose());
    this.#peer.on(
      'request',
      (_request: unknown, _accept: unknown, reject: (code: number, reason: string) => void) =>
        reject(400, 'the browser takes no requests'),
    );
    this.#peer.on('notification', (notification: { method: string; data: unknown }) => {
      const method = notification.method as NotificationMethod;
      const schema = notifications[method];
      if (!schema) return;
      const parsed = schema.safeParse(notification.data);
      if (!parsed.success) {
        console.warn('ignoring malformed notification', method, parsed.error);
        return;
      }
      (events.onNotification[method] as ((data: unknown) => void) | undefined)?.(parsed.data);
    });
  }

  get connected(): boolean {
    return this.#peer.connected;
  }

  async request<M extends RequestMethod>(method: M, data: RequestData<M>): Promise<ResponseData<M>> {
    const checked = requests[method].data.parse(data);
    try {
      return (await this.#peer.request(method, checked)) as ResponseData<M>;
    } catch (error) {
      // The server's answers carry a code; protoo's own failures (timed out, socket gone) none.
      if (typeof (error as { code?: unknown } | undefined)?.code === 'number') throw error;
      throw new NoAnswerError(method, error);
    }
  }

  close(): void {
    this.#peer.close();
  }
}
