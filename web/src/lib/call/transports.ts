// The call's two WebRTC transports (send and receive) on one signaling connection: made on
// the server and in the browser, connected on first use, watched by ConnectionHealth (which
// restarts ICE when a transport fails), and kept supplied with fresh TURN credentials.
import type { Device, types as ms } from 'mediasoup-client';
import type { MediaSource } from '@meet/protocol';
import type { ConnectionHealth } from './connection-health.svelte.js';
import type { Signaling } from './signaling.js';
import { selectedPair, type SelectedPair } from './transport-stats.js';

export type Direction = 'send' | 'recv';

export class MediaTransports {
  readonly #signaling: Signaling;
  readonly #device: Device;
  readonly #health: ConnectionHealth;
  #send: Promise<ms.Transport> | undefined;
  #recv: Promise<ms.Transport> | undefined;
  #made: ms.Transport[] = [];
  #iceRefresh: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(signaling: Signaling, device: Device, health: ConnectionHealth) {
    this.#signaling = signaling;
    this.#device = device;
    this.#health = health;
  }

  get device(): Device {
    return this.#device;
  }

  /** The send transport, made on first use (concurrent callers share it). */
  send(): Promise<ms.Transport> {
    this.#send ??= this.#create('send');
    return this.#send;
  }

  /** The receive transport, made on first use. */
  recv(): Promise<ms.Transport> {
    this.#recv ??= this.#create('recv');
    return this.#recv;
  }

  async #create(direction: Direction): Promise<ms.Transport> {
    const signaling = this.#signaling;
    const params = await signaling.request('createWebRtcTransport', { direction });
    const options = {
      id: params.id,
      iceParameters: params.iceParameters as ms.IceParameters,
      iceCandidates: params.iceCandidates as ms.IceCandidate[],
      dtlsParameters: params.dtlsParameters as ms.DtlsParameters,
      iceServers: params.iceServers,
      iceTransportPolicy: params.iceTransportPolicy,
    };
    const transport =
      direction === 'send'
        ? this.#device.createSendTransport(options)
        : this.#device.createRecvTransport(options);
    if (this.#closed) {
      transport.close();
      throw new Error('the call ended while its transport was being made');
    }
    this.#made.push(transport);
    this.#scheduleIceRefresh(params.iceServersTtl);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signaling
        .request('connectWebRtcTransport', {
          transportId: transport.id,
          dtlsParameters: dtlsParameters as never,
        })
        .then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        signaling
          .request('produce', {
            transportId: transport.id,
            kind,
            rtpParameters: rtpParameters as never,
            source: appData.source as MediaSource,
            paused: Boolean(appData.paused),
          })
          .then(({ id }) => callback({ id }), errback);
      });
    }
    this.#health.watch(transport, {
      candidates: options.iceCandidates,
      iceServers: options.iceServers,
      restartIce: async () => {
        const { iceParameters } = await signaling.request('restartIce', { transportId: transport.id });
        await transport.restartIce({ iceParameters: iceParameters as ms.IceParameters });
      },
    });
    return transport;
  }

  /** Fetches fresh TURN credentials before the current ones expire (long meetings). */
  #scheduleIceRefresh(ttlSeconds: number | null): void {
    if (ttlSeconds === null || this.#iceRefresh || this.#closed) return;
    const refresh = async () => {
      this.#iceRefresh = undefined;
      if (this.#closed || !this.#signaling.connected) return;
      try {
        const { iceServers, iceServersTtl } = await this.#signaling.request('getIceServers', {});
        for (const transport of this.#made)
          if (!transport.closed) await transport.updateIceServers({ iceServers });
        this.#scheduleIceRefresh(iceServersTtl);
      } catch (error) {
        console.warn('could not refresh TURN credentials', error);
        this.#iceRefresh = setTimeout(() => void refresh(), 30_000);
      }
    };
    this.#iceRefresh = setTimeout(() => void refresh(), Math.max(30, ttlSeconds / 2) * 1000);
  }

  /** The selected ICE candidate pair of each transport (see transport-stats.ts). */
  async stats(): Promise<Array<SelectedPair & { direction: Direction }>> {
    const result = [];
    for (const transport of this.#made) {
      if (transport.closed) continue;
      const entries = [...(await transport.getStats()).values()] as Array<Record<string, unknown>>;
      result.push({ direction: transport.direction, ...selectedPair(entries) });
    }
    return result;
  }

  /** Closes both transports (and so every producer and consumer on them). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#iceRefresh);
    this.#iceRefresh = undefined;
    for (const transport of this.#made) transport.close();
    this.#made = [];
  }
}
