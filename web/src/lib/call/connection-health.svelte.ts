// Watches the media transports of a call (ICE, then DTLS, per mediasoup-client transport)
// and says, reactively, when media cannot flow and why, instead of leaving black tiles:
//   - a transport whose connection failed (the browser gave up): at once, and ICE is
//     restarted automatically;
//   - one still connecting after `slowMs`, or disconnected for `lostMs`: then too (a
//     disconnected one also restarts ICE then, so a dropped or changed network recovers
//     on the same transports, without rejoining), and looked at again every `slowMs`
//     while it stays so.
// The problem goes away when every transport that had one is connected again (or closed).
import type { types as ms } from 'mediasoup-client';
import { diagnose, type MediaProblem, type ServerCandidate } from './connection-diagnosis.js';

export type { MediaProblem } from './connection-diagnosis.js';

export interface WatchOptions {
  /** The server's ICE candidates for this transport (its media address). */
  candidates: ServerCandidate[];
  /** The STUN/TURN servers the transport uses. */
  iceServers: RTCIceServer[];
  /** Gets new ICE parameters from the server and restarts ICE on this transport. */
  restartIce(): Promise<void>;
}

interface Watched extends WatchOptions {
  transport: ms.Transport;
  /** When it started connecting (or lost its connection), until it is connected. */
  since: number | undefined;
  wasConnected: boolean;
  /** It failed since it was last connected. */
  failed: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  problem: MediaProblem | undefined;
  /** An ICE restart is under way. */
  restarting: boolean;
}

export class ConnectionHealth {
  /** What to tell the person in the call; undefined while media connects fine. */
  problem = $state<MediaProblem | undefined>(undefined);
  /** An ICE restart asked for by `retry()` is under way. */
  retrying = $state(false);
  readonly #slowMs: number;
  readonly #lostMs: number;
  readonly #watched = new Set<Watched>();

  constructor({ slowMs = 10_000, lostMs = 5_000 }: { slowMs?: number; lostMs?: number } = {}) {
    this.#slowMs = slowMs;
    this.#lostMs = lostMs;
  }

  watch(transport: ms.Transport, options: WatchOptions): void {
    const watched: Watched = {
      ...options,
      transport,
      since: undefined,
      wasConnected: false,
      failed: false,
      timer: undefined,
      problem: undefined,
      restarting: false,
    };
    this.#watched.add(watched);
    transport.on('connectionstatechange', (state) => this.#onState(watched, state));
    transport.observer.once('close', () => this.#forget(watched));
  }

  /** Restarts ICE on every transport that has a problem (the "Try again" button). */
  async retry(): Promise<void> {
    if (this.retrying) return;
    this.retrying = true;
    try {
      await Promise.all(
        [...this.#watched].filter((w) => w.problem).map((w) => w.restartIce().catch(() => undefined)),
      );
    } finally {
      this.retrying = false;
    }
  }

  #onState(watched: Watched, state: ms.ConnectionState): void {
    clearTimeout(watched.timer);
    watched.timer = undefined;
    switch (state) {
      case 'connected':
        watched.since = undefined;
        watched.wasConnected = true;
        watched.failed = false;
        this.#set(watched, undefined);
        break;
      case 'connecting': {
        watched.since ??= Date.now();
        const left = this.#slowMs - (Date.now() - watched.since);
        watched.timer = setTimeout(() => void this.#check(watched), Math.max(0, left));
        break;
      }
      case 'disconnected':
        // Lost for `lostMs` (the network dropped or changed): show it, and restart ICE at
        // once rather than waiting for the browser to declare the connection failed.
        watched.since ??= Date.now();
        watched.timer = setTimeout(() => {
          void this.#check(watched);
          this.#restart(watched);
        }, this.#lostMs);
        break;
      case 'failed':
        watched.since ??= Date.now();
        watched.failed = true;
        void this.#check(watched);
        this.#restart(watched);
        break;
      case 'closed':
        this.#forget(watched);
        break;
      case 'new':
        // Not started yet: a receive transport stays here until there is something to receive.
        break;
    }
  }

  /** Restarts ICE on the transport, once at a time (new ICE parameters from the server). */
  #restart(watched: Watched): void {
    if (watched.restarting || watched.transport.closed) return;
    watched.restarting = true;
    void watched
      .restartIce()
      .catch(() => undefined)
      .finally(() => (watched.restarting = false));
  }

  /** Diagnoses a transport that is not connected (from its statistics) and shows it. */
  async #check(watched: Watched): Promise<void> {
    const { transport } = watched;
    const stillBad = () =>
      this.#watched.has(watched) && !transport.closed && transport.connectionState !== 'connected';
    if (!stillBad()) return;
    let stats: Array<Record<string, unknown>> = [];
    try {
      stats = [...(await transport.getStats()).values()] as Array<Record<string, unknown>>;
    } catch {
      // Diagnose without statistics.
    }
    if (!stillBad()) return;
    this.#set(
      watched,
      diagnose({
        state: watched.failed ? 'failed' : transport.connectionState,
        stats,
        candidates: watched.candidates,
        turn: watched.iceServers.some((server) => [server.urls].flat().some((url) => /^turns?:/.test(url))),
        wasConnected: watched.wasConnected,
        waitedSeconds: Math.round((Date.now() - (watched.since ?? Date.now())) / 1000),
      }),
    );
    // Look again while it stays so: the cause can change (and "trying for" grows).
    clearTimeout(watched.timer);
    watched.timer = setTimeout(() => void this.#check(watched), this.#slowMs);
  }

  #forget(watched: Watched): void {
    clearTimeout(watched.timer);
    this.#watched.delete(watched);
    this.#update();
  }

  #set(watched: Watched, problem: MediaProblem | undefined): void {
    watched.problem = problem;
    this.#update();
  }

  #update(): void {
    const problems = [...this.#watched].flatMap((w) => (w.problem ? [w.problem] : []));
    this.problem = problems.find((p) => p.final) ?? problems[0];
  }
}
