// Helpers for the hardening and fuzz tests: video RTP parameters, websocket upgrades with
// chosen headers, refusal checks and a small seeded PRNG.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { TestServer } from '../../../tests/helpers/server.js';
import type { ProtooResponse } from './raw-peer.js';

/** RTP parameters of a VP8 camera or screen track the room's routers accept. */
export function vp8RtpParameters(ssrc: number, mid: string) {
  return {
    mid,
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 101,
        clockRate: 90000,
        rtcpFeedback: [
          { type: 'nack' },
          { type: 'nack', parameter: 'pli' },
          { type: 'ccm', parameter: 'fir' },
          { type: 'goog-remb' },
        ],
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc }],
    rtcp: { cname: `cname-${ssrc}` },
  };
}

/** Asserts a refusal: an error response with a 4xx code (never 500) and a non-empty reason. */
export function assertRefusal(response: ProtooResponse, what: string): void {
  assert.notEqual(response.ok, true, `${what}: expected a refusal, got ${JSON.stringify(response)}`);
  const code = response.errorCode ?? 0;
  assert.ok(code >= 400 && code < 500, `${what}: a 4xx, got ${JSON.stringify(response)}`);
  assert.ok(
    typeof response.errorReason === 'string' && response.errorReason.length > 0,
    `${what}: a reason, got ${JSON.stringify(response)}`,
  );
}

export type UpgradeResult =
  | { opened: true; status: 101; ws: WebSocket }
  | { opened: false; status: number; body: string; headers: Record<string, string | string[] | undefined> };

/**
 * Attempts a websocket upgrade with the protoo subprotocol and the given headers (Cookie,
 * Origin...): resolves with the open socket (status 101) or with the HTTP answer of a refusal.
 */
export function tryUpgrade(
  url: string,
  headers: Record<string, string>,
  timeoutMs = 10_000,
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'protoo', { headers });
    let answered = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade of ${url}`));
    }, timeoutMs);
    ws.on('open', () => {
      answered = true;
      clearTimeout(timer);
      resolve({ opened: true, status: 101, ws });
    });
    ws.on('unexpected-response', (_request, response) => {
      answered = true;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ opened: false, status: response.statusCode ?? 0, body, headers: response.headers });
        ws.terminate();
      });
    });
    ws.on('error', (error) => {
      if (answered) return;
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Collects into `lines` what `server` logs at error level or above from now on (pino writes
 * the lines of every child logger to the root logger's stream), still writing them out.
 */
export function captureErrorLogs(server: TestServer, lines: string[]): void {
  const log = server.app.fastify.log as unknown as Record<symbol, unknown>;
  const symbol = Object.getOwnPropertySymbols(log).find((s) => s.description === 'pino.stream');
  assert.ok(symbol, "the server's pino stream");
  const stream = log[symbol] as { write: (line: string) => unknown };
  const write = stream.write.bind(stream);
  stream.write = (line: string) => {
    if (Number(/"level":(\d+)/.exec(line)?.[1] ?? 0) >= 50) lines.push(line);
    return write(line);
  };
}

/** mulberry32: a small deterministic PRNG; next() is uniform in [0, 1). */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(items.length)] as T;
  }

  /** An item chosen by weight: `[[weight, item], ...]`. */
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    const total = items.reduce((sum, [weight]) => sum + weight, 0);
    let at = this.next() * total;
    for (const [weight, item] of items) {
      at -= weight;
      if (at < 0) return item;
    }
    return (items[items.length - 1] as readonly [number, T])[1];
  }
}
