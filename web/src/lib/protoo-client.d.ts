// Minimal typings for protoo-client 4 (the package ships none).
declare module 'protoo-client' {
  export class WebSocketTransport {
    constructor(
      url: string,
      options?: { retry?: { retries?: number; factor?: number; minTimeout?: number; maxTimeout?: number } },
    );
  }
  export class Peer {
    constructor(transport: WebSocketTransport);
    readonly connected: boolean;
    readonly closed: boolean;
    request(method: string, data?: unknown): Promise<unknown>;
    notify(method: string, data?: unknown): Promise<void>;
    close(): void;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    on(event: string, listener: (...args: any[]) => void): this;
  }
  const protooClient: { WebSocketTransport: typeof WebSocketTransport; Peer: typeof Peer };
  export default protooClient;
}
