// The server's Prometheus metrics: one Registry per app instance (several apps in one
// process, as in the tests, do not share or collide). This file holds the metrics that
// events increment (signaling requests, chat messages, ICE/DTLS failures, HTTP latency);
// media-collector.ts adds those read on scrape (rooms, participants, workers, bytes).
// See docs/metrics.md for every metric and its labels.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { types } from 'mediasoup';
import { isRequestMethod } from '@meet/protocol';

/** Label of frames refused before dispatch (not JSON, not protoo, binary). */
export const invalidFrameMethod = '_invalid_frame';
/** Label of requests whose method is not in the protocol (keeps the label set bounded). */
export const unknownMethod = '_unknown';

/** What a transport's watcher needs to know of its participant. */
export interface TransportContext {
  /** The participant's signaling socket is still open (it did not just leave). */
  peerConnected(): boolean;
  /** The participant asked to connect the transport (sent its DTLS parameters). */
  connectRequested(): boolean;
}

function codeLabel(code: number): string {
  return Number.isInteger(code) && code >= 100 && code <= 599 ? String(code) : '500';
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #signalingRequests = new Counter({
    name: 'meet_signaling_requests_total',
    help: 'Signaling requests answered, by protocol method and response code (200: success).',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });
  readonly #chatMessages = new Counter({
    name: 'meet_chat_messages_stored_total',
    help: 'Chat messages stored (committed) by chatSend; retries with the same client id count once.',
    labelNames: ['audience'] as const,
    registers: [this.registry],
  });
  readonly #iceFailures = new Counter({
    name: 'meet_ice_failures_total',
    help:
      'WebRTC transports whose ICE failed: disconnected (lost its connection while the participant ' +
      'was still on signaling) or never_connected (closed without ever connecting after the ' +
      'participant asked to connect it).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly #dtlsFailures = new Counter({
    name: 'meet_dtls_failures_total',
    help:
      'WebRTC transports whose DTLS failed (handshake or certificate) or was closed by the ' +
      'browser while the participant was still on signaling.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly #httpDuration = new Histogram({
    name: 'meet_http_request_duration_seconds',
    help: 'HTTP request latency until the response is sent, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor() {
    // Series that exist from the start (0), so that rate() and dashboards see them.
    for (const audience of ['room', 'private']) this.#chatMessages.inc({ audience }, 0);
    for (const reason of ['disconnected', 'never_connected']) this.#iceFailures.inc({ reason }, 0);
    for (const state of ['failed', 'closed']) this.#dtlsFailures.inc({ state }, 0);
  }

  /** Adds prom-client's process metrics (CPU, memory, event loop lag, GC) to this registry. */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A signaling request was answered with `code` (200 for success). */
  signalingRequest(method: string, code: number): void {
    const label = method === invalidFrameMethod || isRequestMethod(method) ? method : unknownMethod;
    this.#signalingRequests.inc({ method: label, code: codeLabel(code) });
  }

  /** A chat message was stored (after its INSERT committed). */
  chatMessageStored(isPrivate: boolean): void {
    this.#chatMessages.inc({ audience: isPrivate ? 'private' : 'room' });
  }

  observeHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.#httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
  }

  /** Counts the ICE and DTLS failures of a participant's WebRTC transport. */
  watchTransport(transport: types.WebRtcTransport, context: TransportContext): void {
    let iceConnected = false;
    transport.observer.on('icestatechange', (state) => {
      if (state === 'connected' || state === 'completed') iceConnected = true;
      // mediasoup reports 'disconnected' when the ICE consent expires or the TCP connection
      // closes; 'closed' is never reported (it is the state after close()).
      else if (state === 'disconnected' && context.peerConnected())
        this.#iceFailures.inc({ reason: 'disconnected' });
    });
    transport.observer.on('dtlsstatechange', (state) => {
      if (state === 'failed') this.#dtlsFailures.inc({ state });
      else if (state === 'closed' && context.peerConnected()) this.#dtlsFailures.inc({ state });
    });
    transport.observer.once('close', () => {
      if (!iceConnected && context.connectRequested()) this.#iceFailures.inc({ reason: 'never_connected' });
    });
  }
}
