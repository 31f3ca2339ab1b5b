// The load tool's signaling client: protoo over `ws`, typed and checked with the shared
// protocol (@meet/protocol): every response is parsed with its schema from `requests`, every
// notification with its schema from `notifications`, as the web app relies on them.
import WebSocket from 'ws';
import {
  notifications,
  requests,
  type NotificationData,
  type NotificationMethod,
  type RequestData,
  type RequestMethod,
  type ResponseData,
} from '@meet/protocol';

const REQUEST_TIMEOUT_MS = 30_000;

interface ProtooMessage {
  request?: boolean;
  response?: boolean;
  notification?: boolean;
  id?: number;
  ok?: boolean;
  method?: string;
  data?: unknown;
  errorCode?: number;
  errorReason?: string;
}

type NotificationHandlers = { [M in NotificationMethod]?: (data: NotificationData<M>) => void };

/** ws(s)://host/ws?roomId=… for a server base URL. */
export function signalingUrl(baseUrl: string, roomId: string): string {
  const url = new URL('/ws', baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('roomId', roomId);
  return url.toString();
}

export class SignalingClient {
  readonly #ws: WebSocket;
  readonly #handlers: NotificationHandlers = {};
  readonly #pending = new Map<
    number,
    {
      method: RequestMethod;
      resolve: (data: unknown) => void;
      reject: (error: Error) => void;
      timer: NodeJS.Timeout;
    }
  >();
  #nextId = 1;
  /** A notification failed its schema (a protocol mismatch: reported, not thrown). */
  onProtocolError: ((message: string) => void) | undefined;
  onClose: (() => void) | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (raw) => this.#onMessage(String(raw)));
    ws.on('close', () => {
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`signaling closed before the response to ${pending.method} (${id})`));
      }
      this.#pending.clear();
      this.onClose?.();
    });
  }

  /** Opens the room's websocket (subprotocol "protoo") with the identity cookie. */
  static connect(url: string, cookie: string): Promise<SignalingClient> {
    const ws = new WebSocket(url, 'protoo', { headers: { Cookie: cookie } });
    const client = new SignalingClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`signaling upgrade answered HTTP ${res.statusCode}`)),
      );
    });
  }

  on<M extends NotificationMethod>(method: M, handler: (data: NotificationData<M>) => void): void {
    (this.#handlers as Record<string, unknown>)[method] = handler;
  }

  request<M extends RequestMethod>(method: M, data: RequestData<M>): Promise<ResponseData<M>> {
    const id = this.#nextId++;
    return new Promise<ResponseData<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} timed out after ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, { method, resolve: resolve as (data: unknown) => void, reject, timer });
      this.#ws.send(JSON.stringify({ request: true, id, method, data }));
    });
  }

  #onMessage(raw: string): void {
    const message = JSON.parse(raw) as ProtooMessage;
    if (message.response === true && typeof message.id === 'number') {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.ok !== true) {
        pending.reject(
          new Error(`${pending.method} failed: ${String(message.errorCode)} ${String(message.errorReason)}`),
        );
        return;
      }
      const parsed = requests[pending.method].response.safeParse(message.data ?? {});
      if (parsed.success) pending.resolve(parsed.data);
      else pending.reject(new Error(`${pending.method}: response does not match the protocol`));
    } else if (message.notification === true && message.method) {
      const method = message.method;
      if (!Object.hasOwn(notifications, method)) return;
      const schema = notifications[method as NotificationMethod];
      const parsed = schema.safeParse(message.data ?? {});
      if (!parsed.success) {
        this.onProtocolError?.(`notification ${method} does not match the protocol`);
        return;
      }
      const handler = (this.#handlers as Record<string, ((data: unknown) => void) | undefined>)[method];
      handler?.(parsed.data);
    } else if (message.request === true && typeof message.id === 'number') {
      // The server sends no requests today; answer so that a future one does not hang.
      this.#ws.send(
        JSON.stringify({
          response: true,
          id: message.id,
          ok: false,
          errorCode: 501,
          errorReason: 'not implemented by the load tool',
        }),
      );
    }
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#ws.terminate();
        resolve();
      }, 2000);
      this.#ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#ws.close();
    });
  }
}
